import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRef, resolveRef, releaseTag, parseIndex, emptyIndex, type IndexEntry, type MirrorIndex } from "../../src/ship/mirror.js";
import { checkRemotePath } from "../../src/ship/transport.js";

function entry(release: string, tag: string, arch = "x86_64", kv = "6.12.9"): IndexEntry {
  return { name: "demo", release, kernel_version: kv, arch, tag, artifact: `demo/${release}/demo-kernel-${release}-${arch}.tar.zst`, sha256: "a".repeat(64), size: 1, sums: "s", signature: "g", files: [], published: "" };
}

test("refs: name@version", () => {
  assert.deepEqual(parseRef("demo@6.12.9"), { name: "demo", version: "6.12.9" });
  assert.throws(() => parseRef("demo"), /bad kernel reference/);
  assert.throws(() => parseRef("de/mo@1"), /bad kernel reference/);
});

test("tags: v<version>, then -r1, -r2 for re-releases; stable for a release already there", () => {
  const idx: MirrorIndex = emptyIndex();
  assert.equal(releaseTag(idx, "demo", "x86_64", "6.12.9", "6.12.9-a-000000000001"), "v6.12.9");
  idx.kernels.push(entry("6.12.9-a-000000000001", "v6.12.9"));
  assert.equal(releaseTag(idx, "demo", "x86_64", "6.12.9", "6.12.9-a-000000000001"), "v6.12.9");
  assert.equal(releaseTag(idx, "demo", "x86_64", "6.12.9", "6.12.9-a-000000000002"), "v6.12.9-r1");
  idx.kernels.push(entry("6.12.9-a-000000000002", "v6.12.9-r1"));
  assert.equal(releaseTag(idx, "demo", "aarch64", "6.12.9", "6.12.9-a-000000000003"), "v6.12.9-r2");
  assert.equal(releaseTag(idx, "demo", "x86_64", "6.12.10", "6.12.10-a-000000000004"), "v6.12.10");
});

test("resolve: exact release, tag, kernel version (latest), per arch", () => {
  const idx: MirrorIndex = { kiln_mirror: 1, kernels: [entry("6.12.9-a-1", "v6.12.9"), entry("6.12.9-a-2", "v6.12.9-r1"), entry("6.12.9-a-3", "v6.12.9", "aarch64")] };
  assert.equal(resolveRef(idx, parseRef("demo@6.12.9-a-1"), "x86_64", "i").release, "6.12.9-a-1");
  assert.equal(resolveRef(idx, parseRef("demo@v6.12.9"), "x86_64", "i").release, "6.12.9-a-1");
  assert.equal(resolveRef(idx, parseRef("demo@6.12.9"), "x86_64", "i").release, "6.12.9-a-2");
  assert.equal(resolveRef(idx, parseRef("demo@6.12.9"), "aarch64", "i").release, "6.12.9-a-3");
  assert.throws(() => resolveRef(idx, parseRef("demo@6.13"), "x86_64", "i"), /not on the mirror/);
  assert.throws(() => resolveRef(idx, parseRef("other@6.12.9"), "x86_64", "i"), /not on the mirror/);
});

test("index parsing and remote paths refuse hostile input", () => {
  assert.throws(() => parseIndex("{", "u"), /not JSON/);
  assert.throws(() => parseIndex('{"kernels": []}', "u"), /not a kiln mirror index/);
  assert.throws(() => parseIndex(JSON.stringify({ kiln_mirror: 1, kernels: [{ ...entry("r", "t"), sha256: "x" }] }), "u"), /malformed sha256/);
  assert.equal(parseIndex(JSON.stringify({ kiln_mirror: 1, kernels: [entry("r", "t")] }), "u").kernels.length, 1);
  for (const p of ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "./a"]) assert.throws(() => checkRemotePath(p), /unsafe remote path/, p);
  assert.equal(checkRemotePath("demo/r/x.tar.zst"), "demo/r/x.tar.zst");
});
