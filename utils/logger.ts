/** The one logger type the project uses: pino, injected, a child per component. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** A logger that writes nothing: the library default and what tests use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
