import { availableParallelism } from 'node:os';
import t from 'tap';
import { cgroupCpuLimit, cgroupMemoryLimit, defaultThreads, type ReadText } from '../../src/platform/cgroup-limits.js';

/** A cgroup filesystem made of the given files. */
const files = (contents: Record<string, string>): ReadText => (path) => contents[path] ?? null;

t.test('the CPU limit, read as the kernel writes it', async (t) => {
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' })), 2, 'cgroup v2: 2 CPUs');
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 1.5, 'cgroup v2: 1.5 CPUs');
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), null, 'cgroup v2: unlimited');
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), 0.5, 'cgroup v1');
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '300000\n', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' })), 3, 'cgroup v1, joint controller');
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), null, 'cgroup v1: unlimited');
  t.equal(cgroupCpuLimit(files({})), null, 'no cgroup files (not Linux, or not mounted)');
  t.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'garbage' })), null, 'unreadable contents mean no limit');
});

t.test('default threads: the CPUs available, capped by the limit rounded up, at least 1', async (t) => {
  const cpus = availableParallelism();
  t.equal(defaultThreads(files({})), cpus, 'no limit: every CPU');
  t.equal(defaultThreads(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1, 'half a CPU: one thread');
  t.equal(defaultThreads(files({ '/sys/fs/cgroup/cpu.max': '150000 100000' })), Math.min(cpus, 2), '1.5 CPUs: two threads');
  t.equal(defaultThreads(files({ '/sys/fs/cgroup/cpu.max': `${1000 * 100000} 100000` })), cpus, 'a limit above the CPUs there are changes nothing');
});

t.test('the memory limit, read as the kernel writes it', async (t) => {
  t.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '1073741824\n' })), 1024 ** 3, 'cgroup v2: 1 GiB');
  t.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' })), null, 'cgroup v2: unlimited');
  t.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '536870912\n' })), 512 * 1024 ** 2, 'cgroup v1: 512 MiB');
  t.equal(cgroupMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n' })), null, 'cgroup v1: unlimited, as it writes it');
  t.equal(cgroupMemoryLimit(files({})), null, 'no cgroup files');
});
