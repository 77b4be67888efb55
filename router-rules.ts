/**
 * The limits docs/protocol.md section 5 sets on routed input, as pure functions that never throw:
 * the router drops and counts what they refuse, and the node may call `isIdListWithinLimit` to
 * close a link with LIMIT.
 */
import { nodeInfoProblem } from './crypto/identity.js';
import type { IdList, Payload } from './proto/messages.js';

export const LOBBY = 'lobby';
export const MAX_MESSAGE_ID_CHARS = 64;
export const MAX_ROOM_BYTES = 64;
export const MAX_TEXT_BYTES = 4096;
export const NODE_ID = /^[0-9a-f]{16}$/;

/** Why a payload is refused, each one a `drop.<reason>` counter. */
export type PayloadProblem =
  'origin' | 'id' | 'to' | 'room' | 'content' | 'textTooLong' | 'receiptNotDirect' | 'receiptId';
export type IdListProblem = 'idListTooLong' | 'idListMismatch' | 'idListEntry';
/** Why a Routed is refused. */
export type SentAtProblem = 'sentTooLongAgo' | 'sentInFuture';
export type RoutedProblem =
  PayloadProblem | SentAtProblem | 'undecodable' | 'hopsExceeded' | 'badSignature' | 'originRate';
export type DropReason = RoutedProblem | IdListProblem | 'controlUnsupported';

/**
 * What a refused Routed costs the neighbour that sent it. Either way it is dropped, counted as
 * `drop.<reason>`, never delivered nor forwarded. `punish`: the node also closes that link with
 * the reason and refuses the peer for `banMs`, since an honest relay checks the same before it
 * forwards anything and so could never have sent it. `drop`: nothing more, since an honest
 * relay may forward it.
 */
export type RoutedAction = 'punish' | 'drop';

/** Every validation failure of a Routed and its action: the one place that decides. */
export const ROUTED_RULES: Readonly<Record<RoutedProblem, RoutedAction>> = Object.freeze({
  // Hops are not signed, and a relay whose maxTtl is higher forwards them honestly.
  hopsExceeded: 'drop',
  // Decoders of other languages differ at the edges (invalid UTF-8, packed encodings).
  undecodable: 'drop',
  // The fixed limits of docs/protocol.md sections 2 and 5, which every relay checks.
  origin: 'punish',
  id: 'punish',
  to: 'punish',
  room: 'punish',
  // Neither Text nor Receipt: possibly a content type of a later version, whose fields are unknown
  // here and "travel untouched"; a newer relay forwards it honestly.
  content: 'drop',
  textTooLong: 'punish',
  receiptNotDirect: 'punish',
  receiptId: 'punish',
  // Clocks differ: the relay's (or its own window, shrunk by another flood) accepted it.
  sentTooLongAgo: 'drop',
  sentInFuture: 'drop',
  // "An honest relay never forwards what it did not verify."
  badSignature: 'punish',
  // The relay's own bucket for this origin may have refilled a moment before ours.
  originRate: 'drop',
});

/** Reasons counted as `invalidPayload`. */
export const PAYLOAD_PROBLEMS: readonly DropReason[] = [
  'undecodable',
  'origin',
  'id',
  'to',
  'room',
  'content',
  'textTooLong',
  'receiptNotDirect',
  'receiptId',
];
/** Reasons counted as `outsideWindow`. */
export const SENT_AT_PROBLEMS: readonly DropReason[] = ['sentTooLongAgo', 'sentInFuture'];
/** Reasons counted as `controlDropped`. */
export const CONTROL_PROBLEMS: readonly DropReason[] = [
  'idListTooLong',
  'idListMismatch',
  'idListEntry',
  'controlUnsupported',
];

/** The times a message's `sent_at_ms` must fall between, both included (this node's clock). */
export interface SentAtWindow {
  readonly oldestMs: number;
  readonly newestMs: number;
}

/**
 * `sent_at_ms` as a number of milliseconds. The field is a uint64, which a decoder may hand over
 * as a number or as a bigint; the router reads it only through this and `sentAtProblem`, and
 * compares numbers (exact up to 2^53 ms, 285,000 years; anything bigger is far in the future).
 */
export function sentAtMsOf(sentAtMs: number | bigint): number {
  return Number(sentAtMs);
}

/** Where `sent_at_ms` falls against the window: the one place that compares it. */
export function sentAtProblem(sentAtMs: number | bigint, window: SentAtWindow): SentAtProblem | undefined {
  const sent = sentAtMsOf(sentAtMs);
  if (sent > window.newestMs) return 'sentInFuture';
  // Written so that NaN, which no decoder should produce, is refused too.
  if (!(sent >= window.oldestMs)) return 'sentTooLongAgo';
  return undefined;
}

/** Ids are counted in Unicode code points, the "characters" of docs/protocol.md section 5. */
export function isMessageId(id: unknown): id is string {
  if (typeof id !== 'string' || id.length === 0) return false;
  return id.length <= MAX_MESSAGE_ID_CHARS || [...id].length <= MAX_MESSAGE_ID_CHARS;
}

/** The first rule a decoded payload breaks, or undefined. */
export function payloadProblem(payload: Payload): PayloadProblem | undefined {
  if (nodeInfoProblem(payload.origin) !== undefined) return 'origin';
  if (!isMessageId(payload.id)) return 'id';
  if (typeof payload.to !== 'string' || (payload.to !== '' && !NODE_ID.test(payload.to))) return 'to';
  if (typeof payload.room !== 'string' || Buffer.byteLength(payload.room) > MAX_ROOM_BYTES) return 'room';
  // protobuf keeps the last member of a oneof, so "both" cannot survive decoding: none is the case.
  const { text, receipt } = payload;
  if ((text == null) === (receipt == null)) return 'content';
  if (text != null && Buffer.byteLength(text.body) > MAX_TEXT_BYTES) return 'textTooLong';
  if (receipt != null && payload.to === '') return 'receiptNotDirect';
  if (receipt != null && !isMessageId(receipt.messageId)) return 'receiptId';
  return undefined;
}

/**
 * Checks an IHave or Graft list: at most `maxIds` pairs, as many origins as ids, each pair a node
 * id and a message id.
 */
export function idListProblem(list: IdList, maxIds: number): IdListProblem | undefined {
  const ids = list.ids ?? [];
  const origins = list.origins ?? [];
  if (ids.length > maxIds || origins.length > maxIds) return 'idListTooLong';
  if (ids.length !== origins.length) return 'idListMismatch';
  const isBad = ids.some((id, i) => !isMessageId(id) || !NODE_ID.test(origins[i] ?? ''));
  return isBad ? 'idListEntry' : undefined;
}

/** Whether an IHave or Graft stays within the count limit; over it, the node closes with LIMIT. */
export function isIdListWithinLimit(list: IdList, maxIds: number): boolean {
  return idListProblem(list, maxIds) !== 'idListTooLong';
}
