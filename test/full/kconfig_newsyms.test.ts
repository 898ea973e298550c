/**
 * New symbols on a version bump: newSymbols() against `make listnewconfig` of the 6.12 tree
 * reading .config files written by the 6.1 tree (defconfig, tinyconfig, the virtio guest,
 * allmodconfig), per arch. Toolchain checks run for real. Each .config it reads is made here
 * when the cache does not have it (the same folders test/full/kconfig_agreement.test.ts fills),
 * so the file stands alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { kernelTree, TEST_CACHE } from "../support/trees.js";
import { needSource, needs } from "../support/needs.js";
import { virtioFragment } from "../support/kconfig_goals.js";
import { evaluate, loadKconfig, newSymbols, parseDotConfig } from "../../src/kconfig/index.js";
import { hasCommand, kconfigArch, runKernelKconfig } from "../../src/kconfig/run.js";

const GOALS = ["defconfig", "tinyconfig", "virtio", "allmodconfig"];

for (const arch of ["x86_64", "arm64", "riscv"]) {
  const a = kconfigArch(arch);
  const skip = needSource("6.1", "6.12") || needs(!hasCommand(`${a.crossCompile}gcc`) && `${a.crossCompile}gcc is not installed`);
  test(`new symbols from 6.1 to 6.12 (${arch}) equal make listnewconfig`, { skip }, () => {
    const tree = kernelTree("6.12");
    const model = loadKconfig(tree, { arch, runShell: true });
    for (const goal of GOALS) {
      const old = join(TEST_CACHE, "kconfig", "6.1", arch, goal, ".config");
      if (!existsSync(old)) {
        const g = goal === "virtio" ? { goal: "allnoconfig", allconfig: virtioFragment() } : { goal };
        runKernelKconfig(kernelTree("6.1"), a, join(TEST_CACHE, "kconfig", "6.1", arch, goal), g);
      }
      const dir = join(TEST_CACHE, "kconfig", "newsyms", arch, goal);
      const listed = join(dir, "listnewconfig.txt");
      if (!existsSync(listed)) {
        mkdirSync(dir, { recursive: true });
        copyFileSync(old, join(dir, ".config"));
        const args = ["-s", "-C", tree, `O=${dir}`, `ARCH=${a.arch}`];
        if (a.crossCompile) args.push(`CROSS_COMPILE=${a.crossCompile}`);
        writeFileSync(listed, execFileSync("make", [...args, "listnewconfig"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
      }
      const want = readFileSync(listed, "utf8");
      const ev = evaluate(model, { user: parseDotConfig(readFileSync(old, "utf8")) });
      const got = newSymbols(ev);
      const text = got.map((n) => n.line).join("\n") + (got.length ? "\n" : "");
      console.log(`${arch} ${goal}: ${got.length} new symbols (make listnewconfig: ${want.split("\n").filter(Boolean).length})`);
      assert.equal(text, want, `${arch} ${goal}`);
    }
  });
}

test("6.1 listnewconfig prints a symbol once per menu entry (WARN_MISSING_DOCUMENTS twice): newSymbols perEntry matches it", { skip: needSource("6.1") }, () => {
  const tree = kernelTree("6.1");
  const a = kconfigArch("x86_64");
  const dir = join(TEST_CACHE, "kconfig", "6.1", "x86_64", "listnewconfig-defconfig");
  runKernelKconfig(tree, a, dir, { goal: "defconfig" });
  writeFileSync(join(dir, ".config"), readFileSync(join(dir, ".config"), "utf8") + "CONFIG_COMPILE_TEST=y\n");
  const withTest = runKernelKconfig(tree, a, dir, { goal: "olddefconfig" });
  // The two Documentation/Kconfig symbols (visible with COMPILE_TEST) become new.
  const base = withTest.split("\n").filter((l) => !/WARN_(MISSING_DOCUMENTS|ABI_ERRORS)/.test(l)).join("\n");
  writeFileSync(join(dir, ".config"), base);
  const listed = execFileSync("make", ["-s", "-C", tree, `O=${dir}`, `ARCH=${a.arch}`, "listnewconfig"], { encoding: "utf8" });
  const model = loadKconfig(tree, { arch: "x86_64" });
  const user = parseDotConfig(base);
  const ev = evaluate(model, { user, pinned: user });
  assert.equal(listed, newSymbols(ev, { perEntry: true }).map((x) => x.line).join("\n") + (listed ? "\n" : ""));
  assert.equal(listed.split("\n").filter((l) => l.startsWith("CONFIG_WARN_MISSING_DOCUMENTS=")).length, 2, "kconfig prints it twice");
  assert.equal(newSymbols(ev).filter((x) => x.symbol === "CONFIG_WARN_MISSING_DOCUMENTS").length, 1, "the default lists it once");
});
