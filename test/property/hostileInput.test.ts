/**
 * Hostile input, generated (fast-check): the token parser, the scope matcher, REST path
 * expansion and cursor decoding either answer or refuse with a coded error; the HTTP edge of a
 * real cluster answers every random request (methods, paths, content types, headers, bodies,
 * deep JSON, huge strings, bad UTF-8, query strings) with a 2xx/3xx or a 4xx carrying JSON
 * errors[].extensions.code, never a 5xx, and still answers /_health/ping afterwards.
 */
import { request } from "node:http";
import { connect } from "node:net";
import fc from "fast-check";
import { GraphQLError } from "graphql";
import { formatToken, parseToken } from "../../src/auth/tokenString";
import { ScopeFormatError, expandRestPath, normaliseScope, scopeSetAllows, scopesFromJson } from "../../src/auth/scopes";
import { decodeCursor, encodeCursor } from "../../src/graphql/args";
import { startTestCluster, type TestCluster } from "../helpers/federation";

/** Strings an attacker would try: any unicode, path tricks, percent-encoding, lone surrogates. */
const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: fc.constantFrom("/", ".", "%", "2", "e", "E", "f", "F", "\\", "\u0000", "\ud800", "a", "v", "-", " "), maxLength: 60 }),
  fc.constantFrom("..", "%2e%2e", "%2F", "//", "/./", "\u0000", "\ud800", "v2//", "all", "GET /", "u:"),
);

