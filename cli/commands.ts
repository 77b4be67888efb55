/**
 * The chat's commands, the same for the terminal and `--json`: a plain line is a message to
 * the current room; a line starting with `/` is a command.
 */
import { ConfigError, parseAddress, type Address } from '../config.js';
import type { Node, PeerSummary } from '../node.js';
import { BASE_PORT } from './args.js';
import type { ChatOutput } from './output.js';

export const HELP = `commands:
  TEXT                  send TEXT to everyone in the current room
  /msg TARGET TEXT      direct message; TARGET is an id, a unique id prefix, or a unique name
  /connect HOST:PORT    join the mesh through a node (/connect N dials 127.0.0.1:(9000+N))
  /peers                show the active and passive views
  /room NAME            switch to room NAME (messages from other rooms are not shown)
  /stats                show the node's counters
  /help                 this text
  /quit                 leave the mesh and exit`;

export type TargetResult = { id: string } | { error: string };

/** An id, a unique id prefix, or a name unique among known nodes. */
export function resolveTarget(target: string, known: Iterable<PeerSummary>): TargetResult {
  const nodes = new Map<string, PeerSummary>();
  for (const node of known) nodes.set(node.id, node);
  if (nodes.has(target)) return { id: target };
  const byPrefix = [...nodes.values()].filter((n) => n.id.startsWith(target));
  const byName = [...nodes.values()].filter((n) => n.name === target);
  const matches = byName.length > 0 ? byName : byPrefix;
  if (matches.length === 1) return { id: (matches[0] as PeerSummary).id };
  if (/^[0-9a-f]{16}$/.test(target)) return { id: target };
  if (matches.length === 0) return { error: `no known node matches '${target}'` };
  const candidates = matches.map((n) => `${n.name} (${n.id})`).join(', ');
  return { error: `'${target}' is ambiguous: ${candidates}` };
}

/** `/connect 3` means 127.0.0.1:9003, the basic lab's shorthand. */
export function parseConnectTarget(text: string): Address {
  if (/^\d+$/.test(text) && Number(text) + BASE_PORT <= 65535) {
    return { host: '127.0.0.1', port: BASE_PORT + Number(text) };
  }
  return parseAddress(text);
}

export class ChatSession {
  room = 'lobby';
  /** Nodes met so far, for /msg by name or prefix. */
  readonly known = new Map<string, PeerSummary>();

  constructor(
    private readonly node: Node,
    private readonly output: ChatOutput,
    private readonly quit: () => void,
  ) {}

  remember(peer: PeerSummary): void {
    this.known.set(peer.id, peer);
  }

  /** Handles one input line. Never throws: failures are reported as `error`. */
  handle(line: string): void {
    const text = line.trim();
    if (text.length === 0) return;
    try {
      if (!text.startsWith('/')) {
        this.node.broadcast(text, this.room);
        return;
      }
      const [command = '', ...args] = text.slice(1).split(/\s+/);
      this.#run(command, args, text);
    } catch (err) {
      this.output.error(
        err instanceof ConfigError ? err.message : `command failed: ${(err as Error).message}`,
      );
    }
  }

  #run(command: string, args: string[], line: string): void {
    switch (command) {
      case 'msg':
        return this.#msg(args[0], line.replace(/^\/msg\s+\S+\s?/, ''));
      case 'connect':
        if (!args[0]) return this.output.error('usage: /connect HOST:PORT');
        this.node.connect(parseConnectTarget(args[0]));
        return this.output.info(`* connecting to ${args[0]}`);
      case 'peers':
        return this.output.peers(this.node.peers());
      case 'room':
        if (!args[0]) return this.output.info(`* you are in #${this.room}`);
        this.node.leaveRoom(this.room);
        this.room = args[0];
        this.node.joinRoom(this.room);
        return this.output.info(`* you are now in #${this.room}`);
      case 'stats':
        return this.output.stats(this.node.stats());
      case 'help':
        return this.output.info(HELP);
      case 'quit':
        return this.quit();
      default:
        return this.output.error(`unknown command /${command}; type /help`);
    }
  }

  #msg(target: string | undefined, body: string): void {
    if (!target || body.length === 0) return this.output.error('usage: /msg TARGET TEXT');
    for (const node of this.node.knownNodes()) if (!this.known.has(node.id)) this.remember(node);
    const result = resolveTarget(target, this.known.values());
    if ('error' in result) return this.output.error(result.error);
    this.node.send(result.id, body);
  }
}
