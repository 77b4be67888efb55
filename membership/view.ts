/**
 * A bounded set of peers keyed by node id: the building block of every strategy's views.
 *
 * Invariants, enforced here so no strategy can break them: never more than `capacity` entries,
 * never the node itself, never two entries with one id. Every NodeInfo added is valid already (its
 * id the hash of its key): a gossiped one was checked where its message entered the node
 * (link/membership-rules.ts), a linked peer's by the handshake (link/link.ts).
 */
import type { NodeInfo } from '../proto/messages.js';
import { pickOne, pickSome, type Random } from '../utils/random.js';

export interface ViewEntry<T> {
  info: NodeInfo;
  /** Strategy-specific data: a link for an active view, an age for Cyclon, failures for passive. */
  data: T;
}

export type AddResult = 'added' | 'present' | 'full' | 'self';

export class View<T> {
  readonly #entries = new Map<string, ViewEntry<T>>();
  /** `ids()` until the next change: the router reads it for every message it forwards. */
  #ids: readonly string[] | undefined;
  /** Entries per group (`groupOf`), kept as entries come and go, so a count costs one lookup. */
  readonly #groups = new Map<string, number>();

  /** `groupOf`: a key that entries are counted by (`countIn`), such as an address prefix. */
  constructor(
    readonly capacity: number,
    private readonly selfId: string,
    private readonly groupOf?: (entry: ViewEntry<T>) => string,
  ) {}

  /** How many entries are in `group` of `groupOf`; 0 without one. */
  countIn(group: string): number {
    return this.#groups.get(group) ?? 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  get isFull(): boolean {
    return this.#entries.size >= this.capacity;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  get(id: string): ViewEntry<T> | undefined {
    return this.#entries.get(id);
  }

  /** Adds when there is room; never replaces an entry (use `update` for that). */
  add(info: NodeInfo, data: T): AddResult {
    if (info.id === this.selfId) return 'self';
    if (this.#entries.has(info.id)) return 'present';
    if (this.isFull) return 'full';
    const entry = { info, data };
    this.#entries.set(info.id, entry);
    this.#ids = undefined;
    this.#count(entry, 1);
    return 'added';
  }

  /** Replaces the data (and NodeInfo) of an existing entry; false when absent. */
  update(id: string, data: T, info?: NodeInfo): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#count(entry, -1);
    entry.data = data;
    if (info && info.id === id) entry.info = info;
    this.#count(entry, 1);
    return true;
  }

  remove(id: string): ViewEntry<T> | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#ids = undefined;
      this.#count(entry, -1);
    }
    return entry;
  }

  #count(entry: ViewEntry<T>, delta: 1 | -1): void {
    if (!this.groupOf) return;
    const group = this.groupOf(entry);
    const count = (this.#groups.get(group) ?? 0) + delta;
    if (count === 0) this.#groups.delete(group);
    else this.#groups.set(group, count);
  }

  /** The entry added longest ago (`update` does not refresh it), in O(1): forgetting order. */
  oldest(): ViewEntry<T> | undefined {
    return this.#entries.values().next().value;
  }

  /** The entries without copying them; the view must not change while this is iterated. */
  values(): IterableIterator<ViewEntry<T>> {
    return this.#entries.values();
  }

  entries(): ViewEntry<T>[] {
    return [...this.#entries.values()];
  }

  infos(): NodeInfo[] {
    return this.entries().map((entry) => entry.info);
  }

  /** The ids, in the order they were added; a new array after each change, so one held stays as it was. */
  ids(): readonly string[] {
    this.#ids ??= [...this.#entries.keys()];
    return this.#ids;
  }

  randomEntry(random: Random, exceptId?: string): ViewEntry<T> | undefined {
    const candidates = this.entries().filter((entry) => entry.info.id !== exceptId);
    return pickOne(random, candidates);
  }

  randomEntries(random: Random, count: number, exceptId?: string): ViewEntry<T>[] {
    const candidates =
      exceptId === undefined ? this.entries() : this.entries().filter((e) => e.info.id !== exceptId);
    return pickSome(random, candidates, count);
  }

  clear(): void {
    this.#entries.clear();
    this.#ids = undefined;
    this.#groups.clear();
  }
}
