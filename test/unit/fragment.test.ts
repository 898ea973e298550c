import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseFragment, mergeRequests, parseDotConfig, droppedValues, formatDropped } from "../../src/core/fragment.js";
import { debianTarball, kernelTree } from "../support/trees.js";

test("fragments: set, not-set as n, comments; file:line for malformed and duplicate lines", () => {
  const text = "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"str\"\nCONFIG_D=0x10\nnonsense here\nCONFIG_A=m\nCONFIG_E=maybe\n";
  const { requests, issues } = parseFragment(text, "frag.config", "common");
  assert.deepEqual(requests.map((r) => [r.symbol, r.value, r.origin.line]), [["A", "y", 2], ["B", "n", 3], ["C", '"str"', 4], ["D", "0x10", 5]]);
  assert.deepEqual(issues.map((i) => [i.kind, i.origin.line]), [["malformed", 6], ["duplicate", 7], ["malformed", 8]]);
  assert.match(issues[1]!.message, /given twice .*first at line 2/);
});

test("merge: later layer wins and redefinitions are recorded with both origins", () => {
  const a = parseFragment("CONFIG_X=y\nCONFIG_Y=y\n", "a.config", "common").requests;
  const b = parseFragment("# CONFIG_X is not set\nCONFIG_Y=y\n", "b.config", "debug").requests;
  const { merged, redefinitions } = mergeRequests([a, b]);
  assert.equal(merged.get("X")!.value, "n");
  assert.equal(redefinitions.length, 1);
  assert.equal(redefinitions[0]!.from.origin.file, "a.config");
  assert.equal(redefinitions[0]!.to.origin.file, "b.config");
});

test("dropped values: requested vs final, unset counts as n, with file and line", () => {
  const req = parseFragment("CONFIG_UBSAN_BOUNDS=y\n# CONFIG_FOO is not set\nCONFIG_BAR=y\nCONFIG_HZ=0x64\n", "debug.config").requests;
  const final = parseDotConfig("# CONFIG_UBSAN is not set\nCONFIG_BAR=y\nCONFIG_HZ=100\n");
  const d = droppedValues(mergeRequests([req]).merged, final);
  assert.deepEqual(d.map((x) => [x.symbol, x.requested, x.actual, x.origin.line]), [["UBSAN_BOUNDS", "y", "n", 1], ["HZ", "0x64", "100", 4]]);
  assert.match(formatDropped(d[0]!), /^debug.config:1: requested CONFIG_UBSAN_BOUNDS=y, got CONFIG_UBSAN_BOUNDS absent/);
});

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

test("a line can opt out of the mismatch gate with a reason, shown in the report", () => {
  const text = "# kiln-allow: needs UBSAN, enabled only in debug builds\nCONFIG_UBSAN_BOUNDS=y\n\n# kiln-allow: dangling, the blank line ends it\n\nCONFIG_KASAN=y\n";
  const { requests, issues } = parseFragment(text, "x.config");
  assert.deepEqual(issues, []);
  assert.equal(requests[0]!.allow, "needs UBSAN, enabled only in debug builds");
  assert.equal(requests[1]!.allow, undefined);
  const d = droppedValues(mergeRequests([requests]).merged, parseDotConfig(""));
  assert.match(formatDropped(d[0]!), /\(allowed: needs UBSAN, enabled only in debug builds\)$/);
  assert.equal(d[1]!.allow, undefined);
});
