/**
 * Randomness as an injected dependency: crypto-strong by default, seeded in the lab and in
 * tests so that a run can be replayed exactly. Key material also comes from here, which is
 * why the default must stay `cryptoRandom`.
 */
import { randomBytes, randomInt } from 'node:crypto';

export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  bytes(n: number): Uint8Array;
}

export const cryptoRandom: Random = {
  float: () => randomInt(0, 2 ** 47) / 2 ** 47,
  int: (n) => (n <= 1 ? 0 : randomInt(0, n)),
  bytes: (n) => randomBytes(n),
};

/**
 * sfc32, a small fast PRNG with a 128-bit state, seeded from a 32-bit integer through
 * splitmix32. Deterministic across platforms; not for keys outside the lab.
 */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  const float = (): number => next32() / 2 ** 32;
  return {
    float,
    int: (n) => Math.floor(float() * n),
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const word = next32();
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
      }
      return out;
    },
  };
}

/** A random element, or undefined for an empty list. */
export function pickOne<T>(random: Random, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[random.int(items.length)];
}

/** Up to `count` distinct elements in random order (partial Fisher-Yates on a copy). */
export function pickSome<T>(random: Random, items: readonly T[], count: number): T[] {
  const copy = items.slice();
  const n = Math.min(count, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + random.int(copy.length - i);
    const tmp = copy[i] as T;
    copy[i] = copy[j] as T;
    copy[j] = tmp;
  }
  return copy.slice(0, n);
}
