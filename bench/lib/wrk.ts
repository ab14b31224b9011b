import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Printed by every generated script's done(): one JSON line wrk's own summary lacks (p99.9, status errors). */
const DONE_LUA = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
`;

/** GET paths built per request: `%d` in the template becomes a random integer in [0, count). */
export function randomGetScript(template: string, count: number): string {
  const [before, after] = template.split('%d');
  return `
math.randomseed(os.time())
function request()
  return wrk.format("GET", ${JSON.stringify(before)} .. math.random(0, ${count - 1}) .. ${JSON.stringify(after ?? '')})
end
${DONE_LUA}`;
}

/** POSTs the lines of `bodiesFile` (one JSON body per line) in turn, each thread from its own offset. */
export function postBodiesScript(path: string, bodiesFile: string): string {
  return `
local bodies = {}
for line in io.lines(${JSON.stringify(bodiesFile)}) do bodies[#bodies + 1] = line end
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
function setup(thread) counter = counter + 1; thread:set("offset", counter * 97) end
function init(args) counter = tonumber(offset) or 0 end
function request()
  counter = counter + 1
  return wrk.format("POST", ${JSON.stringify(path)}, headers, bodies[(counter % #bodies) + 1])
end
${DONE_LUA}`;
}

export interface WrkResult {
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  /** Socket errors + non-2xx/3xx answers + timeouts. */
  errors: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

export interface WrkOptions {
  url: string;
  /** Lua script text (see randomGetScript / postBodiesScript). */
  script: string;
  scriptFile: string;
  connections: number;
  seconds: number;
  threads?: number;
}

/** Runs wrk (Debian package `wrk`) once and parses the line the script's done() printed. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  writeFileSync(options.scriptFile, options.script);
  const args = ['-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s', '-s', options.scriptFile, options.url];
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('wrk', args, { maxBuffer: 1 << 20 }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed: apt-get install -y wrk');
    throw err;
  } finally {
    rmSync(options.scriptFile, { force: true });
  }
  const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk printed no result line:\n${stdout}`);
  const r = JSON.parse(line.slice(8)) as Record<string, number>;
  const seconds = r.duration_us / 1e6;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    connections: options.connections,
    seconds,
    requests: r.requests,
    requestsPerSecond: Math.round(r.requests / seconds),
    errors: r.connect_errors + r.read_errors + r.write_errors + r.status_errors + r.timeouts,
    latencyMs: { p50: ms(r.p50_us), p90: ms(r.p90_us), p99: ms(r.p99_us), p999: ms(r.p999_us), max: ms(r.max_us), mean: ms(r.mean_us) },
  };
}
