/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * The audit's reason for each kind of lost request, on Debian's trees with the trees' own
 * merge_config.sh and kconfig: a select forcing a value up (CRYPTO_GCM, CRYPTO_LIB_CHACHA,
 * VT_HW_CONSOLE_BINDING), a dependency capping at m (BRIDGE=m), an undefined dependency (SPARC),
 * a range clamp (6.12) against a reset (6.1 olddefconfig), a leading zero, m for a bool, a
 * symbol that needs a selecting driver, and merge_config.sh's substring deletion.
 * Runs kconfig only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debianTarball, kernelTree, TEST_CACHE } from "../support/trees.js";
import { droppedValues, mergeRequests, parseDotConfig, parseFragment } from "../../src/core/fragment.js";
import { formatFinding, type Finding } from "../../src/core/audit.js";
import { auditCell, explainConfigured, IDENTITY_FRAGMENT, judgeRequestsInTree } from "../../src/pipeline/audit.js";
import type { ConfigureResult } from "../../src/pipeline/configure.js";
import { kconfigArch, runKernelKconfig } from "../../src/kconfig/run.js";
import { mergeConfig } from "./kconfig_property.js";

const COMMON = `CONFIG_MODULES=y
CONFIG_NET=y
CONFIG_INET=y
CONFIG_INET_ESP=y
CONFIG_CRYPTO=y
CONFIG_CRYPTO_GCM=m
CONFIG_CRYPTO_LIB_CHACHA20POLY1305=y
# CONFIG_CRYPTO_LIB_CHACHA is not set
CONFIG_TTY=y
CONFIG_VT=y
CONFIG_FB=y
CONFIG_FRAMEBUFFER_CONSOLE=y
# CONFIG_VT_HW_CONSOLE_BINDING is not set
CONFIG_NETFILTER=y
CONFIG_NETFILTER_ADVANCED=y
CONFIG_BRIDGE=m
CONFIG_BRIDGE_NETFILTER=y
CONFIG_RTC_CLASS=y
CONFIG_RTC_DRV_BQ4802=y
CONFIG_PRINTK=y
CONFIG_LOG_BUF_SHIFT=30
CONFIG_DEFAULT_MMAP_MIN_ADDR=0654
CONFIG_SPI=y
CONFIG_FPGA=y
CONFIG_FPGA_MGR_LATTICE_SYSCONFIG_SPI=y
CONFIG_KVM_COMMON=y
CONFIG_UBSAN_BOUNDS=y
`;
const LATER = "CONFIG_SPI=y\n";

async function audit(series: string, arch: string, method: "fragments" | "make", files: Record<string, string>): Promise<{ findings: Finding[]; final: Map<string, string>; explain: (symbol: string) => string }> {
  const tree = kernelTree(series);
  const dir = join(TEST_CACHE, "kconfig-cases", series, arch, method);
  mkdirSync(dir, { recursive: true });
  const frags = Object.entries(files).map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return { layer: "config", file: join(dir, name), rel: `config/${name}`, override: true };
  });
  writeFileSync(join(dir, "identity.config"), IDENTITY_FRAGMENT);
  const build = join(dir, "build");
  let final: string;
  if (method === "fragments") final = await mergeConfig(tree, arch, build, [...frags.map((f) => f.file), join(dir, "identity.config")]);
  else {
    // kiln's make method: the goal, then merge_config.sh -m on top, then olddefconfig.
    const a = kconfigArch(arch);
    runKernelKconfig(tree, a, build, { goal: "defconfig" });
    execFileSync(join(tree, "scripts/kconfig/merge_config.sh"), ["-m", "-O", build, join(build, ".config"), ...frags.map((f) => f.file), join(dir, "identity.config")], { cwd: tree, env: { ...process.env, ARCH: a.arch }, stdio: "pipe" });
    final = runKernelKconfig(tree, a, build, { goal: "olddefconfig" });
  }
  const parsed = frags.map((f) => parseFragment(readFileSync(f.file, "utf8"), f.rel, f.layer));
  const { merged } = mergeRequests(parsed.map((p) => p.requests));
  const issues = [...parsed.flatMap((p) => p.issues), ...judgeRequestsInTree(tree, arch, [...merged.values()])];
  const dropped = droppedValues(merged, parseDotConfig(final)).filter((d) => !d.symbol.startsWith("LOCALVERSION"));
  const cfg: ConfigureResult = { method, ...(method === "fragments" ? { base: "allnoconfig" as const } : {}), fragments: frags, requested: merged.size, redefinitions: [], dropped, issues, configText: final };
  const findings = auditCell(tree, arch, cfg, final);
  console.log(findings.map(formatFinding).join("\n"));
  // What `kiln config explain` prints first (the function the CLI calls), from the same requests.
  const explain = (symbol: string): string => {
    const x = explainConfigured(tree, arch, cfg, final, merged, symbol);
    console.log(x.text + x.actions.map((a) => `\n  to change it: ${a}`).join(""));
    return [x.text, ...x.actions].join("\n");
  };
  return { findings, final: parseDotConfig(final), explain };
}

