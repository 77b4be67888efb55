/**
 * The node's events, in the two shapes they take: the typed `Node` events a library user
 * listens to, and the `--json` lines the `p2pchat` command writes for scripts and the lab. Both
 * are stable interfaces; node.ts re-exports this module, and the CLI's writer, the lab, the
 * scripts and the tests that read `--json` lines all use these types (README, "--json").
 */
import type { PeerDownReason } from './membership/strategy.js';
import type { DeliveredMessage, ReceiptEvent } from './router.js';

/** A node as events show it: its id, display name and announced address. */
export interface PeerSummary {
  id: string;
  name: string;
  host: string;
  port: number;
}

/** This node originated a message: a broadcast (`to` null) or a direct one (`room` null). */
export interface SentEvent {
  id: string;
  to: string | null;
  room: string | null;
  text: string;
}

/** A peer left the active view, and why. */
export interface PeerDownEvent {
  id: string;
  reason: PeerDownReason;
}

/** No receipt came back for a direct message of this node within `receiptTimeoutMs`. */
export interface ReceiptMissingEvent {
  messageId: string;
  to: string;
}

/** Typed events. Listeners run synchronously on the node's event loop and must not block. */
export interface NodeEvents {
  ready: [PeerSummary];
  'peer:up': [PeerSummary];
  'peer:down': [PeerDownEvent];
  message: [DeliveredMessage];
  sent: [SentEvent];
  receipt: [ReceiptEvent];
  'receipt:missing': [ReceiptMissingEvent];
}

/**
 * One line of `p2pchat --json` on stdout: a JSON object whose `event` field names it, written
 * with `event` first and the fields in the order below. Node ids are hex strings; a peer is
 * `{id, name, host, port}`.
 */
export type JsonEvent =
  /** The node runs: its id and announced address (the bound port with `--port 0`). */
  | ({ event: 'ready' } & PeerSummary)
  /** A peer entered the active view (short-lived connections are not reported). */
  | ({ event: 'peer-up' } & PeerSummary)
  | ({ event: 'peer-down' } & PeerDownEvent)
  /** This node originated a message; its own messages never come back as `message`. */
  | ({ event: 'sent' } & SentEvent)
  | JsonMessageEvent
  /** The receipt of our direct message, with the links it crossed coming back. */
  | { event: 'receipt'; messageId: string; from: string; hops: number }
  | ({ event: 'no-receipt' } & ReceiptMissingEvent)
  /** The answer to `/peers`. */
  | { event: 'peers'; active: PeerSummary[]; passive: PeerSummary[] }
  /** The answer to `/stats`: every counter, flat (`node.*`, `membership.*`, `router.*`). */
  | JsonStatsEvent
  /** A command that failed (e.g. `/msg` to an unknown or ambiguous target). */
  | { event: 'error'; message: string };

/**
 * A message delivered here: a broadcast has `to: null` and its room, a direct message `to` this
 * node's id and `room: null`; `hops` counts links crossed (a neighbour's message has 1).
 */
export interface JsonMessageEvent {
  event: 'message';
  id: string;
  from: string;
  fromName: string;
  to: string | null;
  room: string | null;
  text: string;
  hops: number;
  latencyMs: number;
}

/** Counters sit beside `event` in the same object, so the index signature admits its name. */
export interface JsonStatsEvent {
  event: 'stats';
  [counter: string]: number | 'stats';
}

export type JsonEventName = JsonEvent['event'];

/** The `--json` event named `name`, with its fields. */
export type JsonEventOf<Name extends JsonEventName> = Extract<JsonEvent, { event: Name }>;

/** Every event name, in the order of the union. */
export const JSON_EVENT_NAMES: readonly JsonEventName[] = Object.freeze([
  'ready',
  'peer-up',
  'peer-down',
  'sent',
  'message',
  'receipt',
  'no-receipt',
  'peers',
  'stats',
  'error',
]);

const NAMES: ReadonlySet<string> = new Set(JSON_EVENT_NAMES);

/**
 * One stdout line of a `--json` node as its event, or undefined for a line that is no JSON
 * object naming a known event. The fields are trusted, not checked: the line comes from our own
 * child process, which writes them with these types.
 */
export function parseJsonEvent(line: string): JsonEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('event' in value)) return undefined;
  return typeof value.event === 'string' && NAMES.has(value.event) ? (value as JsonEvent) : undefined;
}

/** Narrows an event to the one named `name`. */
export function isJsonEvent<Name extends JsonEventName>(
  event: JsonEvent | undefined,
  name: Name,
): event is JsonEventOf<Name> {
  return event?.event === name;
}
