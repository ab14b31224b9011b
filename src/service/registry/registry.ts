import { EventEmitter } from 'node:events';
import { AnnoyIndex } from '../../annoy/index.js';
import { IdLookup, idLookupTable } from '../../index-files/id-lookup.js';
import type { MetricName } from '../../annoy/metrics/names.js';
import type { IndexStorage } from '../../annoy/storage.js';
import type { IndexManifest } from '../../index-files/manifest.js';
import type { LoadedIndex } from './loader.js';

/** Most index names served (or still draining) at once: the size of the shared version table. */
export const MAX_INDEX_NAMES = 4096;

/** One published version of an index. Immutable except for the in-flight count. */
export interface IndexEntry {
  readonly name: string;
  readonly version: number;
  /**
   * Registry-wide id of this version, never reused: what the version table holds for it. Slots
   * are reused by other names, and per-name version numbers repeat across names; generations do
   * not, so a worker can never mistake one name's cached version for another's.
   */
  readonly generation: number;
  /** Row of this name in the shared version table the query workers read (freed with the name). */
  readonly slot: number;
  readonly storage: IndexStorage;
  readonly manifest: IndexManifest;
  readonly metric: MetricName;
  readonly dimensions: number;
  readonly items: number;
  readonly trees: number;
  readonly bytes: number;
  /** External id of item i, or null when the index uses integer ids. */
  readonly ids: string[] | null;
  readonly idToItem: IdLookup | null;
  readonly loadedAt: string;
  readonly loadedAtMs: number;
  /** Tasks still running on this version. */
  inflight: number;
  retired: boolean;
}

/** Why the newest files of a name were not published, as callers may see it (no server paths). */
export interface Rejection {
  reason: string;
  /** ISO time of the rejection. */
  at: string;
}

export interface RegistryEvents {
  published: [entry: IndexEntry, previous: IndexEntry | undefined];
  rejected: [name: string, message: string];
  removed: [entry: IndexEntry];
  released: [entry: IndexEntry];
}

/**
 * The set of indexes being served. Publishing swaps one reference, so a request sees either the old
 * or the new version, never a mix. A replaced version stays retained until its last in-flight task
 * releases it; then nothing here refers to its buffer any more and it can be collected.
 */
export class IndexRegistry extends EventEmitter<RegistryEvents> {
  /** Generation of the version each slot serves; 0 = none. Workers drop cached versions that differ. */
  readonly versions = new Int32Array(new SharedArrayBuffer(MAX_INDEX_NAMES * 4));
  private generations = 0;
  private readonly current = new Map<string, IndexEntry>();
  private readonly retiring = new Set<IndexEntry>();
  private readonly lastVersion = new Map<string, number>();
  private readonly slots = new Map<string, number>();
  /** Slots of names gone for good (no version current or draining), for the next new name. */
  private readonly freeSlots: number[] = [];
  private readonly views = new WeakMap<IndexEntry, AnnoyIndex>();
  /** Names whose latest load was rejected; cleared when the name loads or its files go. */
  private readonly rejections = new Map<string, Rejection>();

  get(name: string): IndexEntry | undefined {
    return this.current.get(name);
  }

  /** Those of `names` with no version served (NNSERVE_REQUIRE_INDEXES: readiness and its log line). */
  notServed(names: readonly string[]): string[] {
    return names.filter((name) => !this.current.has(name));
  }

  list(): IndexEntry[] {
    return [...this.current.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  names(): string[] {
    return [...this.current.keys()];
  }

  /** Versions of `name` still held in memory (the current one and retired ones with tasks in flight). */
  retained(name: string): number[] {
    const out: number[] = [];
    const cur = this.current.get(name);
    if (cur) out.push(cur.version);
    for (const e of this.retiring) if (e.name === name) out.push(e.version);
    return out.sort((a, b) => a - b);
  }

  /** Versions held per name (current + retired ones pinned by in-flight tasks), removed names included. */
  liveCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const name of this.current.keys()) out.set(name, 1);
    for (const e of this.retiring) out.set(e.name, (out.get(e.name) ?? 0) + 1);
    return out;
  }

