/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * explain() on every symbol of real configs: it never throws, agrees with the evaluation, and
 * gives a reason other than "as requested" for every requested value kconfig dropped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debianTarball, kernelTree, TEST_CACHE } from "../support/trees.js";
import { evaluate, explain, loadKconfig, parseDotConfig } from "../../src/kconfig/index.js";
import { kconfigArch, runKernelKconfig } from "../../src/kconfig/run.js";

/** A request with values kconfig will drop, on top of the virtio guest. */
const REQUEST = `CONFIG_64BIT=y
CONFIG_PRINTK=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_PCI=y
CONFIG_NET=y
CONFIG_NETDEVICES=y
CONFIG_NET_CORE=y
CONFIG_BLK_DEV=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_NET=m
CONFIG_UBSAN_BOUNDS=y
CONFIG_KVM_INTEL=y
CONFIG_NR_CPUS=64
CONFIG_DEBUG_INFO_BTF=y
CONFIG_NO_SUCH_SYMBOL=y
`;

test("explain covers every symbol and every dropped request (6.12 x86_64)", { skip: debianTarball("6.12") ? false : "linux-source-6.12 is not installed" }, () => {
  const tree = kernelTree("6.12");
  const out = join(TEST_CACHE, "kconfig", "6.12", "x86_64", "explain-request");
  const frag = join(out, "request.config");
  if (!existsSync(join(out, ".config")) || !existsSync(frag) || readFileSync(frag, "utf8") !== REQUEST) {
    mkdirSync(out, { recursive: true });
    writeFileSync(frag, REQUEST);
    runKernelKconfig(tree, kconfigArch("x86_64"), out, { goal: "allnoconfig", allconfig: frag });
  }
  const real = parseDotConfig(readFileSync(join(out, ".config"), "utf8"));
  const model = loadKconfig(tree, { arch: "x86_64" });
  const user = parseDotConfig(REQUEST);
  const ev = evaluate(model, { user, allDefault: "n", pinned: real });
  assert.deepEqual(ev.config(), real);

  for (const s of model.symbols.values()) {
    const x = explain(ev, s.name);
    assert.ok(x.text.length > 0);
    if (s.nodes.length && s.type !== "unknown") assert.equal(x.value, ev.value(s), s.name);
  }
  const lines: string[] = [];
  for (const [name, want] of user) {
    const got = real.get(name) ?? "n";
    if (got === want) continue;
    const x = explain(ev, name);
    lines.push(`CONFIG_${name}: requested ${want}, got ${got}: ${x.text}`);
    assert.notEqual(x.text, `CONFIG_${name}=${got} as requested`);
  }
  console.log(lines.join("\n"));
  const byName = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")), l]));
  assert.equal(explain(ev, "UBSAN_BOUNDS").text, "CONFIG_UBSAN_BOUNDS=n because it depends on UBSAN (=n): enable CONFIG_UBSAN");
  assert.match(byName.get("CONFIG_VIRTIO_NET") ?? "", /requested m, but CONFIG_MODULES=n turns m into y/);
  assert.match(byName.get("CONFIG_NR_CPUS") ?? "", /not visible: its prompt depends on SMP \(=n\)/);
  assert.match(byName.get("CONFIG_NO_SUCH_SYMBOL") ?? "", /not defined by this tree's Kconfig/);
  assert.match(byName.get("CONFIG_DEBUG_INFO_BTF") ?? "", /enable one of .*CONFIG_DEBUG_INFO_DWARF5.* \(they select CONFIG_DEBUG_INFO\)/);
  assert.deepEqual(explain(ev, "CONFIG_VIRTIO_BLK").menuPath, ["Device Drivers", "Block devices"]);
});
