/**
 * The Kconfig reader against the kernel's own kconfig, on the real Debian 6.1 and 6.12 trees:
 * for each arch's defconfig, tinyconfig and a minimal virtio guest (allnoconfig + fragment),
 * `make O=<dir> ARCH=... <goal>` writes the reference .config; kiln evaluates the same inputs
 * and every symbol must agree (value and whether it is written at all).
 *
 * Reference configs are cached under $KILN_TEST_CACHE/kconfig/<series>/<arch>/<goal>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { debianTarball, kernelTree, TEST_CACHE } from "../support/trees.js";
import { VIRTIO_GUEST, virtioFragment } from "../support/kconfig_goals.js";
import { evaluate, loadKconfig, parseDotConfig, writeDefconfig, writeDotConfig, type Evaluation, type KconfigModel } from "../../src/kconfig/index.js";
import { hasCommand, kconfigArch, runKernelKconfig } from "../../src/kconfig/run.js";

const SERIES = ["6.1", "6.12"];
const ARCHES = ["x86_64", "arm64", "riscv"];
/** The configs of the example plus the two that exercise every tristate and select. */
const GOALS = ["defconfig", "tinyconfig", "virtio", "allmodconfig", "allyesconfig"];

const DEFCONFIG_FILE: Record<string, string> = {
  x86_64: "arch/x86/configs/x86_64_defconfig",
  arm64: "arch/arm64/configs/defconfig",
  riscv: "arch/riscv/configs/defconfig",
};

/** The kernel's own .config text, produced once and cached. */
function reference(series: string, tree: string, arch: string, goal: string): string {
  const out = join(TEST_CACHE, "kconfig", series, arch, goal);
  const cfg = join(out, ".config");
  if (!existsSync(cfg)) {
    const g = goal === "virtio" ? { goal: "allnoconfig", allconfig: virtioFragment() } : { goal };
    runKernelKconfig(tree, kconfigArch(arch), out, g);
  }
  return readFileSync(cfg, "utf8");
}

function readTreeConfig(tree: string, rel: string): Map<string, string> {
  const p = join(tree, rel);
  return existsSync(p) ? parseDotConfig(readFileSync(p, "utf8"), rel) : new Map();
}

function mergeInto(base: Map<string, string>, frag: Map<string, string>): Map<string, string> {
  const m = new Map(base);
  for (const [k, v] of frag) {
    m.delete(k);
    m.set(k, v);
  }
  return m;
}

/** kiln's evaluation of the same inputs the make goal used. */
function ours(model: KconfigModel, tree: string, arch: string, goal: string, pinned: Map<string, string>): Evaluation {
  const srcArch = kconfigArch(arch).srcArch;
  switch (goal) {
    case "defconfig":
      return evaluate(model, { user: readTreeConfig(tree, DEFCONFIG_FILE[arch] as string), pinned });
    case "virtio":
      return evaluate(model, { user: parseDotConfig(VIRTIO_GUEST), allDefault: "n", pinned });
    case "tinyconfig": {
      // allnoconfig with tiny-base.config, then merge_config of tiny.config fragments, then olddefconfig.
      const first = evaluate(model, { user: readTreeConfig(tree, "kernel/configs/tiny-base.config"), allDefault: "n", pinned }).config();
      let user = mergeInto(first, readTreeConfig(tree, "kernel/configs/tiny.config"));
      user = mergeInto(user, readTreeConfig(tree, `arch/${srcArch}/configs/tiny.config`));
      return evaluate(model, { user, pinned });
    }
    case "allmodconfig":
      return evaluate(model, { user: new Map(), allDefault: "m", pinned });
    case "allyesconfig":
      return evaluate(model, { user: new Map(), allDefault: "y", pinned });
    default:
      throw new Error(`no such goal ${goal}`);
  }
}

export function compareConfigs(real: Map<string, string>, got: Map<string, string>): { total: number; agree: number; diffs: string[] } {
  const names = new Set([...real.keys(), ...got.keys()]);
  const diffs: string[] = [];
  for (const n of names) {
    const a = real.get(n);
    const b = got.get(n);
    if (a !== b) diffs.push(`CONFIG_${n}: kconfig ${a ?? "(absent)"}, kiln ${b ?? "(absent)"}`);
  }
  return { total: names.size, agree: names.size - diffs.length, diffs };
}

