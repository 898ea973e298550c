/**
 * kiln-test-lane: side (configures, never compiles; it shares the test kiln home only through
 * kiln's own locks, as two users' kiln runs would; test/run.sh runs it beside the main lane)
 * kiln config import-ark: a small but realistic ARK tree (priority.fedora, common/fedora/
 * pending-fedora/custom-overrides, one file per symbol with help comments), built from the
 * example's own fragments, imported into a copy of the example and configured with the real
 * pipeline on linux-source-6.12. Malformed per-symbol files are reported with file:line and
 * nothing is written.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, TEST_HOME } from "../support/kiln.js";
import { TEST_CACHE, debianTarball } from "../support/trees.js";
import { loadProject } from "../../src/project/load.js";
import { paths } from "../../src/store/paths.js";
import { makeUi } from "../../src/ui/log.js";
import { importArk } from "../../src/config/ark.js";
import { configureCells } from "../../src/pipeline/cells.js";
import { readConfigValues } from "../../src/config/diff.js";
import { ProjectError } from "../../src/errors.js";

const skip = !debianTarball("6.12") && "needs linux-source-6.12 (apt-get install linux-source-6.12)";
const ROOT = join(TEST_CACHE, "projects", "config-ark");
const ARK = join(ROOT, "redhat-configs");
const DIR = join(ROOT, "project");
const ui = makeUi({});
const p = paths(TEST_HOME);

function put(dir: string, line: string, help: string[] = []): void {
  const sym = /CONFIG_[A-Za-z0-9_]+/.exec(line)![0];
  mkdirSync(join(ARK, dir), { recursive: true });
  writeFileSync(join(ARK, dir, sym), [...help.map((h) => `# ${h}`.trimEnd()), line].join("\n") + "\n");
}

/** Split the example's fragments into ARK per-symbol files, and add the usual ARK layers. */
function buildArkTree(): void {
  rmSync(ARK, { recursive: true, force: true });
  mkdirSync(ARK, { recursive: true });
  const ex = join(REPO, "examples", "microvm", "config");
  const split = (from: string, to: string) => {
    for (const f of readdirSync(join(ex, from)).sort())
      for (const l of readFileSync(join(ex, from, f), "utf8").split("\n")) if (/^(# )?CONFIG_/.test(l)) put(to, l);
  };
  split("common", "common/generic");
  split("x86_64", "common/generic/x86");
  split("aarch64", "common/generic/arm/aarch64");
  put("common/generic", "# CONFIG_PRINTK_TIME is not set", ["CONFIG_PRINTK_TIME:", "", "Selecting this option causes time stamps of the printk()", "messages to be added to the output of the syslog() system", "call and at the console."]);
  put("common/generic/x86/x86_64", "CONFIG_X86_X2APIC=y");
  put("common/debug", "CONFIG_DEBUG_KERNEL=y");
  put("common/debug", "CONFIG_DEBUG_FS=y");
  put("common/debug/x86", "CONFIG_DEBUG_BOOT_PARAMS=y");
  put("fedora/generic", "CONFIG_PRINTK_TIME=y");
  put("pending-fedora/generic", "CONFIG_LOG_BUF_SHIFT=16", ["AUTOMATIC: New configs", "", "CONFIG_LOG_BUF_SHIFT:", "", "Select the minimal kernel log buffer size as a power of 2."]);
  mkdirSync(join(ARK, "custom-overrides", "generic"), { recursive: true });
  put("custom-overrides/generic", "CONFIG_LOG_BUF_SHIFT=15");
  writeFileSync(join(ARK, "common", "generic", "README"), "Settings shared by every arch and flavor.\n");
  put("common/generic/powerpc", "CONFIG_PPC_PSERIES=y");
  writeFileSync(
    join(ARK, "priority.fedora"),
    `# priority.fedora\nEMPTY=s390x\nORDER=common fedora pending-fedora custom-overrides\n\n# x86_64\nx86_64=generic:generic-x86:generic-x86-x86_64\nx86_64-debug=generic:generic-x86:generic-x86-x86_64:debug:debug-x86:debug-x86-x86_64\n\n# aarch64\naarch64=generic:generic-arm:generic-arm-aarch64\n\n# ppc64le\nppc64le=generic:generic-powerpc\n`,
  );
}

before(() => {
  if (skip) return;
  buildArkTree();
  rmSync(DIR, { recursive: true, force: true });
  cpSync(join(REPO, "examples", "microvm"), DIR, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
});

test("malformed per-symbol files are reported with file:line and nothing is imported", { skip }, () => {
  put("common/generic", "CONFIG_BAR=y");
  const wrong = join(ARK, "common", "generic", "CONFIG_FOO");
  writeFileSync(wrong, "# help for foo\nCONFIG_BAR=y\n");
  writeFileSync(join(ARK, "common", "generic", "CONFIG_BAZ"), "CONFIG_BAZ=yes\n");
  try {
    assert.throws(
      () => importArk({ root: ARK, projectDir: DIR }),
      (e: unknown) => {
        assert.ok(e instanceof ProjectError);
        assert.match(e.message, new RegExp(`${wrong}:2: sets CONFIG_BAR, but the file is named CONFIG_FOO`));
        assert.match(e.message, /common\/generic\/CONFIG_BAZ:1: CONFIG_BAZ: cannot read the value "yes"/);
        assert.match(e.message, /2 problem\(s\)/);
        return true;
      },
    );
    assert.ok(!existsSync(join(DIR, "config", "ark")));
  } finally {
    for (const f of ["CONFIG_FOO", "CONFIG_BAR", "CONFIG_BAZ"]) rmSync(join(ARK, "common", "generic", f), { force: true });
  }
});

test("import: ordered layers per (arch, variant), a kiln.toml snippet, and a real configure honours them", { skip }, async () => {
  const r = importArk({ root: ARK, projectDir: DIR });
  assert.deepEqual(r.skipped.map((s) => s.key), ["fedora:s390x", "fedora:ppc64le"]);
  const cell = (k: string) => r.cells.find((c) => c.key === k)!;
  assert.deepEqual(cell("x86_64").layers, ["config/ark/common/generic", "config/ark/common/generic/x86", "config/ark/common/generic/x86/x86_64", "config/ark/fedora/generic", "config/ark/pending-fedora/generic", "config/ark/custom-overrides/generic"]);
  assert.deepEqual(cell("x86_64-debug").layers.slice(3, 5), ["config/ark/common/debug", "config/ark/common/debug/x86"]);
  assert.deepEqual(cell("x86_64-debug").missing, ["debug-x86-x86_64"]);
  assert.deepEqual(cell("aarch64").layers.slice(0, 3), ["config/ark/common/generic", "config/ark/common/generic/arm/aarch64", "config/ark/fedora/generic"]);
  assert.deepEqual(r.targets.map((t) => t.name), ["fedora-x86-64", "fedora-aarch64", "fedora-debug"]);
  assert.ok(!existsSync(join(DIR, "config", "ark", "common", "generic", "README")));
  assert.ok(!existsSync(join(DIR, "config", "ark", "common", "generic", "powerpc")));
  assert.equal(readFileSync(join(DIR, "config", "ark", "common", "generic", "CONFIG_PRINTK_TIME"), "utf8"), readFileSync(join(ARK, "common", "generic", "CONFIG_PRINTK_TIME"), "utf8"));
  // replace the example's targets with the snippet
  const head = readFileSync(join(DIR, "kiln.toml"), "utf8").split("[target.base]")[0]!;
  writeFileSync(join(DIR, "kiln.toml"), head + r.toml);
  const project = loadProject(DIR);
  assert.deepEqual(project.targets["fedora-debug"]!.arches, ["x86_64"]);
  const { cells } = await configureCells(project, [{ target: "fedora-debug", arch: "x86_64" }], { ui, paths: p });
  const m = cells[0]!.manifest;
  const final = readConfigValues(cells[0]!.configText);
  assert.equal(final.get("PRINTK_TIME"), "y", "fedora/ overrides common/");
  assert.equal(final.get("LOG_BUF_SHIFT"), "15", "custom-overrides/ wins over pending-fedora/");
  assert.equal(final.get("DEBUG_KERNEL"), "y");
  assert.equal(final.get("DEBUG_BOOT_PARAMS"), "y", "debug-x86 comes after debug");
  assert.equal(final.get("VIRTIO_BLK"), "y");
  assert.equal(final.get("X86_X2APIC"), "y");
  assert.deepEqual(m.config?.dropped, []);
  assert.ok(m.inputs.fragments.some((f) => f.file === "config/ark/common/generic/CONFIG_PRINTK_TIME"));
  assert.deepEqual(m.config?.redefined.map((x) => x.symbol).sort(), ["LOG_BUF_SHIFT", "PRINTK_TIME"]);
  assert.ok(project.targets["fedora-debug"]!.config.layers.slice(1).every((l) => typeof l === "object" && l.override), "ARK later layers are declared overrides");
  // importing again needs replace, and gives the same files
  assert.throws(() => importArk({ root: ARK, projectDir: DIR }), /already exists/);
  assert.equal(importArk({ root: ARK, projectDir: DIR, replace: true }).files, r.files);
});
