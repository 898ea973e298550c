/**
 * The disk-space guard that runs before a source import and a warm-tree checkout: on the real
 * filesystem of a temporary folder, against what statfs says is free there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ensureFree, freeBytes, unpackEstimate } from "../../src/effects/fsx.js";
import { InfraError } from "../../src/errors.js";

test("ensureFree passes what fits and refuses what does not, naming the folder, both sizes and what to do", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-disk-"));
  try {
    const free = freeBytes(dir);
    assert.ok(free > 0);
    ensureFree(dir, 1, "a tiny write");
    // a folder that does not exist yet is judged by its nearest existing parent
    assert.equal(Math.abs(freeBytes(join(dir, "not", "yet")) - free) < 64 * 1024 ** 2, true);
    assert.throws(
      () => ensureFree(join(dir, "src"), free + 4 * 1024 ** 4, "checking out the warm tree f91e1fdb03f3"),
      (e: unknown) =>
        e instanceof InfraError &&
        e.exitCode === 1 &&
        /^not enough disk space for checking out the warm tree f91e1fdb03f3: it needs about [\d.]+ GiB under .*\/src, and [\d.]+ (GiB|MiB|KiB) is free$/.test(e.message) &&
        /kiln store gc/.test(e.hint ?? ""),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("unpack estimates scale with the compression a tarball's name says", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-disk-"));
  try {
    for (const name of ["linux.tar.xz", "linux.tar.gz", "linux.tar"]) writeFileSync(join(dir, name), Buffer.alloc(1000));
    assert.equal(unpackEstimate(join(dir, "linux.tar.xz")), 12_000);
    assert.equal(unpackEstimate(join(dir, "linux.tar.gz")), 7_000);
    assert.equal(unpackEstimate(join(dir, "linux.tar")), 1_600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
