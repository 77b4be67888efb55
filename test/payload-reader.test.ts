/**
 * How the router reads a copy's bytes (proto/payload-reader.ts): the simulator's reader, which
 * remembers its work by bytes object, must answer exactly as the node's reader, which reads every
 * copy afresh, including for a signature object that travels with other bytes.
 */
import { describe, expect, it } from 'vitest';
import { Identity } from '../crypto/identity.js';
import { encodePayload, type Payload } from '../proto/messages.js';
import { readEachObjectOnce, readEveryCopy } from '../proto/payload-reader.js';

const identity = Identity.fromSeed(new Uint8Array(32).fill(7));
const origin = { id: identity.id, name: 'o', host: 'h', port: 1, publicKey: identity.publicKey };
const payloadBytes = (id: string, text: string): Uint8Array =>
  encodePayload({ id, origin, to: '', room: '', sentAtMs: 5n, text: { body: text } } as Payload);

describe('PayloadReader', () => {
  it('reads each bytes object once, with the answers of the reader that reads every copy', () => {
    const memo = readEachObjectOnce();
    const bytes = payloadBytes('m1', 'hello');
    const signature = new Uint8Array(64).fill(1);
    const first = memo.decode(bytes);
    expect(memo.decode(bytes)).toBe(first);
    expect(first).toEqual(readEveryCopy.decode(bytes));
    if (!first.ok) throw new Error('undecodable');
    expect(memo.key(first.value)).toBe(readEveryCopy.key(first.value));
    expect(memo.key(first.value)).toBe(memo.key(first.value));
    expect(memo.digest(bytes)).toBe(readEveryCopy.digest(bytes));
    expect(memo.copyDigest(bytes, signature)).toBe(readEveryCopy.copyDigest(bytes, signature));
  });

  it('tells copies apart by content, not by object, when one signature object comes with other bytes', () => {
    const memo = readEachObjectOnce();
    const signature = new Uint8Array(64).fill(2);
    const a = payloadBytes('m1', 'hello');
    const b = payloadBytes('m1', 'forged');
    const copyOfA = Uint8Array.from(a);
    expect(memo.copyDigest(a, signature)).toBe(readEveryCopy.copyDigest(a, signature));
    expect(memo.copyDigest(b, signature)).toBe(readEveryCopy.copyDigest(b, signature));
    expect(memo.copyDigest(b, signature)).not.toBe(memo.copyDigest(a, signature));
    // Equal bytes in another object digest the same: the digest is of the content.
    expect(memo.copyDigest(copyOfA, signature)).toBe(memo.copyDigest(a, signature));
    expect(memo.digest(copyOfA)).toBe(memo.digest(a));
    expect(memo.digest(b)).not.toBe(memo.digest(a));
  });
});
