/**
 * The pinned view (toolchain checks not run, their symbols read from a .config kconfig wrote):
 * each check's result is inferred from that .config, so choices, visibility and savedefconfig
 * are kconfig's. Fixtures are excerpts of Debian's 6.12 tree (scripts/Kconfig.include,
 * arch/Kconfig, arch/x86/Kconfig, lib/Kconfig.debug; help texts trimmed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluate, explain, inferChecks, parseDotConfig, parseKconfig, writeDefconfig, writeDotConfig, type KconfigModel } from "../../src/kconfig/index.js";
import { realShell } from "../../src/kconfig/run.js";

const KCONFIG = `
comma       := ,
if-success = $(shell,{ $(1); } >/dev/null 2>&1 && echo "$(2)" || echo "$(3)")
success = $(if-success,$(1),y,n)
cc-option = $(success,trap "rm -rf .tmp_$$" EXIT; mkdir .tmp_$$; $(CC) -Werror $(CLANG_FLAGS) $(1) -c -x c /dev/null -o .tmp_$$/tmp.o)
ld-option = $(success,$(LD) -v $(1))

config X86_64
	bool "64-bit kernel"

config HAVE_STACKPROTECTOR
	def_bool y

config STACKPROTECTOR
	bool "Stack Protector buffer overflow detection"
	depends on HAVE_STACKPROTECTOR
	depends on $(cc-option,-fstack-protector)
	default y

config STACKPROTECTOR_STRONG
	bool "Strong Stack Protector"
	depends on STACKPROTECTOR
	depends on $(cc-option,-fstack-protector-strong)
	default y

config X86_X32_ABI
	bool "x32 ABI for 64-bit mode"
	depends on X86_64
	depends on $(success,$(OBJCOPY) --version | head -n1 | grep -qv llvm)

choice
	prompt "Compressed Debug information"

config DEBUG_INFO_COMPRESSED_NONE
	bool "Don't compress debug information"

config DEBUG_INFO_COMPRESSED_ZLIB
	bool "Compress debugging information with zlib"
	depends on $(cc-option,-gz=zlib)
	depends on $(ld-option,--compress-debug-sections=zlib)

config DEBUG_INFO_COMPRESSED_ZSTD
	bool "Compress debugging information with zstd"
	depends on $(cc-option,-gz=zstd)
	depends on $(ld-option,--compress-debug-sections=zstd)

endchoice
`;

/** The pinned view: no environment, no shell. */
function pinnedModel(): KconfigModel {
  return parseKconfig((p) => (p === "Kconfig" ? KCONFIG : undefined), { host: { env: () => undefined } });
}

/** The same Kconfig with its checks run for real with this host's gcc and binutils. */
function realModel(): KconfigModel {
  const env: Record<string, string> = { CC: "gcc", LD: "ld", OBJCOPY: "objcopy", CLANG_FLAGS: "", PATH: process.env.PATH ?? "/usr/bin:/bin" };
  return parseKconfig((p) => (p === "Kconfig" ? KCONFIG : undefined), { host: { env: (n) => env[n], shell: realShell(process.cwd(), env) } });
}

test("every unknown check is its own symbol, so each gets its own result", () => {
  const m = pinnedModel();
  const checks = m.all.filter((s) => s.isConst && s.unknown);
  assert.equal(checks.length, 7, "two stack-protector checks, the x32 objcopy check, four compression checks");
  assert.equal(m.symbols.get("STACKPROTECTOR")?.envDerived, true);
  assert.equal(m.symbols.get("X86_64")?.envDerived, false);
});

