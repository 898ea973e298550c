/**
 * Values judged as kconfig judges them, and the reason a request lost, on small Kconfig trees.
 * The same rules on Debian's trees: test/integration/kconfig_explain_cases.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluate, explainRequest, invalidValueReason, parseDotConfig, parseKconfig, validUserValue, type EvalInput } from "../../src/kconfig/index.js";

const KCONFIG = `
config MODULES
	bool "modules"
	modules
config EXPERT
	bool "expert"
config SHIFT
	int "shift"
	range 12 25
	default 17
config ADDR
	hex "addr"
	default 0x1000
config PRINTK
	bool "printk"
	default y
config BRIDGE
	tristate "bridge"
config BR_NF
	tristate "bridge netfilter"
	depends on BRIDGE
config LIB
	tristate
config USER
	tristate "user"
	select LIB
config NEEDS_SELECT
	bool
config DRIVER
	bool "driver"
	select NEEDS_SELECT
config ARCHY
	bool "archy"
	depends on SPARC || EXPERT
choice
	prompt "mode"
	default MODE_A
config MODE_A
	bool "a"
config MODE_B
	bool "b"
endchoice
`;

function model(rangeRule: "reset" | "clamp") {
  return parseKconfig((p) => (p === "Kconfig" ? KCONFIG : undefined), { rangeRule, host: { env: () => undefined } });
}
function run(rangeRule: "reset" | "clamp", text: string, extra: Partial<EvalInput> = {}) {
  const m = model(rangeRule);
  const ev = evaluate(m, { user: parseDotConfig(text), ...extra });
  const v = (n: string) => (ev.written(m.symbols.get(n)!) ? ev.value(m.symbols.get(n)!) : "n");
  const why = (n: string, value: string) => explainRequest(ev, { symbol: n, value }, (x) => (text.includes(`CONFIG_${x}=`) ? `f.config:${text.split("\n").findIndex((l) => l.startsWith(`CONFIG_${x}=`)) + 1}` : undefined));
  return { m, ev, v, why };
}

test("kconfig's value syntax: no leading zeros for int, bare hex digits, y/n only for bool, strings quoted", () => {
  assert.equal(validUserValue("int", "18"), true);
  assert.equal(validUserValue("int", "0"), true);
  assert.equal(validUserValue("int", "-0"), true);
  assert.equal(validUserValue("int", "018"), false);
  assert.equal(validUserValue("hex", "ff"), true);
  assert.equal(validUserValue("hex", "0X1f"), true);
  assert.equal(validUserValue("hex", "0x"), false);
  assert.equal(validUserValue("bool", "m"), false);
  assert.equal(validUserValue("tristate", "m"), true);
  assert.match(invalidValueReason("int", "0654") ?? "", /leading zero \(0654\); write 654/);
  assert.match(invalidValueReason("bool", "m") ?? "", /m is not a value of a bool/);
  assert.match(invalidValueReason("string", "abc") ?? "", /must be quoted/);
  assert.equal(invalidValueReason("string", '"abc"'), undefined);
  assert.match(invalidValueReason("int", '"5"') ?? "", /not quoted/);
});

test("out of range: 6.12 clamps, 6.1's olddefconfig resets to the default, KCONFIG_ALLCONFIG clamps in both", () => {
  assert.equal(run("clamp", "CONFIG_SHIFT=30\n").v("SHIFT"), "25");
  assert.equal(run("clamp", "CONFIG_SHIFT=3\n").v("SHIFT"), "12");
  assert.equal(run("reset", "CONFIG_SHIFT=30\n").v("SHIFT"), "17");
  assert.equal(run("reset", "CONFIG_SHIFT=30\n", { read: "allconfig" }).v("SHIFT"), "25");
  assert.match(run("clamp", "CONFIG_SHIFT=30\n").why("SHIFT", "30").text, /^CONFIG_SHIFT: requested 30 -> got 25, because its range is 12\.\.25 \(Kconfig:9\) and this tree's kconfig clamps/);
  assert.match(run("reset", "CONFIG_SHIFT=30\n").why("SHIFT", "30").text, /-> got 17, because .*drops an out-of-range value, so default 17 \(Kconfig:10\) applies/);
});

test("an invalid value is ignored: leading zero gives the default, m for a bool is as if unset (allnoconfig: n)", () => {
  const r = run("clamp", "CONFIG_SHIFT=018\nCONFIG_PRINTK=m\nCONFIG_ADDR=2000\n", { allDefault: "n" });
  assert.equal(r.v("SHIFT"), "17");
  assert.equal(r.v("PRINTK"), "n");
  assert.equal(r.v("ADDR"), "2000", "bare hex digits are kept as written");
  assert.equal(run("clamp", "CONFIG_PRINTK=m\n").v("PRINTK"), "y", "without allnoconfig the default applies");
  assert.equal(run("clamp", "", { allDefault: "m" }).v("PRINTK"), "y", "allmodconfig still gives bools m, read as y");
  assert.match(r.why("PRINTK", "m").text, /requested m -> got n.*is a bool: kconfig accepts only y or n/);
});

test("explainRequest names the real cause: select, m-cap, modules, choice, a missing selecting driver, an undefined symbol", () => {
  const r = run("clamp", "CONFIG_MODULES=y\nCONFIG_BRIDGE=m\nCONFIG_BR_NF=y\nCONFIG_USER=y\nCONFIG_LIB=m\nCONFIG_NEEDS_SELECT=y\nCONFIG_ARCHY=y\nCONFIG_MODE_B=y\nCONFIG_MODE_A=y\n", { allDefault: "n" });
  const capped = r.why("BR_NF", "y");
  assert.equal(capped.text, "CONFIG_BR_NF: requested y -> got m, because it depends on BRIDGE (=m); CONFIG_BRIDGE is set at f.config:2, which limits it to m");
  assert.deepEqual(capped.actions, ["set CONFIG_BRIDGE=y"]);
  const sel = r.why("LIB", "m");
  assert.equal(sel.rule, "select");
  assert.match(sel.text, /requested m -> got y, because CONFIG_USER \(=y, set at f\.config:4\) selects it/);
  assert.deepEqual(sel.flips, { USER: "n" });
  const driver = r.why("NEEDS_SELECT", "y");
  assert.match(driver.text, /has no prompt: only a symbol that selects it can turn it on/);
  assert.deepEqual(driver.actions, ["enable one of CONFIG_DRIVER (they select CONFIG_NEEDS_SELECT)"]);
  const archy = r.why("ARCHY", "y");
  assert.match(archy.text, /SPARC \(not defined for this arch\), EXPERT \(=n\)/);
  assert.doesNotMatch(archy.text, /SPARC \(=SPARC\)/);
  assert.deepEqual(archy.actions, ["enable CONFIG_EXPERT"]);
  const choice = r.why("MODE_B", "y");
  assert.match(choice.text, /entry of the choice "mode" and CONFIG_MODE_A=y, requested at f\.config:9, took precedence/);
  const mods = run("clamp", "CONFIG_BRIDGE=m\n").why("BRIDGE", "m");
  assert.equal(mods.rule, "modules");
  assert.match(mods.text, /requested m -> got y, because CONFIG_MODULES=n/);
  const both = run("clamp", "# CONFIG_MODE_A is not set\n# CONFIG_MODE_B is not set\n");
  const on = both.v("MODE_A") === "y" ? "MODE_A" : "MODE_B";
  assert.equal(both.v(on), "y", "a choice always has one entry selected");
  const none = both.why(on, "n");
  assert.match(none.text, /"mode" is a choice that always has one entry selected, and CONFIG_MODE_. is/);
  for (const x of [capped, sel, driver, archy, choice, mods, none]) assert.doesNotMatch(x.text, /\bas requested/);
});

test("pinned view: a choice member hidden behind a toolchain check is visible exactly when the .config wrote it", () => {
  const text = `
choice
	prompt "compress"
	default C_NONE
config C_NONE
	bool "none"
config C_ZSTD
	bool "zstd"
	depends on $(shell,echo y)
endchoice
`;
  const m = parseKconfig((p) => (p === "Kconfig" ? text : undefined), { host: { env: () => undefined } });
  const pinned = parseDotConfig("CONFIG_C_ZSTD=y\n# CONFIG_C_NONE is not set\n");
  const ev = evaluate(m, { user: pinned, pinned });
  assert.equal(ev.value(m.symbols.get("C_ZSTD")!), "y");
  assert.equal(ev.value(m.symbols.get("C_NONE")!), "n");
});
