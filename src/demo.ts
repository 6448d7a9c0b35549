/** Placeholder replaced by the federation demo. */
export async function runDemo(_o: { basePort?: number; onSignals(stop: () => Promise<void>): void }): Promise<void> {
  throw new Error("demo: not yet available");
}