const by = (f: Finding[], sym: string): string => {
  const x = f.find((y) => y.symbol === sym || y.why.includes(`CONFIG_${sym}=`));
  assert.ok(x, `a finding for ${sym}`);
  return formatFinding(x);
};

test("6.12 x86_64: every lost request says requested -> got, because the real cause", { skip: debianTarball("6.12") ? false : "linux-source-6.12 is not installed" }, async () => {
  const { findings: f, final, explain } = await audit("6.12", "x86_64", "fragments", { "a.config": COMMON, "b.config": LATER });
  for (const x of f) assert.doesNotMatch(x.why, /\bas requested/, formatFinding(x));
  assert.equal(final.get("CRYPTO_GCM"), "y");
  assert.match(by(f, "CRYPTO_GCM"), /CONFIG_CRYPTO_GCM requested m, got y \[layer config\]: CONFIG_CRYPTO_GCM=y because CONFIG_XFRM_ESP \(=y, selected by CONFIG_INET_ESP\) selects it/);
  assert.match(by(f, "CRYPTO_GCM"), /selects it and a select raises a module to the selector's value: drop CONFIG_INET_ESP=y at config\/a\.config:4 \(it selects CONFIG_XFRM_ESP\)/);
  assert.match(by(f, "CRYPTO_LIB_CHACHA"), /CONFIG_CRYPTO_LIB_CHACHA=y because CONFIG_CRYPTO_LIB_CHACHA20POLY1305 \(=y, set at config\/a\.config:7\) selects it/);
  assert.match(by(f, "CRYPTO_LIB_CHACHA"), /selects it: drop CONFIG_CRYPTO_LIB_CHACHA20POLY1305=y at config\/a\.config:7/);
  assert.match(by(f, "VT_HW_CONSOLE_BINDING"), /CONFIG_VT_HW_CONSOLE_BINDING=y because CONFIG_FRAMEBUFFER_CONSOLE \(=y, set at config\/a\.config:12\) selects it/);
  assert.match(by(f, "BRIDGE_NETFILTER"), /CONFIG_BRIDGE_NETFILTER=m because it depends on BRIDGE \(=m\); CONFIG_BRIDGE is set at config\/a\.config:16, which limits it to m/);
  assert.match(by(f, "BRIDGE_NETFILTER"), /which limits it to m: set CONFIG_BRIDGE=y$/m);
  assert.match(by(f, "RTC_DRV_BQ4802"), /SPARC \(not defined for this arch\)/);
  assert.doesNotMatch(by(f, "RTC_DRV_BQ4802"), /SPARC \(=SPARC\)|one of: one of:/);
  assert.equal(final.get("LOG_BUF_SHIFT"), "25");
  assert.match(by(f, "LOG_BUF_SHIFT"), /CONFIG_LOG_BUF_SHIFT=25 because its range is 12\.\.25 \(init\/Kconfig:767\) and this tree's kconfig clamps/);
  assert.match(by(f, "DEFAULT_MMAP_MIN_ADDR"), /invalid value CONFIG_DEFAULT_MMAP_MIN_ADDR .*leading zero \(0654\); write 654/);
  assert.match(by(f, "KVM_COMMON"), /CONFIG_KVM_COMMON=n because it has no prompt: only a symbol that selects it can turn it on, and none of its 1 selector is on: enable one of CONFIG_KVM_X86 \(they select CONFIG_KVM_COMMON\)/);
  assert.match(by(f, "UBSAN_BOUNDS"), /CONFIG_UBSAN_BOUNDS=n because it depends on UBSAN \(=n\): enable CONFIG_UBSAN$/);
  assert.match(by(f, "FPGA_MGR_LATTICE_SYSCONFIG_SPI"), /merge deleted CONFIG_FPGA_MGR_LATTICE_SYSCONFIG_SPI .*CONFIG_SPI at config\/b\.config:1 matches inside the name/);
  assert.equal(final.get("FPGA_MGR_LATTICE_SYSCONFIG_SPI"), "n", "merge_config.sh really deleted it: allnoconfig set it n");

  // kiln config explain: from the requests, never "as requested" for a value that lost.
  for (const sym of ["CRYPTO_GCM", "CRYPTO_LIB_CHACHA", "VT_HW_CONSOLE_BINDING", "BRIDGE_NETFILTER", "RTC_DRV_BQ4802", "LOG_BUF_SHIFT", "KVM_COMMON", "UBSAN_BOUNDS"]) {
    const x = explain(sym);
    assert.match(x, new RegExp(`^CONFIG_${sym}: requested \\S+ at config/a\\.config:\\d+ -> got \\S+.*, because `), x);
    assert.doesNotMatch(x, /as requested/, x);
  }
  assert.match(explain("CRYPTO_GCM"), /^CONFIG_CRYPTO_GCM: requested m at config\/a\.config:6 -> got y, because CONFIG_XFRM_ESP \(=y, selected by CONFIG_INET_ESP\) selects it and a select raises a module to the selector's value\ndrop CONFIG_INET_ESP=y at config\/a\.config:4/);
  assert.match(explain("BRIDGE_NETFILTER"), /-> got m, because it depends on BRIDGE \(=m\); CONFIG_BRIDGE is set at config\/a\.config:16, which limits it to m\nset CONFIG_BRIDGE=y/);
  assert.match(explain("LOG_BUF_SHIFT"), /requested 30 at config\/a\.config:21 -> got 25, because its range is 12\.\.25 .* clamps/);
  // Nobody requested these: the answer is the select, the default, the choice.
  assert.match(explain("XFRM_ESP"), /^CONFIG_XFRM_ESP=y, not requested by any layer: because CONFIG_INET_ESP selects it/);
  assert.match(explain("CONSOLE_LOGLEVEL_DEFAULT"), /^CONFIG_CONSOLE_LOGLEVEL_DEFAULT=7, not requested by any layer: default "7" \(lib\/Kconfig\.debug:\d+\)/);
  assert.match(explain("HZ_250"), /^CONFIG_HZ_250=y, not requested by any layer: it is the selected entry of "Timer frequency" \(it is the choice's default\)/);
  // A request that survived, and one merge_config.sh deleted.
  assert.match(explain("NET"), /^CONFIG_NET: requested y at config\/a\.config:2 -> got y, as requested/);
  assert.match(explain("FPGA_MGR_LATTICE_SYSCONFIG_SPI"), /requested y at config\/a\.config:25 -> got n, because merge_config\.sh deleted the line: CONFIG_SPI at config\/b\.config:1 matches inside the name/);
});

test("6.12 x86_64: m for a bool is an invalid value, and kconfig gives n on allnoconfig", { skip: debianTarball("6.12") ? false : "linux-source-6.12 is not installed" }, async () => {
  // PRINTK's prompt needs EXPERT; with it visible, the ignored line leaves allnoconfig's n.
  const { findings: f, final } = await audit("6.12", "x86_64", "fragments", { "a.config": "CONFIG_EXPERT=y\nCONFIG_PRINTK=m\n" });
  assert.equal(final.get("PRINTK") ?? "n", "n");
  assert.match(by(f, "PRINTK"), /invalid value .*m is not a value of a bool/);
});

test("6.1 x86_64 olddefconfig resets an out-of-range value to its default (6.12 clamps it)", { skip: debianTarball("6.1") ? false : "linux-source-6.1 is not installed" }, async () => {
  const { findings: f, final } = await audit("6.1", "x86_64", "make", { "a.config": "CONFIG_LOG_BUF_SHIFT=30\n" });
  assert.equal(final.get("LOG_BUF_SHIFT"), "17");
  assert.match(by(f, "LOG_BUF_SHIFT"), /CONFIG_LOG_BUF_SHIFT=17 because its range is 12\.\.25 \(init\/Kconfig:727\) and this tree's kconfig \(conf_read before 6\.12\) drops an out-of-range value, so default 17/);
});
