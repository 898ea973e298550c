/**
 * kiln-test-lane: side (configures, never compiles; it shares the test kiln home only through
 * kiln's own locks, as two users' kiln runs would; test/run.sh runs it beside the main lane)
 * kiln config new-symbols on the real pipeline: the example moved from Debian's
 * linux-source-6.1 to linux-source-6.12. The count must equal `make listnewconfig` run by hand
 * on the same .config against a pristine 6.12 tree, a second run changes nothing, and a symbol a
 * maintainer moved into a layer is not written again.
 *
 * The project copy lives at a fixed path so its warm trees (6.1 cell, 6.12 checkout) are reused
 * across runs; KILN_TEST_HOME selects the kiln home (default: the shared test home).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { REPO, TEST_HOME } from "../support/kiln.js";
import { TEST_CACHE, debianTarball, kernelTree } from "../support/trees.js";
import { loadProject } from "../../src/project/load.js";
import { paths } from "../../src/store/paths.js";
import { makeUi } from "../../src/ui/log.js";
import { newSymbols, type NewSymbolsReport } from "../../src/config/new_symbols.js";
import { ARCHES, hostArch } from "../../src/tables/arches.js";

const skip = (!debianTarball("6.1") || !debianTarball("6.12")) && "needs linux-source-6.1 and linux-source-6.12 (apt-get install linux-source-6.1 linux-source-6.12)";
const DIR = join(TEST_CACHE, "projects", "config-new-symbols");
const ui = makeUi({});
const p = paths(TEST_HOME);

/** The example on linux-source-6.1 (its series targets 6.12, so it goes), with [source.next] = 6.12. */
function bumpProject(): void {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(TEST_CACHE, "projects"), { recursive: true });
  cpSync(join(REPO, "examples", "microvm"), DIR, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") && !s.includes("/patches") });
  const f = join(DIR, "kiln.toml");
  const t = readFileSync(f, "utf8")
    .replace('debian = "linux-source-6.12"', 'debian = "linux-source-6.1"\n\n[source.next]\ndebian = "linux-source-6.12"')
    .replace(/\[series\]\ndir = "patches"\n/, "");
  assert.match(t, /\[source\.next\]/);
  assert.doesNotMatch(t, /\[series\]/);
  writeFileSync(f, t);
}

function folderHash(dir: string): string {
  const h = createHash("sha256");
  for (const f of readdirSync(dir).sort()) h.update(`${f}\0`).update(readFileSync(join(dir, f))).update("\0");
  return h.digest("hex");
}

/** `make listnewconfig` by hand on a pristine 6.12 tree, with the arch's ARCH and cross compiler. */
function handCount(config: string, archName: string): { count: number; lines: string[] } {
  const out = mkdtempSync(join(TEST_CACHE, "listnewconfig-"));
  try {
    writeFileSync(join(out, ".config"), config);
    const a = ARCHES[archName]!;
    const cross = a.name === hostArch() ? [] : [`CROSS_COMPILE=${a.crossPrefix}`];
    const text = execFileSync("make", ["-s", "-C", kernelTree("6.12"), `O=${out}`, `ARCH=${a.kernelArch}`, ...cross, "listnewconfig"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const lines = text.split("\n").filter((l) => l.startsWith("CONFIG_"));
    return { count: lines.length, lines };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

let first: NewSymbolsReport;
const pending = join(DIR, "config", "pending", "x86_64");

before(async () => {
  if (skip) return;
  bumpProject();
});

test("new symbols 6.1 -> 6.12: the count equals make listnewconfig by hand, one file per symbol", { skip }, async () => {
  const t0 = Date.now();
  first = await newSymbols(loadProject(DIR), { source: "next", ui, paths: p });
  assert.deepEqual(first.cells.map((c) => `${c.target}/${c.arch}`), loadProject(DIR).targets.base!.arches.map((a) => `base/${a}`));
  assert.match(first.newVersion, /^6\.12\./);
  for (const cell of first.cells) {
    const config = readFileSync(cell.configFile, "utf8");
    assert.match(config, /Linux\/\S+ 6\.1\.\d+ Kernel Configuration/);
    const hand = handCount(config, cell.arch);
    process.stderr.write(`new-symbols ${cell.arch}/${cell.target}: kiln ${cell.count}, make listnewconfig by hand ${hand.count}; ${cell.written.length} file(s) written, ${cell.inLayers.length} already in layers\n`);
    assert.ok(hand.count > 0);
    assert.equal(cell.count, hand.count, cell.arch);
    const dir = join(DIR, cell.pendingDir);
    const files = readdirSync(dir).sort();
    const want = [...new Set(hand.lines.map((l) => l.split("=")[0]!))].filter((n) => !cell.inLayers.includes(n.slice(7))).sort();
    assert.deepEqual(files, want);
    assert.deepEqual([...cell.written].sort(), want);
    for (const l of hand.lines) {
      const [name, value] = [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)];
      if (cell.inLayers.includes(name.slice(7))) continue;
      const text = readFileSync(join(dir, name), "utf8");
      assert.ok(text.startsWith("# AUTOMATIC: New configs"), name);
      assert.ok(text.endsWith(value === "n" ? `# ${name} is not set\n` : `${l}\n`), `${name}: ${text.split("\n").slice(-2).join(" | ")}`);
      assert.match(text, new RegExp(`^# Symbol: ${name.slice(7)} `, "m"));
    }
  }
  process.stderr.write(`new-symbols first run: ${Date.now() - t0} ms\n`);
});

test("re-running changes nothing: same files, same bytes", { skip }, async () => {
  const dirs = first.cells.map((c) => join(DIR, c.pendingDir));
  const before = dirs.map(folderHash);
  const again = await newSymbols(loadProject(DIR), { source: "next", ui, paths: p });
  again.cells.forEach((cell, i) => {
    assert.equal(cell.count, first.cells[i]!.count);
    assert.deepEqual([cell.written.length, cell.kept.length], [0, 0]);
    assert.equal(cell.unchanged.length, first.cells[i]!.written.length);
  });
  assert.deepEqual(dirs.map(folderHash), before);
});

test("a file the maintainer moved into a layer is not re-added; an edited pending file is kept", { skip }, async () => {
  const files = readdirSync(pending).sort();
  const moved = files[0]!;
  const edited = files[1]!;
  mkdirSync(join(DIR, "config", "x86_64"), { recursive: true });
  renameSync(join(pending, moved), join(DIR, "config", "x86_64", moved));
  writeFileSync(join(pending, edited), `# reviewed: keep it off\n# ${edited} is not set\n`);
  const r = await newSymbols(loadProject(DIR), { source: "next", ui, paths: p, arches: ["x86_64"] });
  assert.equal(r.cells.length, 1);
  const cell = r.cells[0]!;
  assert.deepEqual(cell.inLayers, [moved.slice(7)]);
  assert.deepEqual(cell.kept, [edited]);
  assert.deepEqual(cell.written, []);
  assert.ok(!existsSync(join(pending, moved)));
  assert.equal(readFileSync(join(pending, edited), "utf8"), `# reviewed: keep it off\n# ${edited} is not set\n`);
});

