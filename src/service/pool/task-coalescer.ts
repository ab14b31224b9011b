import type { QueryReply, QueryTask } from './task.js';

interface Member {
  task: QueryTask;
  resolve(reply: QueryReply): void;
  reject(err: unknown): void;
}

interface Group {
  members: Member[];
  queries: number;
}

/**
 * Merges queries that would otherwise wait in the pool's queue. A task sent to a worker costs a
 * round trip (~50 µs of main-thread CPU, and as much again on the worker) whatever it carries, so
 * under load that overhead, not the engine, caps throughput. While every worker already holds its
 * tasks, new tasks wait here, grouped by what a worker needs to run them together (index version
 * and query options); each time a task finishes, the oldest group goes out as one task and its
 * answers are handed back to each member. When a worker is free a task goes out at once, so an
 * idle service adds no latency.
 */
export class TaskCoalescer {
  private inFlight = 0;
  /** Waiting groups in arrival order (Map iteration order). */
  private readonly waiting = new Map<string, Group>();
  private waitingQueries = 0;
  private groupSerial = 0;

  constructor(
    private readonly send: (task: QueryTask) => Promise<QueryReply>,
    /** Tasks handed to the pool at once: the rest wait here and merge. */
    private readonly maxInFlight: number,
    /** Most queries one merged task carries, so one group cannot hold a worker for long. */
    private readonly maxQueries: number,
  ) {}

  /** Queries waiting to be sent. */
  get queued(): number {
    return this.waitingQueries;
  }

  /** Tasks sent and not answered yet. */
  get sent(): number {
    return this.inFlight;
  }

  submit(task: QueryTask): Promise<QueryReply> {
    if (this.inFlight < this.maxInFlight && this.waiting.size === 0) return this.launch(task);
    return new Promise<QueryReply>((resolve, reject) => {
      this.groupFor(task).members.push({ task, resolve, reject });
      this.waitingQueries += task.queries.length;
    });
  }

  private groupFor(task: QueryTask): Group {
    // The generation alone names the version; the name is a guard should two ever share one.
    const key = `${task.name}/${task.generation}/${task.n}/${task.searchK}/${task.includeDistances ? 1 : 0}`;
    const open = this.waiting.get(key);
    if (open && open.queries + task.queries.length <= this.maxQueries) {
      open.queries += task.queries.length;
      return open;
    }
    const group: Group = { members: [], queries: task.queries.length };
    if (open) {
      // The open group is full: it keeps its place in line under a retired key.
      this.waiting.delete(key);
      this.waiting.set(`${key}#${++this.groupSerial}`, open);
    }
    this.waiting.set(key, group);
    return group;
  }

  private launch(task: QueryTask): Promise<QueryReply> {
    this.inFlight++;
    return this.send(task).finally(() => {
      this.inFlight--;
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.size > 0) {
      const [key, group] = this.waiting.entries().next().value as [string, Group];
      this.waiting.delete(key);
      this.waitingQueries -= group.queries;
      this.dispatch(group.members);
    }
  }

  private dispatch(members: Member[]): void {
    if (members.length === 1) {
      const [m] = members;
      this.launch(m.task).then(m.resolve, m.reject);
      return;
    }
    const first = members[0].task;
    const queries = members.flatMap((m) => m.task.queries);
    // Run while anyone still waits: the latest deadline of the group.
    const deadlineAt = Math.max(...members.map((m) => m.task.deadlineAt));
    this.launch({ ...first, queries, deadlineAt }).then(
      (reply) => {
        if ('error' in reply) {
          // One member's query can fail the whole task: run each alone for its own answer.
          for (const m of members) this.launch(m.task).then(m.resolve, m.reject);
          return;
        }
        let at = 0;
        for (const m of members) {
          const count = m.task.queries.length;
          m.resolve({ answers: reply.answers.slice(at, at + count) });
          at += count;
        }
      },
      (err: unknown) => {
        for (const m of members) m.reject(err);
      },
    );
  }
}
