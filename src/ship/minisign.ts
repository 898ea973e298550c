/**
 * minisign-compatible ed25519 signing (see docs/adr/0033).
 *
 * Files, as minisign writes them:
 *   public key  "untrusted comment: ...\n" + base64("Ed" | key_id[8] | pk[32])
 *   secret key  "untrusted comment: ...\n" + base64("Ed" | kdf "\0\0" | "B2" | salt[32] | ops[8] | mem[8]
 *               | key_id[8] | sk[64] = seed|pk | checksum[32] = BLAKE2b-256("Ed"|key_id|sk))
 *               kiln writes it unencrypted (kdf "\0\0", as `minisign -G -W`): protect it by file mode.
 *   signature   "untrusted comment: ...\n" + base64("ED" | key_id | ed25519(BLAKE2b-512(file)))
 *               + "\ntrusted comment: <tc>\n" + base64(ed25519(signature[64] | tc)) + "\n"
 * Verification also accepts the legacy "Ed" algorithm (signature over the raw file).
 * Pure apart from keygen's file writing.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { existsSync, chmodSync, readFileSync } from "node:fs";
import { blake2b } from "./blake2b.js";
import { SourceError, ProjectError } from "../errors.js";
import { writeFileAtomic } from "./artifact.js";

export interface MinisignPublicKey {
  keyId: Buffer;
  publicKey: Buffer;
}
export interface MinisignKeyPair extends MinisignPublicKey {
  /** libsodium layout: seed (32) then public key (32). */
  secretKey: Buffer;
}

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** minisign shows key ids as the little-endian u64 in upper-case hex. */
export function keyIdHex(keyId: Buffer): string {
  return Buffer.from(keyId).reverse().toString("hex").toUpperCase();
}

function privKey(kp: MinisignKeyPair): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, kp.secretKey.subarray(0, 32)]), format: "der", type: "pkcs8" });
}
function pubKey(pk: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519, pk]), format: "der", type: "spki" });
}

export function generateKeyPair(): MinisignKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const seed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
  const pk = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  return { keyId: randomBytes(8), publicKey: Buffer.from(pk), secretKey: Buffer.concat([seed, pk]) };
}

export function formatPublicKey(k: MinisignPublicKey): string {
  return `untrusted comment: minisign public key ${keyIdHex(k.keyId)}\n${Buffer.concat([Buffer.from("Ed"), k.keyId, k.publicKey]).toString("base64")}\n`;
}

export function formatSecretKey(kp: MinisignKeyPair): string {
  const sigAlg = Buffer.from("Ed");
  const checksum = blake2b(Buffer.concat([sigAlg, kp.keyId, kp.secretKey]), 32);
  const body = Buffer.concat([sigAlg, Buffer.from([0, 0]), Buffer.from("B2"), Buffer.alloc(32), Buffer.alloc(16), kp.keyId, kp.secretKey, checksum]);
  return `untrusted comment: minisign secret key ${keyIdHex(kp.keyId)} (unencrypted, written by kiln)\n${body.toString("base64")}\n`;
}

function b64line(text: string, lineNo: number, where: string, what: string): Buffer {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const line = lines[lineNo]?.trim() ?? "";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line)) {
    throw new SourceError(`${what}: line ${lineNo + 1} is not base64`, { file: where, line: lineNo + 1 });
  }
  return Buffer.from(line, "base64");
}

/** Parses a public key file, or a bare base64 key (as `minisign -P` takes). */
export function parsePublicKey(text: string, where = "public key"): MinisignPublicKey {
  const t = text.trim();
  const raw = t.includes("\n") || t.startsWith("untrusted comment:") ? b64line(t, 1, where, "minisign public key") : b64line(t, 0, where, "minisign public key");
  if (raw.length !== 42 || raw.toString("latin1", 0, 2) !== "Ed") {
    throw new SourceError(`not a minisign ed25519 public key (${raw.length} bytes)`, { file: where }, "expected the .pub file written by `kiln keygen` or `minisign -G`");
  }
  return { keyId: raw.subarray(2, 10), publicKey: raw.subarray(10, 42) };
}

export function parseSecretKey(text: string, where = "secret key"): MinisignKeyPair {
  const raw = b64line(text, 1, where, "minisign secret key");
  if (raw.length !== 158 || raw.toString("latin1", 0, 2) !== "Ed" || raw.toString("latin1", 4, 6) !== "B2") {
    throw new ProjectError(`not a minisign ed25519 secret key`, { file: where });
  }
  if (raw[2] !== 0 || raw[3] !== 0) {
    throw new ProjectError(
      "the secret key is password-encrypted; kiln only signs with unencrypted keys",
      { file: where },
      "remove the password with `minisign -C -s <key> -W`, or create a key with `kiln keygen`",
    );
  }
  const keyId = raw.subarray(54, 62);
  const secretKey = raw.subarray(62, 126);
  const checksum = raw.subarray(126, 158);
  // minisign -W writes a zero checksum; any other value must match.
  if (!checksum.every((b) => b === 0) && !checksum.equals(blake2b(Buffer.concat([raw.subarray(0, 2), keyId, secretKey]), 32))) {
    throw new ProjectError("secret key checksum mismatch: the key file is corrupt", { file: where });
  }
  const kp = { keyId, secretKey, publicKey: secretKey.subarray(32) };
  const derived = createPublicKey(privKey(kp)).export({ format: "der", type: "spki" }).subarray(-32);
  if (!derived.equals(kp.publicKey)) throw new ProjectError("secret key is inconsistent (public half does not match the seed)", { file: where });
  return kp;
}

