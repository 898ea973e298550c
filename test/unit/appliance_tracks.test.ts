// The appliance example's tracks (examples/appliance, docs/tracks.md): two targets on two source
// pins with two config methods, sharing the container fragment, and one invariant table that
// holds on every track. Pure: kiln.toml, the fragments and the fork script as committed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { checkInvariants } from "../../src/core/invariants.js";
import { parseDotConfig, parseFragment } from "../../src/core/fragment.js";
import { parseProject } from "../../src/project/load.js";
import { invariantRules } from "../../src/pipeline/steps.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const DIR = join(REPO, "examples", "appliance");
const file = join(DIR, "kiln.toml");
const project = parseProject(readFileSync(file, "utf8"), file);
const CONTAINER = "config/container/10-container-host.config";

test("two tracks: generic on Debian's source with fragments, rpi on the vendor's git ref with its defconfig", () => {
  const g = project.targets.generic!;
  const r = project.targets.rpi!;
  assert.deepEqual(g.arches, ["x86_64", "aarch64"]);
  assert.deepEqual(r.arches, ["aarch64"]);
  assert.notEqual(g.source, r.source);
  assert.ok("debian" in project.decl.source[g.source]!);
  assert.deepEqual(project.decl.source[r.source], { git: "vendor/linux-rpi.git", ref: "rpi-6.12.y" });
  assert.equal(g.config.method, "fragments");
  assert.equal(r.config.method, "make");
  assert.deepEqual(r.config.goals, ["kiln_rpi_defconfig"]);
  // the shared fragment is a layer of both
  for (const t of [g, r]) assert.ok(t.config.layers.includes("config/container"), `${JSON.stringify(t.config.layers)} lacks config/container`);
});

test("the container invariant applies to every cell of every track", () => {
  const rules = invariantRules(project);
  const shared = rules.filter((x) => !x.arches && !x.variants && !x.not_variants);
  assert.equal(shared.length, 1);
  const cells = Object.entries(project.targets).flatMap(([name, t]) => t.arches.map((a) => [a, name] as const));
  assert.equal(cells.length, 3);
  // a config without overlayfs fails on each; the message names the symbol and the rule's line
  for (const [arch, variant] of cells) {
    const v = checkInvariants(shared, parseDotConfig("CONFIG_CGROUPS=y\n"), arch, variant);
    assert.ok(v.some((x) => x.message === "required CONFIG_OVERLAY_FS=y but got CONFIG_OVERLAY_FS=UNSET"), `${arch}/${variant}: ${v.map((x) => x.message).join("; ")}`);
    assert.match(shared[0]!.origin, /kiln\.toml:\d+$/);
  }
});

test("the shared fragment requests every symbol the container invariant requires (the table and the layer agree)", () => {
  const { requests, issues } = parseFragment(readFileSync(join(DIR, CONTAINER), "utf8"), CONTAINER, "config/container");
  assert.deepEqual(issues, []);
  const asked = new Map(requests.map((q) => [q.symbol, q.value]));
  const shared = project.decl.invariant.find((x) => !x.arches && !x.variants && !x.not_variants)!;
  const generic = ["BLK_DEV_INITRD", "DEVTMPFS"]; // from each track's own layers or defconfig
  for (const [sym, val] of Object.entries(shared.required)) {
    if (generic.includes(sym)) continue;
    assert.equal(asked.get(sym), val, `${CONTAINER} does not request CONFIG_${sym}=${val}`);
  }
  for (const sym of shared.forbidden) assert.notEqual(asked.get(sym), "y", `${CONTAINER} enables forbidden CONFIG_${sym}`);
});

test("the vendor fork script is valid bash and pins its commits' authors and dates", () => {
  const script = join(DIR, "scripts", "make-vendor-fork.sh");
  const r = spawnSync("bash", ["-n", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const text = readFileSync(script, "utf8");
  assert.match(text, /GIT_AUTHOR_DATE="2026-01-01T00:00:00Z"/);
  assert.match(text, /arch\/arm64\/configs\/kiln_rpi_defconfig/);
  assert.match(text, /git -c init\.defaultBranch=main/);
});
