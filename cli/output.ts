/**
 * What the chat shows: one interface, two renderings. `--json` writes one JSON object per line
 * on stdout (a stable interface for scripts and the lab); the terminal rendering prints lines
 * above the prompt without garbling what the user is typing.
 */
import type { Views } from '../membership/strategy.js';
import type { NodeInfo } from '../proto/messages.js';
import type { DeliveredMessage, ReceiptEvent } from '../router.js';
import type { JsonEvent, PeerDownEvent, PeerSummary, ReceiptMissingEvent, SentEvent } from '../events.js';
import { escapeJsonControls, forTerminal as t } from './sanitize.js';

export interface ChatOutput {
  ready(self: PeerSummary): void;
  peerUp(peer: PeerSummary): void;
  peerDown(event: PeerDownEvent): void;
  sent(event: SentEvent): void;
  message(message: DeliveredMessage): void;
  receipt(event: ReceiptEvent): void;
  receiptMissing(event: ReceiptMissingEvent): void;
  peers(views: Views): void;
  stats(counters: Record<string, number>): void;
  error(message: string): void;
  /** Human-only notes (help text, room changes); JSON output ignores them. */
  info(text: string): void;
}

const summary = ({ id, name, host, port }: NodeInfo | PeerSummary): PeerSummary => ({ id, name, host, port });

export class JsonOutput implements ChatOutput {
  constructor(private readonly write: (line: string) => void) {}

  /** `event` first, then the fields in the order of the schema (events.ts). */
  #emit(event: JsonEvent): void {
    this.write(escapeJsonControls(JSON.stringify(event)));
  }

  ready = (self: PeerSummary): void => this.#emit({ event: 'ready', ...summary(self) });
  peerUp = (peer: PeerSummary): void => this.#emit({ event: 'peer-up', ...summary(peer) });
  peerDown = (event: PeerDownEvent): void => this.#emit({ event: 'peer-down', ...event });
  sent = (event: SentEvent): void => this.#emit({ event: 'sent', ...event });
  message = (m: DeliveredMessage): void =>
    this.#emit({
      event: 'message',
      id: m.id,
      from: m.from.id,
      fromName: m.from.name,
      to: m.to,
      room: m.room,
      text: m.text,
      hops: m.hops,
      latencyMs: m.latencyMs,
    });
  receipt = (event: ReceiptEvent): void =>
    this.#emit({ event: 'receipt', messageId: event.messageId, from: event.from.id, hops: event.hops });
  receiptMissing = (event: ReceiptMissingEvent): void => this.#emit({ event: 'no-receipt', ...event });
  peers = (views: Views): void =>
    this.#emit({ event: 'peers', active: views.active.map(summary), passive: views.passive.map(summary) });
  stats = (counters: Record<string, number>): void => this.#emit({ event: 'stats', ...counters });
  error = (message: string): void => this.#emit({ event: 'error', message });
  info = (): void => undefined;
}

/**
 * Every field that may come from another node (names, texts, rooms, hosts, ids) goes through
 * `forTerminal` (imported as `t`): one line, no control character.
 */
export class TerminalOutput implements ChatOutput {
  constructor(
    private readonly print: (line: string) => void,
    /** A display name for a node id, when the chat has met it. */
    private readonly nameOf: (id: string) => string | undefined = () => undefined,
  ) {}

  #who(id: string): string {
    const name = this.nameOf(id);
    return name ? `${t(name)} (${t(id.slice(0, 8))})` : t(id.slice(0, 8));
  }

  ready = (self: PeerSummary): void =>
    this.print(
      `* you are ${t(self.name)} (${self.id}) at ${t(self.host)}:${self.port}; type /help for commands`,
    );
  peerUp = (peer: PeerSummary): void =>
    this.print(`* ${t(peer.name)} (${t(peer.id.slice(0, 8))}) joined your neighbours`);
  peerDown = (event: PeerDownEvent): void =>
    this.print(`* ${this.#who(event.id)} left your neighbours (${event.reason})`);
  sent = (): void => undefined;
  message = (m: DeliveredMessage): void => {
    const where = m.to ? 'to you' : `#${t(m.room ?? 'lobby')}`;
    this.print(`[${where}] ${t(m.from.name)}: ${t(m.text)}  (${m.hops} hop${m.hops === 1 ? '' : 's'})`);
  };
  receipt = (event: ReceiptEvent): void =>
    this.print(`* delivered to ${t(event.from.name)}, ${event.hops} hop${event.hops === 1 ? '' : 's'}`);
  receiptMissing = (event: ReceiptMissingEvent): void =>
    this.print(`* no receipt from ${this.#who(event.to)} for message ${t(event.messageId)}`);
  peers = (views: Views): void => {
    const line = (p: NodeInfo): string => `  ${t(p.id)}  ${t(p.name).padEnd(16)} ${t(p.host)}:${p.port}`;
    this.print(
      [
        `active (${views.active.length}):`,
        ...views.active.map(line),
        `passive (${views.passive.length}):`,
        ...views.passive.map(line),
      ].join('\n'),
    );
  };
  stats = (counters: Record<string, number>): void =>
    this.print(
      Object.entries(counters)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `  ${t(key)} = ${value}`)
        .join('\n'),
    );
  /** An error may quote peer names (an ambiguous /msg target lists the candidates). */
  error = (message: string): void => this.print(`! ${t(message)}`);
  /** Notes are the node's own text, but may quote what the user typed: cleaned line by line. */
  info = (text: string): void => this.print(text.split('\n').map(t).join('\n'));
}
