/**
 * Three explanation shapes the wider explain property found (seeds 5-24 on Debian's 6.12 tree),
 * on excerpts of the real Kconfig text of those symbols (help texts cut):
 *   - a hidden choice that needs `INITRAMFS_SOURCE != ""`: the flip of a string is a quoted
 *     non-empty value (kconfig skips an unquoted `CONFIG_INITRAMFS_SOURCE=y`);
 *   - ACPI_MDIO=m: `def_tristate PHYLIB` takes PHYLIB's value, so m needs PHYLIB=m;
 *   - TTY_PRINTK_LEVEL=90 behind `depends on TTY_PRINTK` with `range 1 7`: enabling the
 *     dependency gives 7, never 90, and the explanation says so.
 * Each case was checked against kconfig on the tree (merge_config.sh -n): XZ kept with
 * INITRAMFS_SOURCE="usr/initramfs_list" and not with =y; ACPI_MDIO=m with PHYLIB=m, =y with
 * PHYLIB=y; TTY_PRINTK_LEVEL=7 with TTY_PRINTK=y.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluate, explainRequest, formatConfigLine, parseKconfig, type EvalInput, type KconfigModel } from "../../src/kconfig/index.js";
import { kconfigUserValues } from "../../src/pipeline/audit.js";

const FILES: Record<string, string> = {
  Kconfig: `
config MODULES
	bool "Enable loadable module support"
	modules
config EXPERT
	bool "Configure standard kernel features (expert users)"
config TTY
	bool "Enable TTY"
	default y
config NETDEVICES
	bool "Network device support"
config ACPI
	bool "ACPI (Advanced Configuration and Power Interface) Support"
source "init/Kconfig"
source "drivers/char/Kconfig"
if NETDEVICES
source "drivers/net/phy/Kconfig"
source "drivers/net/mdio/Kconfig"
endif
`,
  // init/Kconfig:1387 and usr/Kconfig (6.12), sourced inside `if BLK_DEV_INITRD`.
  "init/Kconfig": `
config BLK_DEV_INITRD
	bool "Initial RAM filesystem and RAM disk (initramfs/initrd) support"

if BLK_DEV_INITRD

source "usr/Kconfig"

endif
`,
  "usr/Kconfig": `
config INITRAMFS_SOURCE
	string "Initramfs source file(s)"
	default ""

config RD_XZ
	bool "Support initial ramdisk/ramfs compressed using XZ"
	default y
	select DECOMPRESS_XZ

config DECOMPRESS_XZ
	tristate

choice
	prompt "Built-in initramfs compression mode"
	depends on INITRAMFS_SOURCE != ""

config INITRAMFS_COMPRESSION_XZ
	bool "XZ"
	depends on RD_XZ

config INITRAMFS_COMPRESSION_NONE
	bool "None"

endchoice
`,
  // drivers/char/Kconfig:10-30 (6.12).
  "drivers/char/Kconfig": `
config TTY_PRINTK
	tristate "TTY driver to output user messages via printk"
	depends on EXPERT && TTY
	default n

config TTY_PRINTK_LEVEL
	depends on TTY_PRINTK
	int "ttyprintk log level (1-7)"
	range 1 7
	default "6"
`,
  "drivers/net/phy/Kconfig": `
menuconfig PHYLIB
	tristate "PHY Device support and infrastructure"
	depends on NETDEVICES
	select MDIO_DEVICE
`,
  // drivers/net/mdio/Kconfig:6-42 (6.12); drivers/net/Kconfig sources it inside `if NETDEVICES`.
  "drivers/net/mdio/Kconfig": `
menuconfig MDIO_DEVICE
	tristate "MDIO bus device drivers"

if MDIO_DEVICE

config ACPI_MDIO
	def_tristate PHYLIB
	depends on ACPI
	depends on PHYLIB

endif
`,
};

function model(): KconfigModel {
  return parseKconfig((p) => FILES[p], { rangeRule: "clamp", host: { env: () => undefined } });
}

/** Like the fragments method: merged text over allnoconfig, read as KCONFIG_ALLCONFIG. */
function run(m: KconfigModel, text: string, force?: Record<string, string>) {
  const input: EvalInput = { user: kconfigUserValues(m, text), allDefault: "n", read: "allconfig", ...(force ? { force: new Map(Object.entries(force)) } : {}) };
  const ev = evaluate(m, input);
  const v = (n: string): string => (ev.written(m.symbols.get(n)!) ? ev.value(m.symbols.get(n)!) : "n");
  const why = (n: string, value: string) => explainRequest(ev, { symbol: n, value }, (x) => (text.includes(`CONFIG_${x}=`) ? `f.config:${text.split("\n").findIndex((l) => l.startsWith(`CONFIG_${x}=`)) + 1}` : undefined));
  return { ev, v, why };
}

