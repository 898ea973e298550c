import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { checkInvariants, type InvariantRule } from "../../src/core/invariants.js";
import { parseDotConfig } from "../../src/core/fragment.js";
import { parseProject } from "../../src/project/load.js";
import { invariantRules } from "../../src/pipeline/steps.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

const rules: InvariantRule[] = [
  { origin: "kiln.toml:1", required: { VIRTIO_BLK: "y" }, forbidden: ["DRM", "MODULES"] },
  { origin: "kiln.toml:5", variants: ["debug"], required: { FTRACE: "y" }, forbidden: [] },
  { origin: "kiln.toml:9", not_variants: ["debug"], required: {}, forbidden: ["FTRACE"] },
  { origin: "kiln.toml:13", arches: ["aarch64"], required: { SERIAL_AMBA_PL011_CONSOLE: "y" }, forbidden: [] },
];

test("required and forbidden symbols with formats.md §4 messages", () => {
  const cfg = parseDotConfig("# CONFIG_VIRTIO_BLK is not set\nCONFIG_DRM=m\nCONFIG_MODULES=y\nCONFIG_FTRACE=y\n");
  const v = checkInvariants(rules, cfg, "x86_64", "base");
  assert.deepEqual(v.map((x) => x.message), [
    "required CONFIG_VIRTIO_BLK=y but got CONFIG_VIRTIO_BLK=UNSET",
    "forbidden CONFIG_DRM=m (must be unset for x86_64/base)",
    "forbidden CONFIG_MODULES=y (must be unset for x86_64/base)",
    "forbidden CONFIG_FTRACE=y (must be unset for x86_64/base)",
  ]);
});

test("conditional rules: in debug FTRACE is required, elsewhere forbidden; arch scopes", () => {
  const on = parseDotConfig("CONFIG_VIRTIO_BLK=y\nCONFIG_FTRACE=y\n");
  const off = parseDotConfig("CONFIG_VIRTIO_BLK=y\n");
  assert.deepEqual(checkInvariants(rules, on, "x86_64", "debug"), []);
  assert.equal(checkInvariants(rules, off, "x86_64", "debug")[0]!.message, "required CONFIG_FTRACE=y but got CONFIG_FTRACE=UNSET");
  assert.equal(checkInvariants(rules, on, "x86_64", "base")[0]!.message, "forbidden CONFIG_FTRACE=y (must be unset for x86_64/base)");
  assert.equal(checkInvariants(rules, off, "aarch64", "base")[0]!.message, "required CONFIG_SERIAL_AMBA_PL011_CONSOLE=y but got CONFIG_SERIAL_AMBA_PL011_CONSOLE=UNSET");
  assert.equal(checkInvariants(rules, parseDotConfig("CONFIG_VIRTIO_BLK=m\n"), "riscv64", "base")[0]!.message, "required CONFIG_VIRTIO_BLK=y but got CONFIG_VIRTIO_BLK=m");
});

test("the example's invariants are read with the kiln.toml line of each rule", () => {
  const text = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");
  const r = invariantRules(parseProject(text, "/p/kiln.toml"));
  assert.equal(r.length, 6);
  const first = text.split("\n").findIndex((l) => l.trim() === "[[invariant]]") + 1;
  assert.equal(r[0]!.origin, `/p/kiln.toml:${first}`);
  assert.deepEqual(r[0]!.forbidden, ["DRM", "SOUND"]);
  assert.deepEqual(r[1]!.not_variants, ["modular"]);
  assert.deepEqual(r[1]!.forbidden, ["MODULES"]);
  assert.deepEqual(r[2]!.variants, ["modular"]);
  assert.deepEqual(r[3]!.arches, ["x86_64"]);
});

test("the example's modules rule is scoped per target: base still forbids MODULES, modular requires it and its =m drivers", () => {
  const r = invariantRules(parseProject(readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8"), "/p/kiln.toml"));
  const common = "CONFIG_VIRTIO_BLK=y\nCONFIG_VIRTIO_NET=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_64BIT=y\nCONFIG_SERIAL_8250_CONSOLE=y\n";
  const modular = parseDotConfig(`${common}CONFIG_MODULES=y\nCONFIG_MINIX_FS=m\nCONFIG_ISO9660_FS=m\nCONFIG_UDF_FS=m\nCONFIG_BLK_DEV_LOOP=m\nCONFIG_DUMMY=m\n`);
  assert.deepEqual(checkInvariants(r, modular, "x86_64", "modular"), []);
  assert.deepEqual(checkInvariants(r, modular, "x86_64", "base").map((v) => v.message), ["forbidden CONFIG_MODULES=y (must be unset for x86_64/base)"]);
  // built in instead of as a module: the modular rule wants =m
  const builtin = parseDotConfig(`${common}CONFIG_MODULES=y\nCONFIG_MINIX_FS=y\nCONFIG_ISO9660_FS=m\nCONFIG_UDF_FS=m\nCONFIG_BLK_DEV_LOOP=m\nCONFIG_DUMMY=m\n`);
  assert.deepEqual(checkInvariants(r, builtin, "x86_64", "modular").map((v) => v.message), ["required CONFIG_MINIX_FS=m but got CONFIG_MINIX_FS=y"]);
  assert.deepEqual(checkInvariants(r, parseDotConfig(common), "x86_64", "modular").map((v) => v.symbol), ["MODULES", "MINIX_FS", "ISO9660_FS", "UDF_FS", "BLK_DEV_LOOP", "DUMMY"]);
  assert.deepEqual(checkInvariants(r, parseDotConfig(common), "x86_64", "base"), []);
});
