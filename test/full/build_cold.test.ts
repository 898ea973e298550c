/**
 * A cold build killed with SIGKILL mid-compile completes on the next run (npm run test:full).
 * Its point is a compile with no compiler cache, so it makes an identity of its own (a label
 * unique to the run) and cannot share the test store's kernel: about one cold compile.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { kiln, kilnSpawn, exampleCopy, removeProject, TEST_HOME, RUN_ID, cellManifest } from "../support/kiln.js";
import { needSource } from "../support/needs.js";
import { projectId } from "../../src/store/paths.js";

const skip = needSource("6.12");
const projects: string[] = [];
const RUN = RUN_ID;

function project(tag: string): string {
  const d = exampleCopy(tag);
  projects.push(d);
  return d;
}

const manifestOf = cellManifest;

after(() => {
  for (const p of projects) {
    rmSync(join(TEST_HOME, "work", projectId("microvm", p)), { recursive: true, force: true });
    removeProject(p);
  }
});

test("a build killed with SIGKILL mid-compile completes on the next run", { skip, timeout: 40 * 60_000 }, async () => {
  const dir = project("killed");
  const label = `killed-${RUN}`;
  const child = kilnSpawn(["-C", dir, "build", "--arch", "x86_64", "--label", label, "--no-ccache"]);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  await new Promise<void>((res, rej) => {
    const t = setInterval(() => {
      if (/compile +\d+%/.test(out) || /compile +6\.12/.test(out)) {
        clearInterval(t);
        setTimeout(res, 8000);
      }
      if (child.exitCode !== null) {
        clearInterval(t);
        rej(new Error(`kiln ended before compiling: ${out}`));
      }
    }, 200);
  });
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  const state = join(TEST_HOME, "work", projectId("microvm", dir), "base-x86_64");
  // the guardian stops make: nothing keeps compiling in the warm tree
  let alive = "";
  for (let i = 0; i < 100; i++) {
    alive = execFileSync("sh", ["-c", 'pgrep -af "O=$1" || true', "sh", join(state, "build")]).toString().trim();
    if (!alive) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(alive, "", "make was stopped");
  const m0 = manifestOf(dir);
  assert.equal(m0.status, "running", "the early manifest is there, and says the build did not finish");
  assert.ok(!existsSync(join(TEST_HOME, "store", m0.uts_release!)), "no partial store entry");
  const r = await kiln(["-C", dir, "build", "--arch", "x86_64", "--label", label]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifestOf(dir);
  assert.equal(m.status, "ok");
  assert.equal(m.uts_release, m0.uts_release);
  assert.ok(existsSync(join(TEST_HOME, "store", m.uts_release!, "boot", `vmlinuz-${m.uts_release}`)));
});

