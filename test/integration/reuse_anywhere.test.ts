/**
 * Reuse from anywhere (docs/adr/0047): with the example's x86_64 kernel in the test store (the
 * same identity the build and boot tests build, so usually a store hit), a fresh copy of the
 * example answers "reused" from the configure record found by content: no tree is checked out,
 * no configure and no make run. The flow records say so, and the folder's warm tree does not exist.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME } from "../support/kiln.js";
import { bootKernel } from "../support/boot_kernels.js";
import { debianTarball } from "../support/trees.js";
import { projectId } from "../../src/store/paths.js";
import type { Manifest } from "../../src/core/manifest.js";

const skip = !debianTarball("6.12") && "linux-source-6.12 is not installed (apt-get install linux-source-6.12)";
const projects: string[] = [];
after(() => {
  for (const p of projects) {
    rmSync(join(TEST_HOME, "work", projectId("microvm", p)), { recursive: true, force: true });
    removeProject(p);
  }
});

const statusOf = (m: Manifest, step: string) => m.flow!.find((s) => s.step === step);

test("a reuse from a fresh folder checks out no tree and runs no make", { skip, timeout: 60 * 60_000 }, async () => {
  const example = bootKernel("x86_64"); // builds the example once if the test store lacks it
  const dir = exampleCopy("reuse-anywhere");
  projects.push(dir);
  const cell = join(TEST_HOME, "work", projectId("microvm", dir), "base-x86_64");
  assert.ok(!existsSync(cell), "a fresh folder has no warm tree yet");

  const r = await kiln(["-C", dir, "--json", "build", "--arch", "x86_64"]);
  assert.equal(r.code, 0, r.stderr);
  const m = (JSON.parse(r.stdout) as Manifest[])[0]!;
  assert.equal(m.uts_release, example.release, "same inputs, same identity, from another folder");
  assert.equal(m.reuse?.status, "reused");
  assert.equal(statusOf(m, "configure_record")?.status, "ran");
  assert.equal(statusOf(m, "prepare_worktree")?.status, "skipped");
  assert.match(statusOf(m, "prepare_worktree")!.reason!, /content record/);
  assert.equal(statusOf(m, "configure")?.status, "skipped");
  assert.equal(statusOf(m, "checkout")?.status, "skipped");
  assert.match(statusOf(m, "checkout")!.reason!, /^nothing compiles: reused from /);
  assert.equal(statusOf(m, "compile")?.status, "skipped");
  assert.equal(m.build_dir, undefined, "no build folder is claimed");
  assert.equal(m.artifacts?.image, example.manifest.artifacts?.image, "the stored build's artifacts");
  // no tree, no build folder, no make output: nothing but the cell's state
  assert.ok(!existsSync(join(cell, "src")), "no source tree was checked out");
  assert.ok(!existsSync(join(cell, "build")), "no build folder was made");
  assert.ok(!existsSync(join(cell, "state", "build.log")), "make never ran");
  const saved = JSON.parse(readFileSync(join(cell, "state", "manifest.json"), "utf8")) as Manifest;
  assert.deepEqual(saved.flow, m.flow);

  // the same folder again (warm): still no tree
  const again = await kiln(["-C", dir, "--json", "build", "--arch", "x86_64"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as Manifest[])[0]!.reuse?.status, "reused");
  assert.ok(!existsSync(join(cell, "src")));

  // a caller that reads the tree asks for it: then the tree is checked out, and still nothing compiles
  const withTree = await kiln(["-C", dir, "--json", "build", "--arch", "x86_64", "--tree"]);
  assert.equal(withTree.code, 0, withTree.stderr);
  const mt = (JSON.parse(withTree.stdout) as Manifest[])[0]!;
  assert.equal(statusOf(mt, "checkout")?.status, "ran");
  assert.equal(statusOf(mt, "compile")?.status, "skipped");
  assert.ok(existsSync(join(cell, "src", "Makefile")), "--tree checks the tree out");
  assert.equal(readFileSync(join(mt.build_dir!, ".config"), "utf8").includes(`CONFIG_LOCALVERSION="${mt.uts_release!.slice(mt.kernel_version!.length)}"`), true, "the build folder holds the record's baked config");
});