test("pinned view: savedefconfig keeps STACKPROTECTOR=n and X86_X32_ABI=y, as make savedefconfig does", () => {
  const real = realModel();
  const request = parseDotConfig("CONFIG_X86_64=y\n# CONFIG_STACKPROTECTOR is not set\nCONFIG_X86_X32_ABI=y\n");
  const truth = evaluate(real, { user: request });
  const dotconfig = parseDotConfig(writeDotConfig(truth));
  assert.equal(dotconfig.get("STACKPROTECTOR"), "n");
  assert.equal(dotconfig.get("X86_X32_ABI"), "y");
  const want = writeDefconfig(truth);
  assert.equal(want, "CONFIG_X86_64=y\n# CONFIG_STACKPROTECTOR is not set\nCONFIG_X86_X32_ABI=y\n");

  const m = pinnedModel();
  const ev = evaluate(m, { user: dotconfig, pinned: dotconfig });
  assert.deepEqual(ev.config(), dotconfig);
  assert.equal(writeDefconfig(ev), want);
  // The round trip: the minimal config read back gives the same .config.
  const back = evaluate(m, { user: parseDotConfig(want), pinned: dotconfig });
  assert.deepEqual(back.config(), dotconfig);
  const checks = inferChecks(m, dotconfig);
  assert.equal(checks.size, 7);
  // STACKPROTECTOR is written as "is not set", so its prompt was visible: the check passed.
  const sp = m.symbols.get("STACKPROTECTOR")!;
  assert.equal(ev.visibility(sp), 2);
});

test("pinned view: with DEBUG_INFO_COMPRESSED_ZSTD chosen, ZSTD is the selected entry and savedefconfig names it", () => {
  const m = pinnedModel();
  // What kconfig writes with a toolchain that supports -gz=zstd, ZSTD requested.
  const dotconfig = parseDotConfig(
    "# CONFIG_X86_64 is not set\nCONFIG_HAVE_STACKPROTECTOR=y\nCONFIG_STACKPROTECTOR=y\nCONFIG_STACKPROTECTOR_STRONG=y\n# CONFIG_DEBUG_INFO_COMPRESSED_NONE is not set\n# CONFIG_DEBUG_INFO_COMPRESSED_ZLIB is not set\nCONFIG_DEBUG_INFO_COMPRESSED_ZSTD=y\n",
  );
  const ev = evaluate(m, { user: dotconfig, pinned: dotconfig });
  const zstd = m.symbols.get("DEBUG_INFO_COMPRESSED_ZSTD")!;
  const choice = zstd.choice!;
  assert.equal(ev.choiceSelection(choice)?.name, "DEBUG_INFO_COMPRESSED_ZSTD");
  assert.equal(ev.value(m.symbols.get("DEBUG_INFO_COMPRESSED_NONE")!), "n");
  assert.match(explain(ev, "DEBUG_INFO_COMPRESSED_NONE").text, /selected entry is CONFIG_DEBUG_INFO_COMPRESSED_ZSTD/);
  assert.match(explain(ev, "DEBUG_INFO_COMPRESSED_ZSTD").text, /it is the selected entry/);
  assert.equal(writeDefconfig(ev), "CONFIG_DEBUG_INFO_COMPRESSED_ZSTD=y\n");
  assert.deepEqual(ev.config(), dotconfig);
});

test("pinned view: a toolchain without zstd (ZSTD not written) hides ZSTD as kconfig does; a request for ZSTD then gets the first visible entry", () => {
  const real = realModel();
  const truth = evaluate(real, { user: parseDotConfig("CONFIG_DEBUG_INFO_COMPRESSED_ZLIB=y\n") });
  const dotconfig = parseDotConfig(writeDotConfig(truth));
  const m = pinnedModel();
  const ev = evaluate(m, { user: dotconfig, pinned: dotconfig });
  const zlib = m.symbols.get("DEBUG_INFO_COMPRESSED_ZLIB")!;
  assert.equal(ev.choiceSelection(zlib.choice!)?.name, truth.choiceSelection(real.symbols.get("DEBUG_INFO_COMPRESSED_ZLIB")!.choice!)?.name);
  assert.equal(ev.choiceSelection(zlib.choice!)?.name, "DEBUG_INFO_COMPRESSED_ZLIB");
  const zstd = m.symbols.get("DEBUG_INFO_COMPRESSED_ZSTD")!;
  assert.equal(ev.visibility(zstd), truth.visibility(real.symbols.get("DEBUG_INFO_COMPRESSED_ZSTD")!));
  assert.equal(writeDefconfig(ev), writeDefconfig(truth));
  // A request the pinned view predicts: ZSTD asked for, ZLIB kept because ZSTD is hidden.
  const ask = evaluate(m, { user: parseDotConfig("CONFIG_DEBUG_INFO_COMPRESSED_ZSTD=y\n"), pinned: dotconfig });
  assert.equal(ask.choiceSelection(zlib.choice!)?.name, "DEBUG_INFO_COMPRESSED_NONE");
});
