/**
 * A peer that speaks the handshake of docs/protocol.md section 3 by hand over a raw `node:net`
 * socket, built only from the `crypto/` primitives (checked against the test vectors), so a
 * test can misbehave at any step: a hand-made Hello, a wrong signature, a flipped bit in a
 * sealed frame, bytes that are not a frame at all.
 *
 * Every frame received is kept (`received`), in order, so a test can assert exactly what the
 * other side sent before it closed, e.g. "one ProtocolError, then nothing".
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Identity } from '../../crypto/identity.js';
import {
  EphemeralKey,
  authSignedBytes,
  isKeyProofValid,
  keyProofOf,
  sessionKeysOf,
  transcriptOf,
  type Role,
} from '../../crypto/handshake.js';
import { ed25519PublicKeyObject, verifyEd25519 } from '../../crypto/identity.js';
import { Opener, Sealer } from '../../crypto/seal.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  type Auth,
  type Envelope,
  type EnvelopeKind,
  type Hello,
  type NodeInfo,
} from '../../proto/messages.js';
import { FrameDecoder, encodeFrame } from '../../utils/frame.js';

/** A decoded envelope with its kind, as `decodeEnvelope` answers it. */
export interface Received {
  kind: EnvelopeKind;
  envelope: Envelope;
}

export interface RawPeerOptions {
  identity?: Identity;
  name?: string;
  /** Derived network key (`networkKeyOf`); empty on an unkeyed mesh. */
  networkKey?: Uint8Array;
  network?: string;
}

/** Large on purpose: the raw peer must see whatever the other side sends, even oversized. */
const RAW_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export function randomIdentity(): Identity {
  return Identity.fromSeed(randomBytes(32));
}

export function nodeInfoOf(identity: Identity, name: string, port = 0): NodeInfo {
  return { id: identity.id, name, host: '127.0.0.1', port, publicKey: identity.publicKey };
}

export class RawPeer {
  readonly identity: Identity;
  readonly info: NodeInfo;
  readonly ephemeral = new EphemeralKey(randomBytes(32));
  readonly nonce = randomBytes(16);
  readonly networkKey: Uint8Array;
  readonly network: string;
  /** Every frame body received, in order, consumed or not. */
  readonly received: Uint8Array[] = [];
  /** Resolves when the socket is fully closed (after every received byte was handled). */
  readonly closed: Promise<void>;
  ownHello: Uint8Array | undefined;
  peerHello: Uint8Array | undefined;
  transcript: Uint8Array | undefined;
  sealer: Sealer | undefined;
  opener: Opener | undefined;
  #isClosed = false;
  #unread: Uint8Array[] = [];
  #waiters: Array<() => void> = [];
  readonly #decoder = new FrameDecoder(RAW_MAX_FRAME_BYTES);

  constructor(
    readonly socket: net.Socket,
    readonly role: Role,
    options: RawPeerOptions = {},
  ) {
    this.identity = options.identity ?? randomIdentity();
    this.info = nodeInfoOf(this.identity, options.name ?? `raw-${role}`);
    this.networkKey = options.networkKey ?? new Uint8Array(0);
    this.network = options.network ?? 'default';
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  /** Connects to `port` on 127.0.0.1 as the dialer. */
  static dial(port: number, options: RawPeerOptions = {}): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawPeer(socket, 'dialer', options));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  // --- bytes and frames ----------------------------------------------------------------

  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendFrame(body: Uint8Array): void {
    this.writeRaw(encodeFrame(body));
  }

  sendClear(envelope: Envelope): void {
    this.sendFrame(encodeEnvelope(envelope));
  }

