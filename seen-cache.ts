/**
 * The seen cache (docs/protocol.md section 5): per (origin, id), digests of the copy this node
 * verified (or made) and the highest TTL it forwarded, bounded in entries and age; and the
 * window of `sent_at_ms` within which it can still tell a replay from a new message.
 *
 * Seen-cache invariant: an entry must outlive every copy of its message still in flight, or a
 * late copy would be delivered twice. Honest relays forward at once, and a copy crosses at most
 * `maxTtl` links, so the copies of a message die within `maxTtl` link delays (milliseconds to
 * seconds), far below `seenCacheTtlMs` (10 minutes by default). The cache must also be large
 * enough for every message of that window: `seenCacheSize` >= messages per second across the
 * mesh x the lifetime of copies.
 *
 * Replays: a neighbour may send a genuine message again once its entry is gone, by age or
 * because a flood of fresh identities turned the cache over by count. TTL cannot stop that (any
 * relay may reset it); `sent_at_ms`, signed, does. Window invariant: every message this node
 * accepted with `sent_at_ms` >= `oldestMs` is still in the seen cache, so its replay is a
 * duplicate, and anything older is refused. A message is accepted only when dated at most
 * `maxClockSkewMs` after its acceptance, and the cache holds every entry set since
 * `heldSinceMs()`; `oldestMs` = max(now - maxMessageAgeMs, heldSinceMs() + maxClockSkewMs) keeps
 * the invariant. The window thus shrinks to fit the cache: to seenCacheTtlMs - maxClockSkewMs at
 * most, less when a flood turns it over by count. Should a flood turn the whole cache over within
 * maxClockSkewMs, the window closes and new messages are refused, never delivered twice, until it
 * subsides; one neighbour at routedPerSecond takes seenCacheSize / routedPerSecond (100 s by
 * default). A node that restarts starts with an empty cache: it may deliver again what it
 * delivered less than maxMessageAgeMs before.
 */
import type { PayloadReader } from './proto/payload-reader.js';
import type { SentAtWindow } from './router-rules.js';
import type { Clock } from './utils/clock.js';
import { FifoCache } from './utils/fifo-cache.js';

export interface SeenEntry {
  /** The first 128 bits of the payload's SHA-256, as a 16-character string: 32 bytes of heap,
   *  where a Buffer costs about 250 (an ArrayBuffer, its backing store and a view). */
  readonly hash: string;
  /**
   * The same digest of the copy: payload and the signature this node verified (or made), the
   * only signature it forwards. One hash per duplicate, as with the payload's alone.
   */
  readonly copyHash: string;
  /** Highest TTL the message was forwarded with; 0 when it was not forwarded. */
  forwardedTtl: number;
}

/** How a later copy compares with the one remembered. */
export type CopyMatch = 'same' | 'otherSignature' | 'otherBytes';

export interface SeenCacheOptions {
  readonly entries: number;
  readonly ttlMs: number;
  readonly maxMessageAgeMs: number;
  readonly maxClockSkewMs: number;
  readonly clock: Clock;
  /** Computes the digests; proto/payload-reader.ts. */
  readonly reader: PayloadReader;
}

export class SeenCache {
  readonly #options: SeenCacheOptions;
  readonly #entries: FifoCache<SeenEntry>;

  constructor(options: SeenCacheOptions) {
    this.#options = options;
    this.#entries = new FifoCache({ entries: options.entries, ttlMs: options.ttlMs, clock: options.clock });
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): SeenEntry | undefined {
    return this.#entries.get(key);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Remembers the copy of a message this node verified or made; a known key keeps its age. */
  remember(key: string, payload: Uint8Array, signature: Uint8Array, forwardedTtl: number): SeenEntry {
    const { reader } = this.#options;
    const entry = {
      hash: reader.digest(payload),
      copyHash: reader.copyDigest(payload, signature),
      forwardedTtl,
    };
    this.#entries.set(key, entry);
    return entry;
  }

  compare(entry: SeenEntry, payload: Uint8Array, signature: Uint8Array): CopyMatch {
    const { reader } = this.#options;
    if (reader.copyDigest(payload, signature) === entry.copyHash) return 'same';
    return reader.digest(payload) === entry.hash ? 'otherSignature' : 'otherBytes';
  }

  /** The window of `sent_at_ms` a new message must fall in; see the invariant at the top. */
  sentAtWindow(): SentAtWindow {
    const { clock, maxMessageAgeMs, maxClockSkewMs } = this.#options;
    const now = clock.now();
    const oldestMs = Math.max(now - maxMessageAgeMs, this.#entries.heldSinceMs() + maxClockSkewMs);
    return { oldestMs, newestMs: now + maxClockSkewMs };
  }
}
