/**
 * One connection to one peer: the handshake of docs/protocol.md section 3, then sealed frames,
 * keepalive and a bounded send queue. The Link knows nothing of membership or routing; it hands
 * verified envelopes to its owner and reports exactly one close.
 *
 *   dialer                                   listener
 *     |-- Hello(eph_d) --------------------->|    both send Hello at once, in clear
 *     |<------------------------ Hello(eph_l)|
 *     |-- Auth ----------------------------->|    in clear; each verifies the other's
 *     |<---------------------------------- Auth|
 *     |== sealed frames, both ways ==========|    ChaCha20-Poly1305, one key per direction
 */
import type { NodeConfig } from '../config.js';
import type { Identity } from '../crypto/identity.js';
import { nodeInfoProblem } from '../crypto/identity.js';
import type { SignatureChecker } from '../crypto/signatures.js';
import {
  authSignedBytes,
  isKeyProofValid,
  keyProofOf,
  transcriptOf,
  type Role,
} from '../crypto/handshake.js';
import { TAG_BYTES } from '../crypto/seal.js';
import {
  ErrorCode,
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  type ErrorCodeName,
  type Hello,
  type Message,
  type NodeInfo,
  type ProtocolErrorBody,
} from '../proto/messages.js';
import { uint64FromBytes } from '../proto/uint64.js';
import { Timer, type Clock } from '../utils/clock.js';
import { FrameDecoder, encodeFrame } from '../utils/frame.js';
import type { Logger } from '../utils/logger.js';
import type { Random } from '../utils/random.js';
import type { Connection } from '../transport/transport.js';
import type { LinkCloseReason } from '../membership/strategy.js';
import type { FrameOpener, FrameSealer, KeyAgreement, LinkSecurity } from './link-security.js';

export const PROTOCOL_VERSION = 1;
const CLOSED = { name: 'closed' } as const;
const NONCE_BYTES = 16;

export interface Refusal {
  code: ErrorCodeName;
  reason: string;
}

/** What a Link tells its owner. Handlers run synchronously and must not throw. */
export interface LinkEvents {
  /** The peer's Hello is well formed: answer a refusal to close (self, banned), or undefined. */
  admit(link: Link, peer: NodeInfo): Refusal | undefined;
  /** Both Auths verified: the link is sealed and may carry anything. */
  ready(link: Link): void;
  /**
   * A sealed envelope other than Ping/Pong/ProtocolError, which the link handles itself. After a
   * local `close()` of an open link, envelopes the peer sent before it learned of the close still
   * arrive here (with `link.isClosed` true) until the peer closes too or `linkDrainMs` passes.
   */
  message(link: Link, message: Message): void;
  /** Called exactly once. `code` is set when the peer broke the protocol or a limit. */
  closed(link: Link, reason: LinkCloseReason, detail: string, code?: ErrorCodeName): void;
}

export interface LinkOptions {
  connection: Connection;
  role: Role;
  identity: Identity;
  /** Our NodeInfo as sent in Hello. */
  self: NodeInfo;
  /** Derived network key; empty on an unkeyed mesh. */
  networkKey: Uint8Array;
  config: NodeConfig;
  clock: Clock;
  random: Random;
  log: Logger;
  /** Checks the peer's Auth signature. */
  signatures: SignatureChecker;
  /** The handshake's and the frames' crypto: `sealedLinks` except in the lab's own nodes. */
  security: LinkSecurity;
  events: LinkEvents;
}

type State =
  | { name: 'hello'; ephemeral: KeyAgreement; ownHello: Uint8Array }
  | { name: 'auth'; peer: NodeInfo; transcript: Uint8Array; shared: Uint8Array }
  | { name: 'open'; peer: NodeInfo; sealer: FrameSealer; opener: FrameOpener }
  /** Closed locally, sending nothing more, still reading what the peer sent before it knew. */
  | { name: 'draining'; peer: NodeInfo; opener: FrameOpener }
  | { name: 'closed' };

