import { errors } from '../errors.js';

/** Why a deadline ended early or on time: its time ran out, or another part of the request failed. */
export type DeadlineEnd = 'deadline' | 'batch_failed';

/**
 * A request's time limit: work raced against it (`race`) fails with the 504 error once `ms` have
 * gone by. Replaces an AbortController per request, whose EventTarget listeners cost 8-11 µs per
 * request on Node 20 (measured: controller, timer, add and remove a listener), against well under
 * 1 µs for a timer and a promise: about 4 % of a pooled search's main-thread time.
 */
export class Deadline {
  /** Rejects when the time is up, or at once on `giveUp()`; never resolves. */
  private readonly passed: Promise<never>;
  private readonly timer: NodeJS.Timeout;
  private reject!: (err: Error) => void;
  private ended: DeadlineEnd | null = null;

  constructor(readonly ms: number) {
    this.passed = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    // Nobody may be waiting when it passes.
    this.passed.catch(() => undefined);
    this.timer = setTimeout(() => this.giveUp('deadline'), ms);
  }

  /** True once the time is up (or `giveUp()` was called). */
  get isOver(): boolean {
    return this.ended !== null;
  }

  /**
   * Why it ended, null while it runs: the waits' error is the same either way, and queries still
   * queued under it are withdrawn with this reason (see QueryPool.run).
   */
  get endedBy(): DeadlineEnd | null {
    return this.ended;
  }

  /** True once the time ran out, not after an early `giveUp()`: only then has the caller been answered 504. */
  get timedOut(): boolean {
    return this.ended === 'deadline';
  }

  /** Ends every wait on this deadline now, with the deadline error; `why` is kept for endedBy. */
  giveUp(why: DeadlineEnd): void {
    if (this.ended !== null) return;
    this.ended = why;
    clearTimeout(this.timer);
    this.reject(errors.deadline(this.ms));
  }

  /** The work finished: stop the timer (`passed` then never settles). */
  clear(): void {
    clearTimeout(this.timer);
  }

  /** `work`'s outcome, or the deadline error if the time is up first (work's later outcome is ignored). */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.passed]);
  }
}
