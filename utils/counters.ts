/**
 * Named event counts for `stats()`: every drop by its reason, every message by what became of
 * it. One class for every component, so counters are kept, listed and prefixed the same way.
 *
 * Counters declared up front read 0 until they count, so `stats()` always lists them (a script
 * can tell "none" from "not counted"); others appear when first incremented. A snapshot lists
 * them in that order, declared ones first: the `--json` `stats` event writes them in this order.
 */
export class Counters<Name extends string = string> {
  readonly #values = new Map<Name, number>();

  /** `declared`: counters listed at 0 from the start, in this order. */
  constructor(declared: Iterable<Name> = []) {
    for (const name of declared) this.#values.set(name, 0);
  }

  /** Adds `by` (default 1) to `name`. */
  increment(name: Name, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by);
  }

  /** The count of `name`; 0 for one never counted. */
  get(name: Name): number {
    return this.#values.get(name) ?? 0;
  }

  /** Every counter as a fresh record, each name behind `prefix` (`node.` gives `node.duplicates`). */
  snapshot(prefix = ''): Record<string, number> {
    // fromEntries defines own properties: even a counter named `__proto__` stays a counter.
    return Object.fromEntries([...this.#values].map(([name, value]) => [`${prefix}${name}`, value]));
  }
}
