/**
 * Event-driven waits with a deadline. A condition returns what is still missing (empty when
 * met); it is re-checked on every `changed()` call, never on a fixed sleep, and a wait that
 * times out names what was missing. A fatal check (a node died) fails every wait at once.
 */
export class Watch {
  readonly #waiters = new Set<() => void>();

  constructor(private readonly fatal: () => string | undefined) {}

  /** Something happened (an event, an exit): re-check every pending wait. */
  changed(): void {
    for (const check of [...this.#waiters]) check();
  }

  /** `pollMs`: also re-check that often, for conditions that time alone can make true. */
  until(missing: () => string[], what: string, timeoutMs: number, pollMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error): void => {
        this.#waiters.delete(check);
        clearTimeout(timer);
        clearInterval(poll);
        if (error) reject(error);
        else resolve();
      };
      const check = (): void => {
        const fatal = this.fatal();
        if (fatal) return finish(new Error(`${what}: ${fatal}`));
        if (missing().length === 0) finish();
      };
      const timer = setTimeout(() => {
        const left = missing();
        const shown = left.slice(0, 12).join('\n  ');
        const more = left.length > 12 ? `\n  ... and ${left.length - 12} more` : '';
        finish(new Error(`${what}: timed out after ${timeoutMs} ms; still missing:\n  ${shown}${more}`));
      }, timeoutMs);
      const poll = pollMs === undefined ? undefined : setInterval(check, pollMs);
      this.#waiters.add(check);
      check();
    });
  }
}
