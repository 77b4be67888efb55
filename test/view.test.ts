/**
 * View (membership/view.ts): the bounded set every strategy's views are made of. Checked here:
 * its invariants, the cached id list a router reads for every message, and the per-group counts
 * the prefix rules read instead of walking the view.
 */
import { describe, expect, it } from 'vitest';
import { View } from '../membership/view.js';
import type { NodeInfo } from '../proto/messages.js';

const info = (id: string, host: string): NodeInfo => ({
  id,
  name: id,
  host,
  port: 7000,
  publicKey: new Uint8Array(32),
});

describe('View', () => {
  it('never holds itself, a second entry of one id, or more than its capacity', () => {
    const view = new View<number>(2, 'self');
    expect(view.add(info('self', 'h'), 0)).toBe('self');
    expect(view.add(info('a', 'h'), 0)).toBe('added');
    expect(view.add(info('a', 'h'), 1)).toBe('present');
    expect(view.add(info('b', 'h'), 0)).toBe('added');
    expect(view.add(info('c', 'h'), 0)).toBe('full');
    expect(view.ids()).toEqual(['a', 'b']);
  });

  it('gives a new id list after a change and leaves one already handed out as it was', () => {
    const view = new View<number>(5, 'self');
    view.add(info('a', 'h'), 0);
    const before = view.ids();
    expect(view.ids()).toBe(before);
    view.add(info('b', 'h'), 0);
    expect(before).toEqual(['a']);
    expect(view.ids()).toEqual(['a', 'b']);
    const two = view.ids();
    view.remove('a');
    expect(two).toEqual(['a', 'b']);
    expect(view.ids()).toEqual(['b']);
    view.clear();
    expect(view.ids()).toEqual([]);
  });

  it('counts entries by group through add, update, remove and clear', () => {
    const view = new View<string>(10, 'self', (entry) => `${entry.info.host}/${entry.data}`);
    view.add(info('a', 'x'), 'p');
    view.add(info('b', 'x'), 'p');
    view.add(info('c', 'y'), 'p');
    expect(view.countIn('x/p')).toBe(2);
    expect(view.countIn('y/p')).toBe(1);
    // An update that moves an entry to another group moves its count.
    view.update('b', 'q');
    expect(view.countIn('x/p')).toBe(1);
    expect(view.countIn('x/q')).toBe(1);
    view.update('c', 'p', info('c', 'x'));
    expect(view.countIn('y/p')).toBe(0);
    expect(view.countIn('x/p')).toBe(2);
    view.remove('a');
    expect(view.countIn('x/p')).toBe(1);
    expect(view.remove('nobody')).toBeUndefined();
    expect(view.countIn('x/p')).toBe(1);
    view.clear();
    expect(view.countIn('x/p')).toBe(0);
    expect(view.countIn('x/q')).toBe(0);
  });

  it('counts nothing without a grouping', () => {
    const view = new View<number>(3, 'self');
    view.add(info('a', 'x'), 0);
    expect(view.countIn('x')).toBe(0);
  });
});
