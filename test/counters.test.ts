/** The one counters helper every component's `stats()` is built on. */
import { describe, expect, it } from 'vitest';
import { Counters } from '../utils/counters.js';

describe('Counters', () => {
  it('lists declared counters at 0, in their order, before any count', () => {
    const counters = new Counters(['sent', 'drop.ttl', 'received']);
    expect(Object.entries(counters.snapshot())).toEqual([
      ['sent', 0],
      ['drop.ttl', 0],
      ['received', 0],
    ]);
  });

  it('increments by one or by a given amount, and reads a count back', () => {
    const counters = new Counters(['ids']);
    counters.increment('ids');
    counters.increment('ids', 7);
    expect(counters.get('ids')).toBe(8);
    expect(counters.snapshot()).toEqual({ ids: 8 });
  });

  it('adds an undeclared counter at its first count, after the declared ones', () => {
    const counters = new Counters<string>(['a']);
    expect(counters.get('late')).toBe(0);
    expect(counters.snapshot()).toEqual({ a: 0 });
    counters.increment('late', 2);
    counters.increment('a');
    expect(Object.entries(counters.snapshot())).toEqual([
      ['a', 1],
      ['late', 2],
    ]);
  });

  it('puts the prefix before every name', () => {
    const counters = new Counters<string>(['duplicates']);
    counters.increment('ban.FRAME');
    expect(counters.snapshot('node.')).toEqual({ 'node.duplicates': 0, 'node.ban.FRAME': 1 });
  });

  it('hands out snapshots that later counts and edits do not share', () => {
    const counters = new Counters(['x']);
    const before = counters.snapshot();
    counters.increment('x');
    before.x = 99;
    expect(before).toEqual({ x: 99 });
    expect(counters.snapshot()).toEqual({ x: 1 });
  });

  it('keeps names that are also Object.prototype keys as plain counters', () => {
    const counters = new Counters<string>();
    counters.increment('toString');
    counters.increment('__proto__');
    expect(counters.get('constructor')).toBe(0);
    expect(counters.get('toString')).toBe(1);
    expect(Object.keys(counters.snapshot())).toEqual(['toString', '__proto__']);
  });

  it('takes only its declared names when built from a literal list (checked by tsc)', () => {
    const counters = new Counters(['sent', 'received']);
    counters.increment('sent');
    // @ts-expect-error: a misspelt counter name fails the typecheck instead of counting apart.
    counters.increment('snet');
    expect(counters.snapshot()).toEqual({ sent: 1, received: 0, snet: 1 });
  });
});
