/**
 * Virtual time for tests and the lab's deterministic simulation: timers fire in order of their
 * due time (ties in order of scheduling) when the owner advances the clock, never on their own.
 */
import type { Clock, Scheduled } from './clock.js';

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: Pending[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, fn: () => void): Scheduled {
    const pending: Pending = {
      due: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#push(pending);
    return {
      cancel: () => {
        pending.cancelled = true;
      },
    };
  }

  /** Timers not yet fired nor cancelled (cancelled ones are swept lazily). */
  get pendingCount(): number {
    return this.#heap.filter((p) => !p.cancelled).length;
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
    if (!next) return false;
    this.#now = Math.max(this.#now, next.due);
    next.fn();
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

  #dropCancelled(): void {
    while (this.#heap[0]?.cancelled) this.#pop();
  }

  #less(a: Pending, b: Pending): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #push(item: Pending): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i] as Pending, heap[parent] as Pending)) break;
      [heap[i], heap[parent]] = [heap[parent] as Pending, heap[i] as Pending];
      i = parent;
    }
  }

  #pop(): Pending | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.#less(heap[left] as Pending, heap[smallest] as Pending))
          smallest = left;
        if (right < heap.length && this.#less(heap[right] as Pending, heap[smallest] as Pending))
          smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest] as Pending, heap[i] as Pending];
        i = smallest;
      }
    }
    return top;
  }
}