function oneLine(s: string, what: string): string {
  if (/[\r\n]/.test(s)) throw new ProjectError(`${what} must be one line`);
  return s;
}

/** The trusted comment kiln puts in its signatures: minisign's fields plus the build identity. */
export function trustedComment(f: { timestamp: number; file: string; release?: string; identity?: string; indexVersion?: number }): string {
  const parts = [`timestamp:${f.timestamp}`, `file:${f.file}`, "hashed"];
  if (f.indexVersion !== undefined) parts.push(`kiln-index-version:${f.indexVersion}`);
  if (f.release) parts.push(`kiln-release:${f.release}`);
  if (f.identity) parts.push(`kiln-identity:${f.identity}`);
  return parts.join("\t");
}

/** Signs `data` ("ED": prehashed with BLAKE2b-512) and returns the .minisig text. */
export function signMinisign(data: Buffer, kp: MinisignKeyPair, trusted: string, untrusted = "signature from kiln secret key"): string {
  oneLine(trusted, "trusted comment");
  oneLine(untrusted, "untrusted comment");
  const key = privKey(kp);
  const prehash = createHash("blake2b512").update(data).digest();
  const sig = sign(null, prehash, key);
  const global = sign(null, Buffer.concat([sig, Buffer.from(trusted, "utf8")]), key);
  return (
    `untrusted comment: ${untrusted}\n` +
    `${Buffer.concat([Buffer.from("ED"), kp.keyId, sig]).toString("base64")}\n` +
    `trusted comment: ${trusted}\n` +
    `${global.toString("base64")}\n`
  );
}

export interface VerifiedSignature {
  keyId: string;
  trustedComment: string;
  prehashed: boolean;
}

/**
 * Verifies a .minisig for `data` against one of `trusted` keys. Throws SourceError naming
 * what failed; never returns for a bad signature.
 */
export function verifyMinisign(data: Buffer, sigText: string, trusted: MinisignPublicKey[], where = "signature"): VerifiedSignature {
  const fail = (msg: string, hint = "the file or its signature was altered, or it was signed by a key you do not trust"): never => {
    throw new SourceError(msg, { file: where }, hint);
  };
  const lines = sigText.replace(/\r\n/g, "\n").split("\n");
  if (!lines[0]?.startsWith("untrusted comment:")) fail("not a minisign signature: first line is not an untrusted comment");
  const sigRaw = b64line(sigText, 1, where, "minisign signature");
  if (sigRaw.length !== 74) fail(`signature line is ${sigRaw.length} bytes, expected 74`);
  const alg = sigRaw.toString("latin1", 0, 2);
  if (alg !== "ED" && alg !== "Ed") fail(`unknown signature algorithm ${JSON.stringify(alg)}`);
  const keyId = sigRaw.subarray(2, 10);
  const sig = sigRaw.subarray(10, 74);
  const tcLine = lines[2] ?? "";
  if (!tcLine.startsWith("trusted comment: ")) fail("the trusted comment line is missing");
  const tc = tcLine.slice("trusted comment: ".length);
  const global = b64line(sigText, 3, where, "minisign global signature");
  if (global.length !== 64) fail(`global signature is ${global.length} bytes, expected 64`);
  if (trusted.length === 0) fail("no trusted public key is configured", "configure the publisher's public key before fetching");
  const key = trusted.find((k) => k.keyId.equals(keyId));
  if (!key) fail(`signed by key ${keyIdHex(keyId)}, which is not among the trusted keys (${trusted.map((k) => keyIdHex(k.keyId)).join(", ")})`);
  const pk = pubKey(key!.publicKey);
  const message = alg === "ED" ? createHash("blake2b512").update(data).digest() : data;
  if (!verify(null, message, pk, sig)) fail(`signature does not match the data (key ${keyIdHex(keyId)})`);
  if (!verify(null, Buffer.concat([sig, Buffer.from(tc, "utf8")]), pk, global)) fail("the trusted comment was altered (global signature does not verify)");
  return { keyId: keyIdHex(keyId), trustedComment: tc, prehashed: alg === "ED" };
}

/**
 * `kiln keygen`: writes `<base>.pub` and `<base>.key` (mode 0600), refusing to overwrite
 * unless `force`. Returns the key id.
 */
export function keygen(opts: { publicPath: string; secretPath: string; force?: boolean }): { keyId: string; publicKey: string } {
  for (const p of [opts.publicPath, opts.secretPath]) {
    if (existsSync(p) && !opts.force) throw new ProjectError(`key file already exists`, { file: p }, "pass --force to replace it (the old key stops working for new signatures)");
  }
  const kp = generateKeyPair();
  writeFileAtomic(opts.secretPath, formatSecretKey(kp), 0o600);
  chmodSync(opts.secretPath, 0o600); // an existing file's mode is not changed by the rename
  writeFileAtomic(opts.publicPath, formatPublicKey(kp));
  return { keyId: keyIdHex(kp.keyId), publicKey: formatPublicKey(kp).split("\n")[1]! };
}

/**
 * The keys a consumer trusts, configured explicitly: each item is a path to a minisign
 * public key file or the bare base64 key (as `minisign -P` takes).
 */
export function loadTrustedKeys(items: string[]): MinisignPublicKey[] {
  return items.map((item) => {
    if (/^RW[A-Za-z0-9+/]{54}$/.test(item.trim())) return parsePublicKey(item, "trusted key");
    if (!existsSync(item)) throw new ProjectError("trusted public key file not found", { file: item }, "give a minisign .pub file or the base64 key");
    return parsePublicKey(readFileSync(item, "utf8"), item);
  });
}
