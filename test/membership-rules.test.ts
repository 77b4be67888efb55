/**
 * The checks on a membership message as a whole (link/membership-rules.ts), made once where it
 * enters the node: every problem, its counter, and its action from the one table.
 */
import { describe, expect, it } from 'vitest';
import { MEMBERSHIP_RULES, checkMembershipMessage } from '../link/membership-rules.js';
import type { MembershipMessage } from '../membership/strategy.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import { nodeInfoOf, randomIdentity } from './helpers/raw-peer.js';

const MAX = 8;
const valid = (): NodeInfo => nodeInfoOf(randomIdentity(), 'n', 7000);
/** Its id is not the hash of its key. */
const forged = (): NodeInfo => ({ ...valid(), id: valid().id });
const entries = (count: number): PeerEntry[] =>
  Array.from({ length: count }, () => ({ node: valid(), age: 0 }));

describe('checkMembershipMessage', () => {
  it('passes the messages that carry no NodeInfo, whatever their fields', () => {
    const messages: MembershipMessage[] = [
      { kind: 'join', body: {} },
      { kind: 'neighbor', body: { highPriority: true } },
      { kind: 'neighborReply', body: { accepted: false } },
      { kind: 'disconnect', body: { alive: true } },
      { kind: 'leave', body: {} },
    ];
    for (const message of messages) expect(checkMembershipMessage(message, MAX)).toEqual({ ok: true });
  });

  it('a ForwardJoin must announce a valid NodeInfo: missing or forged is dropped, the link kept', () => {
    expect(checkMembershipMessage({ kind: 'forwardJoin', body: { node: valid(), ttl: 6 } }, MAX)).toEqual({
      ok: true,
    });
    for (const node of [undefined, null, forged(), { ...valid(), port: 70_000 }]) {
      const verdict = checkMembershipMessage({ kind: 'forwardJoin', body: { node, ttl: 6 } }, MAX);
      expect(verdict).toMatchObject({
        ok: false,
        problem: 'invalidNode',
        counter: 'forwardJoin-invalid-node',
      });
    }
    expect(MEMBERSHIP_RULES.invalidNode).toBe('drop');
  });

  it('a Shuffle must name a valid origin', () => {
    const shuffle = (origin: NodeInfo | undefined): MembershipMessage => ({
      kind: 'shuffle',
      body: { origin, entries: entries(2), ttl: 3 },
    });
    expect(checkMembershipMessage(shuffle(valid()), MAX)).toEqual({ ok: true });
    for (const origin of [undefined, forged()]) {
      expect(checkMembershipMessage(shuffle(origin), MAX)).toMatchObject({
        ok: false,
        problem: 'invalidOrigin',
        counter: 'shuffle-invalid-origin',
      });
    }
    expect(MEMBERSHIP_RULES.invalidOrigin).toBe('drop');
  });

  it('a Shuffle or ShuffleReply over maxEntriesPerMessage entries closes the link with LIMIT; at the limit it passes', () => {
    const atLimit: MembershipMessage[] = [
      { kind: 'shuffle', body: { origin: valid(), entries: entries(MAX), ttl: 3 } },
      { kind: 'shuffleReply', body: { entries: entries(MAX) } },
    ];
    for (const message of atLimit) expect(checkMembershipMessage(message, MAX)).toEqual({ ok: true });
    const over: MembershipMessage[] = [
      // Over the limit is judged first: a forged origin changes nothing.
      { kind: 'shuffle', body: { origin: forged(), entries: entries(MAX + 1), ttl: 3 } },
      { kind: 'shuffleReply', body: { entries: entries(MAX + 1) } },
    ];
    for (const message of over) {
      expect(checkMembershipMessage(message, MAX)).toEqual({
        ok: false,
        problem: 'entriesOverLimit',
        counter: `${message.kind}-limit`,
        detail: `${MAX + 1} entries, at most ${MAX}`,
      });
    }
    expect(MEMBERSHIP_RULES.entriesOverLimit).toEqual({ close: 'LIMIT' });
  });

  it('an invalid entry does not refuse the message: entries are judged where they are merged', () => {
    const withBadEntry: PeerEntry[] = [
      ...entries(2),
      { node: forged(), age: 0 },
      { node: undefined, age: 0 },
    ];
    expect(checkMembershipMessage({ kind: 'shuffleReply', body: { entries: withBadEntry } }, MAX)).toEqual({
      ok: true,
    });
  });
});
