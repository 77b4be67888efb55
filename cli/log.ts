/**
 * The CLI's pino logger: JSON lines on stderr or in `--log-file`, never on stdout. In an
 * interactive terminal, warnings are printed above the prompt in a short human form instead,
 * so they neither garble the input line nor drown the chat.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { CliOptions } from './args.js';
import { forTerminal } from './sanitize.js';
import type { Screen } from './screen.js';

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/**
 * One pino JSON line in the short human form of the screen. Fields may carry what a peer sent
 * (the reason of its ProtocolError, its name or address), so the line is cleaned for the terminal.
 */
export function screenLineOf(line: string): string {
  try {
    const record = JSON.parse(line) as {
      level: number;
      msg?: string;
      peer?: string;
      reason?: string;
      address?: string;
    };
    const context = [record.peer, record.address, record.reason].filter(Boolean).join(' ');
    return forTerminal(
      `(${LEVEL_NAMES[record.level] ?? record.level}) ${record.msg ?? ''}${context ? ` [${context}]` : ''}`,
    );
  } catch {
    return forTerminal(line.trimEnd());
  }
}

function screenStream(screen: Screen): DestinationStream {
  return { write: (line: string): void => screen.print(screenLineOf(line)) };
}

export function createCliLogger(options: CliOptions, screen: Screen | undefined): Logger {
  if (options.logFile) {
    return pino(
      { level: options.logLevel ?? 'info' },
      pino.destination({ dest: options.logFile, sync: true }),
    );
  }
  if (screen && process.stderr.isTTY)
    return pino({ level: options.logLevel ?? 'warn' }, screenStream(screen));
  return pino(
    { level: options.logLevel ?? (screen ? 'warn' : 'info') },
    pino.destination({ dest: 2, sync: true }),
  );
}