  /** The next frame body not read yet; rejects once the socket closed with none left. */
  async nextFrame(): Promise<Uint8Array> {
    for (;;) {
      const frame = this.#unread.shift();
      if (frame) return frame;
      if (this.#isClosed) throw new Error('connection closed before the next frame');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async nextClear(): Promise<Received> {
    return decodeOrThrow(await this.nextFrame());
  }

  /** The frames received but not read yet. */
  unread(): Uint8Array[] {
    return this.#unread.slice();
  }

  // --- handshake, step by step ------------------------------------------------------------

  /** The Hello this peer would send, with any field overridden. */
  helloOf(overrides: Partial<Hello> = {}): Envelope {
    return {
      hello: {
        version: 1,
        node: this.info,
        nonce: this.nonce,
        network: this.network,
        ephemeralKey: this.ephemeral.publicKey,
        ...overrides,
      },
    };
  }

  /** Sends a Hello (possibly made invalid by `overrides`) and keeps its exact bytes for T. */
  sendHello(overrides: Partial<Hello> = {}): Uint8Array {
    this.ownHello = encodeEnvelope(this.helloOf(overrides));
    this.sendFrame(this.ownHello);
    return this.ownHello;
  }

  /** Reads the peer's Hello and computes T from both bodies as sent and received. */
  async readHello(): Promise<Hello> {
    const body = await this.nextFrame();
    const { kind, envelope } = decodeOrThrow(body);
    if (kind !== 'hello') throw new Error(`expected hello, got ${kind}`);
    this.peerHello = body;
    if (this.ownHello) {
      this.transcript =
        this.role === 'dialer' ? transcriptOf(this.ownHello, body) : transcriptOf(body, this.ownHello);
    }
    return (envelope as { hello: Hello }).hello;
  }

  /** The Auth an honest peer sends; `signed` replaces the bytes signed (to forge a bad one). */
  authOf(options: { signed?: Uint8Array; keyProof?: Uint8Array } = {}): Envelope {
    const transcript = this.#transcript();
    const signed = options.signed ?? authSignedBytes(transcript, this.role);
    return {
      auth: {
        keyProof: options.keyProof ?? keyProofOf(this.networkKey, transcript, this.role),
        signature: this.identity.sign(signed),
      },
    };
  }

  sendAuth(options: { signed?: Uint8Array; keyProof?: Uint8Array } = {}): void {
    this.sendClear(this.authOf(options));
  }

  /** Reads the peer's Auth and checks it as an honest node would; throws when it is wrong. */
  async readAuth(): Promise<Auth> {
    const { kind, envelope } = await this.nextClear();
    if (kind !== 'auth') throw new Error(`expected auth, got ${kind}`);
    const auth = (envelope as { auth: Auth }).auth;
    const peerRole: Role = this.role === 'dialer' ? 'listener' : 'dialer';
    const transcript = this.#transcript();
    const peer = decodeOrThrow(this.peerHello ?? new Uint8Array(0)).envelope as { hello: Hello };
    const key = ed25519PublicKeyObject(peer.hello.node?.publicKey ?? new Uint8Array(32));
    if (!verifyEd25519(key, authSignedBytes(transcript, peerRole), auth.signature)) {
      throw new Error('peer Auth signature does not verify');
    }
    if (
      this.networkKey.length > 0 &&
      !isKeyProofValid(this.networkKey, transcript, peerRole, auth.keyProof)
    ) {
      throw new Error('peer key proof is wrong');
    }
    return auth;
  }

  /** Derives the session keys; from now on `sendSealed` and `nextSealed` work. */
  deriveKeys(): void {
    const peer = decodeOrThrow(this.peerHello ?? new Uint8Array(0)).envelope as { hello: Hello };
    const shared = this.ephemeral.sharedSecret(peer.hello.ephemeralKey);
    if (!shared) throw new Error('peer ephemeral key is unusable');
    const keys = sessionKeysOf(shared, this.#transcript(), this.networkKey);
    const [send, receive] =
      this.role === 'dialer'
        ? [keys.dialerToListener, keys.listenerToDialer]
        : [keys.listenerToDialer, keys.dialerToListener];
    this.sealer = new Sealer(send);
    this.opener = new Opener(receive);
  }

  /** The whole honest handshake: Hello, the peer's Hello, Auth, the peer's Auth, keys. */
  async handshake(): Promise<void> {
    this.sendHello();
    await this.readHello();
    this.sendAuth();
    await this.readAuth();
    this.deriveKeys();
  }

  // --- sealed frames ---------------------------------------------------------------------

  /** The sealed body of `envelope` (or of raw plaintext bytes), advancing the send counter. */
  seal(plaintext: Envelope | Uint8Array): Buffer {
    if (!this.sealer) throw new Error('no session keys yet');
    return this.sealer.seal(plaintext instanceof Uint8Array ? plaintext : encodeEnvelope(plaintext));
  }

  sendSealed(plaintext: Envelope | Uint8Array): void {
    this.sendFrame(this.seal(plaintext));
  }

  /** The next frame, opened with the receive key and decoded; throws if it does not open. */
  async nextSealed(): Promise<Received> {
    if (!this.opener) throw new Error('no session keys yet');
    const body = await this.nextFrame();
    const plaintext = this.opener.open(body);
    if (!plaintext) throw new Error('sealed frame from the peer does not open');
    return decodeOrThrow(plaintext);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #transcript(): Uint8Array {
    if (!this.transcript) throw new Error('no transcript: send and read both Hellos first');
    return this.transcript;
  }

  #onData(chunk: Buffer): void {
    this.#decoder.push(chunk);
    for (;;) {
      const result = this.#decoder.next();
      if (result.type === 'need-more') break;
      if (result.type === 'malformed') {
        // The node under test sent a broken frame: make it visible to the test.
        this.received.push(Buffer.from(`malformed: ${result.reason}`));
        this.socket.destroy();
        break;
      }
      this.received.push(result.body);
      this.#unread.push(result.body);
    }
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/** Accepts raw peers (as listeners) on 127.0.0.1 port 0. */
export class RawListener {
  readonly #server: net.Server;
  readonly #all: RawPeer[] = [];
  readonly #accepted: RawPeer[] = [];
  #waiters: Array<() => void> = [];

  private constructor(
    server: net.Server,
    readonly port: number,
  ) {
    this.#server = server;
  }

  static listen(options: RawPeerOptions = {}): Promise<RawListener> {
    return new Promise((resolve, reject) => {
      let listener: RawListener | undefined;
      const server = net.createServer((socket) => {
        const peer = new RawPeer(socket, 'listener', options);
        if (listener) listener.#onPeer(peer);
        else peer.destroy();
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        listener = new RawListener(server, (server.address() as net.AddressInfo).port);
        resolve(listener);
      });
    });
  }

  /** The next accepted peer. */
  async accepted(): Promise<RawPeer> {
    for (;;) {
      const peer = this.#accepted.shift();
      if (peer) return peer;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Destroys every accepted socket, then stops listening. */
  close(): Promise<void> {
    for (const peer of this.#all) peer.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #onPeer(peer: RawPeer): void {
    this.#all.push(peer);
    this.#accepted.push(peer);
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

export function decodeOrThrow(body: Uint8Array): Received {
  const decoded = decodeEnvelope(body);
  if (!decoded.ok) throw new Error(`undecodable frame: ${decoded.reason}`);
  return decoded.value;
}
