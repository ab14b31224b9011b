import type { QueryReply, QueryTask } from './task.js';

interface Member {
  task: QueryTask;
  /** What submit() returned for the task. */
  reply: Promise<QueryReply>;
  resolve(reply: QueryReply): void;
  reject(err: unknown): void;
}

interface Group {
  /** Its key in `waiting`, which changes when the group is retired (full). */
  key: string;
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
  /**
   * Members of merged tasks that failed, to run alone for their own answers: ahead of the waiting
   * groups (they were taken in first), and within maxInFlight like any task, so a failed group of
   * eight does not hand the pool eight tasks at once and overflow its queue into 503s.
   */
  private readonly reruns: Member[] = [];
  /** Each waiting task's place, so withdraw() finds it without a search of every group. */
  private readonly places = new Map<QueryTask, { group: Group; member: Member }>();
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
    if (this.inFlight < this.maxInFlight && this.waiting.size === 0 && this.reruns.length === 0) return this.launch(task);
    let resolve!: Member['resolve'];
    let reject!: Member['reject'];
    const reply = new Promise<QueryReply>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const member: Member = { task, reply, resolve, reject };
    const group = this.groupFor(task);
    group.members.push(member);
    this.places.set(task, { group, member });
    this.waitingQueries += task.queries.length;
    return reply;
  }

  /**
   * Takes a task that still waits out of line, for when nobody wants its answer any more: it leaves
   * its group (a group left empty goes too) and its promise rejects with `reason`. False when the
   * task does not wait here: a task already sent runs to its end.
   */
  withdraw(task: QueryTask, reason: unknown): boolean {
    const place = this.places.get(task);
    let member: Member;
    if (place) {
      const { group } = place;
      member = place.member;
      this.places.delete(task);
      group.members.splice(group.members.indexOf(member), 1);
      group.queries -= task.queries.length;
      if (group.members.length === 0) this.waiting.delete(group.key);
    } else {
      // A member of a failed merge waiting for its rerun: as much in line as any waiting task.
      // Reruns are few (one failed group's members), so a search of them is enough.
      const at = this.reruns.findIndex((m) => m.task === task);
      if (at < 0) return false;
      member = this.reruns.splice(at, 1)[0];
    }
    this.waitingQueries -= task.queries.length;
    // The caller may have stopped listening already (it answered its client): not an unhandled rejection.
    member.reply.catch(() => undefined);
    member.reject(reason);
    return true;
  }

  private groupFor(task: QueryTask): Group {
    // The generation alone names the version; the name is a guard should two ever share one.
    const key = `${task.name}/${task.generation}/${task.n}/${task.searchK}/${task.includeDistances ? 1 : 0}`;
    const open = this.waiting.get(key);
    if (open && open.queries + task.queries.length <= this.maxQueries) {
      open.queries += task.queries.length;
      return open;
    }
    const group: Group = { key, members: [], queries: task.queries.length };
    if (open) {
      // The open group is full: it keeps its place in line under a retired key.
      this.waiting.delete(key);
      open.key = `${key}#${++this.groupSerial}`;
      this.waiting.set(open.key, open);
    }
    this.waiting.set(key, group);
    return group;
  }

  private launch(task: QueryTask): Promise<QueryReply> {
    return this.occupy(this.send(task));
  }

  /** Holds a pool slot until `work` settles, then gives the slot to the next in line. */
  private occupy<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    return work.finally(() => {
      this.inFlight--;
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.maxInFlight) {
      const rerun = this.reruns.shift();
      if (rerun) {
        this.waitingQueries -= rerun.task.queries.length;
        this.launch(rerun.task).then(rerun.resolve, rerun.reject);
        continue;
      }
      if (this.waiting.size === 0) return;
      const [key, group] = this.waiting.entries().next().value as [string, Group];
      this.waiting.delete(key);
      this.waitingQueries -= group.queries;
      for (const m of group.members) this.places.delete(m.task);
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
    // The reply is handled before the slot frees, so reruns are in line before the next group.
    void this.occupy(this.send({ ...first, queries, deadlineAt }).then(
      (reply) => {
        if ('error' in reply) {
          // One member's query can fail the whole task: run each alone for its own answer.
          this.reruns.push(...members);
          for (const m of members) this.waitingQueries += m.task.queries.length;
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
    ));
  }
}