describe("parsers and matchers", () => {
  it("parseToken never throws, and what it parses formats back to itself", () => {
    const tokenish = fc.oneof(
      hostileString,
      fc.tuple(fc.constantFrom("v2", "v1", "V2", ""), hostileString, hostileString, fc.option(hostileString)).map(([p, u, s, f]) => [p, u, s, ...(f === null ? [] : [f])].join("/")),
      fc.tuple(fc.stringMatching(/^[a-z0-9]{5}-gj3su-[a-z0-9]{15}$/), fc.stringMatching(/^[a-z0-9]{40,50}$/), fc.option(hostileString)).map(([u, s, f]) => `v2/${u}/${s}${f === null ? "" : `/${f}`}`),
    );
    fc.assert(
      fc.property(tokenish, (t) => {
        const parsed = parseToken(t);
        if (parsed) expect(parseToken(formatToken(parsed))).toEqual(parsed);
      }),
      { numRuns: 2000 },
    );
  });

  it("scopes: malformed ones are refused with ScopeFormatError only; matching never throws", () => {
    fc.assert(
      fc.property(fc.anything(), hostileString, hostileString, (json, method, path) => {
        let scopes = null;
        try {
          scopes = scopesFromJson(json);
        } catch (e) {
          expect(e).toBeInstanceOf(ScopeFormatError);
        }
        expect(typeof scopeSetAllows(scopes, method, path)).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("a scope path is canonical: no '..', '.', '//' or percent tricks get through normalisation", () => {
    fc.assert(
      fc.property(hostileString, (path) => {
        try {
          const s = normaliseScope("GET", path);
          const segments = s.path.split("/").slice(1, s.path.endsWith("/") ? -1 : undefined);
          for (const seg of segments) expect(seg === "" || seg === "." || seg === ".." || seg.includes("%")).toBe(false);
        } catch (e) {
          expect(e).toBeInstanceOf(ScopeFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("REST path expansion keeps any value in one segment, reached by a prefix scope only", () => {
    const prefix = [{ method: "GET", path: "/arvados/v1/collections/" }];
    const exact = [{ method: "GET", path: "/arvados/v1/collections/zzzzz-4zz18-000000000000000" }];
    fc.assert(
      fc.property(fc.oneof(hostileString, fc.integer(), fc.array(hostileString, { maxLength: 5 })), (value) => {
        const path = expandRestPath("/arvados/v1/collections/{uuid}", () => value);
        const rest = path.slice("/arvados/v1/collections/".length);
        expect(path.startsWith("/arvados/v1/collections/")).toBe(true);
        expect(rest).not.toMatch(/[/]/);
        expect(rest).not.toBe("");
        expect(rest === "." || rest === "..").toBe(false);
        expect(scopeSetAllows(prefix, "GET", path)).toBe(true);
        expect(scopeSetAllows(exact, "GET", path)).toBe(String(value) === "zzzzz-4zz18-000000000000000");
        expect(scopeSetAllows([{ method: "GET", path: "/arvados/v1/collections" }], "GET", path)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("cursor decoding answers a uuid or refuses with BAD_USER_INPUT; encoding round-trips", () => {
    fc.assert(
      fc.property(fc.oneof(hostileString, fc.base64String(), fc.string().map((s) => Buffer.from(`u:${s}`).toString("base64url"))), (cursor) => {
        try {
          const uuid = decodeCursor(cursor);
          if (uuid !== undefined) expect(decodeCursor(encodeCursor(uuid))).toBe(uuid);
        } catch (e) {
          expect(e).toBeInstanceOf(GraphQLError);
          expect((e as GraphQLError).extensions.code).toBe("BAD_USER_INPUT");
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("the HTTP edge", () => {
  let z: TestCluster;
  beforeAll(async () => {
    z = await startTestCluster("zzzzz", { http: { headersTimeoutSeconds: 2, requestTimeoutSeconds: 4, keepAliveTimeoutSeconds: 1, maxConnections: 200 } });
  });
  afterAll(() => z?.stop());

  interface Answer {
    status: number;
    contentType: string;
    body: string;
  }

  function send(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: z.port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Bytes sent as they are, request line and all: Node's own parser refuses most of them. */
  function sendRaw(bytes: Buffer): Promise<Answer> {
    return new Promise((resolve) => {
      const s = connect(z.port, "127.0.0.1");
      const chunks: Buffer[] = [];
      s.on("data", (c) => chunks.push(c));
      s.on("error", () => undefined);
      s.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const [head, ...rest] = text.split("\r\n\r\n");
        const raw = rest.join("\r\n\r\n");
        const body = /transfer-encoding: chunked/i.test(head) ? dechunk(raw) : raw;
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), contentType: /content-type: ([^\r\n]*)/i.exec(head)?.[1] ?? "", body });
      });
      s.end(bytes);
    });
  }

  /** The body of a chunked answer (sizes in hex, each chunk followed by CRLF). */
  function dechunk(raw: string): string {
    let out = "";
    for (let rest = raw; ; ) {
      const i = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, i), 16);
      if (!(size > 0)) return out;
      out += rest.slice(i + 2, i + 2 + size);
      rest = rest.slice(i + 2 + size + 2);
    }
  }

  function expectCodedOrSuccess(a: Answer): void {
    expect(a.status).toBeLessThan(500);
    if (a.status < 400) return;
    expect(a.contentType).toMatch(/json/);
    const parsed = JSON.parse(a.body) as { errors?: { extensions?: { code?: unknown } }[] };
    expect(typeof parsed.errors?.[0]?.extensions?.code).toBe("string");
  }

  const deepJson = fc.integer({ min: 1, max: 300_000 }).map((n) => `{"query":"query($v: JSON){ clusterId }","variables":{"v":${"[".repeat(n)}${"]".repeat(n)}}}`);
  const graphqlBody = fc.oneof(
    fc.constantFrom('{"query":"{ clusterId }"}', '{"query":"{ viewer { uuid } }"}', '{"query":"{ clusterId }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}',
      '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}', '{"query":"{ clusterId }","variables":[]}',
      '{"query":"{ clusterId }","operationName":{}}', '{"query":[]}', "null", "[]", '"x"', "{"),
    fc.json({ depthSize: "medium" }),
    fc.anything().map((v) => JSON.stringify({ query: "query($v: JSON){ collection(uuid: \"zzzzz-4zz18-000000000000000\") { uuid } }", variables: { v } }) ?? "null"),
    fc.string({ maxLength: 2000 }),
    fc.integer({ min: 100_000, max: 1_200_000 }).map((n) => JSON.stringify({ query: `{ clusterId }`, variables: { s: "x".repeat(n) } })),
    deepJson,
  );
  const badUtf8 = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.concat([Buffer.from('{"query":"{ clusterId }","x":"'), Buffer.from(a), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]));
  const bodyBytes = fc.oneof(graphqlBody.map((s) => Buffer.from(s)), badUtf8);
  const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "application/graphql-response+json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/json; charset=latin1", "application/jsonx");
  const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND");
  const query = fc.oneof(
    fc.constant(""),
    fc.dictionary(fc.constantFrom("query", "variables", "operationName", "extensions", "x"), fc.oneof(hostileString, graphqlBody.filter((s) => s.length < 3000))).map((d) => `?${new URLSearchParams(d).toString()}`),
    fc.string({ unit: fc.constantFrom("%", "&", "=", "?", "a", "0", "f", "+", ";", "#"), maxLength: 40 }).map((s) => `?${s}`),
  );
  const path = fc.oneof(fc.constantFrom("/graphql", "/_health/ping", "/metrics", "/", "/graphql/", "//graphql", "/GRAPHQL", "/graphql%00", "/%2e%2e/graphql"), fc.webPath());
  const headerValue = fc.string({ unit: fc.constantFrom(..."abcXYZ019 -_/.,;=:\"'()*+"), maxLength: 100 });
  const headers = fc.record(
    {
      authorization: fc.oneof(headerValue, fc.constant("Bearer v2/zzzzz-gj3su-000000000000000/xyz"), headerValue.map((v) => `Bearer ${v}`), fc.constant("OAuth2 ")),
      "x-fedgate-forwarded-for": fc.oneof(headerValue, fc.constantFrom("aaaaa", "zzzzz", "")),
      "apollo-require-preflight": fc.constant("1"),
      "x-fedgate-stats": fc.constantFrom("1", "0", "yes"),
      accept: fc.constantFrom("application/json", "application/graphql-response+json", "text/html", "*/*", ""),
      origin: fc.constantFrom("http://evil.example", "null", ""),
    },
    { requiredKeys: [] },
  );

  it("refuses 200,000-deep JSON variables and a wrong persisted-query hash with coded 4xx answers", async () => {
    const deep = `{"query":"{ clusterId }","variables":{"v":${"[".repeat(200_000)}${"]".repeat(200_000)}}}`;
    const json = { "content-type": "application/json" };
    const a = await send("POST", "/graphql", json, Buffer.from(deep));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const wrongHash = '{"query":"{ clusterId }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}';
    const b = await send("POST", "/graphql", json, Buffer.from(wrongHash));
    expect(b.status).toBe(400);
    expect(JSON.parse(b.body).errors[0].extensions.code).toBe("BAD_REQUEST");
  });

  it("answers every random request with success or a coded 4xx, and keeps answering ping", async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, contentType, bodyBytes, async (m, p, q, h, ct, body) => {
        const withBody = !["GET", "HEAD"].includes(m);
        const a = await send(m, `${p.startsWith("/") ? p : `/${p}`}${p.includes("?") ? "" : q}`, { ...h, ...(ct ? { "content-type": ct } : {}) }, withBody ? body : undefined);
        if (m !== "HEAD") expectCodedOrSuccess(a);
        else expect(a.status).toBeLessThan(500);
        expect((await send("GET", "/_health/ping", {}, undefined)).status).toBe(200);
      }),
      { numRuns: 300 },
    );
  });

  it("answers raw malformed requests with a coded 4xx (or closes), and keeps answering ping", async () => {
    const line = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.tuple(method, fc.string({ unit: "binary", maxLength: 50 }), fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/9", "")).map(([m, p, v]) => Buffer.from(`${m} /graphql${p} ${v}\r\nHost: x\r\n\r\n`)),
      fc.integer({ min: 20_000, max: 100_000 }).map((n) => Buffer.from(`GET /graphql?query=${"a".repeat(n)} HTTP/1.1\r\nHost: x\r\n\r\n`)),
      fc.string({ maxLength: 100 }).map((s) => Buffer.from(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: -1${s}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`)),
    );
    await fc.assert(
      fc.asyncProperty(line, async (bytes) => {
        const a = await sendRaw(bytes);
        // HEAD answers carry no body; 0: the server closed the connection without a word.
        if (a.status !== 0 && !bytes.subarray(0, 5).equals(Buffer.from("HEAD "))) expectCodedOrSuccess(a);
        expect(a.status).toBeLessThan(500);
        expect((await send("GET", "/_health/ping", {}, undefined)).status).toBe(200);
      }),
      { numRuns: 150 },
    );
  });
});
