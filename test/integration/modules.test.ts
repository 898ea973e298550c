/**
 * Loadable modules end to end, on the test store's modular build (examples/microvm's
 * [target.modular], x86_64: MODULES=y with a few filesystems and drivers as =m; built once per
 * suite run, a store hit after): modules_install into the store entry (stripped, depmod run, no
 * build/source links) and the manifest's list; `kiln run modular --exec` loading modules with
 * busybox modprobe from lib/modules/$(uname -r) in kiln's initramfs, vermagic checked on the host
 * (kmod's modinfo) and in the guest; the smoke initramfs of `kiln boot` carrying the same tree; an
 * out-of-tree module built with `make -C <devel layer>/build M=<dir>` loading in the guest; and
 * the target's bindeb-pkg package carrying the modules (dpkg-deb -c).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exampleKernel, type ExampleKernel } from "../support/store.js";
import { kiln, REPO, RUN_ID } from "../support/kiln.js";
import { TEST_CACHE } from "../support/trees.js";
import { haveCommand, needs } from "../support/needs.js";
import { BOOT_TEST_CACHE, bootTestDir } from "../support/boot_kernels.js";
import { listModules } from "../../src/pipeline/install.js";
import { readCpio } from "../../src/boot/cpio.js";
import { runExec } from "../../src/boot/run.js";
import type { Manifest } from "../../src/core/manifest.js";

const ARCH = "x86_64";
let k: ExampleKernel;
const scratch = join(TEST_CACHE, `modules-${RUN_ID}`);
const modDir = () => join(k.storeEntry, "lib", "modules", k.release);

/** The example's modules (config/modular/10-modules.config) and crc-itu-t, which udf selects. */
const EXPECTED = [
  "kernel/drivers/block/loop.ko",
  "kernel/drivers/net/dummy.ko",
  "kernel/fs/isofs/isofs.ko",
  "kernel/fs/minix/minix.ko",
  "kernel/fs/udf/udf.ko",
  "kernel/lib/crc-itu-t.ko",
];

before(() => {
  k = exampleKernel(ARCH, "modular");
  mkdirSync(scratch, { recursive: true });
});
after(() => rmSync(scratch, { recursive: true, force: true }));

function sh(argv: string[], o: { cwd?: string } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: "C" }, ...(o.cwd ? { cwd: o.cwd } : {}) });
  assert.equal(r.status, 0, `${argv.join(" ")} failed (${r.status}):\n${(r.stderr ?? "").slice(-3000)}\n${(r.stdout ?? "").slice(-2000)}`);
  return r.stdout;
}

/** kmod's modinfo on the host: the module's vermagic. */
const vermagic = (ko: string) => sh(["modinfo", "-F", "vermagic", ko]).trim();

test("install: modules_install into the store entry, depmod run, no build/source links; the manifest lists every module with its size", () => {
  const dir = modDir();
  assert.ok(existsSync(join(dir, "modules.dep")), "depmod wrote modules.dep");
  for (const l of ["build", "source"]) assert.throws(() => lstatSync(join(dir, l)), `no ${l} link in the store copy`);
  const onDisk = listModules(dir);
  assert.deepEqual(onDisk.map((f) => f.path), EXPECTED);
  for (const m of [k.built, k.manifest]) {
    assert.ok(m.modules, `the manifest (${m.reuse?.status}) has a modules record`);
    assert.deepEqual(m.modules.files, onDisk);
    assert.equal(m.modules.count, EXPECTED.length);
    assert.equal(m.modules.bytes, onDisk.reduce((a, f) => a + f.bytes, 0));
    assert.equal(m.artifacts?.modules, dir);
  }
  // modules.dep: udf needs crc-itu-t (NLS, which it also selects, is built in); minix needs nothing
  const dep = readFileSync(join(dir, "modules.dep"), "utf8");
  assert.match(dep, /^kernel\/fs\/udf\/udf\.ko: kernel\/lib\/crc-itu-t\.ko$/m);
  assert.match(dep, /^kernel\/fs\/minix\/minix\.ko:$/m);
  // vermagic of every installed module names this exact release
  for (const f of onDisk) assert.match(vermagic(join(dir, f.path)), new RegExp(`^${k.release.replace(/\./g, "\\.")} `), f.path);
});

