import { statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { IndexLoadError, loadIndexInWorker, type LoadedIndex } from './loader.js';
import { cgroupMemoryLimit } from '../../platform/cgroup-limits.js';
import { memoryShortfall, type MemoryState } from './memory-headroom.js';
import { publicReason } from './public-reason.js';
import type { IndexEntry, IndexRegistry } from './registry.js';
import { contentFingerprint, forgetIndexFiles, indexFingerprint, scanIndexDir } from './scan.js';

export interface WatcherOptions {
  dir: string;
  /** Stat poll period; 0 = rely on fs.watch events only. */
  pollIntervalMs: number;
  /** A change must stay unchanged this long before it is loaded. */
  debounceMs: number;
  log: FastifyBaseLogger;
  /** A load still running after this long is abandoned and rejected; 0 = no limit. */
  loadTimeoutMs?: number;
  /** Injected for tests; defaults to the loader worker. */
  load?: IndexLoad;
  /** Wait before the first retry of a load that failed for a passing reason; doubles up to RETRY_MAX_MS. */
  retryFirstMs?: number;
  /** The memory limit and resident memory now; defaults to the cgroup's limit and process RSS. */
  memory?: () => MemoryState;
}

const currentMemory = (): MemoryState => ({ limit: cgroupMemoryLimit(), rss: process.memoryUsage.rss() });

const RETRY_FIRST_MS = 5_000;
/** How often a missing or unreadable index directory is looked for again when polling is off. */
const DIR_RETRY_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;

/**
 * Identity of the directory `dir` names now (through symlinks), or null when there is none. The
 * birth time tells a directory made again from the one deleted, whose inode it often reuses.
 */
function directoryIdentity(dir: string): string | null {
  try {
    const s = statSync(dir, { throwIfNoEntry: false });
    return s?.isDirectory() ? `${s.dev}:${s.ino}:${s.birthtimeMs}` : null;
  } catch {
    return null;
  }
}

/** Reads and validates one index; should stop early when `signal` aborts. */
export type IndexLoad = (dir: string, name: string, signal: AbortSignal) => Promise<LoadedIndex>;

export interface LoadOutcome {
  index: string;
  result: 'loaded' | 'rejected' | 'removed';
  version?: number;
  seconds?: number;
  /** Why a rejected load was rejected, as callers may see it (see publicReason). */
  reason?: string;
}

/**
 * What a rejection leaves served, for its log line: a name never served (a new index delivered
 * broken, the most common case at a first start) was said to keep "the version being served".
 */
function keeping(current: IndexEntry | undefined): string {
  return current ? 'keeping the version being served' : 'nothing served under this name';
}

/** What a reload did, index by index, as the admin route answers it and the SIGHUP log line says it. */
export function reloadResults(outcomes: readonly LoadOutcome[]): Omit<LoadOutcome, 'seconds'>[] {
  return outcomes.map(({ index, result, version, reason }) => ({ index, result, version, reason }));
}

/** The index directory could not be listed (`code` is the errno code, e.g. ENOENT); nothing was loaded. */
export class IndexDirError extends Error {
  override name = 'IndexDirError';
  constructor(readonly code: string) {
    super(`cannot read the index directory (${code})`);
  }
}

export interface WatcherEvents {
  onLoad?: (outcome: LoadOutcome) => void;
  /** A version was read and validated but not published (its files changed meanwhile). */
  onDiscarded?: () => void;
}

/**
 * Keeps the registry in step with the index directory. fs.watch gives quick notice; a periodic stat
 * poll (through symlinks) catches what fs.watch misses (network filesystems, symlink flips in
 * mounted volumes). Every candidate change waits until the files stop changing for `debounceMs`,
 * is loaded off the request path, and is published only when valid.
 */
export class IndexWatcher {
  private readonly attempted = new Map<string, string>();
  private readonly pending = new Map<string, { fingerprint: string; since: number }>();
  /** Names whose last load failed for a passing reason (memory, descriptors): when to try again. */
  private readonly retries = new Map<string, { at: number; delayMs: number }>();
  /**
   * Files logged as ignored, with the reason logged. A file is logged again when its reason changes,
   * or when it is ignored again after a time of not being ignored (served, or gone): a link that
   * dangles a second time was otherwise removed from service with no line saying why.
   */
  private readonly ignoredLogged = new Map<string, string>();
  /** Why the last scan could not list the directory; null while it can. */
  private dirProblem: string | null = null;
  private fsWatcher: FSWatcher | null = null;
  /**
   * Identity of the directory fs.watch was set on (directoryIdentity). A directory deleted and made
   * again (or a symlink to it flipped) is another one, of whose changes the old watch says nothing.
   */
  private watchedDir: string | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeAt = 0;
  private running: Promise<LoadOutcome[]> | null = null;
  private again = false;
  private stopped = false;
  private readonly stopping = new AbortController();
  /** The load in progress, so that stop() can abandon it. */
  private loading: AbortController | null = null;
  private readonly load: IndexLoad;

  constructor(
    private readonly registry: IndexRegistry,
    private readonly options: WatcherOptions,
    private readonly events: WatcherEvents = {},
  ) {
    this.load = options.load ?? ((dir, name, signal) => loadIndexInWorker({ dir, name }, signal));
  }

  /** Starts watching, then loads every index found now (no debounce). */
  async start(): Promise<LoadOutcome[]> {
    // Watching first: a file landing during a long initial load (multi-GB indexes take a while)
    // queues a scan for right after it, instead of waiting for a poll, or forever with polling off.
    this.watchDir();
    const outcomes = await this.sync({ initial: true });
    if (this.stopped) return outcomes;
    if (this.options.pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => this.wake(0), this.options.pollIntervalMs);
      this.pollTimer.unref();
    }
    return outcomes;
  }

  /** Reloads every index now, changed or not (admin reload). */
  reloadAll(): Promise<LoadOutcome[]> {
    return this.sync({ force: true });
  }

  /**
   * Sets fs.watch on the index directory, again whenever the path names another directory than the
   * one watched. A directory that cannot be found now is watched once a scan finds it.
   */
  private watchDir(): void {
    const identity = directoryIdentity(this.options.dir);
    if (identity === null || identity === this.watchedDir || this.stopped) return;
    const replaced = this.watchedDir !== null;
    this.unwatchDir();
    this.watchedDir = identity;
    try {
      this.fsWatcher = watch(this.options.dir, { persistent: false }, () => this.wake(Math.min(50, this.options.debounceMs)));
      this.fsWatcher.on('error', (err) => this.options.log.warn({ err: err.message }, 'fs.watch failed; relying on polling'));
      if (replaced) this.options.log.info({ dir: this.options.dir }, 'index directory replaced; watching the new one');
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'fs.watch unavailable; relying on polling');
    }
  }

  private unwatchDir(): void {
    this.fsWatcher?.close();
    this.fsWatcher = null;
    this.watchedDir = null;
  }

  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    // A shutdown should not wait for a multi-GB file to finish loading only to drop it.
    this.loading?.abort(new IndexLoadError('the service is shutting down'));
    this.fsWatcher?.close();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
  }

  /** Resolves when no scan or load is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  /**
   * Schedules a scan in `delayMs`. A scan already due sooner covers this request (a storm of
   * fs.watch events makes one scan); one due later (a retry minutes away) is brought forward.
   */
  private wake(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.wakeTimer) {
      if (delayMs > 0 && this.wakeAt <= at) return;
      clearTimeout(this.wakeTimer);
    }
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      void this.sync({}).catch((err) => this.options.log.error({ err: (err as Error).message }, 'index scan failed'));
    }, delayMs);
    this.wakeTimer.unref();
  }

  /** One scan at a time; a request made during a scan runs another scan after it. */
  private async sync(mode: { initial?: boolean; force?: boolean }): Promise<LoadOutcome[]> {
    if (this.running) {
      if (!mode.force) {
        this.again = true;
        return [];
      }
      // Several forced scans may wait here at once: each checks again when it wakes, so they run one
      // after another instead of together (two loads of one multi-GB file would double its memory).
      while (this.running) await this.idle();
    }
    const run = this.scanOnce(mode);
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.wake(0);
      }
    }
  }

  private async scanOnce(mode: { initial?: boolean; force?: boolean }): Promise<LoadOutcome[]> {
    const { dir, debounceMs, log } = this.options;
    const outcomes: LoadOutcome[] = [];
    const immediate = mode.initial || mode.force || debounceMs === 0;
    let scan;
    try {
      scan = scanIndexDir(dir);
    } catch (err) {
      const message = (err as Error).message;
      // Once per outage, not at every poll (an unmounted volume would log an error every 2 s for
      // hours); a different reason, or an admin reload, is logged again.
      if (message !== this.dirProblem || mode.force) log.error({ err: message, dir }, 'cannot read index directory');
      this.dirProblem = message;
      // A directory made again under the same path can have the same inode: it is watched afresh
      // once it can be read. Meanwhile, without a poll, only looking again finds it back.
      this.unwatchDir();
      if (this.options.pollIntervalMs === 0) this.wake(DIR_RETRY_MS);
      // An admin reload must not answer "done, nothing to load" when it could not even look.
      if (mode.force) throw new IndexDirError((err as NodeJS.ErrnoException).code ?? 'unknown error');
      return outcomes;
    }
    if (this.dirProblem !== null) {
      log.info({ dir }, 'index directory readable again');
      this.dirProblem = null;
    }
    this.watchDir();
    const ignoredNow = new Set<string>();
    for (const { file, reason } of scan.ignored) {
      ignoredNow.add(file);
      if (this.ignoredLogged.get(file) === reason) continue;
      this.ignoredLogged.set(file, reason);
      log.warn({ file, reason }, 'ignoring file in index directory');
    }
    for (const file of this.ignoredLogged.keys()) if (!ignoredNow.has(file)) this.ignoredLogged.delete(file);
    const now = Date.now();
    let retryIn = Infinity;
    const seen = new Set(scan.names);
    for (const name of scan.names) {
      if (this.stopped) break;
      const fingerprint = indexFingerprint(dir, name);
      const last = this.attempted.get(name);
      const retry = this.retries.get(name);
      const unchanged = last !== undefined && (last === fingerprint || last === contentFingerprint(fingerprint));
      // Unchanged files have had their answer, unless a passing failure's retry is due (and then
      // without a debounce: they are known to be still). Changed files wait for quiet as usual.
      const retryDue = unchanged && retry !== undefined && retry.at <= now;
      // New files start their own back-off: the old files' failures say nothing about them.
      if (!unchanged) this.retries.delete(name);
      if (!mode.force && unchanged && !retryDue) {
        if (retry) retryIn = Math.min(retryIn, retry.at - now);
        this.pending.delete(name);
        continue;
      }
      if (!immediate && !retryDue) {
        const p = this.pending.get(name);
        if (!p || p.fingerprint !== fingerprint) {
          this.pending.set(name, { fingerprint, since: now });
          retryIn = Math.min(retryIn, debounceMs);
          continue;
        }
        if (now - p.since < debounceMs) {
          retryIn = Math.min(retryIn, debounceMs - (now - p.since));
          continue;
        }
      }
      this.pending.delete(name);
      let outcome = await this.loadOne(name, fingerprint);
      // Readiness waits for every index found at start-up: one whose files changed while it was
      // read is read again once they have been still for debounceMs, not after readiness.
      while (outcome === null && mode.initial && !this.stopped) outcome = await this.loadOne(name, await this.settled(name));
      if (outcome) outcomes.push(outcome);
      else retryIn = Math.min(retryIn, debounceMs);
      const next = this.retries.get(name);
      if (next) retryIn = Math.min(retryIn, next.at - Date.now());
    }
    // What is remembered of names whose files are gone (a served one is removed further down).
    for (const name of this.attempted.keys()) {
      if (seen.has(name) || this.registry.get(name)) continue;
      this.attempted.delete(name);
      forgetIndexFiles(dir, name);
    }
    for (const name of this.retries.keys()) if (!seen.has(name)) this.retries.delete(name);
    for (const name of this.registry.rejectedOnly()) {
      if (seen.has(name)) continue;
      this.registry.forget(name);
      // A served index's removal has its line below; without this one, the operator who deleted a
      // rejected delivery saw the rejection vanish from /v1/indexes with no word in the log.
      log.info({ index: name }, 'files of a rejected index removed; its rejection is cleared');
    }
    for (const name of this.registry.names()) {
      if (seen.has(name) || this.stopped) continue;
      const key = `-${name}`;
      const p = this.pending.get(key);
      if (!immediate && !p) {
        this.pending.set(key, { fingerprint: '-', since: now });
        retryIn = Math.min(retryIn, debounceMs);
        continue;
      }
      if (!immediate && p && now - p.since < debounceMs) {
        retryIn = Math.min(retryIn, debounceMs - (now - p.since));
        continue;
      }
      this.pending.delete(key);
      this.attempted.delete(name);
      this.retries.delete(name);
      forgetIndexFiles(dir, name);
      // The version that stops being served, for the log: which delivery went, not just which name.
      const version = this.registry.get(name)?.version ?? null;
      this.registry.remove(name);
      log.info({ index: name, version }, 'index removed from directory; no longer served');
      const outcome: LoadOutcome = { index: name, result: 'removed' };
      this.events.onLoad?.(outcome);
      outcomes.push(outcome);
    }
    for (const key of this.pending.keys()) {
      if (key.startsWith('-') && !this.registry.get(key.slice(1))) this.pending.delete(key);
      else if (key.startsWith('-') && seen.has(key.slice(1))) this.pending.delete(key);
    }
    if (retryIn !== Infinity && !this.stopped) this.wake(Math.max(1, retryIn));
    return outcomes;
  }

  /** The index's fingerprint once its files have not changed for debounceMs (or the watcher stopped). */
  private async settled(name: string): Promise<string> {
    const { dir, debounceMs } = this.options;
    let fingerprint = indexFingerprint(dir, name);
    for (;;) {
      // Cut short by stop(): a shutdown must not wait out a long debounce in the onClose hook.
      await sleep(debounceMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      const now = indexFingerprint(dir, name);
      if (now === fingerprint || this.stopped) return now;
      fingerprint = now;
    }
  }

  /** Loads one index; returns null when its files changed during the load (retried later). */
  private async loadOne(name: string, fingerprint: string): Promise<LoadOutcome | null> {
    const { dir, log } = this.options;
    // A forced reload (admin, SIGHUP) of the very files being served.
    const servedFiles = this.registry.get(name) !== undefined && this.attempted.get(name) === contentFingerprint(fingerprint);
    this.attempted.set(name, fingerprint);
    const started = process.hrtime.bigint();
    let loaded: LoadedIndex;
    try {
      loaded = await this.loadWithinLimit(name);
    } catch (err) {
      if (this.stopped) return null;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (indexFingerprint(dir, name) !== fingerprint) {
        this.attempted.delete(name);
        this.retries.delete(name);
        log.info({ index: name }, 'index files changed while loading; retrying');
        return null;
      }
      const message = (err as Error).message;
      const current = this.registry.get(name);
      const reason = publicReason(message);
      if (err instanceof IndexLoadError && err.transient && servedFiles) {
        // Nothing is wrong with what is served (a reload needs room for a second copy of it): say
        // so to whoever asked, but do not mark the index rejected or retry a reload nobody needs.
        this.attempted.set(name, contentFingerprint(fingerprint));
        log.warn({ index: name, err: message, servingVersion: current?.version ?? null }, 'reload of the files being served failed for a passing reason; still serving them');
        const outcome: LoadOutcome = { index: name, result: 'rejected', seconds, reason };
        this.events.onLoad?.(outcome);
        return outcome;
      }
      if (err instanceof IndexLoadError && err.transient) {
        const delayMs = this.nextRetryDelay(name);
        log.warn({ index: name, err: message, servingVersion: current?.version ?? null, retryInMs: delayMs }, `index load failed for a passing reason; ${keeping(current)}, trying the same files again later`);
      } else {
        this.retries.delete(name);
        log.warn({ index: name, err: message, servingVersion: current?.version ?? null }, `index rejected; ${keeping(current)}`);
      }
      this.registry.reject(name, reason);
      const outcome: LoadOutcome = { index: name, result: 'rejected', seconds, reason };
      this.events.onLoad?.(outcome);
      return outcome;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (this.stopped) return null;
    if (indexFingerprint(dir, name) !== fingerprint) {
      // The files moved on while we read them: what we hold may pair an old manifest with a new .ann.
      this.attempted.delete(name);
      this.retries.delete(name);
      log.info({ index: name }, 'index files changed while loading; retrying');
      this.events.onDiscarded?.();
      return null;
    }
    const entry = this.registry.publish(name, loaded);
    this.attempted.set(name, contentFingerprint(fingerprint));
    this.retries.delete(name);
    log.info({ index: name, version: entry.version, items: entry.items, trees: entry.trees, bytes: entry.bytes, seconds }, 'index loaded');
    const outcome: LoadOutcome = { index: name, result: 'loaded', version: entry.version, seconds };
    this.events.onLoad?.(outcome);
    return outcome;
  }

  /**
   * Schedules the next try of files whose load failed for a passing reason: RETRY_FIRST_MS, then
   * doubling up to RETRY_MAX_MS, so a machine short of memory is not hammered with multi-GB reads.
   */
  private nextRetryDelay(name: string): number {
    const first = this.options.retryFirstMs ?? RETRY_FIRST_MS;
    const previous = this.retries.get(name)?.delayMs;
    const delayMs = previous === undefined ? first : Math.min(RETRY_MAX_MS, previous * 2);
    this.retries.set(name, { at: Date.now() + delayMs, delayMs });
    return delayMs;
  }

  /**
   * One load. Refused up front when the file would not fit in the container's memory limit: a
   * passing failure, tried again later. Abandoned when it outlives loadTimeoutMs (storage whose
   * reads stall would otherwise hold up every later swap, admin reload and shutdown behind it) or
   * when the watcher stops: those files are not tried again until they change, since each try
   * could strand a thread.
   */
  private async loadWithinLimit(name: string): Promise<LoadedIndex> {
    const bytes = statSync(join(this.options.dir, `${name}.ann`), { throwIfNoEntry: false })?.size ?? 0;
    const shortfall = memoryShortfall(`${name}.ann`, bytes, (this.options.memory ?? currentMemory)());
    if (shortfall) throw new IndexLoadError(shortfall, true);
    const controller = new AbortController();
    this.loading = controller;
    const limit = this.options.loadTimeoutMs ?? 0;
    const timer =
      limit > 0
        ? setTimeout(() => controller.abort(new IndexLoadError(`loading took longer than ${limit} ms (NNSERVE_LOAD_TIMEOUT_MS) and was abandoned: a hung or very slow file system?`)), limit)
        : null;
    const abandoned = new Promise<never>((_resolve, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true }));
    try {
      return await Promise.race([this.load(this.options.dir, name, controller.signal), abandoned]);
    } finally {
      if (timer) clearTimeout(timer);
      this.loading = null;
    }
  }
}
