import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFragment, mergeRequests, parseDotConfig, droppedValues, formatDropped, simulateMergeConfig } from "../../src/core/fragment.js";
import { parseDotConfig as parseKconfigDotConfig } from "../../src/kconfig/index.js";

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

test("one .config reader: the fragment side keeps a string as written, the evaluator side unquotes it", () => {
  const text = '# CONFIG_A is not set\nCONFIG_CMDLINE="console=ttyS0 \\"q\\""\nCONFIG_HZ=0x64\nCONFIG_B=y\nCONFIG_B=m\n';
  const asWritten = parseDotConfig(text);
  const unquoted = parseKconfigDotConfig(text);
  assert.deepEqual([...asWritten.keys()], [...unquoted.keys()]);
  assert.equal(asWritten.get("CMDLINE"), '"console=ttyS0 \\"q\\""');
  assert.equal(unquoted.get("CMDLINE"), 'console=ttyS0 "q"');
  assert.equal(asWritten.get("B"), "m", "the later line wins in both");
  assert.equal(unquoted.get("A"), "n");
  // A request compares with the final value as written.
  const d = droppedValues(mergeRequests([parseFragment('CONFIG_CMDLINE="console=ttyS0 \\"q\\""\n', "a.config").requests]).merged, asWritten);
  assert.deepEqual(d, []);
});

test("merge_config.sh's substring deletion: a later CONFIG_SPI removes an earlier ..._SYSCONFIG_SPI line", () => {
  const a = { file: "a.config", text: "CONFIG_SPI=y\nCONFIG_FPGA=y\nCONFIG_FPGA_MGR_LATTICE_SYSCONFIG_SPI=y\n" };
  const b = { file: "b.config", text: "CONFIG_SPI=y\n" };
  const r = simulateMergeConfig([a, b]);
  assert.deepEqual(r.deletions.map((x) => [x.symbol, x.origin.file, x.origin.line, x.by.symbol, x.by.origin.line]), [["FPGA_MGR_LATTICE_SYSCONFIG_SPI", "a.config", 3, "SPI", 1]]);
  assert.equal(r.text, "CONFIG_FPGA=y\n\nCONFIG_SPI=y\n");
  // grep -w must find CONFIG_SPI as a word first: without an earlier CONFIG_SPI nothing is deleted.
  const c = simulateMergeConfig([{ file: "a.config", text: "CONFIG_FPGA_MGR_LATTICE_SYSCONFIG_SPI=y\n" }, b]);
  assert.deepEqual(c.deletions, []);
  assert.match(c.text, /SYSCONFIG_SPI=y/);
  // A plain redefinition is not a collision.
  assert.deepEqual(simulateMergeConfig([{ file: "x", text: "CONFIG_A=y\n" }, { file: "y", text: "# CONFIG_A is not set\n" }]).deletions, []);
});
