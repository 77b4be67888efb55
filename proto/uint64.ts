/**
 * uint64 fields (`Ping.nonce`, `Pong.nonce`, `Payload.sent_at_ms`) as `bigint`, bit for bit.
 *
 * A JS number holds 53 bits: a peer that sends a random 64-bit nonce must get exactly that nonce
 * back in its Pong, so no uint64 ever passes through a number. protobufjs decodes 64-bit fields
 * as `Long` objects and encodes them from a `Long`, a number or a decimal string (it silently
 * writes 0 for a bigint), so this module is the one place that crosses between the two.
 */
export const MAX_UINT64 = (1n << 64n) - 1n;

/** A decoded uint64 field (a protobufjs `Long`, or a number when Long is absent) as a bigint. */
export function uint64FromWire(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : 0n;
  if (value !== null && typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

/** A uint64 as protobufjs encodes it exactly: its decimal string. Out of range wraps like C. */
export function uint64ToWire(value: bigint): string {
  return BigInt.asUintN(64, value).toString();
}

/** The first 8 bytes, big-endian, as a uint64: a random nonce from a random source's bytes. */
export function uint64FromBytes(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}
