/**
 * The CLI's pino logger: JSON lines on stderr or in `--log-file`, never on stdout. In an
 * interactive terminal, warnings are printed above the prompt in a short human form instead,
 * so they neither garble the input line nor drown the chat.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { CliOptions } from './args.js';
import type { Screen } from './screen.js';

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

function screenStream(screen: Screen): DestinationStream {
  return {
    write(line: string): void {
      try {
        const record = JSON.parse(line) as {
          level: number;
          msg?: string;
          peer?: string;
          reason?: string;
          address?: string;
        };
        const context = [record.peer, record.address, record.reason].filter(Boolean).join(' ');
        screen.print(
          `(${LEVEL_NAMES[record.level] ?? record.level}) ${record.msg ?? ''}${context ? ` [${context}]` : ''}`,
        );
      } catch {
        screen.print(line.trimEnd());
      }
    },
  };
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