  publish(name: string, loaded: LoadedIndex): IndexEntry {
    const version = (this.lastVersion.get(name) ?? 0) + 1;
    const ids = loaded.ids;
    const idToItem = ids ? new IdLookup(ids, loaded.idTable ?? idLookupTable(ids)) : null;
    const now = Date.now();
    const entry: IndexEntry = {
      name,
      version,
      generation: ++this.generations,
      slot: this.slotOf(name),
      storage: loaded.storage,
      manifest: loaded.manifest,
      metric: loaded.manifest.metric,
      dimensions: loaded.manifest.dimensions,
      items: loaded.items,
      trees: loaded.trees,
      bytes: loaded.storage.byteLength,
      ids,
      idToItem,
      loadedAt: new Date(now).toISOString(),
      loadedAtMs: now,
      inflight: 0,
      retired: false,
    };
    this.lastVersion.set(name, version);
    this.rejections.delete(name);
    const previous = this.current.get(name);
    this.current.set(name, entry);
    Atomics.store(this.versions, entry.slot, entry.generation);
    this.emit('published', entry, previous);
    if (previous) this.retire(previous);
    return entry;
  }

  reject(name: string, message: string): void {
    this.rejections.set(name, { reason: message, at: new Date().toISOString() });
    this.emit('rejected', name, message);
  }

  /** Why the newest files of `name` are not being served, if they were rejected. */
  rejection(name: string): Rejection | undefined {
    return this.rejections.get(name);
  }

  /** Names whose newest files were rejected, served or not. */
  rejectedNames(): string[] {
    return [...this.rejections.keys()];
  }

  /** Names with rejected files and no version served, sorted. */
  rejectedOnly(): string[] {
    return this.rejectedNames().filter((name) => !this.current.has(name)).sort();
  }

  /** The files of `name` are gone: nothing is left to explain. */
  forget(name: string): void {
    this.rejections.delete(name);
  }

  remove(name: string): void {
    const entry = this.current.get(name);
    if (!entry) return;
    this.current.delete(name);
    this.rejections.delete(name);
    Atomics.store(this.versions, entry.slot, 0);
    this.emit('removed', entry);
    this.retire(entry);
    this.freeSlotIfGone(name);
  }

  /** Pins a version for the duration of a request's tasks. */
  acquire(entry: IndexEntry): void {
    entry.inflight++;
  }

  release(entry: IndexEntry): void {
    entry.inflight--;
    if (entry.inflight === 0 && entry.retired) this.drop(entry);
  }

  /**
   * A main-thread view of a version, for cheap reads (item vectors, distances, hasItem). Opened
   * without validation: the loader already validated the same bytes.
   */
  view(entry: IndexEntry): AnnoyIndex {
    let index = this.views.get(entry);
    if (!index) {
      index = AnnoyIndex.open(entry.storage, entry.metric, entry.dimensions, { validate: false });
      this.views.set(entry, index);
    }
    return index;
  }

  private retire(entry: IndexEntry): void {
    entry.retired = true;
    if (entry.inflight === 0) this.drop(entry);
    else this.retiring.add(entry);
  }

  private drop(entry: IndexEntry): void {
    this.retiring.delete(entry);
    this.views.delete(entry);
    this.emit('released', entry);
    this.freeSlotIfGone(entry.name);
  }

  private slotOf(name: string): number {
    let slot = this.slots.get(name);
    if (slot === undefined) {
      slot = this.freeSlots.pop() ?? this.slots.size;
      if (slot >= MAX_INDEX_NAMES) throw new Error(`more than ${MAX_INDEX_NAMES} index names served or draining at once`);
      this.slots.set(name, slot);
    }
    return slot;
  }

  /**
   * A removed name keeps its slot while any of its versions drains (their tasks name the slot);
   * after that the slot serves the next new name, so names that come and go (one per day, say)
   * never run the table out.
   */
  private freeSlotIfGone(name: string): void {
    if (this.current.has(name)) return;
    for (const e of this.retiring) if (e.name === name) return;
    const slot = this.slots.get(name);
    if (slot === undefined) return;
    this.slots.delete(name);
    this.freeSlots.push(slot);
  }
}