test("kiln run modular --exec: modprobe in the guest loads udf with its dependency and minix from lib/modules/$(uname -r); vermagic is the release; the kernel loads loop on demand", { timeout: 10 * 60 * 1000 }, async () => {
  const cmd = [
    "uname -r",
    "modprobe udf && modprobe minix && echo loaded",
    "cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' '; echo",
    "grep -w minix /proc/filesystems",
    "modinfo -F vermagic minix",
    "rmmod minix && ! grep -qw minix /proc/modules && echo unloaded",
    "modprobe kiln-no-such-module 2>/dev/null; echo missing=$?",
    // on demand: opening the misc device 10:237 (loop-control) makes the kernel run
    // kernel.modprobe for char-major-10-237, which modules.alias names loop for
    "cat /proc/sys/kernel/modprobe",
    "mknod /tmp/loop-control c 10 237; cat /tmp/loop-control >/dev/null 2>&1; grep -qw loop /proc/modules && echo autoloaded",
  ].join("; ");
  const r = await kiln(["-C", k.project, "run", "modular", "--arch", ARCH, "--accel", "tcg", "--exec", cmd]);
  assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], k.release, "the guest runs the modular build");
  assert.equal(lines[1], "loaded");
  assert.equal(lines[2]!.trim(), "crc_itu_t minix udf", "udf pulled in crc-itu-t from modules.dep");
  assert.match(lines[3]!, /\tminix$/, "minix registered its filesystem");
  assert.match(lines[4]!, new RegExp(`^${k.release.replace(/\./g, "\\.")} `), "vermagic in the guest names the running release");
  assert.equal(lines[4]!.trim(), vermagic(join(modDir(), "kernel/fs/minix/minix.ko")), "the guest's module is the store's (busybox keeps vermagic's trailing space)");
  assert.equal(lines[5], "unloaded");
  assert.match(lines[6]!, /^missing=[1-9]\d*$/, "modprobe of a module the build lacks fails");
  assert.equal(lines[7], "/bin/modprobe", "kiln's init points kernel.modprobe at busybox's modprobe");
  assert.equal(lines[8], "autoloaded", "the kernel loaded loop itself when its misc device was opened");
});

test("kiln boot modular: the smoke passes and its initramfs carries the store's module tree at lib/modules/<release>", { timeout: 10 * 60 * 1000 }, async () => {
  const r = await kiln(["-C", k.project, "boot", "modular", "--arch", ARCH, "--accel", "tcg"]);
  assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
  assert.match(r.stdout + r.stderr, new RegExp(`${k.release.replace(/\./g, "\\.")} booted`));
  const cpio = readCpio(readFileSync(join(k.buildDir, "..", "state", "smoke-initramfs.cpio")));
  const files = new Map(cpio.filter((e) => (e.mode & 0o170000) === 0o100000).map((e) => [e.name, e.data]));
  const prefix = `lib/modules/${k.release}/`;
  for (const f of [...EXPECTED, "modules.dep", "modules.alias"]) {
    const data = files.get(prefix + f);
    assert.ok(data, `${prefix}${f} is in the initramfs`);
    assert.ok(data.equals(readFileSync(join(modDir(), f))), `${f} is the store's`);
  }
  assert.deepEqual([...files.keys()].filter((p) => p.startsWith("lib/modules/") && !p.startsWith(prefix)), [], "only this release's tree");
});

