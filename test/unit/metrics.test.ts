/** The read counter on /metrics (src/metrics.ts): what answered each hot read, as the reader counts them. */
import { createMetrics } from "../../src/metrics";

it("counts reads sent as written while the cache was not paying as the database's answers", async () => {
  const stats = { hits: 1, misses: 2, probes: 7, bypasses: 3 };
  const text = await createMetrics("zzzzz", stats).registry.metrics();
  expect(text).toMatch(/^fedgate_reads_total\{answered_by="memory",fedgate_cluster="zzzzz"\} 1$/m);
  expect(text).toMatch(/^fedgate_reads_total\{answered_by="database",fedgate_cluster="zzzzz"\} 5$/m);
});
