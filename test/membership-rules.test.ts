/**
 * The checks on a membership message as a whole (link/membership-rules.ts), made once where it
 * enters the node: every problem, its counter, and its action from the one table, and the
 * entries removed from a message that passes.
 */
import { describe, expect, it } from 'vitest';
import { nodeInfoProblem } from '../crypto/identity.js';
import { INVALID_ENTRY_COUNTER, MEMBERSHIP_RULES, checkMembershipMessage } from '../link/membership-rules.js';
import type { MembershipMessage } from '../membership/strategy.js';
import type { NodeInfo, PeerEntry } from '../proto/messages.js';
import { nodeInfoOf, randomIdentity } from './helpers/raw-peer.js';

const MAX = 8;
const valid = (): NodeInfo => nodeInfoOf(randomIdentity(), 'n', 7000);
/** Its id is not the hash of its key. */
const forged = (): NodeInfo => ({ ...valid(), id: valid().id });
const entries = (count: number): PeerEntry[] =>
  Array.from({ length: count }, () => ({ node: valid(), age: 0 }));
/** What a message that breaks no rule and carries no invalid entry passes as: itself, unchanged. */
const unchanged = (message: MembershipMessage) => ({ ok: true, message, invalidEntries: 0 });

describe('checkMembershipMessage', () => {
  it('passes the messages that carry no NodeInfo, whatever their fields', () => {
    const messages: MembershipMessage[] = [
      { kind: 'join', body: {} },
      { kind: 'neighbor', body: { highPriority: true } },
      { kind: 'neighborReply', body: { accepted: false } },
      { kind: 'disconnect', body: { alive: true } },
      { kind: 'leave', body: {} },
    ];
    for (const message of messages) expect(checkMembershipMessage(message, MAX)).toEqual(unchanged(message));
  });

  it('a ForwardJoin must announce a valid NodeInfo: missing or forged is dropped, the link kept', () => {
    const sound: MembershipMessage = { kind: 'forwardJoin', body: { node: valid(), ttl: 6 } };
    expect(checkMembershipMessage(sound, MAX)).toEqual(unchanged(sound));
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
    const sound = shuffle(valid());
    expect(checkMembershipMessage(sound, MAX)).toEqual(unchanged(sound));
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
    for (const message of atLimit) expect(checkMembershipMessage(message, MAX)).toEqual(unchanged(message));
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

  it('an entry with a missing or invalid NodeInfo is removed and counted; the rest of the message is kept', () => {
    const good = entries(3);
    const bad: PeerEntry[] = [
      { node: forged(), age: 1 },
      { node: undefined, age: 2 },
      { node: null, age: 3 },
      { node: { ...valid(), port: 70_000 }, age: 4 },
      { node: { ...valid(), name: 'n'.repeat(33) }, age: 5 },
    ];
    // Interleaved, so that the order of the kept entries is seen to survive.
    const mixed = [good[0], bad[0], bad[1], good[1], bad[2], bad[3], good[2], bad[4]] as PeerEntry[];
    const origin = valid();
    const received: MembershipMessage[] = [
      { kind: 'shuffleReply', body: { entries: mixed } },
      { kind: 'shuffle', body: { origin, entries: mixed, ttl: 3 } },
    ];
    for (const message of received) {
      const verdict = checkMembershipMessage(message, MAX);
      expect(verdict).toMatchObject({ ok: true, invalidEntries: bad.length });
      if (!verdict.ok) continue;
      expect(verdict.message.kind).toBe(message.kind);
      expect(verdict.message.body).toEqual({ ...message.body, entries: good });
      // The received message itself is left as it came.
      expect(message.body).toMatchObject({ entries: mixed });
    }
    expect(INVALID_ENTRY_COUNTER).toBe('entry-invalid');
  });

  it('a Shuffle whose entries are all invalid still passes, with none: its origin is still news', () => {
    const origin = valid();
    const message: MembershipMessage = {
      kind: 'shuffle',
      body: { origin, entries: [{ node: forged(), age: 0 }], ttl: 2 },
    };
    const verdict = checkMembershipMessage(message, MAX);
    expect(verdict).toEqual({
      ok: true,
      message: { kind: 'shuffle', body: { origin, entries: [], ttl: 2 } },
      invalidEntries: 1,
    });
  });

  it('the entry limit counts invalid entries too: they are judged only within it', () => {
    const over: PeerEntry[] = [...entries(MAX), { node: forged(), age: 0 }];
    expect(checkMembershipMessage({ kind: 'shuffleReply', body: { entries: over } }, MAX)).toMatchObject({
      ok: false,
      problem: 'entriesOverLimit',
      counter: 'shuffleReply-limit',
    });
  });
});

describe('nodeInfoProblem: the one check of a NodeInfo', () => {
  it('refuses a forged id for a key it has already seen valid, and every other field, whatever it remembers', () => {
    const info = valid();
    expect(nodeInfoProblem(info)).toBeUndefined();
    // The same key again, now under another id: the remembered id of that key refuses it.
    expect(nodeInfoProblem({ ...info, id: valid().id })).toBe('id does not match public key');
    expect(nodeInfoProblem({ ...info, port: -1 })).toBe('port out of range');
    // Past the bound of keys remembered, the oldest ones are checked afresh, as well as ever.
    const many = Array.from({ length: 17_000 }, () => valid());
    for (const other of many) expect(nodeInfoProblem(other)).toBeUndefined();
    expect(nodeInfoProblem(info)).toBeUndefined();
    expect(nodeInfoProblem({ ...info, id: many[0]?.id ?? '' })).toBe('id does not match public key');
  });
});
