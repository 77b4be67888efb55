/**
 * One `p2pchat --json` process inside a test host's namespace, driven as a script would: lines
 * on stdin, JSON events on stdout. It keeps every event, folds `peer-up`/`peer-down` into the
 * node's active view, and calls `onChange` after each event so that waits are event-driven.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  isJsonEvent,
  parseJsonEvent,
  type JsonEvent,
  type JsonEventName,
  type JsonEventOf,
  type PeerSummary,
} from '../../events.js';
import type { TestHost } from './testbed.js';

export type PeerRecord = PeerSummary;

/** stderr lines kept for the failure report. */
const STDERR_TAIL_LINES = 40;

export class HostNode {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: JsonEvent[] = [];
  /** The active view as told by `peer-up` and `peer-down`, by peer id. */
  readonly active = new Map<string, PeerRecord>();
  /** Every `peer-up` ever seen, to check the addresses peers were resolved to. */
  readonly peerUps: PeerRecord[] = [];
  readonly stderrTail: string[] = [];
  /** `performance.now()` of the last peer-up or peer-down. */
  viewChangedAtMs = 0;
  readonly exited: Promise<number | string>;
  exitStatus: number | string | undefined;
  #self: PeerRecord | undefined;

  constructor(
    readonly host: TestHost,
    readonly args: readonly string[],
    command: [string, string[]],
    private readonly onChange: () => void,
  ) {
    this.child = spawn(command[0], command[1], { stdio: ['pipe', 'pipe', 'pipe'] });
    // A write after the process died must fail the wait that needed it, not the run.
    this.child.stdin.on('error', () => undefined);
    createInterface({ input: this.child.stdout }).on('line', (line) => this.#onLine(line));
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exitStatus = code ?? signal ?? 'unknown';
        resolve(this.exitStatus);
        this.onChange();
      });
    });
  }

  get name(): string {
    return this.host.name;
  }

  /** Own id and announced address, from `ready`; throws before it. */
  get self(): PeerRecord {
    if (!this.#self) throw new Error(`${this.name} is not ready`);
    return this.#self;
  }

  get isReady(): boolean {
    return this.#self !== undefined;
  }

  get isRunning(): boolean {
    return this.exitStatus === undefined;
  }

  /** Writes one command or chat line to stdin. */
  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Events of a kind whose fields match. */
  find<Name extends JsonEventName>(
    event: Name,
    isMatch: (e: JsonEventOf<Name>) => boolean = () => true,
  ): Array<JsonEventOf<Name>> {
    return this.events.filter((e): e is JsonEventOf<Name> => isJsonEvent(e, event) && isMatch(e));
  }

  /** Graceful: /quit (Leave to every neighbour), then SIGKILL if it has not exited in time. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.isRunning) return;
    this.send('/quit');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** What this node printed last, for a failure report. */
  transcript(): string {
    const last = this.events.slice(-15).map((e) => JSON.stringify(e));
    return [
      `--- ${this.name} (${this.args.join(' ')}), exit: ${this.exitStatus ?? 'running'}`,
      ...last,
      ...this.stderrTail.map((line) => `stderr: ${line}`),
    ].join('\n');
  }

  #onLine(line: string): void {
    const event = parseJsonEvent(line);
    if (!event) return;
    this.events.push(event);
    if (event.event === 'ready') this.#self = toPeer(event);
    if (event.event === 'peer-up') {
      const peer = toPeer(event);
      this.active.set(peer.id, peer);
      this.peerUps.push(peer);
    }
    if (event.event === 'peer-down') this.active.delete(event.id);
    if (event.event === 'peer-up' || event.event === 'peer-down') this.viewChangedAtMs = performance.now();
    this.onChange();
  }
}

/** The peer of a `ready` or `peer-up` event, without the event's name. */
function toPeer({ id, name, host, port }: PeerSummary): PeerRecord {
  return { id, name, host, port };
}
