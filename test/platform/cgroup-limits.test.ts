import { availableParallelism } from 'node:os';
import { posix } from 'node:path';
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

t.test("limits set on the process's own cgroup or an ancestor below the mount count (systemd services, shared namespaces, v1 hierarchies)", async (t) => {
  // A systemd service on cgroup v2: MemoryMax= on the unit, a tighter one on its slice.
  const service = {
    '/proc/self/cgroup': '0::/system.slice/nnserve.service\n',
    '/sys/fs/cgroup/system.slice/nnserve.service/memory.max': '2147483648\n',
    '/sys/fs/cgroup/system.slice/nnserve.service/cpu.max': '300000 100000\n',
    '/sys/fs/cgroup/system.slice/memory.max': 'max\n',
    '/sys/fs/cgroup/system.slice/cpu.max': 'max 100000\n',
  };
  t.equal(cgroupMemoryLimit(files(service)), 2 * 1024 ** 3, "v2: the unit's MemoryMax=");
  t.equal(cgroupCpuLimit(files(service)), 3, "v2: the unit's CPUQuota=");
  const slice = { ...service, '/sys/fs/cgroup/system.slice/memory.max': '1073741824\n', '/sys/fs/cgroup/system.slice/cpu.max': '100000 100000\n' };
  t.equal(cgroupMemoryLimit(files(slice)), 1024 ** 3, "v2: the slice's tighter limit binds");
  t.equal(cgroupCpuLimit(files(slice)), 1, "v2: the slice's tighter quota binds");
  // cgroup v1 as this kind of sandbox shows it: the memory controller at a deeper path, the rest at /.
  const v1 = {
    '/proc/self/cgroup': '9:name=systemd:/\n4:memory:/process_api/16ee\n1:cpu:/batch/job-7\n0::/\n',
    '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    '/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes': '9223372036854771712\n',
    '/sys/fs/cgroup/memory/process_api/16ee/memory.limit_in_bytes': '805306368\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
    '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    '/sys/fs/cgroup/cpu/batch/job-7/cpu.cfs_quota_us': '150000\n',
    '/sys/fs/cgroup/cpu/batch/job-7/cpu.cfs_period_us': '100000\n',
  };
  t.equal(cgroupMemoryLimit(files(v1)), 768 * 1024 ** 2, "v1: the memory controller's own path");
  t.equal(cgroupCpuLimit(files(v1)), 1.5, "v1: the cpu controller's own path, not the memory one's");
  // A v1 container: /proc/self/cgroup names the host's path, the mount shows the container's cgroup at its root.
  const container = { '/proc/self/cgroup': '4:memory:/docker/abc123\n', '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456\n' };
  t.equal(cgroupMemoryLimit(files(container)), 256 * 1024 ** 2, 'v1 container: the path is not under the mount, the root holds the limit');
  t.equal(cgroupMemoryLimit(files({ '/proc/self/cgroup': '0::/user.slice/session-1.scope\n' })), null, 'no limit anywhere on the path');
});

t.test('a cgroup outside the namespace root ("/../…" in /proc/self/cgroup) is not looked for outside the mount', async (t) => {
  const read: string[] = [];
  const contents: Record<string, string> = {
    '/proc/self/cgroup': '0::/../../system.slice/other.service\n',
    '/sys/fs/cgroup/memory.max': '1073741824\n',
    '/sys/system.slice/memory.max': '1048576\n',
  };
  // As the kernel resolves them: /sys/fs/cgroup/../../system.slice is /sys/system.slice.
  const recording: ReadText = (path) => {
    read.push(posix.normalize(path));
    return contents[posix.normalize(path)] ?? null;
  };
  t.equal(cgroupMemoryLimit(recording), 1024 ** 3, 'the mount\'s own limit, as before paths were followed');
  t.equal(cgroupCpuLimit(recording), null);
  t.same(read.filter((path) => path !== '/proc/self/cgroup' && !path.startsWith('/sys/fs/cgroup/')), [], 'no file outside /sys/fs/cgroup was read');
});
