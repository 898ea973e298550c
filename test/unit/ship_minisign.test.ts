import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  generateKeyPair,
  formatPublicKey,
  formatSecretKey,
  parsePublicKey,
  parseSecretKey,
  signMinisign,
  verifyMinisign,
  trustedComment,
  keyIdHex,
  loadTrustedKeys,
} from "../../src/ship/minisign.js";
import { blake2b } from "../../src/ship/blake2b.js";
import { SourceError } from "../../src/errors.js";

test("BLAKE2b: RFC vectors for 32 bytes, equal to Node for 64", () => {
  assert.equal(blake2b(Buffer.from("abc"), 32).toString("hex"), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  assert.equal(blake2b(Buffer.alloc(0), 32).toString("hex"), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  for (const n of [0, 1, 127, 128, 129, 256, 1000]) {
    const d = Buffer.alloc(n, n & 0xff);
    assert.ok(blake2b(d, 64).equals(createHash("blake2b512").update(d).digest()), `len ${n}`);
  }
});

test("key files round-trip and the key id is shown like minisign", () => {
  const kp = generateKeyPair();
  const pub = formatPublicKey(kp);
  assert.match(pub, new RegExp(`^untrusted comment: minisign public key ${keyIdHex(kp.keyId)}\\nRW[A-Za-z0-9+/]{54}\\n$`));
  const p = parsePublicKey(pub);
  assert.ok(p.keyId.equals(kp.keyId) && p.publicKey.equals(kp.publicKey));
  assert.ok(parsePublicKey(pub.split("\n")[1]!).publicKey.equals(kp.publicKey), "bare base64 key");
  const sk = parseSecretKey(formatSecretKey(kp));
  assert.ok(sk.secretKey.equals(kp.secretKey));
  assert.equal(keyIdHex(Buffer.from("09fcc24a77f890e3", "hex")), "E390F8774AC2FC09");
  // a corrupted secret key is detected by its checksum
  const lines = formatSecretKey(kp).split("\n");
  const raw = Buffer.from(lines[1]!, "base64");
  raw[70] = raw[70]! ^ 1;
  assert.throws(() => parseSecretKey(`${lines[0]}\n${raw.toString("base64")}\n`), /checksum mismatch/);
  raw[70] = raw[70]! ^ 1;
  raw[2] = 0x53;
  raw[3] = 0x63;
  assert.throws(() => parseSecretKey(`${lines[0]}\n${raw.toString("base64")}\n`), /password-encrypted/);
});

test("sign and verify; every tampered part is refused", () => {
  const kp = generateKeyPair();
  const other = generateKeyPair();
  const data = Buffer.from("a".repeat(64) + "  linux.tar.zst\n");
  const tc = trustedComment({ timestamp: 1700000000, file: "SHA256SUMS", release: "6.12.9-vanilla-0123456789ab", identity: "0123456789ab" });
  const sig = signMinisign(data, kp, tc);
  const lines = sig.split("\n");
  assert.equal(lines.length, 5);
  assert.equal(lines[2], `trusted comment: ${tc}`);
  assert.equal(Buffer.from(lines[1]!, "base64").toString("latin1", 0, 2), "ED");
  const ok = verifyMinisign(data, sig, [other, kp]);
  assert.equal(ok.trustedComment, tc);
  assert.ok(ok.prehashed);
  assert.match(tc, /kiln-release:6\.12\.9-vanilla-0123456789ab/);
  const tamperedData = Buffer.from(data);
  tamperedData[3] = 0x62;
  assert.throws(() => verifyMinisign(tamperedData, sig, [kp]), /does not match the data/);
  const sigBytes = Buffer.from(lines[1]!, "base64");
  sigBytes[40] = sigBytes[40]! ^ 1;
  assert.throws(() => verifyMinisign(data, [lines[0], sigBytes.toString("base64"), ...lines.slice(2)].join("\n"), [kp]), /does not match the data/);
  assert.throws(() => verifyMinisign(data, sig.replace("kiln-release:6.12.9", "kiln-release:6.12.8"), [kp]), /trusted comment was altered/);
  const g = Buffer.from(lines[3]!, "base64");
  g[0] = g[0]! ^ 1;
  assert.throws(() => verifyMinisign(data, [...lines.slice(0, 3), g.toString("base64"), ""].join("\n"), [kp]), /trusted comment was altered/);
  assert.throws(() => verifyMinisign(data, sig, [other]), /not among the trusted keys/);
  assert.throws(() => verifyMinisign(data, sig, []), /no trusted public key/);
  assert.throws(() => verifyMinisign(data, "", [kp]), SourceError);
  assert.throws(() => verifyMinisign(data, sig.slice(0, 60), [kp]), SourceError);
  assert.throws(() => signMinisign(data, kp, "two\nlines"), /one line/);
});

test("trusted keys are configured explicitly: bare base64 or a .pub path", () => {
  const kp = generateKeyPair();
  const b64 = formatPublicKey(kp).split("\n")[1]!;
  assert.ok(loadTrustedKeys([b64])[0]!.publicKey.equals(kp.publicKey));
  assert.throws(() => loadTrustedKeys(["/nonexistent/kiln.pub"]), /trusted public key file not found/);
});
