import { setTimeout as sleep } from 'node:timers/promises';
import { Piscina } from 'piscina';
import { errors, ServiceError } from '../errors.js';
import type { Deadline, DeadlineEnd } from './deadline.js';
import { workerExecArgv } from './exec-argv.js';
import { TaskCoalescer } from './task-coalescer.js';
import type { QueryAnswer, QueryMessage, QueryReply, QueryTask, SweepReply, SweepTask, WorkerData } from './task.js';

const WORKER_URL = new URL('../../../workers/query-worker.js', import.meta.url).href;
/** Piscina's messages when it refuses a task (maxQueue reached; maxQueue 0 with every worker busy). */
const QUEUE_FULL_MESSAGES = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy']);
const CONCURRENT_TASKS_PER_WORKER = 2;
/** Cap on queries merged into one task (see TaskCoalescer): a few heavy queries' worth of latency. */
const MAX_MERGED_QUERIES = 8;
/** Sweep rounds after a swap until every thread has swept, and the pause between them. */
const SWEEP_ROUNDS = 40;
const SWEEP_PAUSE_MS = 250;

/**
 * Why queries were taken out of line: the caller got its 504, another part of its batch failed (the
 * batch is answered with that error), or its client closed the connection.
 */
export type WithdrawReason = DeadlineEnd | 'client_closed';

export interface QueryPoolOptions {
  workers: number;
  queueSize: number;
  /** The registry's shared version table (workers drop cached versions that are no longer current). */
  versions: Int32Array;
  /** A task was lost because its worker thread died (`retried`: it is being run again on another). */
  onTaskLost?: (err: Error, retried: boolean, task: QueryTask) => void;
  /** A worker failed with no task to blame (Piscina's 'error' event, fatal if nobody listens). */
  onWorkerError?: (err: Error) => void;
  /** Queries left the queue unrun, nobody waiting for their answer any more (see withdraw()). */
  onWithdrawn?: (reason: WithdrawReason, queries: number) => void;
}

/** The Piscina pool of query workers, with the error mapping and counters the service needs. */
export class QueryPool {
  private readonly piscina: Piscina<QueryMessage | SweepTask, QueryReply | SweepReply>;
  private submitted = 0;
  private closed = false;

  constructor(options: QueryPoolOptions) {
    const workerData: WorkerData = { versions: options.versions };
    this.piscina = new Piscina({
      filename: WORKER_URL,
      minThreads: options.workers,
      maxThreads: options.workers,
      // Workers keep opened indexes cached; never let idle ones exit and lose them.
      idleTimeout: 2 ** 31 - 1,
      maxQueue: options.queueSize,
      // Two tasks in each worker's port: when one finishes the next is already there, instead of the
      // worker idling through a round trip to the main thread (~25 % of a 0.75 ms query measured).
      concurrentTasksPerWorker: CONCURRENT_TASKS_PER_WORKER,
      workerData,
      execArgv: workerExecArgv(),
    });
    this.onTaskLost = options.onTaskLost ?? (() => undefined);
    this.onWithdrawn = options.onWithdrawn ?? (() => undefined);
    this.coalescer = new TaskCoalescer((task) => this.attempt(task, true), options.workers * CONCURRENT_TASKS_PER_WORKER, MAX_MERGED_QUERIES);
    // The second task a worker holds counts as waiting: `queueSize` keeps meaning "beyond one running per worker".
    this.capacity = options.workers + options.queueSize;
    this.workers = options.workers;
    this.piscina.on('error', (err: Error) => options.onWorkerError?.(err));
  }

  private readonly onTaskLost: (err: Error, retried: boolean, task: QueryTask) => void;
  private readonly onWithdrawn: (reason: WithdrawReason, queries: number) => void;
  private readonly coalescer: TaskCoalescer;
  /** Tasks allowed in the pool at once: one running per worker plus the queue. */
  private readonly capacity: number;
  private readonly workers: number;
  /** Engine seconds of every query the workers answered: their busy time, whoever still waited for it. */
  private busySeconds = 0;
  /** Where the current utilization window began (see utilizationSinceLastRead). */
  private windowStart = performance.now();
  private windowBusy = 0;

  get threads(): number {
    return this.piscina.threads.length;
  }

  /**
   * Queries waiting for a worker. They wait in the coalescer, which never hands Piscina more
   * tasks than its workers hold, so Piscina's own queue stays empty.
   */
  get queueDepth(): number {
    return this.coalescer.queued;
  }

  /** Tasks handed to the workers: running, or next in a worker's port. */
  get activeTasks(): number {
    return this.coalescer.sent;
  }

  /**
   * Share of the workers' time spent in the engine since the previous call (0..1), which starts the
   * next window. Not Piscina's `utilization`: that averages over the pool's whole life, and divides
   * seconds by milliseconds, so a saturated pool read 0.0007.
   */
  utilizationSinceLastRead(): number {
    const now = performance.now();
    const capacity = ((now - this.windowStart) / 1000) * this.workers;
    const busy = this.busySeconds - this.windowBusy;
    this.windowStart = now;
    this.windowBusy = this.busySeconds;
    // A query is counted whole in the window it ends in, so one that began earlier can push a short
    // window past 1.
    return capacity > 0 ? Math.min(1, busy / capacity) : 0;
  }

