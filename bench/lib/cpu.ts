import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime, and the same for reaped children, from a /proc stat file, in seconds. */
function statSeconds(path: string): { own: number; children: number } {
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const text = readFileSync(path, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  // fields[0] is field 3 (state): utime = field 14, stime = 15, cutime = 16, cstime = 17.
  return { own: (fields[11] + fields[12]) / TICKS_PER_SECOND, children: (fields[13] + fields[14]) / TICKS_PER_SECOND };
}

/** CPU seconds a process has used so far: all its threads, and its main thread alone. */
export function processCpu(pid: number): { total: number; main: number } {
  return { total: statSeconds(`/proc/${pid}/stat`).own, main: statSeconds(`/proc/${pid}/task/${pid}/stat`).own };
}

/** CPU seconds used by this process's children that have exited and been waited for (e.g. wrk runs). */
export function reapedChildrenCpu(): number {
  return statSeconds('/proc/self/stat').children;
}
