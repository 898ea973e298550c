/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * `kiln store gc` and warm trees: a cell whose project folder is gone, or that sat unused past
 * --older-than, is removed; a live project's recent cell stays; a cell whose tree lock a build
 * holds is left alone; --no-work keeps them all. Real folders in a throwaway KILN_HOME, the real CLI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { kiln } from "../support/kiln.js";
import { acquire } from "../../src/effects/lock.js";

function cell(home: string, proj: string, name: string, projectDir: string, ageDays = 0): string {
  const dir = join(home, "work", proj, name);
  mkdirSync(join(dir, "src", "init"), { recursive: true });
  mkdirSync(join(dir, "state"), { recursive: true });
  writeFileSync(join(dir, "src", "init", "main.c"), "int main;\n".repeat(1000));
  writeFileSync(join(dir, "state", "tree"), "f".repeat(40));
  writeFileSync(join(dir, "state", "manifest.json"), JSON.stringify({ project: { name: proj, dir: projectDir } }));
  if (ageDays) {
    const t = new Date(Date.now() - ageDays * 86400_000);
    for (const f of [join(dir, "state", "tree"), join(dir, "state", "manifest.json"), dir]) utimesSync(f, t, t);
  }
  return dir;
}

test("store gc removes warm trees of gone or idle projects, never a busy one", async () => {
  const root = mkdtempSync(join(tmpdir(), "kiln-gc-"));
  try {
    const home = join(root, "home");
    const live = join(root, "live-project");
    mkdirSync(live);
    const gone = cell(home, "microvm-aaaa0001", "base-x86_64", join(root, "deleted-clone"));
    const idle = cell(home, "microvm-aaaa0002", "base-x86_64", live, 45);
    const recent = cell(home, "microvm-aaaa0003", "base-x86_64", live);
    const busy = cell(home, "microvm-aaaa0004", "base-aarch64", join(root, "also-deleted"));
    const dry = await kiln(["--json", "store", "gc", "--dry-run"], { home });
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual((JSON.parse(dry.stdout) as { warm_trees: string[] }).warm_trees.sort(), [gone, idle, busy].sort());
    assert.ok([gone, idle, busy].every((d) => existsSync(d)), "--dry-run removes nothing");
    const none = await kiln(["--json", "store", "gc", "--no-work"], { home });
    assert.deepEqual((JSON.parse(none.stdout) as { warm_trees: string[] }).warm_trees, []);
    const lock = await acquire(join(home, "locks", "tree-microvm-aaaa0004-base-aarch64.lock"));
    try {
      const r = await kiln(["store", "gc"], { home });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`removed warm tree ${gone} \\([\\d.]+ (KiB|MiB)\\): its project folder ${join(root, "deleted-clone")} is gone`.replace(/\//g, "\\/")));
      assert.match(r.stdout, /removed warm tree .*aaaa0002.*: unused for 45 days/);
      assert.match(r.stdout, /kept warm tree .*aaaa0004.*: a build is using it/);
      assert.ok(!existsSync(gone) && !existsSync(idle));
      assert.ok(existsSync(recent) && existsSync(busy));
    } finally {
      await lock.release();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
