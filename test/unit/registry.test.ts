import { ClusterRegistry } from "../../src/federation/registry";

const base = { clusterId: "aaaaa", loginCluster: undefined, strictRemoteClusters: false, remoteClusterPattern: undefined };
const table = { bbbbb: { url: "http://127.0.0.1:8002", activateUsers: true, timeoutMs: 500 } };

describe("cluster registry", () => {
  it("finds clusters in the table with their options", () => {
    const r = new ClusterRegistry({ ...base, remoteClusters: table });
    expect(r.find("bbbbb")).toEqual({ id: "bbbbb", url: "http://127.0.0.1:8002", activateUsers: true, timeoutMs: 500 });
    expect(r.tableIds()).toEqual(["bbbbb"]);
  });

  it("resolves other ids through the default pattern, with users not activated", () => {
    const r = new ClusterRegistry({ ...base, remoteClusters: table, remoteClusterPattern: "https://{id}.example.org/" });
    expect(r.find("ccccc")).toEqual({ id: "ccccc", url: "https://ccccc.example.org", activateUsers: false, timeoutMs: 10_000, viaPattern: true });
  });

  it("uses the table only in strict mode, and reports unknown clusters as NOT_FOUND", () => {
    const r = new ClusterRegistry({ ...base, remoteClusters: table, remoteClusterPattern: "https://{id}.example.org", strictRemoteClusters: true });
    expect(r.find("ccccc")).toBeUndefined();
    expect(() => r.get("ccccc")).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: "NOT_FOUND" }) }));
  });
});