/** The flips written as fragment lines, the way the property (and a user) writes them. */
function flipLines(m: KconfigModel, flips: Record<string, string>): string {
  return Object.entries(flips).map(([k, v]) => formatConfigLine(k, m.symbols.get(k)!.type, v)).join("\n") + "\n";
}

test('a choice hidden by `INITRAMFS_SOURCE != ""`: the string shows quoted, its flip is a quoted non-empty value', () => {
  const m = model();
  const r = run(m, "CONFIG_INITRAMFS_COMPRESSION_XZ=y\n");
  const e = r.why("INITRAMFS_COMPRESSION_XZ", "y");
  assert.equal(e.rule, "dependency");
  assert.match(e.text, /it is an entry of "Built-in initramfs compression mode", which is hidden: it depends on BLK_DEV_INITRD \(=n\) && INITRAMFS_SOURCE!="" \(=n; INITRAMFS_SOURCE is ""\)/);
  assert.ok(e.actions.includes('set CONFIG_INITRAMFS_SOURCE to a non-empty string (it is "")'), e.actions.join("; "));
  assert.equal(e.flips.BLK_DEV_INITRD, "y");
  assert.notEqual(e.flips.INITRAMFS_SOURCE ?? "", "", "a string flip is a non-empty string");
  const lines = flipLines(m, e.flips);
  assert.match(lines, /^CONFIG_INITRAMFS_SOURCE=".+"$/m);
  // The flips as a fragment keep the request; the unquoted form kconfig skips does not.
  assert.equal(run(m, lines + "CONFIG_INITRAMFS_COMPRESSION_XZ=y\n").v("INITRAMFS_COMPRESSION_XZ"), "y");
  const unquoted = run(m, "CONFIG_BLK_DEV_INITRD=y\nCONFIG_INITRAMFS_SOURCE=y\nCONFIG_RD_XZ=y\nCONFIG_INITRAMFS_COMPRESSION_XZ=y\n");
  assert.equal(unquoted.v("INITRAMFS_SOURCE"), "", "kconfig skips an unquoted string");
  assert.equal(unquoted.v("INITRAMFS_COMPRESSION_XZ"), "n");
});

test("an unquoted string request is an invalid value, and kconfigUserValues skips it (a quoted number too)", () => {
  const m = model();
  const user = kconfigUserValues(m, 'CONFIG_INITRAMFS_SOURCE="a"\nCONFIG_INITRAMFS_SOURCE=y\nCONFIG_TTY_PRINTK_LEVEL="5"\n# CONFIG_INITRAMFS_SOURCE is not set\n');
  assert.equal(user.get("INITRAMFS_SOURCE"), "a", "the earlier valid line stays, as in conf_read_simple");
  assert.equal(user.has("TTY_PRINTK_LEVEL"), false);
  const r = run(m, "CONFIG_BLK_DEV_INITRD=y\nCONFIG_INITRAMFS_SOURCE=y\n");
  const e = r.why("INITRAMFS_SOURCE", "y");
  assert.equal(e.rule, "invalid");
  assert.match(e.text, /^CONFIG_INITRAMFS_SOURCE: requested y -> got , because CONFIG_INITRAMFS_SOURCE is a string: a string value must be quoted \("y"\); kconfig skips an unquoted one/);
  assert.deepEqual(e.actions, ['write CONFIG_INITRAMFS_SOURCE="y"']);
});

