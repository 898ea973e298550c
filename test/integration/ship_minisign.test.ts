/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Interoperability with Debian's minisign (apt-get install minisign): minisign verifies
 * kiln's signatures and uses kiln's keys; kiln verifies minisign's signatures.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { keygen, parsePublicKey, parseSecretKey, signMinisign, verifyMinisign, trustedComment } from "../../src/ship/minisign.js";

const hasMinisign = spawnSync("minisign", ["-v"]).status === 0;

test("minisign -V verifies kiln's signatures; kiln's keys work in minisign", { skip: !hasMinisign && "minisign is not installed (apt-get install minisign)" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-ship-minisign-"));
  try {
    const pub = join(dir, "kiln.pub");
    const sec = join(dir, "kiln.key");
    const { keyId } = keygen({ publicPath: pub, secretPath: sec });
    assert.equal(statSync(sec).mode & 0o777, 0o600);
    assert.throws(() => keygen({ publicPath: pub, secretPath: sec }), /already exists/);
    const sums = join(dir, "SHA256SUMS");
    writeFileSync(sums, `${"c".repeat(64)}  demo-kernel-6.12.0-x86_64.tar.zst\n`);
    const kp = parseSecretKey(readFileSync(sec, "utf8"), sec);
    const tc = trustedComment({ timestamp: 1700000000, file: "SHA256SUMS", release: "6.12.0-demo-0123456789ab", identity: "0123456789ab" });
    writeFileSync(`${sums}.minisig`, signMinisign(readFileSync(sums), kp, tc));
    const out = execFileSync("minisign", ["-V", "-p", pub, "-m", sums], { encoding: "utf8" });
    assert.match(out, /Signature and comment signature verified/);
    assert.ok(out.includes(`Trusted comment: ${tc}`), out);
    // a tampered file fails minisign too
    writeFileSync(join(dir, "bad"), readFileSync(sums, "utf8").replace("cc", "cd"));
    const bad = spawnSync("minisign", ["-V", "-p", pub, "-m", join(dir, "bad"), "-x", `${sums}.minisig`]);
    assert.notEqual(bad.status, 0);
    // minisign signs with kiln's unencrypted secret key and recreates its public key
    execFileSync("minisign", ["-S", "-W", "-s", sec, "-m", sums, "-x", join(dir, "by-minisign.minisig"), "-t", "from minisign"]);
    const v = verifyMinisign(readFileSync(sums), readFileSync(join(dir, "by-minisign.minisig"), "utf8"), [parsePublicKey(readFileSync(pub, "utf8"))]);
    assert.equal(v.trustedComment, "from minisign");
    assert.equal(v.keyId, keyId);
    execFileSync("minisign", ["-R", "-W", "-s", sec, "-p", join(dir, "recreated.pub")]);
    assert.ok(parsePublicKey(readFileSync(join(dir, "recreated.pub"), "utf8")).publicKey.equals(kp.publicKey));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("kiln verifies minisign's own signatures, prehashed and legacy", { skip: !hasMinisign && "minisign is not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-ship-minisign-"));
  try {
    execFileSync("minisign", ["-G", "-W", "-p", join(dir, "m.pub"), "-s", join(dir, "m.key")]);
    const file = join(dir, "data");
    writeFileSync(file, Buffer.alloc(100_000, 7));
    const key = parsePublicKey(readFileSync(join(dir, "m.pub"), "utf8"));
    execFileSync("minisign", ["-S", "-W", "-s", join(dir, "m.key"), "-m", file, "-t", "release 6.12"]);
    const v = verifyMinisign(readFileSync(file), readFileSync(`${file}.minisig`, "utf8"), [key]);
    assert.equal(v.trustedComment, "release 6.12");
    assert.ok(v.prehashed);
    execFileSync("minisign", ["-S", "-l", "-W", "-s", join(dir, "m.key"), "-m", file, "-x", join(dir, "legacy.minisig")]);
    const l = verifyMinisign(readFileSync(file), readFileSync(join(dir, "legacy.minisig"), "utf8"), [key]);
    assert.equal(l.prehashed, false);
    const tampered = readFileSync(file);
    tampered[50_000] = 8;
    assert.throws(() => verifyMinisign(tampered, readFileSync(`${file}.minisig`, "utf8"), [key]), /does not match/);
    // the secret key minisign wrote is readable by kiln too
    assert.ok(parseSecretKey(readFileSync(join(dir, "m.key"), "utf8")).publicKey.equals(key.publicKey));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