for (const series of SERIES) {
  for (const arch of ARCHES) {
    const cc = `${kconfigArch(arch).crossCompile}gcc`;
    const skip = !debianTarball(series)
      ? `linux-source-${series} is not installed`
      : !hasCommand(cc)
        ? `${cc} is not installed (kconfig runs it)`
        : false;
    test(`kconfig agreement ${series} ${arch}: defconfig, tinyconfig, virtio guest, allmodconfig, allyesconfig`, { skip }, () => {
      const tree = kernelTree(series);
      const model = loadKconfig(tree, { arch });
      for (const goal of GOALS) {
        const text = reference(series, tree, arch, goal);
        const real = parseDotConfig(text);
        const ev = ours(model, tree, arch, goal, real);
        const r = compareConfigs(real, ev.config());
        const rate = ((100 * r.agree) / r.total).toFixed(3);
        const pinnedCount = [...model.symbols.values()].filter((s) => s.envDerived).length;
        console.log(`agreement ${series} ${arch} ${goal}: ${r.agree}/${r.total} symbols = ${rate}% (${pinnedCount} toolchain-derived symbols read from kconfig's result)`);
        assert.deepEqual(r.diffs, [], `${series} ${arch} ${goal}`);
        // The text kconfig writes, byte for byte: order, menu comments, quoting.
        assert.equal(writeDotConfig(ev), text, `${series} ${arch} ${goal}: written .config differs`);
      }
    });
  }
}

/** `make savedefconfig` on a reference build dir, cached beside its .config. */
function referenceDefconfig(series: string, tree: string, arch: string, goal: string): string {
  const out = join(TEST_CACHE, "kconfig", series, arch, goal);
  reference(series, tree, arch, goal);
  const p = join(out, "defconfig");
  if (!existsSync(p)) runKernelKconfig(tree, kconfigArch(arch), out, { goal: "savedefconfig" });
  return readFileSync(p, "utf8");
}

// The same agreement with every $(shell,...) toolchain check run for real with the arch's
// (cross) compiler, so no value comes from the reference; plus savedefconfig, byte for byte,
// and its round trip (the minimal config reproduces the full one).
for (const series of SERIES) {
  for (const arch of ARCHES) {
    const cc = `${kconfigArch(arch).crossCompile}gcc`;
    const skip = !debianTarball(series)
      ? `linux-source-${series} is not installed`
      : !hasCommand(cc)
        ? `${cc} is not installed`
        : false;
    test(`kconfig with real toolchain checks ${series} ${arch}: agreement, savedefconfig, round trip`, { skip }, () => {
      const tree = kernelTree(series);
      const model = loadKconfig(tree, { arch, runShell: true });
      console.log(`${series} ${arch}: ${model.files.length} files parsed, every toolchain check run`);
      assert.equal(model.all.filter((s) => s.unknown).length, 0);
      for (const goal of ["defconfig", "tinyconfig", "virtio", "allmodconfig"]) {
        const text = reference(series, tree, arch, goal);
        const ev = ours(model, tree, arch, goal, new Map());
        const r = compareConfigs(parseDotConfig(text), ev.config());
        console.log(`agreement ${series} ${arch} ${goal} (toolchain checks run): ${r.agree}/${r.total} = ${((100 * r.agree) / r.total).toFixed(3)}%`);
        assert.deepEqual(r.diffs, [], `${series} ${arch} ${goal}`);
        assert.equal(writeDotConfig(ev), text, `${series} ${arch} ${goal}: written .config differs`);

        const full = evaluate(model, { user: parseDotConfig(text) });
        const minimal = writeDefconfig(full);
        assert.equal(minimal, referenceDefconfig(series, tree, arch, goal), `${series} ${arch} ${goal}: savedefconfig differs`);
        assert.equal(writeDotConfig(evaluate(model, { user: parseDotConfig(minimal) })), text, `${series} ${arch} ${goal}: round trip`);
      }
    });
  }
}
