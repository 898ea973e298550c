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
  assert.equal(r.length, 4);
  const first = text.split("\n").findIndex((l) => l.trim() === "[[invariant]]") + 1;
  assert.equal(r[0]!.origin, `/p/kiln.toml:${first}`);
  assert.deepEqual(r[0]!.forbidden, ["DRM", "SOUND", "MODULES"]);
  assert.deepEqual(r[1]!.arches, ["x86_64"]);
});
