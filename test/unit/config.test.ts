import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/config";

const ROOT = "r".repeat(40);
const KEY = "ab".repeat(32);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fedgate-config-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The ConfigError message for `raw`; fails the test if it parses. */
function problem(raw: Record<string, unknown>): string {
  try {
    parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
}

describe("loadConfig defaults", () => {
  it("starts cluster zzzzz on 127.0.0.1:8000 with a generated root token, given no file and no environment", () => {
    const c = loadConfig({ env: {} });
    expect(c.clusterId).toBe("zzzzz");
    expect(c.listen).toBe("127.0.0.1:8000");
    expect(c.generatedRootToken).toBe(true);
    expect(c.systemRootToken).toMatch(/^[0-9a-f]{64}$/);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.remoteClusters).toEqual({});
    expect(c.loginCluster).toBeUndefined();
    expect(c.tokens).toMatchObject({ remoteCacheSeconds: 300, negativeCacheSeconds: 10, localCacheSeconds: 60 });
    expect(c.limits.maxQueryDepth).toBe(12);
  });

  it("generates a different root token each time", () => {
    expect(loadConfig({ env: {} }).systemRootToken).not.toBe(loadConfig({ env: {} }).systemRootToken);
  });
});

describe("loadConfig files", () => {
  it("reads a YAML file", () => {
    const path = file(
      "a.yml",
      [
        "clusterId: aaaaa",
        "listen: 0.0.0.0:9000",
        `systemRootToken: ${ROOT}`,
        "remoteClusters:",
        "  bbbbb:",
        "    url: https://bbbbb.example.org/",
        "    activateUsers: true",
        "tokens:",
        "  remoteCacheSeconds: 30",
        "",
      ].join("\n"),
    );
    const c = loadConfig({ file: path, env: {} });
    expect(c).toMatchObject({ clusterId: "aaaaa", listen: "0.0.0.0:9000", systemRootToken: ROOT, generatedRootToken: false });
    expect(c.remoteClusters.bbbbb).toEqual({ url: "https://bbbbb.example.org", activateUsers: true, timeoutMs: 10_000 });
    expect(c.tokens.remoteCacheSeconds).toBe(30);
    expect(c.tokens.localCacheSeconds).toBe(60);
  });

  it("reads a JSON file", () => {
    const path = file("b.json", JSON.stringify({ clusterId: "bbbbb", loginCluster: "aaaaa", limits: { maxQueryDepth: 5 } }));
    const c = loadConfig({ file: path, env: {} });
    expect(c).toMatchObject({ clusterId: "bbbbb", loginCluster: "aaaaa", listen: "127.0.0.1:8000" });
    expect(c.limits).toMatchObject({ maxQueryDepth: 5, maxPageSize: 1000 });
  });

  it("treats an empty YAML file as all defaults", () => {
    expect(loadConfig({ file: file("empty.yml", ""), env: {} }).clusterId).toBe("zzzzz");
  });

  it("names the file when it cannot be read or parsed", () => {
    expect(() => loadConfig({ file: join(dir, "missing.yml"), env: {} })).toThrow(/missing\.yml: cannot read/);
    expect(() => loadConfig({ file: file("bad.json", "{"), env: {} })).toThrow(/bad\.json: not valid JSON/);
    expect(() => loadConfig({ file: file("list.yml", "- a\n- b\n"), env: {} })).toThrow(/list\.yml: must be a mapping/);
  });

  it("names the file and the key when a value in it is invalid", () => {
    const path = file("bad.yml", "clusterId: AAAAA\n");
    expect(() => loadConfig({ file: path, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: path, env: {} })).toThrow(/bad\.yml[\s\S]*clusterId: must be 5 characters/);
  });
});

