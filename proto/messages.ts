/**
 * Typed access to `overlay.proto` through protobufjs reflection.
 *
 * The schema is loaded once per process from the `.proto` file itself, so the file stays the
 * single source of truth for the wire format. Decoding never throws: bytes that protobufjs
 * cannot read come back as `{ ok: false }` and the caller maps that to `ProtocolError{DECODE}`.
 */
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { uint64FromWire, uint64ToWire } from './uint64.js';

export interface NodeInfo {
  id: string;
  name: string;
  host: string;
  port: number;
  publicKey: Uint8Array;
}

export interface Hello {
  version: number;
  node?: NodeInfo | null;
  nonce: Uint8Array;
  network: string;
  ephemeralKey: Uint8Array;
}
export interface Auth {
  keyProof: Uint8Array;
  signature: Uint8Array;
}
export type Empty = Record<string, never>;
export interface ForwardJoin {
  node?: NodeInfo | null;
  ttl: number;
}
export interface Neighbor {
  highPriority: boolean;
}
export interface NeighborReply {
  accepted: boolean;
}
export interface Disconnect {
  alive: boolean;
}
export interface PeerEntry {
  node?: NodeInfo | null;
  age: number;
}
export interface Shuffle {
  origin?: NodeInfo | null;
  entries: PeerEntry[];
  ttl: number;
}
export interface ShuffleReply {
  entries: PeerEntry[];
}
/** `nonce` is a uint64: any 64-bit value round-trips (see `uint64.ts`). */
export interface Ping {
  nonce: bigint;
}
export interface Routed {
  payload: Uint8Array;
  signature: Uint8Array;
  ttl: number;
  hops: number;
}
export interface IdList {
  ids: string[];
  origins: string[];
}

export const ErrorCode = {
  UNKNOWN: 0,
  VERSION: 1,
  NETWORK: 2,
  AUTH: 3,
  FRAME: 4,
  DECODE: 5,
  LIMIT: 6,
  DUPLICATE_CONNECTION: 7,
  PROTOCOL: 8,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

export interface ProtocolErrorBody {
  code: number;
  reason: string;
}

/** Every body an Envelope can carry, by its field name in the oneof. */
export interface EnvelopeBodies {
  hello: Hello;
  auth: Auth;
  join: Empty;
  forwardJoin: ForwardJoin;
  neighbor: Neighbor;
  neighborReply: NeighborReply;
  disconnect: Disconnect;
  shuffle: Shuffle;
  shuffleReply: ShuffleReply;
  ping: Ping;
  pong: Ping;
  routed: Routed;
  ihave: IdList;
  graft: IdList;
  prune: Empty;
  leave: Empty;
  error: ProtocolErrorBody;
}
export type EnvelopeKind = keyof EnvelopeBodies;

/** An Envelope is an object with exactly one body field set. */
export type Envelope = { [K in EnvelopeKind]: { [P in K]: EnvelopeBodies[P] } }[EnvelopeKind];

/**
 * A decoded message: its kind and its body, tied together so that a `switch (message.kind)`
 * narrows `message.body` with no cast. `envelope` is the same body as an Envelope, for callers
 * that pass it on whole.
 */
export type Message = {
  [K in EnvelopeKind]: { kind: K; body: EnvelopeBodies[K]; envelope: Envelope };
}[EnvelopeKind];

export interface Text {
  body: string;
}
export interface Receipt {
  messageId: string;
}
export interface Payload {
  id: string;
  origin?: NodeInfo | null;
  to: string;
  room: string;
  /** uint64 milliseconds of the origin's clock; a bigint so every 64-bit value round-trips. */
  sentAtMs: bigint;
  text?: Text | null;
  receipt?: Receipt | null;
}

const schemaPath = fileURLToPath(new URL('./overlay.proto', import.meta.url));
const root = protobuf.loadSync(schemaPath);
const EnvelopeType = root.lookupType('overlay.v1.Envelope');
const PayloadType = root.lookupType('overlay.v1.Payload');
const NodeInfoType = root.lookupType('overlay.v1.NodeInfo');

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return EnvelopeType.encode(toWireEnvelope(envelope)).finish();
}

/** The envelope as protobufjs encodes it: uint64 bigints become exact decimal strings. */
function toWireEnvelope(envelope: Envelope): Record<string, unknown> {
  if ('ping' in envelope) return { ping: { nonce: uint64ToWire(envelope.ping.nonce) } };
  if ('pong' in envelope) return { pong: { nonce: uint64ToWire(envelope.pong.nonce) } };
  return envelope as unknown as Record<string, unknown>;
}

/** The oneof field that is set, or undefined for an Envelope with no body. */
export function envelopeKind(envelope: Envelope): EnvelopeKind {
  for (const key in envelope) {
    if ((envelope as Record<string, unknown>)[key] != null) return key as EnvelopeKind;
  }
  throw new Error('envelope has no body');
}

/**
 * The typed Message of an Envelope built in this process, as a receiver would decode it: for the
 * simulator, which hands messages between nodes without encoding them.
 */
export function messageOf(envelope: Envelope): Message {
  const kind = envelopeKind(envelope);
  const body = (envelope as Record<string, unknown>)[kind];
  return { kind, body, envelope } as unknown as Message;
}

/**
 * Decodes one frame body into a typed Message: the one place that looks inside protobufjs's
 * decoded object. Never throws; an Envelope without a body is refused here.
 */
export function decodeEnvelope(bytes: Uint8Array): Decoded<Message> {
  let message: protobuf.Message & { body?: string };
  try {
    message = EnvelopeType.decode(bytes) as protobuf.Message & { body?: string };
  } catch (err) {
    return { ok: false, reason: `undecodable envelope: ${errorMessage(err)}` };
  }
  const kind = message.body as EnvelopeKind | undefined;
  if (kind === undefined) return { ok: false, reason: 'envelope has no body' };
  const body = (message as unknown as Record<string, unknown>)[kind] as Record<string, unknown>;
  if (kind === 'ping' || kind === 'pong') body.nonce = uint64FromWire(body.nonce);
  const envelope = { [kind]: body } as unknown as Envelope;
  return { ok: true, value: { kind, body, envelope } as unknown as Message };
}

export function encodePayload(payload: Payload): Uint8Array {
  return PayloadType.encode({ ...payload, sentAtMs: uint64ToWire(payload.sentAtMs) }).finish();
}

/** Decodes a Routed payload. Unknown fields are skipped here but travel untouched in the bytes. */
export function decodePayload(bytes: Uint8Array): Decoded<Payload> {
  try {
    // Set in place: a decoded message keeps its fields' defaults on its prototype, which a spread drops.
    const message = PayloadType.decode(bytes) as unknown as { sentAtMs: unknown };
    message.sentAtMs = uint64FromWire(message.sentAtMs);
    return { ok: true, value: message as Payload };
  } catch (err) {
    return { ok: false, reason: `undecodable payload: ${errorMessage(err)}` };
  }
}

export function encodeNodeInfo(info: NodeInfo): Uint8Array {
  return NodeInfoType.encode(info as unknown as Record<string, unknown>).finish();
}
