/**
 * kiln-test-lane: side (configures, never compiles; it shares the test kiln home only through
 * kiln's own locks, as two users' kiln runs would; test/run.sh runs it beside the main lane)
 * kiln config export and kiln config diff on the real pipeline and the example (linux-source-6.12).
 *
 * Export: savedefconfig of the final config must be a fixed point (kiln proves it; the test
 * proves it again by hand on a pristine tree), and a target configured from the exported fragment
 * gets the same kernel release, i.e. the same identity digest, as the original.
 * Diff: the text equals the tree's own scripts/diffconfig; targets are compared by menu.
 *
 * The project copy lives at a fixed path so its warm trees are reused across runs.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { REPO, TEST_HOME } from "../support/kiln.js";
import { TEST_CACHE, debianTarball, kernelTree } from "../support/trees.js";
import { loadProject } from "../../src/project/load.js";
import { paths } from "../../src/store/paths.js";
import { makeUi } from "../../src/ui/log.js";
import { exportConfig, configBody } from "../../src/config/export.js";
import { configDiff, diffJson, UNKNOWN_MENU } from "../../src/config/diff.js";
import { configureCells } from "../../src/pipeline/cells.js";

const skip = !debianTarball("6.12") && "needs linux-source-6.12 (apt-get install linux-source-6.12)";
const DIR = join(TEST_CACHE, "projects", "config-export-diff");
const ui = makeUi({});
const p = paths(TEST_HOME);

before(() => {
  if (skip) return;
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(TEST_CACHE, "projects"), { recursive: true });
  cpSync(join(REPO, "examples", "microvm"), DIR, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
  // a second target: the example plus a debug layer
  mkdirSync(join(DIR, "config", "debug"));
  writeFileSync(join(DIR, "config", "debug", "10-debug.config"), "CONFIG_PRINTK_TIME=y\nCONFIG_DEBUG_KERNEL=y\nCONFIG_DEBUG_INFO_NONE=y\n");
  writeFileSync(
    join(DIR, "kiln.toml"),
    readFileSync(join(DIR, "kiln.toml"), "utf8") +
      `\n[target.debug]\nsource = "linux"\narches = ["x86_64"]\ntoolchain = "gcc"\nlabel = "microvm-debug"\noutputs = ["install"]\n\n[target.debug.config]\nmethod = "fragments"\nbase = "allnoconfig"\nlayers = ["config/common", "config/{arch}", "config/debug"]\n`,
  );
});

function scratch(tag: string): string {
  mkdirSync(TEST_CACHE, { recursive: true });
  return mkdtempSync(join(TEST_CACHE, `config-${tag}-`));
}

let original = "";
let release = "";

test("export: savedefconfig is a fixed point of the final config (checked by kiln and by hand)", { skip }, async () => {
  const out = join(scratch("export"), "microvm.defconfig");
  const t0 = Date.now();
  const r = await exportConfig(loadProject(DIR), { target: "base", arch: "x86_64", format: "defconfig", out, ui, paths: p });
  process.stderr.write(`export base/x86_64: ${r.symbols} line(s) for a ${r.configSymbols}-line config (${Date.now() - t0} ms)\n`);
  assert.equal(r.fixedPoint, true);
  assert.ok(r.symbols > 10 && r.symbols < r.configSymbols / 3, `${r.symbols} of ${r.configSymbols}`);
  assert.equal(readFileSync(out, "utf8"), r.text);
  const { cells } = await configureCells(loadProject(DIR), [{ target: "base", arch: "x86_64" }], { ui, paths: p });
  original = cells[0]!.configText;
  release = cells[0]!.manifest.uts_release!;
  // by hand, on a pristine tree (the series touches no Kconfig file)
  const o = scratch("roundtrip");
  try {
    execFileSync("make", ["-s", "-C", kernelTree("6.12"), `O=${o}`, "ARCH=x86_64", `KCONFIG_ALLCONFIG=${out}`, "alldefconfig"], { stdio: "ignore" });
    assert.equal(configBody(readFileSync(join(o, ".config"), "utf8")), configBody(original));
  } finally {
    rmSync(o, { recursive: true, force: true });
  }
});

test("export: a target configured from the exported fragment has the same identity", { skip }, async () => {
  const layer = join(DIR, "config", "exported");
  mkdirSync(layer, { recursive: true });
  const r = await exportConfig(loadProject(DIR), { target: "base", arch: "x86_64", format: "fragment", out: join(layer, "base.config"), ui, paths: p });
  assert.doesNotMatch(r.text, /LOCALVERSION/);
  writeFileSync(
    join(DIR, "kiln.toml"),
    readFileSync(join(DIR, "kiln.toml"), "utf8") +
      `\n[target.exported]\nsource = "linux"\narches = ["x86_64"]\ntoolchain = "gcc"\nlabel = "microvm"\noutputs = ["install"]\n\n[target.exported.config]\nmethod = "fragments"\nbase = "alldefconfig"\nlayers = ["config/exported"]\n`,
  );
  const { cells } = await configureCells(loadProject(DIR), [{ target: "exported", arch: "x86_64" }], { ui, paths: p });
  assert.equal(cells[0]!.manifest.config?.dropped.length, 0);
  assert.equal(configBody(cells[0]!.configText), configBody(original));
  assert.equal(cells[0]!.manifest.uts_release, release);
});

test("diff: a 6.1 tinyconfig against the example's final config matches scripts/diffconfig, grouped by menu", { skip: skip || (!debianTarball("6.1") && "needs linux-source-6.1") }, async () => {
  const o = scratch("tiny61");
  try {
    execFileSync("make", ["-s", "-C", kernelTree("6.1"), `O=${o}`, "ARCH=x86_64", "tinyconfig"], { stdio: "ignore" });
    const a = join(o, ".config");
    const r = await configDiff({ kind: "file", path: a }, { kind: "target", target: "base", arch: "x86_64" }, { project: loadProject(DIR), ui, paths: p });
    const b = r.b.file;
    const theirs = execFileSync("python3", [join(kernelTree("6.12"), "scripts", "diffconfig"), a, b], { encoding: "utf8" });
    assert.equal(r.text, theirs);
    assert.ok(r.counts.removed > 0 && r.counts.changed > 0 && r.counts.added > 0, JSON.stringify(r.counts));
    assert.ok("tree" in r.menus, JSON.stringify(r.menus));
    assert.ok(r.groups.length > 5);
    // every entry is in exactly one group; symbols 6.12 does not define are grouped apart
    assert.equal(r.groups.reduce((n, g) => n + g.entries.length, 0), r.counts.removed + r.counts.changed + r.counts.added);
    const unknown = r.groups.find((g) => g.menu[0] === UNKNOWN_MENU);
    assert.ok(unknown && unknown.entries.every((e) => e.kind === "removed"), JSON.stringify(unknown?.entries.slice(0, 5)));
    const json = JSON.parse(JSON.stringify(diffJson(r))) as { counts: object; groups: { menu: string[] }[] };
    assert.deepEqual(json.counts, r.counts);
    process.stderr.write(`diff 6.1 tinyconfig -> base/x86_64: ${JSON.stringify(r.counts)} in ${r.groups.length} menu group(s)\n`);
  } finally {
    rmSync(o, { recursive: true, force: true });
  }
});

test("diff: two targets, grouped by the Kconfig menu each symbol lives in", { skip }, async () => {
  const r = await configDiff({ kind: "target", target: "base" }, { kind: "target", target: "debug" }, { project: loadProject(DIR), ui, paths: p });
  const theirs = execFileSync("python3", [join(kernelTree("6.12"), "scripts", "diffconfig"), r.a.file, r.b.file], { encoding: "utf8" });
  assert.equal(r.text, theirs);
  const all = r.groups.flatMap((g) => g.entries.map((e) => [g.menu.join(" > "), e.symbol] as const));
  const where = new Map(all.map(([m, s]) => [s, m]));
  assert.equal(where.get("PRINTK_TIME"), "Kernel hacking > printk and dmesg options");
  assert.equal(where.get("DEBUG_KERNEL"), "Kernel hacking");
  assert.ok(r.diff.changed.some((e) => e.symbol === "LOCALVERSION"), "the label differs");
});
