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
