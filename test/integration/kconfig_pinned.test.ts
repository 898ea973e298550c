/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * The pinned view on Debian's 6.12 tree for x86_64 (toolchain checks not run; their symbols and
 * results come from the .config kconfig wrote): a fragment choosing a compressed-debug-info entry
 * behind `$(cc-option)`/`$(ld-option)`, with STACKPROTECTOR off and X86_X32_ABI on, and three
 * randconfig seeds. kiln's choice report and writeDefconfig must equal kconfig's .config and
 * `make savedefconfig`. Runs kconfig only (no compile).
 *
 * This host's gcc 12 and clang 14 reject -gz=zstd, so kconfig hides DEBUG_INFO_COMPRESSED_ZSTD
 * here: the fragment requests ZSTD after ZLIB, and kconfig (and kiln) select ZLIB. The ZSTD-chosen
 * case, as a zstd-capable toolchain writes it, is in test/unit/kconfig_pinned.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debianTarball, kernelTree, TEST_CACHE } from "../support/trees.js";
import { evaluate, explain, loadKconfig, parseDotConfig, writeDefconfig } from "../../src/kconfig/index.js";
import { kconfigArch, runKernelKconfig } from "../../src/kconfig/run.js";
import { pinnedSeed } from "../../bench/pinned_view.js";

const FRAGMENT = `CONFIG_64BIT=y
CONFIG_DEBUG_KERNEL=y
CONFIG_DEBUG_INFO_DWARF5=y
CONFIG_DEBUG_INFO_COMPRESSED_ZLIB=y
CONFIG_DEBUG_INFO_COMPRESSED_ZSTD=y
# CONFIG_STACKPROTECTOR is not set
CONFIG_X86_X32_ABI=y
`;

const skip = debianTarball("6.12") ? false : "linux-source-6.12 is not installed";

test("pinned view: compressed debug info choice and savedefconfig with STACKPROTECTOR/X86_X32_ABI equal kconfig (6.12 x86_64)", { skip }, () => {
  const tree = kernelTree("6.12");
  const a = kconfigArch("x86_64");
  const out = join(TEST_CACHE, "kconfig", "6.12", "x86_64", "pinned-view");
  mkdirSync(out, { recursive: true });
  const frag = join(out, "fragment.config");
  writeFileSync(frag, FRAGMENT);
  const real = parseDotConfig(runKernelKconfig(tree, a, out, { goal: "allnoconfig", allconfig: frag }));
  runKernelKconfig(tree, a, out, { goal: "savedefconfig" });
  const realDef = readFileSync(join(out, "defconfig"), "utf8");
  assert.equal(real.get("DEBUG_INFO_COMPRESSED_ZLIB"), "y", "kconfig chose ZLIB");
  assert.equal(real.has("DEBUG_INFO_COMPRESSED_ZSTD"), false, "ZSTD is hidden by this toolchain");
  assert.equal(real.get("STACKPROTECTOR"), "n");
  assert.equal(real.get("X86_X32_ABI"), "y");
  assert.match(realDef, /^# CONFIG_STACKPROTECTOR is not set$/m);
  assert.match(realDef, /^CONFIG_X86_X32_ABI=y$/m);

  const model = loadKconfig(tree, { arch: "x86_64" });
  const zlib = model.symbols.get("DEBUG_INFO_COMPRESSED_ZLIB")!;
  for (const ev of [evaluate(model, { user: real, pinned: real }), evaluate(model, { user: parseDotConfig(FRAGMENT), allDefault: "n", pinned: real })]) {
    assert.deepEqual(ev.config(), real);
    assert.equal(ev.choiceSelection(zlib.choice!)?.name, "DEBUG_INFO_COMPRESSED_ZLIB");
    assert.match(explain(ev, "DEBUG_INFO_COMPRESSED_NONE").text, /selected entry is CONFIG_DEBUG_INFO_COMPRESSED_ZLIB/);
    assert.equal(writeDefconfig(ev), realDef);
  }
});

test("pinned view: three randconfig seeds, every choice and savedefconfig equal kconfig (6.12 x86_64)", { skip }, () => {
  const tree = kernelTree("6.12");
  const model = loadKconfig(tree, { arch: "x86_64" });
  for (const seed of [7, 8, 9]) {
    const r = pinnedSeed(model, tree, "x86_64", join(TEST_CACHE, "kconfig", "6.12", "x86_64", "pinned-rand"), seed);
    assert.ok(r.choices > 50, `seed ${seed}: ${r.choices} choices checked`);
    assert.deepEqual(r.choiceMismatches, [], `seed ${seed}`);
    assert.deepEqual(r.defconfigDiff, [], `seed ${seed}: savedefconfig`);
    assert.equal(r.defconfigEqual, true, `seed ${seed}: savedefconfig order`);
  }
});