describe("loadConfig environment", () => {
  const base = () =>
    file(
      "base.yml",
      [
        "clusterId: aaaaa",
        "listen: 127.0.0.1:7000",
        `systemRootToken: ${ROOT}`,
        "loginCluster: ccccc",
        "remoteClusters:",
        "  bbbbb: { url: 'https://b.example' }",
        "tokens:",
        "  remoteCacheSeconds: 30",
        "",
      ].join("\n"),
    );

  it("lets every variable override the file", () => {
    const c = loadConfig({
      file: base(),
      env: {
        FEDGATE_CLUSTER_ID: "ddddd",
        FEDGATE_LISTEN: "[::1]:8443",
        FEDGATE_SYSTEM_ROOT_TOKEN: "e".repeat(32),
        DATABASE_URL: "postgresql://u@localhost/fedgate",
        FEDGATE_REMOTE_CLUSTERS: JSON.stringify({ eeeee: "http://127.0.0.1:9001/", fffff: { url: "https://f.example", timeoutMs: 500 } }),
        FEDGATE_LOGIN_CLUSTER: "eeeee",
        FEDGATE_TOKEN_KEY: KEY,
      },
    });
    expect(c).toMatchObject({
      clusterId: "ddddd",
      listen: "[::1]:8443",
      systemRootToken: "e".repeat(32),
      databaseUrl: "postgresql://u@localhost/fedgate",
      loginCluster: "eeeee",
    });
    expect(c.remoteClusters).toEqual({
      eeeee: { url: "http://127.0.0.1:9001", activateUsers: false, timeoutMs: 10_000 },
      fffff: { url: "https://f.example", activateUsers: false, timeoutMs: 500 },
    });
    expect(c.tokens).toMatchObject({ encryptionKey: KEY, remoteCacheSeconds: 30 });
  });

  it("keeps the file's values when the variables are absent or empty", () => {
    const c = loadConfig({ file: base(), env: { FEDGATE_CLUSTER_ID: "" } });
    expect(c).toMatchObject({ clusterId: "aaaaa", listen: "127.0.0.1:7000", loginCluster: "ccccc" });
    expect(Object.keys(c.remoteClusters)).toEqual(["bbbbb"]);
  });

  it("names the variable when FEDGATE_REMOTE_CLUSTERS is not a JSON object", () => {
    for (const text of ["not json", "[]", "\"x\""])
      expect(() => loadConfig({ env: { FEDGATE_REMOTE_CLUSTERS: text } })).toThrow(/FEDGATE_REMOTE_CLUSTERS: must be a JSON object/);
  });

  it("says the environment was the source of an invalid value", () => {
    expect(() => loadConfig({ env: { FEDGATE_CLUSTER_ID: "nope" } })).toThrow(/\(environment\)[\s\S]*clusterId: must be 5 characters/);
    expect(() => loadConfig({ env: { FEDGATE_REMOTE_CLUSTERS: '{"bbbbb":"ftp://b"}' } })).toThrow(/remoteClusters\.bbbbb\.url: must be an http/);
  });
});

