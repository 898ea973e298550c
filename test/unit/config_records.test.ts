/** The content-addressed configure records (src/store/configs.ts): written atomically, checked on read. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { computeDigest } from "../../src/core/identity.js";
import { readConfigRecord, writeConfigRecord, configRecordFile, checkConfigRecord } from "../../src/store/configs.js";

const KEY = "ab".repeat(32);
const TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const FACTS = { toolchain: "gcc=gcc (Debian 12.2.0-14) 12.2.0", makeFlags: ["ARCH=x86", "KCFLAGS=-ffile-prefix-map=/w/src/= -ffile-prefix-map=/w/build/="] };
const CONFIG = 'CONFIG_64BIT=y\nCONFIG_LOCALVERSION="-microvm-DIGEST"\n# CONFIG_LOCALVERSION_AUTO is not set\n';

function body() {
  const digest = computeDigest({ config: CONFIG, toolchain: FACTS.toolchain, makeFlags: FACTS.makeFlags, sourceTree: TREE });
  return { tree: TREE, kernelVersion: "6.12.57", cfg: { method: "fragments" }, findings: [], digest, fitted: "microvm", baked: { release: `6.12.57-microvm-${digest}`, configText: CONFIG } };
}

test("a written record is found by its key from anywhere, and leaves no staging file", () => {
  const home = mkdtempSync(join(tmpdir(), "kiln-configs-"));
  try {
    const file = writeConfigRecord(home, KEY, body());
    assert.equal(file, configRecordFile(home, KEY));
    assert.deepEqual(readdirSync(join(home, "configs")), [`${KEY}.json`]);
    const got = readConfigRecord(home, KEY, FACTS);
    assert.ok("hit" in got);
    assert.equal(got.hit.baked.configText, CONFIG);
    assert.equal(got.hit.kernelVersion, "6.12.57");
    assert.deepEqual(readConfigRecord(home, "cd".repeat(32), FACTS), { miss: "absent" });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("a record that fails its checks is a miss that says why", () => {
  const home = mkdtempSync(join(tmpdir(), "kiln-configs-"));
  try {
    const file = writeConfigRecord(home, KEY, body());
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good.slice(0, 40));
    const cut = readConfigRecord(home, KEY, FACTS);
    assert.ok("miss" in cut && cut.miss === "invalid" && cut.why.startsWith("not JSON"), JSON.stringify(cut));
    writeFileSync(file, good.replace("CONFIG_64BIT=y", "CONFIG_64BIT=n"));
    const edited = readConfigRecord(home, KEY, FACTS);
    assert.ok("miss" in edited && edited.miss === "invalid" && /does not follow from its config/.test(edited.why), JSON.stringify(edited));
    // Another toolchain gives another digest: the record cannot be used with it.
    const other = readConfigRecord(home, KEY, { ...FACTS, toolchain: "gcc=gcc 13" });
    assert.ok("miss" in other && other.miss === "invalid");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("the record checks: schema, key, release ending in the digest", () => {
  const rec = { schema: "kiln.configure-record/v1", key: KEY, ...body() };
  assert.equal(typeof checkConfigRecord(JSON.stringify(rec), KEY, FACTS), "object");
  assert.match(checkConfigRecord(JSON.stringify(rec), "cd".repeat(32), FACTS) as string, /records key/);
  assert.match(checkConfigRecord(JSON.stringify({ ...rec, schema: "x" }), KEY, FACTS) as string, /schema is "x"/);
  assert.match(checkConfigRecord(JSON.stringify({ ...rec, baked: { ...rec.baked, release: "6.12.57-microvm-000000000000" } }), KEY, FACTS) as string, /does not end in its digest/);
  assert.match(checkConfigRecord("[1]", KEY, FACTS) as string, /schema/);
  assert.throws(() => configRecordFile("/h", "../x"), /not a sha256/);
});

test("a re-bake without make swaps the localversion in the config and the release (ADR 0093)", async () => {
  const { rebakeText } = await import("../../src/pipeline/configure.js");
  const { readFileSync } = await import("node:fs");
  const config = readFileSync(new URL("../../../test/fixtures/eta/microvm-x86_64.config", import.meta.url), "utf8");
  const last = { release: "6.12.117-microvm-ec4a133c3a18", configText: config };
  const r = rebakeText(last, "-microvm-ec4a133c3a18", "-microvm-0123456789ab")!;
  assert.equal(r.release, "6.12.117-microvm-0123456789ab");
  assert.match(r.configText, /^CONFIG_LOCALVERSION="-microvm-0123456789ab"$/m);
  assert.equal(r.configText.replace('"-microvm-0123456789ab"', '"-microvm-ec4a133c3a18"'), config, "nothing else in the config changes");
  assert.equal(rebakeText(last, "-other-000000000000", "-microvm-0123456789ab"), undefined, "the config does not hold the localversion kiln recorded");
  assert.equal(rebakeText({ ...last, release: "6.12.117-microvm-ec4a133c3a18-dirty" }, "-microvm-ec4a133c3a18", "-x"), undefined, "the read-back release had more than the localversion");
  assert.equal(rebakeText({ ...last, configText: config.replace("# CONFIG_LOCALVERSION_AUTO is not set", "CONFIG_LOCALVERSION_AUTO=y") }, "-microvm-ec4a133c3a18", "-x"), undefined);
});
