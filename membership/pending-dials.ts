/**
 * The dials a strategy asked for and why, so that each outcome (`onDialed`, `onDialFailed`)
 * reaches the purpose it was made for. The node answers every `dial` exactly once, and the dials
 * of one address in the order they were made, so a queue per address matches them.
 */
import { formatAddress, type Address } from '../config.js';
import type { MembershipContext } from './strategy.js';

export class PendingDials<Purpose> {
  readonly #byAddress = new Map<string, Purpose[]>();
  #size = 0;

  constructor(private readonly context: Pick<MembershipContext, 'dial'>) {}

  /** Dials in flight. */
  get size(): number {
    return this.#size;
  }

  /** Dials `address` for `purpose`. */
  dial(address: Address, purpose: Purpose): void {
    const key = formatAddress(address);
    const queue = this.#byAddress.get(key) ?? [];
    queue.push(purpose);
    this.#byAddress.set(key, queue);
    this.#size++;
    this.context.dial(address);
  }

  /** The purpose of the oldest dial to `address` still in flight, now settled; undefined if none. */
  settle(address: Address): Purpose | undefined {
    const key = formatAddress(address);
    const queue = this.#byAddress.get(key);
    const purpose = queue?.shift();
    if (queue?.length === 0) this.#byAddress.delete(key);
    if (purpose !== undefined) this.#size--;
    return purpose;
  }

  /** Whether a dial to `address` is in flight. */
  has(address: Address): boolean {
    return this.#byAddress.has(formatAddress(address));
  }

  /** Every purpose in flight (e.g. to count those of one kind). */
  purposes(): Purpose[] {
    return [...this.#byAddress.values()].flat();
  }

  /** Forgets every dial: outcomes that still come are settled to undefined. */
  clear(): void {
    this.#byAddress.clear();
    this.#size = 0;
  }
}