describe("parseConfig validation", () => {
  it.each([
    ["a bad cluster id", { clusterId: "ZZZZZ" }, /clusterId: must be 5 characters \[a-z0-9\]/],
    ["a cluster id of the wrong length", { clusterId: "zzzz" }, /clusterId: must be 5 characters/],
    ["a cluster id that is not a string", { clusterId: 12345 }, /clusterId: .*expected string/],
    ["a bad login cluster", { loginCluster: "x" }, /loginCluster: must be 5 characters/],
    ["an unknown top-level key", { clusterID: "aaaaa" }, /clusterID: unknown key/],
    ["an unknown key under tokens", { tokens: { encryptionKeys: KEY } }, /tokens\.encryptionKeys: unknown key/],
    ["an unknown key under limits", { limits: { maxDepth: 3 } }, /limits\.maxDepth: unknown key/],
    ["an unknown key in a remote cluster", { remoteClusters: { bbbbb: { url: "http://b", host: "b" } } }, /remoteClusters\.bbbbb\.host: unknown key/],
    ["a remote cluster without a URL", { remoteClusters: { bbbbb: {} } }, /remoteClusters\.bbbbb\.url: is required/],
    ["a remote cluster with a malformed URL", { remoteClusters: { bbbbb: { url: "not a url" } } }, /remoteClusters\.bbbbb\.url: must be an http:\/\/ or https:\/\/ URL/],
    ["a remote cluster with a URL lacking a host", { remoteClusters: { bbbbb: { url: "http://" } } }, /remoteClusters\.bbbbb\.url: must be/],
    ["a remote cluster with a non-HTTP URL", { remoteClusters: { bbbbb: { url: "ftp://b.example" } } }, /remoteClusters\.bbbbb\.url: must be an http/],
    ["a remote cluster with a bad id", { remoteClusters: { BBB: { url: "http://b" } } }, /remoteClusters\.BBB: .*must be 5 characters/],
    ["this cluster among the remote clusters", { clusterId: "aaaaa", remoteClusters: { aaaaa: { url: "http://a" } } }, /remoteClusters\.aaaaa: is this cluster's own id/],
    ["a negative timeout", { remoteClusters: { bbbbb: { url: "http://b", timeoutMs: -1 } } }, /remoteClusters\.bbbbb\.timeoutMs:/],
    ["a listen address without a port", { listen: "localhost" }, /listen: must be host:port/],
    ["a listen port above 65535", { listen: "localhost:70000" }, /listen: port must be at most 65535/],
    ["an empty listen address", { listen: "" }, /listen: must be host:port/],
    ["a short root token", { systemRootToken: "short" }, /systemRootToken: must be at least 32 characters/],
    ["a database URL that is not PostgreSQL", { databaseUrl: "mysql://db", systemRootToken: ROOT }, /databaseUrl: must be a postgresql:\/\/ URL/],
    ["an empty data folder", { dataDir: "" }, /dataDir:/],
    ["a data folder with a database URL", { databaseUrl: "postgresql://db", dataDir: "/tmp/x", systemRootToken: ROOT }, /dataDir: cannot be combined with databaseUrl/],
    ["a persistent database without a key or root token", { dataDir: "/tmp/x" }, /tokens\.encryptionKey: is required/],
    ["an encryption key of the wrong length", { tokens: { encryptionKey: "abc" } }, /tokens\.encryptionKey: must be 32 bytes/],
    ["a remote cluster pattern without {id}", { remoteClusterPattern: "https://x.example" }, /remoteClusterPattern: must contain \{id\}/],
    ["a default page size above the maximum", { limits: { defaultPageSize: 50, maxPageSize: 10 } }, /limits\.defaultPageSize: must not exceed limits\.maxPageSize/],
    ["a zero query depth", { limits: { maxQueryDepth: 0 } }, /limits\.maxQueryDepth:/],
    ["a negative cache time", { tokens: { remoteCacheSeconds: -5 } }, /tokens\.remoteCacheSeconds:/],
    ["a negative read cache", { readCacheMegabytes: -1 }, /readCacheMegabytes:/],
    ["a fractional read cache", { readCacheMegabytes: 1.5 }, /readCacheMegabytes:/],
  ])("refuses %s, naming the key and the problem", (_, raw, message) => {
    expect(problem(raw)).toMatch(message);
  });

  it("reports only the real problem with a listen address that has no port", () => {
    expect(problem({ listen: "localhost" })).not.toMatch(/65535/);
  });

  it("reports a malformed URL once, not twice", () => {
    expect(problem({ remoteClusters: { bbbbb: { url: "not a url" } } }).match(/remoteClusters\.bbbbb\.url/g)).toHaveLength(1);
  });

  it("accepts a persistent database with an explicit key and no root token", () => {
    const c = parseConfig({ dataDir: "/tmp/fedgate-data", tokens: { encryptionKey: KEY } });
    expect(c.dataDir).toBe("/tmp/fedgate-data");
    expect(c.generatedRootToken).toBe(true);
  });

  it("keeps 32 MiB of read answers by default, and none when told 0", () => {
    expect(parseConfig({}).readCacheMegabytes).toBe(32);
    expect(parseConfig({ readCacheMegabytes: 0 }).readCacheMegabytes).toBe(0);
  });

  it("accepts an IPv6 listen address and port 0", () => {
    expect(parseConfig({ listen: "[::1]:0" }).listen).toBe("[::1]:0");
  });
});

describe("first-hour settings: log level, remote URLs, explorer, CORS, TLS", () => {
  it("refuses an unknown log level, from the file or FEDGATE_LOG_LEVEL, naming logLevel", () => {
    expect(problem({ logLevel: "verbose" })).toMatch(/logLevel: .*"debug"\|"info"\|"warn"\|"error"/);
    expect(() => loadConfig({ env: { FEDGATE_LOG_LEVEL: "verbose" } })).toThrow(/environment[\s\S]*logLevel/);
    expect(loadConfig({ env: { FEDGATE_LOG_LEVEL: "warn" } }).logLevel).toBe("warn");
  });

  it("takes a remote cluster as a plain URL in the file, as in FEDGATE_REMOTE_CLUSTERS", () => {
    const path = file("remote-url.yaml", "remoteClusters:\n  bbbbb: https://bbbbb.example.org/\n");
    expect(loadConfig({ file: path, env: {} }).remoteClusters).toEqual({ bbbbb: { url: "https://bbbbb.example.org", activateUsers: false, timeoutMs: 10_000 } });
    expect(problem({ remoteClusters: { bbbbb: "bbbbb.example.org" } })).toMatch(/remoteClusters\.bbbbb\.url: must be an http/);
  });

  it("turns the explorer on by default for an in-memory cluster only", () => {
    expect(parseConfig({}).explorer).toBe(true);
    expect(parseConfig({ dataDir: "/tmp/x", systemRootToken: ROOT }).explorer).toBe(false);
    expect(parseConfig({ dataDir: "/tmp/x", systemRootToken: ROOT, explorer: true }).explorer).toBe(true);
  });

  it("accepts CORS origins only as bare origins", () => {
    expect(parseConfig({ cors: { allowedOrigins: ["https://wb.example.org", "http://127.0.0.1:3000"] } }).cors.allowedOrigins).toHaveLength(2);
    for (const bad of ["https://wb.example.org/", "https://wb.example.org/app", "wb.example.org", "*"])
      expect(problem({ cors: { allowedOrigins: [bad] } })).toMatch(/cors\.allowedOrigins\.0: must be an origin/);
  });

  it("names an unreadable TLS file", () => {
    expect(problem({ tls: { certFile: join(dir, "missing.pem"), keyFile: join(dir, "missing.key") } })).toMatch(/tls\.certFile: cannot read this file/);
  });
});

describe("containers settings", () => {
  it("defaults to 10 dispatch attempts and a 7-day runtime token TTL, and names a bad value's key", () => {
    expect(parseConfig({}).containers).toEqual({ maxDispatchAttempts: 10, runtimeTokenTTL: 7 * 86_400 });
    expect(parseConfig({ containers: { maxDispatchAttempts: 2 } }).containers).toEqual({ maxDispatchAttempts: 2, runtimeTokenTTL: 7 * 86_400 });
    expect(problem({ containers: { maxDispatchAttempts: 0 } })).toMatch(/containers\.maxDispatchAttempts/);
    expect(problem({ containers: { runtimeTokenTTL: 1.5 } })).toMatch(/containers\.runtimeTokenTTL/);
    expect(problem({ containers: { maxAttempts: 3 } })).toMatch(/containers\.maxAttempts: unknown key/);
  });
});
