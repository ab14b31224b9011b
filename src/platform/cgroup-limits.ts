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

/** Where the kernel mounts the cgroup hierarchies: the unified v2 one, and v1's one per controller. */
const MOUNT = '/sys/fs/cgroup';

/**
 * The directories whose limits apply to this process, its own cgroup first, then each ancestor up to
 * the mount's root. In a container with its own cgroup namespace (Docker and Kubernetes on cgroup
 * v2) the process sits at the root; a systemd service (`MemoryMax=`, `CPUQuota=`), a container
 * sharing the host's namespace, or a v1 hierarchy list a deeper path, and a limit on any ancestor
 * (a slice) binds too. A path that does not exist under the mount (a v1 container sees its own
 * cgroup at the root but the host's path in /proc/self/cgroup) just has no files to read.
 */
function cgroupDirs(read: ReadText, mount: string, controller: string | null): string[] {
  const own = (read('/proc/self/cgroup') ?? '').split('\n').find((line) => {
    const [, controllers] = line.split(':');
    return controller === null ? line.startsWith('0::') : (controllers ?? '').split(',').includes(controller);
  });
  const path = own?.slice(own.indexOf(':', own.indexOf(':') + 1) + 1).trim() ?? '/';
  const dirs: string[] = [];
  // A cgroup outside the namespace's root reads as "/../…": neither it nor its ancestors are under
  // the mount, and joined to it the path would name files outside /sys/fs/cgroup.
  if (path.split('/').includes('..')) return [mount];
  for (let p = path.replace(/\/+$/, ''); p.startsWith('/'); p = p.slice(0, p.lastIndexOf('/'))) dirs.push(mount + p);
  dirs.push(mount);
  return dirs;
}

/** The tightest of the limits found along `places` (null when none is set). */
function tightest<T>(places: readonly T[], limitIn: (place: T) => number | null): number | null {
  let found: number | null = null;
  for (const place of places) {
    const limit = limitIn(place);
    if (limit !== null && (found === null || limit < found)) found = limit;
  }
  return found;
}

/**
 * CPUs the container may use, from its cgroup's CFS quota (Kubernetes `resources.limits.cpu`,
 * `docker run --cpus`, systemd `CPUQuota=`), or null when unlimited. Node's availableParallelism()
 * counts the CPUs the process may be scheduled on, which in a pod is the whole node's: 64 workers
 * for a 2-CPU limit would only queue up behind each other and multiply the per-worker memory.
 */
export function cgroupCpuLimit(read: ReadText = readText): number | null {
  // cgroup v2: "<quota> <period>", or "max <period>" when unlimited. No file anywhere: not v2.
  const v2 = cgroupDirs(read, MOUNT, null).map((dir) => read(`${dir}/cpu.max`));
  if (v2.some((text) => text !== null)) {
    return tightest(v2, (text) => {
      const [quota, period] = (text ?? 'max').trim().split(/\s+/);
      return quota === 'max' ? null : ratio(quota, period);
    });
  }
  // cgroup v1: the quota is -1 when unlimited.
  for (const mount of [`${MOUNT}/cpu`, `${MOUNT}/cpu,cpuacct`]) {
    if (read(`${mount}/cpu.cfs_period_us`) === null) continue;
    return tightest(cgroupDirs(read, mount, 'cpu'), (dir) => {
      const quota = read(`${dir}/cpu.cfs_quota_us`);
      const period = read(`${dir}/cpu.cfs_period_us`);
      return quota !== null && period !== null ? ratio(quota.trim(), period.trim()) : null;
    });
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
 * --memory`, systemd `MemoryMax=`), or null when unlimited. Past it, the kernel kills the whole
 * process: every index stops serving, not just the one being loaded.
 */
export function cgroupMemoryLimit(read: ReadText = readText): number | null {
  const v2 = tightest(cgroupDirs(read, MOUNT, null), (dir) => {
    const text = read(`${dir}/memory.max`);
    return text === null ? null : bytes(text.trim());
  });
  if (v2 !== null) return v2;
  return tightest(cgroupDirs(read, `${MOUNT}/memory`, 'memory'), (dir) => {
    const text = read(`${dir}/memory.limit_in_bytes`);
    const limit = text === null ? null : bytes(text.trim());
    return limit !== null && limit < V1_UNLIMITED ? limit : null;
  });
}

function bytes(text: string): number | null {
  const n = Number(text);
  return text !== 'max' && Number.isFinite(n) && n > 0 ? n : null;
}