test("ACPI_MDIO=m: `def_tristate PHYLIB` takes PHYLIB's value, so the flip sets PHYLIB=m (PHYLIB=y gives y)", () => {
  const m = model();
  const r = run(m, "CONFIG_ACPI_MDIO=m\n");
  const e = r.why("ACPI_MDIO", "m");
  assert.equal(e.rule, "no-prompt");
  assert.match(e.text, /only its default can set it, and that default \(PHYLIB, drivers\/net\/mdio\/Kconfig:8\) is off: it needs NETDEVICES \(=n\) && MDIO_DEVICE \(=n\) && ACPI \(=n\) && PHYLIB \(=n\); it takes the value of PHYLIB, so m needs CONFIG_PHYLIB=m; and with CONFIG_MODULES=n an m would become y anyway$/);
  assert.deepEqual(e.flips, { NETDEVICES: "y", MDIO_DEVICE: "y", ACPI: "y", PHYLIB: "m", MODULES: "y" });
  assert.ok(e.actions.includes("set CONFIG_PHYLIB=m") && !e.actions.includes("enable CONFIG_PHYLIB"), e.actions.join("; "));
  // Forced (as the property checks) and written as a fragment: m is kept; with PHYLIB=y it is not.
  assert.equal(run(m, "CONFIG_ACPI_MDIO=m\n", e.flips).v("ACPI_MDIO"), "m");
  assert.equal(run(m, flipLines(m, e.flips)).v("ACPI_MDIO"), "m");
  assert.equal(run(m, flipLines(m, { ...e.flips, PHYLIB: "y" })).v("ACPI_MDIO"), "y");
});

test("TTY_PRINTK_LEVEL=90 behind TTY_PRINTK: the explanation names the range too, and the flip leads to 7", () => {
  const m = model();
  const r = run(m, "CONFIG_TTY_PRINTK_LEVEL=90\n");
  const e = r.why("TTY_PRINTK_LEVEL", "90");
  assert.equal(e.rule, "dependency");
  assert.equal(
    e.text,
    "CONFIG_TTY_PRINTK_LEVEL: requested 90 -> got n (not written), because it depends on TTY_PRINTK (=n), so kconfig does not write it; and 90 is outside its range 1..7 (drivers/char/Kconfig:10), so once that is fixed this tree's kconfig would clamp it to 7: 90 can never be kept",
  );
  assert.deepEqual(e.actions, ["enable CONFIG_TTY_PRINTK", "use a value in 1..7"]);
  assert.deepEqual(e.flips, { TTY_PRINTK: "y" });
  assert.equal(e.afterFlips, "7");
  assert.equal(run(m, "CONFIG_TTY_PRINTK_LEVEL=90\n", e.flips).v("TTY_PRINTK_LEVEL"), "7");
  assert.equal(run(m, "CONFIG_EXPERT=y\nCONFIG_TTY=y\nCONFIG_TTY_PRINTK=y\nCONFIG_TTY_PRINTK_LEVEL=90\n").v("TTY_PRINTK_LEVEL"), "7");
  // In range, the dependency alone is the reason: no afterFlips.
  const ok = run(m, "CONFIG_TTY_PRINTK_LEVEL=5\n").why("TTY_PRINTK_LEVEL", "5");
  assert.equal(ok.afterFlips, undefined);
  assert.doesNotMatch(ok.text, /range/);
  assert.equal(run(m, "CONFIG_TTY_PRINTK_LEVEL=5\n", ok.flips).v("TTY_PRINTK_LEVEL"), "5");
});
