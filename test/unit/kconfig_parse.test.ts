/**
 * Small parser and evaluator cases for the Kconfig reader. Real trees are covered by
 * test/integration/kconfig_*.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProjectError } from "../../src/errors.js";
import { evaluate, explain, menuPath, parseDotConfig, parseKconfig, type MacroHost } from "../../src/kconfig/index.js";
import { realShell } from "../../src/kconfig/run.js";

const MODULES = `
config MODULES
	bool "Enable loadable module support"
	modules
`;

function tree(files: Record<string, string>, host: Partial<MacroHost> = {}) {
  return parseKconfig((p) => files[p], {
    host: { env: (n) => ({ SRCARCH: "x86", ARCH: "x86_64" })[n], ...host },
  });
}

function cfg(text: string, files: Record<string, string>, allDefault?: "n" | "y" | "m") {
  const m = tree(files);
  return { m, ev: evaluate(m, { user: parseDotConfig(text), allDefault }) };
}

test("parses types, prompts, defaults, depends, select and help text", () => {
  const m = tree({
    Kconfig: `mainmenu "Test"
${MODULES}
config A
	bool "A prompt" if B
	default y
	depends on C || \\
	   D
	select E if F
	help
	  First line.

	    indented more
	  last line
config B
	def_bool y
config C
	tristate
config D
	int "number"
	range 1 10
config E
	string
	default "x\\"y"
config F
	hex
	default 0x10
`,
  });
  const a = m.symbols.get("A");
  assert.ok(a);
  assert.equal(a.type, "bool");
  assert.deepEqual(
    a.props.map((p) => p.kind),
    ["prompt", "default", "select"],
  );
  assert.equal(a.nodes[0]?.help, "First line.\n\n  indented more\nlast line");
  assert.equal(m.symbols.get("E")?.props[0]?.expr?.t, "sym");
  assert.equal(m.mainmenu, "Test");
  assert.equal(m.modules?.name, "MODULES");
});

test("macros: source with $(SRCARCH), simple and recursive variables, user functions", () => {
  const m = tree({
    Kconfig: `
greet = hello-$(1)
X := $(greet,world)
Y = $(X)
source "arch/$(SRCARCH)/Kconfig"
config S
	string
	default "$(Y)"
config T
	string
	default "$(filename):$(lineno)"
`,
    "arch/x86/Kconfig": "config ARCHSYM\n\tdef_bool y\n",
  });
  assert.ok(m.symbols.get("ARCHSYM"));
  const ev = evaluate(m, { user: new Map() });
  assert.equal(ev.value(m.symbols.get("S")!), "hello-world");
  assert.equal(ev.value(m.symbols.get("T")!), "Kconfig:11");
  assert.deepEqual(m.files, ["Kconfig", "arch/x86/Kconfig"]);
});

test("$(shell,...) runs with sh when a runner is given, and is unknown otherwise", () => {
  const files = {
    Kconfig: `
success = $(shell,{ $(1); } >/dev/null 2>&1 && echo y || echo n)
config HAS_TRUE
	def_bool $(success,true)
config HAS_FALSE
	def_bool $(success,false)
config WORDS
	string
	default "$(shell,printf 'a\\nb\\n')"
`,
  };
  const real = tree(files, { shell: realShell(process.cwd(), {}) });
  const ev = evaluate(real, { user: new Map() });
  assert.equal(ev.value(real.symbols.get("HAS_TRUE")!), "y");
  assert.equal(ev.value(real.symbols.get("HAS_FALSE")!), "n");
  assert.equal(ev.value(real.symbols.get("WORDS")!), "a b");

  const unknown = tree(files);
  assert.equal(unknown.symbols.get("HAS_TRUE")?.envDerived, true);
  const pinned = parseDotConfig("CONFIG_HAS_TRUE=y\n# CONFIG_HAS_FALSE is not set\n");
  const ev2 = evaluate(unknown, { user: new Map(), pinned });
  assert.equal(ev2.value(unknown.symbols.get("HAS_TRUE")!), "y");
  assert.equal(ev2.written(unknown.symbols.get("WORDS")!), false);
  assert.match(explain(ev2, "HAS_TRUE").text, /toolchain/);
});

test("tristate logic: m is capped to y without MODULES, kept with it", () => {
  const files = {
    Kconfig: `${MODULES}
config T
	tristate "t"
config U
	tristate "u"
	depends on T
config B
	bool "b"
	depends on T
`,
  };
  let { m, ev } = cfg("CONFIG_T=m\nCONFIG_U=y\nCONFIG_B=y\n", files);
  assert.equal(ev.value(m.symbols.get("T")!), "y");
  ({ m, ev } = cfg("CONFIG_MODULES=y\nCONFIG_T=m\nCONFIG_U=y\nCONFIG_B=y\n", files));
  assert.equal(ev.value(m.symbols.get("T")!), "m");
  assert.equal(ev.value(m.symbols.get("U")!), "m", "limited by its dependency");
  assert.equal(ev.value(m.symbols.get("B")!), "y", "bool depending on m is visible as y");
});

test("select forces, imply suggests, dependencies of if/menu propagate", () => {
  const files = {
    Kconfig: `${MODULES}
config SEL
	bool "sel"
	select TARGET
	imply SOFT
config TARGET
	bool "target"
	depends on OFF
config SOFT
	bool "soft"
config OFF
	bool "off"
if OFF
config INSIDE
	bool "inside"
	default y
endif
menu "M"
	depends on SEL
config INMENU
	def_bool y
endmenu
`,
  };
  const { m, ev } = cfg("CONFIG_SEL=y\n# CONFIG_OFF is not set\n", files);
  const v = (n: string) => ev.value(m.symbols.get(n)!);
  assert.equal(v("TARGET"), "y", "select ignores dependencies");
  assert.equal(v("SOFT"), "y");
  assert.equal(v("INSIDE"), "n");
  assert.equal(v("INMENU"), "y");
  assert.equal(explain(ev, "TARGET").text, "CONFIG_TARGET=y because CONFIG_SEL selects it");
  assert.equal(explain(ev, "INSIDE").text, "CONFIG_INSIDE=n because it depends on OFF (=n): enable CONFIG_OFF");
  const ev2 = evaluate(m, { user: parseDotConfig("CONFIG_SEL=y\n# CONFIG_SOFT is not set\n") });
  assert.equal(ev2.value(m.symbols.get("SOFT")!), "n", "imply yields to the user");
});

test("choices: user entry, default with condition, first visible entry", () => {
  const files = {
    Kconfig: `
config COND
	bool "cond"
choice
	prompt "Pick"
	default TWO if COND
config ONE
	bool "one"
config TWO
	bool "two"
config THREE
	bool "three"
	depends on COND
endchoice
`,
  };
  let { m, ev } = cfg("", files);
  assert.equal(ev.value(m.symbols.get("ONE")!), "y");
  ({ m, ev } = cfg("CONFIG_COND=y\n", files));
  assert.equal(ev.value(m.symbols.get("TWO")!), "y");
  ({ m, ev } = cfg("CONFIG_COND=y\nCONFIG_THREE=y\n", files));
  assert.equal(ev.value(m.symbols.get("THREE")!), "y");
  assert.equal(ev.value(m.symbols.get("TWO")!), "n");
  assert.equal(explain(ev, "TWO").text, 'CONFIG_TWO=n: it is in "Pick" whose selected entry is CONFIG_THREE');
  ({ m, ev } = cfg("CONFIG_THREE=y\n", files));
  assert.equal(ev.value(m.symbols.get("ONE")!), "y", "an invisible user choice falls back");
});

test("ranges clamp defaults and reject out-of-range user values; visibility hides prompts", () => {
  const files = {
    Kconfig: `
config EXPERT
	bool "expert"
config N
	int "n"
	range 2 8
	default 20
config H
	hex "h"
	range 0x10 0x20
	default 0x18
config HIDDEN
	bool "hidden" if EXPERT
	default y
menu "Vis"
	visible if EXPERT
config UNDER
	bool "under"
endmenu
`,
  };
  const { m, ev } = cfg("CONFIG_H=0x40\nCONFIG_HIDDEN=n\nCONFIG_UNDER=y\n", files);
  assert.equal(ev.value(m.symbols.get("N")!), "8");
  assert.equal(ev.value(m.symbols.get("H")!), "0x18");
  assert.equal(ev.value(m.symbols.get("HIDDEN")!), "y");
  assert.equal(ev.value(m.symbols.get("UNDER")!), "n");
  assert.match(explain(ev, "HIDDEN").text, /not visible, so its default applies/);
  assert.match(explain(ev, "HIDDEN").details.join("\n"), /its prompt depends on EXPERT \(=n\)/);
});

test("allnoconfig: prompted symbols become n, hidden ones keep their defaults", () => {
  const files = {
    Kconfig: `
config VISIBLE
	bool "visible"
	default y
config HIDDEN
	bool
	default y
`,
  };
  const { m, ev } = cfg("", files, "n");
  assert.equal(ev.value(m.symbols.get("VISIBLE")!), "n");
  assert.equal(ev.value(m.symbols.get("HIDDEN")!), "y");
  assert.deepEqual([...ev.config()], [["VISIBLE", "n"], ["HIDDEN", "y"]]);
});

test("menu paths follow menus and implicit submenus", () => {
  const m = tree({
    Kconfig: `
menu "Top"
menuconfig FEAT
	bool "Feature"
config FEAT_A
	bool "a"
	depends on FEAT
config OTHER
	bool "other"
endmenu
`,
  });
  assert.deepEqual(menuPath(m.symbols.get("FEAT_A")!.nodes[0]!), ["Top", "Feature"]);
  assert.deepEqual(menuPath(m.symbols.get("OTHER")!.nodes[0]!), ["Top"]);
});

test("errors name file and line", () => {
  const check = (files: Record<string, string>, re: RegExp) => {
    assert.throws(
      () => tree(files),
      (e: unknown) => e instanceof ProjectError && re.test(e.render()),
    );
  };
  check({ Kconfig: 'menu "x"\nconfig A\n\tbool\n' }, /^Kconfig:1: 'menu' is never closed/);
  check({ Kconfig: "config A\n\tbool\n\tfrobnicate\n" }, /^Kconfig:3: unknown statement 'frobnicate'/);
  check({ Kconfig: 'config A\n\tbool\nsource "missing/Kconfig"\n' }, /^Kconfig:3: can't open file "missing\/Kconfig"/);
  check({ Kconfig: "config A\n\tbool\nendif\n" }, /^Kconfig:3: unexpected 'endif'/);
  check({ Kconfig: "config A\n\tdepends on (B\n" }, /^Kconfig:2: syntax error/);
  check({ Kconfig: "X := $(error-if,y,broken tree)\n" }, /^Kconfig:1: broken tree/);
  check({ Kconfig: "A = $(B)\nB = $(A)\nC := $(A)\n" }, /^Kconfig:3: Recursive variable 'A' references itself/);
});

test("explain: m promoted to y, an invisible int, a symbol only select can set", () => {
  const files = {
    Kconfig: `${MODULES}
config SMP
	bool "smp"
config NR
	int "cpus" if SMP
	default 1
config T
	tristate "t"
config HIDDEN_LIB
	bool
config USER
	bool "user"
	select HIDDEN_LIB
config NEEDS_LIB
	bool "needs lib"
	depends on HIDDEN_LIB
`,
  };
  const { ev } = cfg("CONFIG_T=m\nCONFIG_NR=8\nCONFIG_NEEDS_LIB=y\n", files);
  assert.equal(explain(ev, "CONFIG_T").text, "CONFIG_T=y: requested m, but CONFIG_MODULES=n turns m into y");
  assert.equal(explain(ev, "NR").text, "CONFIG_NR=1: not visible: its prompt depends on SMP (=n), so its default applies: 1 (Kconfig:10)");
  assert.deepEqual(explain(ev, "NR").actions, ["enable CONFIG_SMP"]);
  const lib = explain(ev, "NEEDS_LIB");
  assert.equal(lib.reason, "dependency");
  assert.deepEqual(lib.actions, ["enable one of CONFIG_USER (they select CONFIG_HIDDEN_LIB)"]);
});
