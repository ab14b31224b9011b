import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a small kernel file, or null when it does not exist or cannot be read. */
export type ReadText = (path: string) => string | null;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/**
 * CPUs the container may use, from its cgroup's CFS quota (Kubernetes `resources.limits.cpu`,
 * `docker run --cpus`), or null when unlimited. Node's availableParallelism() counts the CPUs the
 * process may be scheduled on, which in a pod is the whole node's: 64 workers for a 2-CPU limit
 * would only queue up behind each other and multiply the per-worker memory.
 */
export function cgroupCpuLimit(read: ReadText = readText): number | null {
  // cgroup v2: "<quota> <period>", or "max <period>" when unlimited.
  const v2 = read('/sys/fs/cgroup/cpu.max');
  if (v2 !== null) {
    const [quota, period] = v2.trim().split(/\s+/);
    return quota === 'max' ? null : ratio(quota, period);
  }
  // cgroup v1: the quota is -1 when unlimited.
  for (const dir of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    const period = read(`${dir}/cpu.cfs_period_us`);
    if (quota !== null && period !== null) return ratio(quota.trim(), period.trim());
  }
  return null;
}

function ratio(quota: string | undefined, period: string | undefined): number | null {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : null;
}

/** Default thread count: the CPUs available, capped by the container's CPU limit (rounded up). */
export function defaultThreads(read: ReadText = readText): number {
  const cpus = availableParallelism();
  const limit = cgroupCpuLimit(read);
  return Math.max(1, limit === null ? cpus : Math.min(cpus, Math.ceil(limit)));
}

/** cgroup v1 writes "no limit" as the largest page-aligned 63-bit number. */
const V1_UNLIMITED = 2 ** 62;

/**
 * Bytes of memory the container may use (Kubernetes `resources.limits.memory`, `docker run
 * --memory`), or null when unlimited. Past it, the kernel kills the whole process: every index
 * stops serving, not just the one being loaded.
 */
export function cgroupMemoryLimit(read: ReadText = readText): number | null {
  const v2 = read('/sys/fs/cgroup/memory.max');
  if (v2 !== null) return bytes(v2.trim());
  const v1 = read('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  if (v1 === null) return null;
  const limit = bytes(v1.trim());
  return limit !== null && limit < V1_UNLIMITED ? limit : null;
}

function bytes(text: string): number | null {
  const n = Number(text);
  return text !== 'max' && Number.isFinite(n) && n > 0 ? n : null;
}
