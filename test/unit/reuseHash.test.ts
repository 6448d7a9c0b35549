/** The reuse key: canonical (key order and scope order do not matter), and every part of it counts. */
import { reuseHash, type RuntimeIdentity } from "../../src/containers/reuse";

const spec = {
  command: ["echo", "hi"],
  cwd: ".",
  environment: { A: "1", B: "2" },
  containerImage: "img",
  mounts: { "/out": { kind: "tmp", capacity: 10 }, "/in": { kind: "collection", uuid: "aaaaa-4zz18-000000000000001" } },
  outputPath: "/out",
  runtimeConstraints: { vcpus: 1, ram: 1024 },
};
const runtime: RuntimeIdentity = {
  runtimeUserUuid: "aaaaa-tpzed-000000000000001",
  runtimeAuthScopes: [{ method: "GET", path: "/arvados/v1/collections/" }, { method: "POST", path: "/arvados/v1/container_requests" }],
  runtimeClusterScopes: null,
};
const base = reuseHash(spec, runtime);

it("is the same for the same key written in another order", () => {
  const reordered = {
    runtimeConstraints: { ram: 1024, vcpus: 1 },
    outputPath: "/out",
    mounts: { "/in": { uuid: "aaaaa-4zz18-000000000000001", kind: "collection" }, "/out": { capacity: 10, kind: "tmp" } },
    containerImage: "img",
    environment: { B: "2", A: "1" },
    cwd: ".",
    command: ["echo", "hi"],
  };
  expect(reuseHash(reordered, { ...runtime, runtimeAuthScopes: [...runtime.runtimeAuthScopes!].reverse() })).toBe(base);
  expect(base).toMatch(/^[0-9a-f]{64}$/);
});

it("changes with every part of the key: the spec, the runtime user, scopes and cluster scopes, and extra", () => {
  const variants = [
    reuseHash({ ...spec, command: ["hi", "echo"] }, runtime),
    reuseHash({ ...spec, cwd: "/tmp" }, runtime),
    reuseHash({ ...spec, environment: { A: "1" } }, runtime),
    reuseHash({ ...spec, containerImage: "img2" }, runtime),
    reuseHash({ ...spec, mounts: { "/out": { kind: "tmp", capacity: 11 } } }, runtime),
    reuseHash({ ...spec, outputPath: "/in" }, runtime),
    reuseHash({ ...spec, runtimeConstraints: { vcpus: 2, ram: 1024 } }, runtime),
    reuseHash(spec, { ...runtime, runtimeUserUuid: "aaaaa-tpzed-000000000000002" }),
    reuseHash(spec, { ...runtime, runtimeAuthScopes: null }),
    reuseHash(spec, { ...runtime, runtimeAuthScopes: runtime.runtimeAuthScopes!.slice(1) }),
    reuseHash(spec, { ...runtime, runtimeClusterScopes: { bbbbb: [] } }),
    reuseHash(spec, runtime, [["aaaaa-s3cr7-000000000000001", 1]]),
  ];
  expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
});
