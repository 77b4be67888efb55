/**
 * The JSON form of lab figures: stable bytes for the same values, so two identical runs write
 * byte-identical reports and a diff shows only what changed.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A number as report.json writes it: 6 decimals at most, no -0, null when not finite. */
export function jsonNumber(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  // toFixed is exactly specified, so the rounding is the same on every platform.
  const rounded = Number.isInteger(value) || Math.abs(value) >= 1e15 ? value : Number(value.toFixed(6));
  return rounded === 0 ? 0 : rounded;
}

/** Rounds numbers, drops undefined members, keeps key order, or sorts it when `sortKeys`. */
export function normalizeJson(value: unknown, sortKeys: boolean): JsonValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return jsonNumber(value);
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalizeJson(v, sortKeys)));
  if (typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (sortKeys) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, normalizeJson(v, sortKeys)]));
  }
  // Functions, symbols and bigints have no JSON form; they never belong in a report.
  return null;
}

/** Pretty JSON with keys sorted at every level, numbers rounded as in report.json. */
export function stableJsonText(value: unknown): string {
  return JSON.stringify(normalizeJson(value, true), null, 2);
}
