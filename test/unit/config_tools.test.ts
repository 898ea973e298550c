/**
 * Pure parts of the config tools: diffconfig-compatible diff and grouping, listnewconfig /
 * helpnewconfig readers and the pending file text, ARK priority files and per-symbol files,
 * the layer plan and its kiln.toml snippet.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readConfigValues, diffConfigValues, formatDiffconfig, groupByMenu, formatGrouped, ALL_MENU, UNKNOWN_MENU, type MenuIndex } from "../../src/config/diff.js";
import { parseListNewconfig, parseHelpNewconfig, pendingFileText, PENDING_HEADER } from "../../src/config/new_symbols.js";
import { configBody, fragmentFromDefconfig } from "../../src/config/export.js";
import { parsePriority, checkSymbolFile, planLayers, kilnTargets, tomlSnippet, dashedName } from "../../src/config/ark.js";
import { parseProject } from "../../src/project/load.js";
import { parseFragment } from "../../src/core/fragment.js";

test("diff: removed, changed, added in diffconfig's order and format; not-set reads as n", () => {
  const a = readConfigValues('#\n# header\n#\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S="x"\nCONFIG_GONE=y\n');
  const b = readConfigValues('CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=y\nCONFIG_S="y"\nCONFIG_NEW=64\n# CONFIG_OFF is not set\n');
  const d = diffConfigValues(a, b);
  assert.equal(formatDiffconfig(d), "-GONE y\n B m -> y\n C n -> y\n S \"x\" -> \"y\"\n+NEW 64\n+OFF n\n");
  assert.deepEqual(groupByMenu(d).map((g) => [g.menu, g.entries.length]), [[[ALL_MENU], 6]]);
});

test("diff: groups follow menu order, unknown symbols last", () => {
  const d = diffConfigValues(readConfigValues("CONFIG_A=y\nCONFIG_Z=y\n"), readConfigValues("CONFIG_A=n\nCONFIG_B=y\nCONFIG_Q=y\n"));
  const where: Record<string, { menu: string[]; order: number }> = { A: { menu: ["Drivers"], order: 5 }, B: { menu: ["General setup"], order: 1 }, Z: { menu: ["Drivers"], order: 6 } };
  const index: MenuIndex = { locate: (s) => where[s] };
  const g = groupByMenu(d, index);
  assert.deepEqual(g.map((x) => [x.menu.join(">"), x.entries.map((e) => e.symbol)]), [["General setup", ["B"]], ["Drivers", ["Z", "A"]], [UNKNOWN_MENU, ["Q"]]]);
  assert.match(formatGrouped(g), /^# General setup\n\+B y\n# Drivers\n-Z y\n A y -> n\n/);
});

test("listnewconfig and helpnewconfig output are read per symbol", () => {
  const list = parseListNewconfig("make[1]: Entering directory '/x'\nCONFIG_FOO=n\nCONFIG_BAR=\"abc\"\nCONFIG_N=64\nCONFIG_FOO=n\n");
  assert.deepEqual(list.map((s) => `${s.symbol}=${s.value}`), ["FOO=n", 'BAR="abc"', "N=64", "FOO=n"]);
  const help = parseHelpNewconfig("-----\n\nCONFIG_FOO:\n\nSays foo.\n\nSymbol: FOO [=n]\nType  : bool\n\n-----\n-----\n\nCONFIG_BAR:\n\nThere is no help available for this option.\nSymbol: BAR [=]\n-----\n");
  assert.deepEqual([...help.keys()], ["FOO", "BAR"]);
  assert.deepEqual(help.get("FOO"), ["CONFIG_FOO:", "", "Says foo.", "", "Symbol: FOO [=n]", "Type  : bool"]);
  const text = pendingFileText(list[0]!, help.get("FOO")!, "next 6.12.1");
  assert.ok(text.startsWith(PENDING_HEADER));
  assert.ok(text.endsWith("#\n# CONFIG_FOO is not set\n"));
  assert.match(text, /^# Says foo\.$/m);
  // a pending file is itself a valid one-symbol fragment
  const f = parseFragment(text, "CONFIG_FOO");
  assert.deepEqual([f.issues.length, f.requests.map((r) => r.symbol)], [0, ["FOO"]]);
  assert.equal(checkSymbolFile("CONFIG_BAR", pendingFileText(list[1]!, [], "x"), "CONFIG_BAR").length, 0);
});

test("export: header comments are ignored, kiln's identity lines leave the fragment", () => {
  assert.equal(configBody("#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.12 Kernel Configuration\n#\nCONFIG_A=y\n# CONFIG_B is not set\n"), "CONFIG_A=y\n# CONFIG_B is not set\n");
  const frag = fragmentFromDefconfig('CONFIG_A=y\nCONFIG_LOCALVERSION="-x-123"\n# CONFIG_LOCALVERSION_AUTO is not set\n# CONFIG_B is not set\n', ["exported"]);
  assert.equal(frag, "# exported\nCONFIG_A=y\n# CONFIG_B is not set\n");
});

const PRIORITY = `# priority.fedora
EMPTY=s390x
ORDER=common fedora pending-fedora custom-overrides

# x86_64
x86_64=generic:generic-x86:generic-x86-x86_64
x86_64-debug=generic:generic-x86:generic-x86-x86_64:debug:debug-x86:debug-x86-x86_64

# aarch64
aarch64=generic:generic-arm:generic-arm-aarch64
ppc64le=generic:generic-powerpc
`;

test("ARK priority files: ORDER, EMPTY, arch-variant layer lists; bad lines get file:line", () => {
  const { priority, issues } = parsePriority(PRIORITY, "/ark/priority.fedora");
  assert.deepEqual(issues, []);
  assert.equal(priority.flavor, "fedora");
  assert.deepEqual(priority.order, ["common", "fedora", "pending-fedora", "custom-overrides"]);
  assert.deepEqual(priority.empty, ["s390x"]);
  assert.deepEqual(priority.variants.map((v) => [v.key, v.arch, v.variant, v.layers.length, v.line]), [["x86_64", "x86_64", "", 3, 6], ["x86_64-debug", "x86_64", "debug", 6, 7], ["aarch64", "aarch64", "", 3, 10], ["ppc64le", "ppc64le", "", 2, 11]]);
  const bad = parsePriority("x86_64=generic::x\nsparc=generic\nthis is not a line\nx86_64=generic\n", "/ark/priority.rhel").issues;
  assert.deepEqual(bad.map((i) => `${i.file}:${i.line}`), ["/ark/priority.rhel:1", "/ark/priority.rhel:2", "/ark/priority.rhel:3", "/ark/priority.rhel:4", "/ark/priority.rhel:1"]);
  assert.match(bad[0]!.message, /invalid layer name/);
  assert.match(bad[1]!.message, /unknown arch/);
  assert.match(bad[3]!.message, /given twice \(first at line 1\)/);
  assert.match(bad[4]!.message, /no ORDER= line/);
});

test("ARK per-symbol files: name, single setting, readable lines; errors carry file:line", () => {
  assert.deepEqual(checkSymbolFile("CONFIG_FOO", "# help\n#\nCONFIG_FOO=m\n", "/a/CONFIG_FOO"), []);
  assert.deepEqual(checkSymbolFile("CONFIG_FOO", "# CONFIG_FOO is not set\n", "/a/CONFIG_FOO"), []);
  const cases: [string, string, string][] = [
    ["CONFIG_FOO", "CONFIG_BAR=y\n", "/a/CONFIG_FOO:1: sets CONFIG_BAR, but the file is named CONFIG_FOO"],
    ["CONFIG_FOO", "# just a comment\n", "/a/CONFIG_FOO:1: holds no setting"],
    ["CONFIG_FOO", "# c\nCONFIG_FOO=yes\n", "/a/CONFIG_FOO:2: CONFIG_FOO: cannot read the value"],
    ["CONFIG_FOO", "CONFIG_FOO=y\nCONFIG_FOO=m\n", "/a/CONFIG_FOO:2: CONFIG_FOO is given twice"],
    ["CONFIG_FOO", "CONFIG_FOO=y\nFOO=y\n", "/a/CONFIG_FOO:2: not a CONFIG_ line"],
  ];
  for (const [name, text, want] of cases) {
    const got = checkSymbolFile(name, text, "/a/CONFIG_FOO").map((i) => `${i.file}:${i.line}: ${i.message}`);
    assert.ok(got.some((g) => g.startsWith(want)), `${JSON.stringify(text)}: ${got.join(" | ")}`);
  }
});

test("ARK layer plan: ORDER outer, arch-variant layers inner; kiln.toml snippet validates", () => {
  const { priority } = parsePriority(PRIORITY, "/ark/priority.fedora");
  const dirs = (l: string[]) => new Map(l.map((d) => [dashedName(d), d]));
  const folders = new Map([
    ["common", new Map([...dirs(["generic", "generic/x86", "generic/x86/x86_64", "generic/arm", "generic/arm/aarch64", "debug", "debug/x86"])].map(([k, v]) => [k, `common/${v}`]))],
    ["fedora", new Map([...dirs(["generic", "generic/x86"])].map(([k, v]) => [k, `fedora/${v}`]))],
    ["custom-overrides", new Map([...dirs(["generic"])].map(([k, v]) => [k, `custom-overrides/${v}`]))],
  ]);
  const usable = { ...priority, variants: priority.variants.filter((v) => v.arch !== "ppc64le") };
  const plans = planLayers(usable, folders);
  assert.deepEqual(plans[0]!.layers.map((l) => l.dir), ["common/generic", "common/generic/x86", "common/generic/x86/x86_64", "fedora/generic", "fedora/generic/x86", "custom-overrides/generic"]);
  assert.deepEqual(plans[1]!.missing, ["debug-x86-x86_64"]);
  const targets = kilnTargets(plans, "config/ark");
  const names = targets.map((t) => t.name);
  assert.deepEqual(names, ["fedora-x86-64", "fedora-aarch64", "fedora-debug"]);
  const toml = `name = "ark"\n[source.linux]\ndebian = "linux-source-6.12"\n` + tomlSnippet(targets, { source: "linux", comment: "imported" });
  const project = parseProject(toml, "/p/kiln.toml");
  assert.deepEqual(Object.keys(project.targets), names);
  const layers = project.targets["fedora-debug"]!.config.layers;
  assert.equal(layers.length, 8);
  assert.deepEqual(layers[layers.length - 1], { path: "config/ark/custom-overrides/generic", override: true, optional: false });
});
