/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Every Kconfig file of x86, arm64 and riscv in the real Debian 6.1 and 6.12 trees parses
 * without error or warning, and the three arches together reach every Kconfig file of the tree
 * except those only other arches source.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { debianTarball, kernelTree } from "../support/trees.js";
import { loadKconfig, menuPath } from "../../src/kconfig/index.js";
import { kconfigArch } from "../../src/kconfig/run.js";

const ARCHES = ["x86_64", "arm64", "riscv"];

/** Kconfig files no x86/arm64/riscv build reads: examples in the docs, other arches' drivers. */
const ONLY_OTHER_ARCHES = new Set([
  "Documentation/kbuild/Kconfig.recursion-issue-01",
  "Documentation/kbuild/Kconfig.recursion-issue-02",
  "Documentation/kbuild/Kconfig.select-break",
  "drivers/parisc/Kconfig",
  "drivers/sh/intc/Kconfig",
  "drivers/sh/Kconfig",
  "drivers/zorro/Kconfig",
  "drivers/sbus/char/Kconfig",
  "arch/x86/um/Kconfig", // ARCH=um
]);

for (const series of ["6.1", "6.12"]) {
  test(`every Kconfig file of x86, arm64 and riscv parses (${series})`, { skip: debianTarball(series) ? false : `linux-source-${series} is not installed` }, () => {
    const tree = kernelTree(series);
    const reached = new Set<string>();
    for (const arch of ARCHES) {
      const t0 = performance.now();
      const m = loadKconfig(tree, { arch });
      console.log(`${series} ${arch}: ${m.files.length} files, ${m.symbols.size} symbols in ${(performance.now() - t0).toFixed(0)} ms`);
      assert.deepEqual(m.warnings, []);
      assert.ok(m.files.length > 1000);
      for (const f of m.files) reached.add(f);
      // Every defined symbol has a type and a menu path that resolves.
      for (const s of m.symbols.values()) {
        if (s.nodes.length === 0) continue;
        assert.notEqual(s.type, "unknown", `CONFIG_${s.name} has no type`);
        for (const n of s.nodes) menuPath(n);
      }
      assert.ok(m.symbols.get("MODULES")?.isModules);
      const srcArch = kconfigArch(arch).srcArch;
      assert.ok(m.files.includes(`arch/${srcArch}/Kconfig`));
    }
    const all = execFileSync("find", [".", "-name", "Kconfig*", "-type", "f", "-not", "-path", "./scripts/kconfig/tests/*"], { cwd: tree, encoding: "utf8" })
      .trim()
      .split("\n")
      .map((s) => s.slice(2));
    const ours = ["arch/x86/", "arch/arm64/", "arch/riscv/"];
    const missing = all.filter(
      (f) => !reached.has(f) && !ONLY_OTHER_ARCHES.has(f) && (!f.startsWith("arch/") || ours.some((p) => f.startsWith(p))),
    );
    assert.deepEqual(missing, []);
  });
}
