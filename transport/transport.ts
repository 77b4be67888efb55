/**
 * The byte-stream transport a node runs over: TCP by default, an in-memory one in the lab.
 * A transport moves bytes and reports closes; framing, sealing and everything above stay in
 * the node, so the protocol code is the same over every transport.
 */
import type { Address } from '../config.js';

export interface ConnectionHandlers {
  /** Bytes arrived. The chunk may be retained by the receiver. */
  onData(chunk: Uint8Array): void;
  /** The connection is gone (either side, any cause); called once. */
  onClose(hadError: boolean): void;
}

export interface Connection {
  /** The remote end as the transport sees it (an IP for TCP). */
  readonly remote: Address;
  /** The local end (the address this side connected from or accepted on). */
  readonly local: Address;
  /** Must be called once, before any data is delivered. */
  attach(handlers: ConnectionHandlers): void;
  /** Queues bytes for sending; never throws. */
  write(bytes: Uint8Array): void;
  /** Bytes queued but not yet handed to the network. */
  readonly bufferedBytes: number;
  /** Sends what is queued, then closes. */
  end(): void;
  /** Closes at once, dropping what is queued. */
  destroy(): void;
}

export interface Listener {
  /** The bound address (the real port when asked for port 0). */
  readonly address: Address;
  close(): Promise<void>;
}

export interface Transport {
  /**
   * Starts accepting connections. Rejects with an error whose `code` is `EADDRINUSE` when the
   * port is taken.
   */
  listen(address: Address, onConnection: (connection: Connection) => void): Promise<Listener>;
  /** Opens a connection; rejects on refusal or after `timeoutMs`. */
  dial(address: Address, timeoutMs: number): Promise<Connection>;
}