export class Link {
  readonly role: Role;
  readonly connection: Connection;
  #state: State;
  #peer: NodeInfo | undefined;
  readonly #decoder: FrameDecoder;
  readonly #deadline: Timer;
  readonly #keepalive: Timer;
  /** Cuts the socket `linkDrainMs` after a local close or refusal, whatever the peer does. */
  readonly #grace: Timer;
  #lastReceivedAt: number;
  #missedPings = 0;
  #isAuthenticated = false;
  #peerErrorCode: ErrorCodeName | undefined;
  /** This link's child of the injected logger, made on first use (see `#logAt`). */
  #log: Logger | undefined;
  /** When the link became open (both Auths verified), for duplicate resolution. */
  openedAt = 0;
  /** Settles when the transport reports the connection gone (after a flush on close). */
  readonly disconnected: Promise<void>;
  #onDisconnected: () => void = () => undefined;

  constructor(private readonly options: LinkOptions) {
    const { connection, config, clock, random, role } = options;
    this.role = role;
    this.connection = connection;
    this.#decoder = new FrameDecoder(config.maxFrameBytes);
    this.#lastReceivedAt = clock.now();
    this.#deadline = new Timer(clock, () => this.#fail('timeout', 'handshake deadline passed'));
    this.#keepalive = new Timer(clock, () => this.#onKeepalive());
    this.#grace = new Timer(clock, () => this.connection.destroy());
    const ephemeral = options.security.keyAgreement(random.bytes(32));
    const ownHello = encodeEnvelope({
      hello: {
        version: PROTOCOL_VERSION,
        node: options.self,
        nonce: random.bytes(NONCE_BYTES),
        network: config.network,
        ephemeralKey: ephemeral.publicKey,
      },
    });
    this.#state = { name: 'hello', ephemeral, ownHello };
    this.#deadline.start(config.handshakeTimeoutMs);
    this.disconnected = new Promise((resolve) => (this.#onDisconnected = resolve));
    connection.attach({
      onData: (chunk) => this.#onData(chunk),
      onClose: (hadError) => {
        this.#grace.stop();
        this.#onDisconnected();
        this.#finish(hadError ? 'error' : 'closed', 'connection closed by peer');
        this.#state = { name: 'closed' };
      },
    });
    this.#write(ownHello);
  }

  /** The verified peer; only valid once `ready` fired. */
  get peer(): NodeInfo {
    if (!this.#peer) throw new Error('link is not authenticated yet');
    return this.#peer;
  }

  get id(): string {
    return this.peer.id;
  }

  /** The peer's NodeInfo once its Hello was accepted, else undefined. */
  get claimedPeer(): NodeInfo | undefined {
    return this.#peer;
  }

  /** Both Auths verified at some point: `peer` is proven, not only claimed, even once closed. */
  /** The code of the ProtocolError the peer closed this link with, if it did. */
  get peerErrorCode(): ErrorCodeName | undefined {
    return this.#peerErrorCode;
  }

  get isAuthenticated(): boolean {
    return this.#isAuthenticated;
  }

  get isOpen(): boolean {
    return this.#state.name === 'open';
  }

  /** Closed for sending: also true while a locally closed link still drains the peer's frames. */
  get isClosed(): boolean {
    return this.#state.name === 'closed' || this.#state.name === 'draining';
  }

  send(envelope: Envelope): boolean {
    return this.sendEncoded(encodeEnvelope(envelope));
  }

  /** Sends an already encoded Envelope; lets the router encode a message once for all links. */
  sendEncoded(envelopeBytes: Uint8Array): boolean {
    if (this.#state.name !== 'open') return false;
    if (envelopeBytes.length + TAG_BYTES > this.options.config.maxFrameBytes) {
      this.#logAt('warn')?.warn(
        { bytes: envelopeBytes.length },
        'refusing to send a frame over maxFrameBytes',
      );
      return false;
    }
    const frame = this.#state.sealer.sealFrame(envelopeBytes);
    if (this.connection.bufferedBytes + frame.length > this.options.config.maxSendQueueBytes) {
      this.#logAt('warn')?.warn({ peer: this.#peer?.id }, 'peer is not reading: send queue over its cap');
      this.connection.destroy();
      this.#finish('error', 'send queue over maxSendQueueBytes', 'LIMIT');
      return false;
    }
    this.connection.write(frame);
    return true;
  }

  /**
   * Flushes and closes; with a code, tells the peer why first. An open link closed without a code
   * (or as the loser of a duplicate contest) then drains: what the
   * peer sent before it saw the close still reaches the owner (a Routed in flight when a
   * neighbour is evicted, or on the connection that lost a duplicate contest, is not lost), until
   * the peer closes its side or `linkDrainMs` passes. The owner hears `closed` at once.
   */
  close(code?: ErrorCodeName, reason = ''): void {
    const state = this.#state;
    if (state.name === 'closed' || state.name === 'draining') return;
    if (code) this.#sendError(code, reason);
    this.#endGracefully();
    // A refusal (a code other than DUPLICATE_CONNECTION) reads nothing more from that peer.
    const isGraceful = code === undefined || code === 'DUPLICATE_CONNECTION';
    const next: State =
      state.name === 'open' && isGraceful
        ? { name: 'draining', peer: state.peer, opener: state.opener }
        : CLOSED;
    this.#finish('local', reason || 'closed locally', undefined, next);
  }

  /** Half-closes, and cuts the socket after `linkDrainMs` if the peer never closes its side. */
  #endGracefully(): void {
    this.connection.end();
    this.#grace.start(this.options.config.linkDrainMs);
  }

  /**
   * The link's logger when `level` is enabled, else undefined. The pino child is made lazily:
   * the lab opens hundreds of thousands of links, and at its silent level none writes a line.
   */
  #logAt(level: 'debug' | 'warn' | 'error'): Logger | undefined {
    const { log, connection, role } = this.options;
    if (!log.isLevelEnabled(level)) return undefined;
    this.#log ??= log.child({ remote: `${connection.remote.host}:${connection.remote.port}`, role });
    return this.#log;
  }

  #write(bytes: Uint8Array): void {
    this.connection.write(encodeFrame(bytes));
  }

