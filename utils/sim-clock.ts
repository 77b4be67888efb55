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
    readonly due: number,
    readonly seq: number,
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

const isBefore = (a: Pending, b: Pending): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: Pending[] = [];
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
    const pending = new Pending(this.#now + Math.max(0, delayMs), this.#seq++, fn, this);
    this.#live++;
    this.#push(pending);
    return pending;
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
    return this.#heap[0]?.due;
  }

  /** Fires the next live timer, moving time to it; false when none is left. */
  step(): boolean {
    this.#dropCancelled();
    const next = this.#pop();
    const fn = next?.fn;
    if (!next || !fn) return false;
    next.fn = undefined;
    this.#live--;
    this.#fired++;
    this.#now = Math.max(this.#now, next.due);
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
    const heap = this.#heap;
    if (heap.length >= MIN_COMPACT_SIZE && this.#live < heap.length / 2) {
      // A sorted array is a valid heap; sorting by (due, seq) keeps the firing order.
      this.#heap = heap.filter((p) => p.fn !== undefined).sort((a, b) => a.due - b.due || a.seq - b.seq);
    }
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]?.fn === undefined) this.#pop();
  }

  #push(item: Pending): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as Pending;
      if (!isBefore(item, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = item;
  }

  #pop(): Pending | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    const size = heap.length;
    if (size === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (right < size && isBefore(heap[right] as Pending, heap[left] as Pending)) child = right;
      const below = heap[child] as Pending;
      if (!isBefore(below, last)) break;
      heap[i] = below;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