test("out-of-tree: a module built with make -C <devel layer>/build M=<dir> loads in the guest, by hand and with kiln run --module", { timeout: 15 * 60 * 1000 }, async () => {
  const d = await kiln(["-C", k.project, "--json", "dev", "layer", "modular", "--arch", ARCH]);
  assert.equal(d.code, 0, d.stderr);
  const devel = (JSON.parse(d.stdout) as { dir: string }).dir;
  assert.ok(existsSync(join(devel, "build", "Module.symvers")), "the devel layer of a modular build has Module.symvers");
  const src = join(scratch, "kiln_hello");
  cpSync(join(REPO, "test", "fixtures", "modules", "kiln_hello"), src, { recursive: true });
  sh(["make", "-C", join(devel, "build"), `M=${src}`, "-j2", "modules"]);
  const ko = join(src, "kiln_hello.ko");
  assert.ok(existsSync(ko), `make left ${ko}`);
  assert.match(vermagic(ko), new RegExp(`^${k.release.replace(/\./g, "\\.")} `), "built for this release");
  assert.equal(vermagic(ko), vermagic(join(modDir(), "kernel/fs/minix/minix.ko")), "the same vermagic as the build's own modules");
  // installed as a user would, beside a copy of the build's tree: modules_install, then depmod
  const root = join(scratch, "root");
  const tree = join(root, "lib", "modules", k.release);
  cpSync(modDir(), tree, { recursive: true });
  sh(["make", "-C", join(devel, "build"), `M=${src}`, `INSTALL_MOD_PATH=${root}`, "INSTALL_MOD_DIR=extra", "DEPMOD=/bin/true", "modules_install"]);
  assert.ok(existsSync(join(tree, "extra", "kiln_hello.ko")));
  sh(["/sbin/depmod", "-b", root, k.release]);
  assert.match(readFileSync(join(tree, "modules.dep"), "utf8"), /^extra\/kiln_hello\.ko:$/m);
  const r = await runExec({
    arch: ARCH,
    kernel: k.image,
    tree: k.tree,
    cacheDir: BOOT_TEST_CACHE,
    workDir: bootTestDir("modules-extmod"),
    accel: "tcg",
    modules: { dir: tree, release: k.release },
    command: "modprobe kiln_hello whom=guest && cat /sys/module/kiln_hello/parameters/whom && dmesg | grep -o 'kiln_hello: hello.*' && rmmod kiln_hello && dmesg | grep -o 'kiln_hello: goodbye.*'",
  });
  assert.equal(r.exitCode, 0, r.output);
  assert.equal(r.output, `guest\nkiln_hello: hello, guest, from a module built for ${k.release}\nkiln_hello: goodbye, guest\n`);

  // the same module through the CLI: kiln run --module lays it under extra/ beside the build's
  // own and runs depmod, so modprobe finds it by name
  const run = (mod: string, cmd: string) => kiln(["-C", k.project, "run", "modular", "--arch", ARCH, "--accel", "tcg", "--module", mod, "--exec", cmd]);
  const cli = await run(ko, "modprobe kiln_hello whom=cli && cat /sys/module/kiln_hello/parameters/whom && grep '^extra/' /lib/modules/$(uname -r)/modules.dep");
  assert.equal(cli.code, 0, cli.stderr.split("\n").slice(-30).join("\n"));
  assert.equal(cli.stdout, "cli\nextra/kiln_hello.ko:\n");
  // refused before any guest starts, naming the file: a module built for another release (its
  // vermagic's release changed in one byte), and a file that is not a module
  const other = join(scratch, "other", "kiln_hello.ko");
  mkdirSync(join(scratch, "other"), { recursive: true });
  const bytes = readFileSync(ko);
  const at = bytes.indexOf(`vermagic=${k.release}`);
  assert.ok(at >= 0, "the module's .modinfo names the release");
  const last = at + "vermagic=".length + k.release.length - 1;
  bytes[last] = bytes[last]! ^ 1;
  writeFileSync(other, bytes);
  const wrong = await run(other, "true");
  assert.equal(wrong.code, 1, wrong.stderr);
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.match(wrong.stderr, new RegExp(`--module ${esc(other)}: built for 6\\.12\\.\\S+, but the guest runs ${esc(k.release)}`));
  const notModule = await run(join(modDir(), "modules.dep"), "true");
  assert.equal(notModule.code, 1, notModule.stderr);
  assert.match(notModule.stderr, /modules\.dep: not a kernel module file \(a \.ko\)/);
  assert.doesNotMatch(wrong.stderr + notModule.stderr, /booted|KILN-MARKER/, "no guest started");
});

const canDeb = haveCommand("dpkg-buildpackage") && haveCommand("dh_listpackages");

test("the modular target's bindeb-pkg package carries lib/modules/<release>/kernel/... .ko (dpkg-deb -c)", { timeout: 30 * 60 * 1000, skip: needs(!canDeb && "dpkg-dev/debhelper are not installed (apt-get install dpkg-dev debhelper)") }, async () => {
  const toml = join(k.project, "kiln.toml");
  const text = readFileSync(toml, "utf8");
  const at = text.indexOf("[target.modular]\n");
  const withDeb = at < 0 ? text : text.slice(0, at) + text.slice(at).replace('outputs = ["install"]', 'outputs = ["install", "deb"]');
  assert.notEqual(withDeb, text, "examples/microvm's [target.modular] lists outputs = [\"install\"]");
  try {
    writeFileSync(toml, withDeb);
    const r = await kiln(["-C", k.project, "--json", "build", "modular", "--arch", ARCH, "--tree"]);
    assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
    const m = (JSON.parse(r.stdout) as Manifest[])[0]!;
    assert.equal(m.uts_release, k.release, "the store's build, reused");
    const out = join(k.project, "out", k.release);
    const deb = readdirSync(out).find((f) => f.startsWith(`linux-image-${k.release}_`) && f.endsWith(".deb"));
    assert.ok(deb, `a linux-image package in ${readdirSync(out).join(", ")}`);
    const listed = sh(["dpkg-deb", "-c", join(out, deb)]).split("\n").map((l) => l.split(/\s+/).slice(5).join(" ")).filter(Boolean);
    const kos = listed.filter((p) => p.endsWith(".ko")).map((p) => p.replace(/^\.\//, "")).sort();
    assert.deepEqual(kos, EXPECTED.map((f) => `lib/modules/${k.release}/${f}`));
    assert.ok(listed.includes(`./boot/vmlinuz-${k.release}`));
    // packaging compiled nothing: the build folder's vmlinux is still the store's
    assert.ok(readFileSync(join(k.buildDir, "vmlinux")).equals(readFileSync(join(k.storeEntry, "vmlinux"))), "bindeb-pkg relinked vmlinux");
  } finally {
    writeFileSync(toml, text);
    rmSync(join(k.project, "out"), { recursive: true, force: true });
  }
});
