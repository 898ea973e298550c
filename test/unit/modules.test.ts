/**
 * The pure parts of module support: which targets a command takes by default (`default = false`),
 * the manifest's module record, the package check against the build's module list, and the
 * module tree as initramfs entries (real files in a temporary folder, written with kiln's cpio
 * writer and read back).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProject } from "../../src/project/load.js";
import { defaultTargets, pickTarget, selectCells } from "../../src/pipeline/cells.js";
import { moduleSummary } from "../../src/core/modules.js";
import { listModules } from "../../src/pipeline/install.js";
import { checkKernelImageDeb, parseDebContents, type DebInfo } from "../../src/ship/deb.js";
import { initramfsEntries, modulesTreeEntries } from "../../src/boot/init.js";
import { readCpio, writeCpio } from "../../src/boot/cpio.js";
import { ProjectError } from "../../src/errors.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");

test("default = false: the example's modular target is built only when named", () => {
  const p = parseProject(EXAMPLE, "/p/kiln.toml");
  assert.equal(p.targets.modular!.default, false);
  assert.equal(p.targets.base!.default, true, "a target is a default target unless it says otherwise");
  assert.deepEqual(defaultTargets(p), ["base"]);
  assert.deepEqual(selectCells(p).map((c) => `${c.target}/${c.arch}`), ["base/x86_64", "base/aarch64", "base/riscv64"]);
  assert.deepEqual(selectCells(p, ["modular"]).map((c) => `${c.target}/${c.arch}`), ["modular/x86_64"]);
  assert.deepEqual(selectCells(p, [], ["x86_64"]).map((c) => c.target), ["base"]);
  assert.equal(pickTarget(p).name, "base");
  assert.throws(() => selectCells(p, ["modular"], ["aarch64"]), (e: unknown) => e instanceof ProjectError && /not declared for aarch64/.test(e.message));
  assert.deepEqual(p.targets.modular!.config.method === "fragments" && p.targets.modular!.config.layers, ["config/common", "config/{arch}", "config/modular"]);
  assert.throws(() => parseProject(EXAMPLE.replace(/^default = false$/m, 'default = "no"'), "/p/kiln.toml"), (e: unknown) => e instanceof ProjectError && /default/.test(e.message));
});

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), "kiln-modules-unit-"));
  mkdirSync(join(d, "kernel/fs/udf"), { recursive: true });
  mkdirSync(join(d, "kernel/lib"), { recursive: true });
  writeFileSync(join(d, "kernel/fs/udf/udf.ko"), Buffer.alloc(1000, 1));
  writeFileSync(join(d, "kernel/lib/crc-itu-t.ko"), Buffer.alloc(200, 2));
  writeFileSync(join(d, "modules.dep"), "kernel/fs/udf/udf.ko: kernel/lib/crc-itu-t.ko\nkernel/lib/crc-itu-t.ko:\n");
  writeFileSync(join(d, "modules.order"), "kernel/lib/crc-itu-t.ko\nkernel/fs/udf/udf.ko\n");
  return d;
}

test("the manifest's module record: every .ko by path with its size, the count and the total", () => {
  const d = tree();
  try {
    const files = listModules(d);
    assert.deepEqual(files, [{ path: "kernel/fs/udf/udf.ko", bytes: 1000 }, { path: "kernel/lib/crc-itu-t.ko", bytes: 200 }]);
    assert.deepEqual(moduleSummary(files), { count: 2, bytes: 1200, files });
    assert.deepEqual(moduleSummary([]), { count: 0, bytes: 0, files: [] });
    assert.deepEqual(listModules(join(d, "nothing-here")), []);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("the module tree goes into the initramfs at lib/modules/<release>, byte for byte; a link or a tree without modules.dep is refused", () => {
  const d = tree();
  try {
    const rel = "6.12.117-modular-0123456789ab";
    const entries = modulesTreeEntries(d, rel);
    const cpio = readCpio(writeCpio(initramfsEntries({ init: Buffer.from("init"), modules: entries })));
    const files = new Map(cpio.filter((e) => (e.mode & 0o170000) === 0o100000).map((e) => [e.name, e.data]));
    for (const f of ["kernel/fs/udf/udf.ko", "kernel/lib/crc-itu-t.ko", "modules.dep", "modules.order"]) {
      assert.ok(files.get(`lib/modules/${rel}/${f}`)?.equals(readFileSync(join(d, f))), f);
    }
    assert.ok(files.has("init"));
    assert.ok(cpio.some((e) => e.name === `lib/modules/${rel}/kernel/fs/udf` && (e.mode & 0o170000) === 0o040000));
    symlinkSync("/usr/src/linux", join(d, "build"));
    assert.throws(() => modulesTreeEntries(d, rel), (e: unknown) => e instanceof ProjectError && /build is not a plain file/.test(e.message));
    rmSync(join(d, "build"));
    rmSync(join(d, "modules.dep"));
    assert.throws(() => modulesTreeEntries(d, rel), (e: unknown) => e instanceof ProjectError && /no modules\.dep/.test(e.message));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("the package check: a modular build's linux-image must carry every module of the store entry", () => {
  const rel = "6.12.117-modular-0123456789ab";
  const listing = (mods: string[]) =>
    [`./boot/vmlinuz-${rel}`, `./boot/System.map-${rel}`, `./boot/config-${rel}`, ...mods.map((m) => `./lib/modules/${rel}/${m}`)]
      .map((p) => `-rw-r--r-- root/root      1000 2026-12-02 04:53 ${p}`)
      .join("\n") + "\n";
  const info = (mods: string[]): DebInfo => ({ path: "x.deb", fields: {}, package: `linux-image-${rel}`, version: "6.12.117-1", architecture: "amd64", entries: parseDebContents(listing(mods)) });
  const mods = ["kernel/fs/udf/udf.ko", "kernel/lib/crc-itu-t.ko"];
  assert.deepEqual(checkKernelImageDeb(info(mods), rel, { modules: mods }), []);
  assert.deepEqual(checkKernelImageDeb(info(mods.slice(0, 1)), rel, { modules: mods }), [`1 of the build's 2 module(s) are missing: lib/modules/${rel}/kernel/lib/crc-itu-t.ko`]);
  assert.deepEqual(checkKernelImageDeb(info([]), rel, { modules: mods }), [`lib/modules/${rel}/ is missing`]);
  assert.deepEqual(checkKernelImageDeb(info([]), rel, { modules: false }), []);
});
