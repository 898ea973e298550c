/** Digests remembered by file identity, and apt answers remembered under apt's state (src/store/file_digests.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashFile, fileDigests, aptStateKey, cachedAnswer, rememberAnswer } from "../../src/store/file_digests.js";

test("one pass gives the same sha256 and md5 as sha256sum and md5sum", async () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-fd-"));
  try {
    const f = join(d, "x.bin");
    writeFileSync(f, Buffer.alloc(3 << 20, 7));
    const got = await hashFile(f);
    assert.equal(got.sha256, execFileSync("sha256sum", [f], { encoding: "utf8" }).split(" ")[0]);
    assert.equal(got.md5, execFileSync("md5sum", [f], { encoding: "utf8" }).split(" ")[0]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("digests are remembered for the same file and recomputed when it changes", async () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-fd-"));
  try {
    const f = join(d, "t.tar");
    writeFileSync(f, "one");
    const a = await fileDigests(d, f);
    assert.equal(Object.keys(JSON.parse(readFileSync(join(d, "file-digests.json"), "utf8"))).length, 1);
    assert.deepEqual(await fileDigests(d, f), a);
    writeFileSync(f, "two");
    const b = await fileDigests(d, f);
    assert.notEqual(b.sha256, a.sha256);
    assert.equal(b.sha256, execFileSync("sha256sum", [f], { encoding: "utf8" }).split(" ")[0]);
    assert.equal(Object.keys(JSON.parse(readFileSync(join(d, "file-digests.json"), "utf8"))).length, 1, "the old entry for the path is dropped");
    writeFileSync(join(d, "file-digests.json"), "{damaged");
    assert.deepEqual(await fileDigests(d, f), b);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("apt answers are kept only under the state they were given in", () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-apt-"));
  try {
    const lists = join(d, "lists");
    mkdirSync(lists);
    writeFileSync(join(lists, "deb.debian.org_Packages"), "Package: a\n");
    const status = join(d, "status");
    writeFileSync(status, "s");
    const k1 = aptStateKey([lists], [status])!;
    assert.equal(aptStateKey([lists], [status]), k1);
    rememberAnswer(d, "apt-show", k1, "linux-source-6.12", "Version: 1\n");
    assert.equal(cachedAnswer(d, "apt-show", k1, "linux-source-6.12"), "Version: 1\n");
    assert.equal(cachedAnswer(d, "apt-show", k1, "linux-source-6.1"), undefined);
    // apt-get update rewrites a list: another state, no answer
    writeFileSync(join(lists, "deb.debian.org_Packages"), "Package: a\nVersion: 2\n");
    utimesSync(join(lists, "deb.debian.org_Packages"), new Date(), new Date(Date.now() + 5000));
    const k2 = aptStateKey([lists], [status])!;
    assert.notEqual(k2, k1);
    assert.equal(cachedAnswer(d, "apt-show", k2, "linux-source-6.12"), undefined);
    assert.equal(aptStateKey([lists], [join(d, "missing")]), undefined, "unreadable apt state: nothing cached");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
