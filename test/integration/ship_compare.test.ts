/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * The reproducibility comparison: two artifacts (or folders) that differ in one ELF section.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, rmSync, copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fakeInstallTree, RELEASE } from "../fixtures/ship/support.js";
import { writeArtifact } from "../../src/ship/artifact.js";
import { compareArtifacts, compareTrees, renderDifferences } from "../../src/ship/compare.js";
import { readElfSections, firstDifferingSection } from "../../src/core/elf.js";

test("repro comparison names the differing files and the first differing ELF section", async () => {
  const base = mkdtempSync(join(tmpdir(), "kiln-ship-compare-"));
  try {
    const elf = readFileSync("/usr/bin/true");
    const text = readElfSections(elf).find((s) => s.name === ".text")!;
    assert.ok(text && text.size > 16);
    const ko = `lib/modules/${RELEASE}/kernel/demo.ko`;
    const trees = ["a", "b"].map((n) => {
      const t = fakeInstallTree(join(base, n));
      copyFileSync("/usr/bin/true", join(t, ko));
      chmodSync(join(t, ko), 0o644);
      return t;
    });
    const changed = Buffer.from(elf);
    changed[text.offset + 8] = changed[text.offset + 8]! ^ 0xff;
    writeFileSync(join(trees[1]!, ko), changed);
    writeFileSync(join(trees[1]!, "boot", `config-${RELEASE}`), "CONFIG_64BIT=n\n");
    const arts = [];
    for (const [i, t] of trees.entries()) arts.push((await writeArtifact({ entryDir: t, name: "demo", release: RELEASE, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(base, `out${i}`) })).path);
    const d = await compareArtifacts(arts[0]!, arts[1]!);
    assert.deepEqual(d.map((x) => x.path), [`boot/config-${RELEASE}`, ko]);
    assert.match(d[1]!.what, /^content differs \(\d+ vs \d+ bytes\); ELF section \.text: first difference at section offset 0x8/);
    assert.match(renderDifferences(d, "A", "B"), /^2 difference\(s\) between A and B:\n  boot\/config-/);
    assert.deepEqual(await compareArtifacts(arts[0]!, arts[0]!), []);
    const td = compareTrees(trees[0]!, trees[1]!);
    assert.ok(td.some((x) => x.path === ko && /ELF section \.text/.test(x.what)));
    assert.equal(firstDifferingSection(elf, Buffer.from("not elf")), "not comparable by section (file ends before the ELF header: need 64 bytes, file is 7 bytes (at byte 0))");
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