  /**
   * Runs one task. Rejects with ServiceError: queue full (503), the caller's `deadline` passed
   * (504), a bad input the engine refused (400), or 503 when the task's worker thread died twice;
   * or with the error given to withdraw().
   * Tasks are pure reads of immutable memory, so a task whose worker died under it (crash, out of
   * memory, terminated) is safe to run once more on the replacement.
   * `onSettled` runs once no thread works on the task any more: at once when it is refused or
   * withdrawn, else when its worker is done with it, which can be after a 504 has already answered
   * the caller. It is given the worker's answers when there are any, whoever still waits for them.
   */
  async run(task: QueryTask, deadline: Deadline, onSettled: (answers: QueryAnswer[] | null) => void = () => undefined): Promise<QueryAnswer[]> {
    const refusal = this.closed ? errors.shuttingDown() : this.submitted >= this.capacity ? errors.queueFull(1) : deadline.isOver ? errors.deadline(deadline.ms) : null;
    if (refusal) {
      onSettled(null);
      throw refusal;
    }
    this.submitted++;
    // Piscina is not given an abort signal: it runs abortable tasks only on idle workers, from a
    // separate list, which measured as 1 s p99 waits with one worker, and it kills the thread to
    // abort. A late caller gets its 504 here instead, and a task still waiting for a worker leaves
    // the queue with it; one already sent finishes (queries are bounded) or, not started yet, is
    // skipped by the worker past `deadlineAt`, holding its queue slot until then.
    const work = this.coalescer.submit(task).then(
      (reply) => {
        this.submitted--;
        // Reached its worker after its deadline and skipped there: never run, its caller answered 504,
        // as the queries withdrawn from the queue; counted nowhere else.
        if ('error' in reply && reply.error.code === 'deadline') this.onWithdrawn('deadline', task.queries.length);
        onSettled('answers' in reply ? reply.answers : null);
        return reply;
      },
      (err: unknown) => {
        this.submitted--;
        onSettled(null);
        throw err;
      },
    );
    let reply: QueryReply;
    try {
      reply = await deadline.race(work);
    } catch (err) {
      // Whatever ended the wait, nobody takes this task's answer any more.
      const why = deadline.endedBy;
      if (why) this.withdraw(task, why, err);
      throw err;
    }
    if ('error' in reply) {
      if (reply.error.code === 'input') throw errors.badInput(reply.error.message);
      if (reply.error.code === 'deadline') throw errors.deadline(deadline.ms);
      throw new Error(`query worker failed: ${reply.error.message}`);
    }
    return reply.answers;
  }

  /**
   * Takes a task of run() out of the queue when nobody waits for its answer any more: its run()
   * rejects with `err`, its queue slot is free at once and `onSettled` runs. False (nothing done)
   * when the task is not waiting: a task already sent to a worker runs to its end.
   */
  withdraw(task: QueryTask, reason: WithdrawReason, err: unknown): boolean {
    if (!this.coalescer.withdraw(task, err)) return false;
    this.onWithdrawn(reason, task.queries.length);
    return true;
  }

  private async attempt(task: QueryTask, mayRetry: boolean): Promise<QueryReply> {
    try {
      let reply = await this.runQuery(withoutStorage(task));
      // The worker has not opened this version yet (its first task for it): once more, with the storage.
      if ('error' in reply && reply.error.code === 'storage') reply = await this.runQuery(task);
      if ('answers' in reply) for (const answer of reply.answers) this.busySeconds += answer.seconds;
      return reply;
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      if (err instanceof Error && QUEUE_FULL_MESSAGES.has(err.message)) throw errors.queueFull(1);
      // Anything else means the thread running the task went away without answering.
      const retry = mayRetry && !this.closed;
      this.onTaskLost(err instanceof Error ? err : new Error(String(err)), retry, task);
      if (!retry) throw this.closed ? errors.shuttingDown() : errors.workerLost();
      return this.attempt(task, false);
    }
  }

  private runQuery(message: QueryMessage): Promise<QueryReply> {
    return this.piscina.run(message) as Promise<QueryReply>;
  }

  /**
   * Has every worker drop cached versions that are no longer current and collect, so a replaced
   * index's memory is freed. An idle worker blocks in Atomics.wait and does nothing on its own, and
   * Piscina cannot aim a task at one thread: a round sends one sweep task per thread, and rounds
   * repeat (briefly apart) until each thread has answered one; a busy worker takes its sweep once
   * it is free. Resolves, with the ids of the threads that swept, when all have, the rounds run
   * out, or the pool closes.
   */
  async sweep(): Promise<number[]> {
    const swept = new Set<number>();
    for (let round = 0; round < SWEEP_ROUNDS && !this.closed; round++) {
      if (round > 0) await sleep(SWEEP_PAUSE_MS);
      const threads = this.piscina.threads;
      if (threads.every((thread) => swept.has(thread.threadId))) break;
      // One per thread, not one per thread still to sweep: Piscina gives each task to the least busy
      // worker, so only a full round reaches an idle thread that a lone task would pass over.
      const replies = await Promise.all(threads.map(() => (this.piscina.run({ sweep: true }) as Promise<SweepReply>).catch(() => null)));
      for (const reply of replies) if (reply) swept.add(reply.sweptBy);
    }
    return [...swept];
  }

  /** Thread ids of the workers (for tests and logs). */
  get threadIds(): number[] {
    return this.piscina.threads.map((thread) => thread.threadId);
  }

  /** Waits for running and queued tasks, then stops the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.close();
  }
}

/** The task as posted when the worker has its version open: everything but the storage. */
function withoutStorage(task: QueryTask): QueryMessage {
  const { storage: _sentOnRequest, ...message } = task;
  return message;
}
