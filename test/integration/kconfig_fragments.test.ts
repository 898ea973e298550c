/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Real in-tree fragments and defconfigs read without issues (moved from the unit suite: unit
 * tests touch no kernel tree).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseFragment, parseDotConfig } from "../../src/core/fragment.js";
import { debianTarball, kernelTree } from "../support/trees.js";

test("real in-tree fragments and defconfigs parse without issues", { skip: !debianTarball("6.12") && "linux-source-6.12 not installed" }, () => {
  const tree = kernelTree("6.12");
  const files = [
    join(tree, "kernel/configs/kvm_guest.config"),
    join(tree, "kernel/configs/tiny.config"),
    join(tree, "arch/x86/configs/x86_64_defconfig"),
    ...readdirSync(join(tree, "arch/x86/configs")).filter((f) => f.endsWith(".config")).map((f) => join(tree, "arch/x86/configs", f)),
  ];
  for (const f of files) {
    const { requests, issues } = parseFragment(readFileSync(f, "utf8"), f);
    assert.deepEqual(issues, [], f);
    assert.ok(requests.length > 0, f);
  }
  const cfg = parseDotConfig(readFileSync(join(tree, "arch/x86/configs/x86_64_defconfig"), "utf8"));
  assert.equal(cfg.get("SMP"), "y");
  assert.ok(cfg.size > 100);
});

