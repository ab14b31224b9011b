import { summarize, type Percentiles } from './stats.js';

export interface LoadSummary {
  requests: number;
  failures: number;
  seconds: number;
  requestsPerSecond: number;
  /** Latency of every call, ms. */
  latencyMs: Percentiles;
}

/**
 * Closed-loop clients: `concurrency` loops each awaiting `once()` back to back until `durationMs`
 * has passed. `once` resolves true for success, false for a failure it already accounted for;
 * a throw counts as a failure too.
 */
export async function closedLoop(concurrency: number, durationMs: number, once: (client: number) => Promise<boolean>): Promise<LoadSummary> {
  const latencies: number[] = [];
  let failures = 0;
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        let ok = false;
        try {
          ok = await once(client);
        } catch {
          ok = false;
        }
        latencies.push(performance.now() - t0);
        if (!ok) failures++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const latencyMs = summarize(latencies);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    requests: latencies.length,
    failures,
    seconds: r3(seconds),
    requestsPerSecond: Math.round(latencies.length / seconds),
    latencyMs: { p50: r3(latencyMs.p50), p90: r3(latencyMs.p90), p99: r3(latencyMs.p99), max: r3(latencyMs.max), mean: r3(latencyMs.mean) },
  };
}
