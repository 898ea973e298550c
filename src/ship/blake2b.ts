/**
 * BLAKE2b with a chosen digest length (RFC 7693), unkeyed, from @noble/hashes (audited, no
 * dependencies). Node's crypto only offers the 64-byte variant; minisign's secret-key checksum
 * is the 32-byte one, which is a different function (the length is a parameter), not a
 * truncation.
 */
import { blake2b as nobleBlake2b } from "@noble/hashes/blake2b";

export function blake2b(data: Uint8Array, outLen: number): Buffer {
  if (!Number.isInteger(outLen) || outLen < 1 || outLen > 64) throw new RangeError(`BLAKE2b digest length must be 1..64 bytes, got ${outLen}`);
  return Buffer.from(nobleBlake2b(data, { dkLen: outLen }));
}