  #sendError(code: ErrorCodeName, reason: string): void {
    const envelope: Envelope = { error: { code: ErrorCode[code], reason: reason.slice(0, 200) } };
    if (this.#state.name === 'open') this.sendEncoded(encodeEnvelope(envelope));
    else if (this.#state.name === 'hello' || this.#state.name === 'auth')
      this.#write(encodeEnvelope(envelope));
  }

  /** The peer broke the protocol: tell it (best effort), close, report. */
  #refuse(code: ErrorCodeName, reason: string): void {
    if (this.isClosed) return;
    this.#sendError(code, reason);
    this.#endGracefully();
    this.#finish('error', reason, code);
  }

  #fail(reason: LinkCloseReason, detail: string): void {
    this.connection.destroy();
    this.#finish(reason, detail);
  }

  /** Reports the close once; `next` is `draining` when an open link closed locally. */
  #finish(reason: LinkCloseReason, detail: string, code?: ErrorCodeName, next: State = CLOSED): void {
    if (this.#state.name === 'closed' || this.#state.name === 'draining') return;
    this.#state = next;
    this.#deadline.stop();
    this.#keepalive.stop();
    const level = code ? 'warn' : 'debug';
    this.#logAt(level)?.[level]({ peer: this.#peer?.id, reason, code, detail }, 'link closed');
    this.options.events.closed(this, reason, detail, code);
  }

  #isReading(): boolean {
    return this.#state.name !== 'closed';
  }

  #onData(chunk: Uint8Array): void {
    // After a refusal nothing more is read: a peer that keeps streaming costs no memory.
    if (!this.#isReading()) return;
    try {
      this.#decoder.push(chunk);
      while (this.#isReading()) {
        const result = this.#decoder.next();
        if (result.type === 'need-more') return;
        if (result.type === 'malformed') {
          return this.#state.name === 'draining'
            ? this.#stopDraining()
            : this.#refuse('FRAME', result.reason);
        }
        this.#lastReceivedAt = this.options.clock.now();
        this.#missedPings = 0;
        this.#onFrame(result.body);
      }
    } catch (err) {
      // Nothing throws out of a socket handler: a bug here costs one link, not the process.
      this.#logAt('error')?.error({ err }, 'unexpected error on link');
      this.#fail('error', 'internal error');
    }
  }

  #onFrame(body: Uint8Array): void {
    const state = this.#state;
    if (state.name === 'draining') return this.#onDrainedFrame(state.opener, body);
    if (state.name !== 'open') return this.#onClearFrame(body);
    const plaintext = state.opener.open(body);
    if (!plaintext) return this.#onUnopenable(body);
    const decoded = decodeEnvelope(plaintext);
    if (!decoded.ok) return this.#refuse('DECODE', decoded.reason);
    const message = decoded.value;
    switch (message.kind) {
      case 'ping':
        this.send({ pong: { nonce: message.body.nonce } });
        return;
      case 'pong':
        return;
      case 'error':
        return this.#onPeerError(message.body);
      case 'hello':
      case 'auth':
        return this.#refuse('PROTOCOL', `${message.kind} after the handshake`);
      default:
        this.options.events.message(this, message);
    }
  }

  /**
   * A frame the peer sent before it saw our close: handed to the owner when it is a message;
   * keepalives are moot and anything broken ends the drain at once.
   */
  #onDrainedFrame(opener: FrameOpener, body: Uint8Array): void {
    const plaintext = opener.open(body);
    const decoded = plaintext ? decodeEnvelope(plaintext) : undefined;
    if (!decoded?.ok) return this.#stopDraining();
    const message = decoded.value;
    const { kind } = message;
    if (kind === 'error' || kind === 'hello' || kind === 'auth') return this.#stopDraining();
    if (kind !== 'ping' && kind !== 'pong') this.options.events.message(this, message);
  }

  #stopDraining(): void {
    this.#state = CLOSED;
    this.connection.destroy();
  }

  /** A sealed frame that does not open: close at once, no reply; log a clear error if it is one. */
  #onUnopenable(body: Uint8Array): void {
    const clear = decodeEnvelope(body);
    if (clear.ok && clear.value.kind === 'error') return this.#onPeerError(clear.value.body);
    this.connection.destroy();
    this.#finish('error', 'sealed frame failed to open', 'AUTH');
  }

  #onPeerError(error: ProtocolErrorBody): void {
    const name = Object.keys(ErrorCode).find((k) => ErrorCode[k as ErrorCodeName] === error.code) as
      ErrorCodeName | undefined;
    this.#peerErrorCode = name;
    this.#logAt('warn')?.warn(
      { peer: this.#peer?.id, code: name ?? error.code, reason: error.reason },
      'peer sent ProtocolError',
    );
    this.#endGracefully();
    this.#finish('error', `peer refused: ${name ?? 'UNKNOWN'} ${error.reason}`);
  }

  #onClearFrame(body: Uint8Array): void {
    const decoded = decodeEnvelope(body);
    if (!decoded.ok) return this.#refuse('DECODE', decoded.reason);
    const message = decoded.value;
    if (message.kind === 'error') return this.#onPeerError(message.body);
    if (message.kind === 'hello' && this.#state.name === 'hello') return this.#onHello(message.body, body);
    if (message.kind === 'auth' && this.#state.name === 'auth') {
      return this.#onAuth(message.body.keyProof, message.body.signature);
    }
    this.#refuse('PROTOCOL', `unexpected ${message.kind} during the handshake`);
  }

  #onHello(hello: Hello, peerHelloBytes: Uint8Array): void {
    const state = this.#state;
    if (state.name !== 'hello') return;
    if (hello.version !== PROTOCOL_VERSION)
      return this.#refuse('VERSION', `unsupported version ${hello.version}`);
    const network = hello.network || 'default';
    if (network !== this.options.config.network)
      return this.#refuse('NETWORK', `network '${network}' is not ours`);
    const problem = nodeInfoProblem(hello.node);
    if (problem) return this.#refuse('AUTH', `invalid node info: ${problem}`);
    if (hello.nonce.length !== NONCE_BYTES) return this.#refuse('AUTH', 'nonce is not 16 bytes');
    const shared = state.ephemeral.sharedSecret(hello.ephemeralKey);
    if (!shared) return this.#refuse('AUTH', 'bad or low-order ephemeral key');
    const peer = hello.node as NodeInfo;
    this.#peer = peer;
    const refusal = this.options.events.admit(this, peer);
    if (refusal) return this.#refuse(refusal.code, refusal.reason);
    const [dialerHello, listenerHello] =
      this.role === 'dialer' ? [state.ownHello, peerHelloBytes] : [peerHelloBytes, state.ownHello];
    const transcript = transcriptOf(dialerHello, listenerHello);
    this.#state = { name: 'auth', peer, transcript, shared };
    const { identity, networkKey, security } = this.options;
    this.#write(
      encodeEnvelope({
        auth: {
          keyProof: keyProofOf(networkKey, transcript, this.role),
          signature: security.signAuth(identity, authSignedBytes(transcript, this.role)),
        },
      }),
    );
  }

  #onAuth(keyProof: Uint8Array, signature: Uint8Array): void {
    const state = this.#state;
    if (state.name !== 'auth') return;
    const peerRole: Role = this.role === 'dialer' ? 'listener' : 'dialer';
    const signed = authSignedBytes(state.transcript, peerRole);
    const { networkKey, security, signatures } = this.options;
    if (!security.verifyAuth(signatures, state.peer.publicKey, signed, signature)) {
      return this.#refuse('AUTH', 'handshake signature does not verify');
    }
    if (networkKey.length > 0 && !isKeyProofValid(networkKey, state.transcript, peerRole, keyProof)) {
      return this.#refuse('AUTH', 'wrong network key');
    }
    if (networkKey.length === 0 && keyProof.length > 0)
      return this.#refuse('AUTH', 'peer expects a network key');
    const { sealer, opener } = security.session(state.shared, state.transcript, networkKey, this.role);
    this.#state = { name: 'open', peer: state.peer, sealer, opener };
    this.#deadline.stop();
    this.openedAt = this.options.clock.now();
    this.#isAuthenticated = true;
    this.#keepalive.start(this.options.config.pingIdleMs);
    this.#logAt('debug')?.debug({ peer: state.peer.id }, 'link open');
    this.options.events.ready(this);
  }

  /** Ping after `pingIdleMs` of silence; declare the link dead after `maxMissedPings` unanswered. */
  #onKeepalive(): void {
    const { config, clock, random } = this.options;
    const silentMs = clock.now() - this.#lastReceivedAt;
    if (this.#missedPings === 0 && silentMs < config.pingIdleMs) {
      this.#keepalive.start(config.pingIdleMs - silentMs);
      return;
    }
    if (this.#missedPings >= config.maxMissedPings) {
      return this.#fail('timeout', `${this.#missedPings} pings unanswered`);
    }
    this.#missedPings++;
    // Sending may close the link (send queue over its cap): then no timer may stay armed.
    if (this.send({ ping: { nonce: uint64FromBytes(random.bytes(8)) } }))
      this.#keepalive.start(config.pingTimeoutMs);
  }
}
