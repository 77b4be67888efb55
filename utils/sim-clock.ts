/**
 * Virtual time for tests and the lab's deterministic simulation: timers fire in order of their
 * due time (ties in order of scheduling) when the owner advances the clock, never on their own.
 *
 * A lab mesh of 10,000 nodes keeps hundreds of thousands of timers pending and re-arms many of
 * them (keepalives, idle timers), so the pending timer is its own cancel handle, a cancelled one
 * lets go of its callback at once, and the heap drops cancelled entries once they are the
 * majority. The firing order depends only on (due, seq), never on the heap's layout.
 */
import type { Clock, Scheduled } from './clock.js';

/** Below this many entries the heap is never compacted: not worth a rebuild. */
const MIN_COMPACT_SIZE = 1024;

class Pending implements Scheduled {
  /** Undefined once fired or cancelled. */
  fn: (() => void) | undefined;

  constructor(
    fn: () => void,
    private readonly owner: SimClock,
  ) {
    this.fn = fn;
  }

  cancel(): void {
    if (this.fn === undefined) return;
    this.fn = undefined;
    this.owner.onCancelled();
  }
}

/** What the heap holds: a timer that may be cancelled, or an event that never is (`fire`). */
type Entry = Pending | (() => void);

const isCancelled = (entry: Entry | undefined): boolean =>
  entry !== undefined && typeof entry !== 'function' && entry.fn === undefined;

export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  /**
   * The heap, ordered by (due, seq), as parallel arrays: due times and sequence numbers in typed
   * arrays, so that sifting compares numbers without reaching into an object per level.
   */
  #dues = new Float64Array(MIN_COMPACT_SIZE);
  #seqs = new Float64Array(MIN_COMPACT_SIZE);
  #entries: Entry[] = [];
  #size = 0;
  /** Entries of the heap neither fired nor cancelled. */
  #live = 0;
  #fired = 0;

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, fn: () => void): Scheduled {
    const pending = new Pending(fn, this);
    this.#push(this.#now + Math.max(0, delayMs), pending);
    return pending;
  }

  /**
   * Runs `fn` once after `delayMs`, like `schedule`, without a handle to cancel it: for the
   * simulator's messages, which are many and never cancelled, one object fewer each.
   */
  fire(delayMs: number, fn: () => void): void {
    this.#push(this.#now + Math.max(0, delayMs), fn);
  }

  /** Timers fired so far: the events a simulation ran, for its speed in events per second. */
  get firedCount(): number {
    return this.#fired;
  }

  /** Timers not yet fired nor cancelled. */
  get pendingCount(): number {
    return this.#live;
  }

  /** Due time of the next live timer, or undefined. */
  nextDue(): number | undefined {
    this.#dropCancelled();
    return this.#size > 0 ? this.#dues[0] : undefined;
  }

  /** Fires the next live timer, moving time to it; false when none is left. */
  step(): boolean {
    this.#dropCancelled();
    if (this.#size === 0) return false;
    const due = this.#dues[0] as number;
    const entry = this.#pop();
    let fn: (() => void) | undefined;
    if (typeof entry === 'function') fn = entry;
    else {
      fn = entry.fn;
      entry.fn = undefined;
    }
    if (!fn) return false;
    this.#live--;
    this.#fired++;
    this.#now = Math.max(this.#now, due);
    fn();
    return true;
  }

  /** Fires every timer due within `ms` from now, in order, then sets time to now + ms. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let due = this.nextDue(); due !== undefined && due <= target; due = this.nextDue()) this.step();
    this.#now = target;
  }

  /** Runs timers until `predicate` holds or `limitMs` of virtual time passed; returns whether it held. */
  runUntil(predicate: () => boolean, limitMs: number): boolean {
    const deadline = this.#now + limitMs;
    while (!predicate()) {
      const due = this.nextDue();
      if (due === undefined || due > deadline) {
        this.#now = Math.max(this.#now, deadline);
        return predicate();
      }
      this.step();
    }
    return true;
  }

  /** Called by a pending timer when it is cancelled. */
  onCancelled(): void {
    this.#live--;
    if (this.#size >= MIN_COMPACT_SIZE && this.#live < this.#size / 2) this.#compact();
  }

  /** Drops the cancelled entries; a sorted array is a valid heap, and (due, seq) keeps the order. */
  #compact(): void {
    const kept: number[] = [];
    for (let i = 0; i < this.#size; i++) if (!isCancelled(this.#entries[i])) kept.push(i);
    const dues = this.#dues;
    const seqs = this.#seqs;
    kept.sort(
      (a, b) => (dues[a] as number) - (dues[b] as number) || (seqs[a] as number) - (seqs[b] as number),
    );
    const capacity = Math.max(MIN_COMPACT_SIZE, kept.length * 2);
    const newDues = new Float64Array(capacity);
    const newSeqs = new Float64Array(capacity);
    const newEntries: Entry[] = new Array<Entry>(kept.length);
    kept.forEach((from, to) => {
      newDues[to] = dues[from] as number;
      newSeqs[to] = seqs[from] as number;
      newEntries[to] = this.#entries[from] as Entry;
    });
    this.#dues = newDues;
    this.#seqs = newSeqs;
    this.#entries = newEntries;
    this.#size = kept.length;
  }

  #dropCancelled(): void {
    while (this.#size > 0 && isCancelled(this.#entries[0])) this.#pop();
  }

  #push(due: number, entry: Entry): void {
    if (this.#size === this.#dues.length) this.#grow();
    const seq = this.#seq++;
    this.#live++;
    const dues = this.#dues;
    const seqs = this.#seqs;
    const entries = this.#entries;
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentDue = dues[parent] as number;
      if (due > parentDue || (due === parentDue && seq > (seqs[parent] as number))) break;
      dues[i] = parentDue;
      seqs[i] = seqs[parent] as number;
      entries[i] = entries[parent] as Entry;
      i = parent;
    }
    dues[i] = due;
    seqs[i] = seq;
    entries[i] = entry;
  }

  /** Removes and returns the first entry; the heap must not be empty. */
  #pop(): Entry {
    const dues = this.#dues;
    const seqs = this.#seqs;
    const entries = this.#entries;
    const top = entries[0] as Entry;
    const size = --this.#size;
    const lastDue = dues[size] as number;
    const lastSeq = seqs[size] as number;
    const last = entries[size] as Entry;
    entries[size] = undefined as unknown as Entry;
    if (size === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (
        right < size &&
        ((dues[right] as number) < (dues[left] as number) ||
          (dues[right] === dues[left] && (seqs[right] as number) < (seqs[left] as number)))
      )
        child = right;
      const childDue = dues[child] as number;
      if (childDue > lastDue || (childDue === lastDue && (seqs[child] as number) > lastSeq)) break;
      dues[i] = childDue;
      seqs[i] = seqs[child] as number;
      entries[i] = entries[child] as Entry;
      i = child;
    }
    dues[i] = lastDue;
    seqs[i] = lastSeq;
    entries[i] = last;
    return top;
  }

  #grow(): void {
    const dues = new Float64Array(this.#dues.length * 2);
    const seqs = new Float64Array(this.#seqs.length * 2);
    dues.set(this.#dues);
    seqs.set(this.#seqs);
    this.#dues = dues;
    this.#seqs = seqs;
  }
}
