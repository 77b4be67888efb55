#!/usr/bin/env node
/**
 * `p2pchat`: one chat node per process, or `p2pchat lab` for a whole mesh. Exit codes: 0 after
 * a clean leave, 1 when the node cannot start (port in use, unreadable key), 2 for usage errors.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConfigError, DEFAULTS } from '../config.js';
import { IdentityError } from '../crypto/identity-store.js';
import { Node } from '../node.js';
import { settingFlags } from '../config-flags.js';
import { membershipNames, routerNames } from '../strategies.js';
import { runSubcommand } from '../subcommands.js';
import { parseCli, UsageError, type CliOptions } from './args.js';
import { NetworkKeyError } from '../crypto/network-key.js';
import { ChatSession, HELP } from './commands.js';
import { createCliLogger } from './log.js';
import { JsonOutput, TerminalOutput, type ChatOutput } from './output.js';
import { Screen } from './screen.js';

const USAGE = `usage: p2pchat [N] [flags]        run a chat node (N: listen on 127.0.0.1:(9000+N) as peer-N)
       p2pchat lab [lab flags]     run a mesh of many nodes and measure it (p2pchat lab --help)
       p2pchat keygen --out FILE   make a random network key for --network-key-file

flags:
  --host HOST              address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)
  --port PORT              port to listen on (default 0: any free port)
  --announce HOST:PORT     address peers should dial (default: the listen address)
  --seed HOST:PORT         a node to join through; repeat for more, tried in order
  --name NAME              display name (default peer-N or peer-<id>)
  --data-dir DIR           keep the identity here, so the id survives restarts
  --network NAME           mesh name; nodes of other networks are refused (default "default")
  --network-key-file FILE  private mesh: every handshake proves the key in FILE (made by
                           p2pchat keygen; mode 0600); or the key in env P2PCHAT_NETWORK_KEY
  --network-key KEY        deprecated: the same, but visible to every user in ps
  --json                   machine mode: JSON events on stdout, commands on stdin
  --log-level LEVEL        trace, debug, info, warn, error, fatal, silent
  --log-file FILE          write logs there instead of stderr
  --help, --version

every setting of config.ts is a flag too:
`;

function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  try {
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return (
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
  }
}

function usageText(): string {
  const flags = settingFlags().map(({ flag }) => `--${flag}`);
  const lines: string[] = [];
  for (let i = 0; i < flags.length; i += 4) lines.push(`  ${flags.slice(i, i + 4).join('  ')}`);
  const strategies =
    `  --membership: ${membershipNames().join(', ')} (default ${DEFAULTS.membership})\n` +
    `  --router: ${routerNames().join(', ')} (default ${DEFAULTS.router})\n`;
  return `${USAGE}${lines.join('\n')}\n\nstrategies:\n${strategies}\n${HELP}\n`;
}

async function runNode(options: CliOptions): Promise<void> {
  const interactive = !options.json;
  const screen = interactive ? new Screen() : undefined;
  const output: ChatOutput = screen
    ? new TerminalOutput(
        (line) => screen.print(line),
        // The session is built below; this only runs once events flow.
        (id) => session.known.get(id)?.name,
      )
    : new JsonOutput((line) => process.stdout.write(`${line}\n`));
  const logger = createCliLogger(options, screen);
  for (const warning of options.warnings) logger.warn(warning);
  const node = new Node(options.config, { logger });
  let quitting = false;
  const quit = (): void => {
    if (quitting) return;
    quitting = true;
    void node.stop().then(() => {
      screen?.close();
      process.exit(0);
    });
  };
  const session = new ChatSession(node, output, quit);
  node.on('ready', (self) => output.ready(self));
  node.on('peer:up', (peer) => {
    session.remember(peer);
    output.peerUp(peer);
  });
  node.on('peer:down', (event) => output.peerDown(event));
  node.on('sent', (event) => output.sent(event));
  node.on('message', (message) => {
    session.remember(message.from);
    output.message(message);
  });
  node.on('receipt', (event) => output.receipt(event));
  node.on('receipt:missing', (event) => output.receiptMissing(event));
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  // The screen reads stdin from its creation: hold it until the node runs, or a line or the end
  // of input that arrive while it starts (loading the identity from --data-dir) would be lost.
  screen?.lines.pause();
  await node.start();
  const lines = screen ? screen.lines : createInterface({ input: process.stdin, terminal: false });
  lines.on('line', (line: string) => session.handle(line));
  // End of input quits an interactive node; a --json node runs until /quit or a signal.
  lines.on('close', () => {
    if (interactive) quit();
  });
  screen?.lines.resume();
}

async function main(argv: string[]): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCli(argv);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`p2pchat: ${err.message}\ntry 'p2pchat --help'\n`);
      process.exit(2);
    }
    if (err instanceof NetworkKeyError) {
      process.stderr.write(`p2pchat: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (options.command === 'help') return void process.stdout.write(usageText());
  if (options.command === 'version') return void process.stdout.write(`${packageVersion()}\n`);
  if (options.command === 'keygen' || options.command === 'lab') {
    process.exit(await runSubcommand(options.command, options.rest));
  }
  try {
    await runNode(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(
        `p2pchat: port ${options.config.port} on ${options.config.host} is already in use\n`,
      );
    } else if (code === 'EADDRNOTAVAIL') {
      process.stderr.write(`p2pchat: cannot listen on ${options.config.host}: no such local address\n`);
    } else if (err instanceof IdentityError || err instanceof ConfigError) {
      process.stderr.write(`p2pchat: ${err.message}\n`);
    } else {
      process.stderr.write(`p2pchat: cannot start: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
}

void main(process.argv.slice(2));
