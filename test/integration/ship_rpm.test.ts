/**
 * The "rpm" output: kbuild's binrpm-pkg in the warm tree of the test store's x86_64 build
 * (storeProject("default") holds it), run by `kiln build` with the build's own flags, so nothing
 * recompiles; the package is checked with rpm -qip/-qlp and installed into a throwaway root
 * with `rpm --root --nodeps --noscripts -i`. Well under a minute: packaging only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { kiln } from "../support/kiln.js";
import { exampleKernel } from "../support/store.js";
import { assertKernelRpm, checkKernelRpm, inspectRpm, parseRpmInfo, parseRpmList, rpmVersionOf } from "../../src/ship/rpm.js";
import { GateFailure } from "../../src/errors.js";
import { haveCommand, needs, needSource } from "../support/needs.js";

const skip = needs(!haveCommand("rpmbuild") && "rpm is not installed (apt-get install rpm)") || needSource("6.12");

test("kiln build writes binrpm-pkg packages from the warm tree without recompiling; rpm -qip/-qlp and an install into a throwaway root", { skip, timeout: 10 * 60_000 }, async () => {
  const k = exampleKernel("x86_64");
  const toml = join(k.project, "kiln.toml");
  const before = readFileSync(toml, "utf8");
  const out = join(k.project, "out", k.release);
  const vmlinux = join(k.buildDir, "vmlinux");
  const version = join(k.buildDir, "init", "version.o");
  const stamps = [statSync(vmlinux).mtimeMs, statSync(version).mtimeMs];
  const root = mkdtempSync(join(tmpdir(), "kiln-rpmroot-"));
  try {
    const after = before.replace('outputs = ["install"]', 'outputs = ["install", "rpm"]');
    assert.notEqual(after, before, "examples/microvm/kiln.toml declares outputs = [\"install\"]");
    writeFileSync(toml, after);
    const t0 = Date.now();
    const r = await kiln(["-C", k.project, "--json", "build", "--arch", "x86_64"]);
    assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
    console.log(`binrpm-pkg through kiln build: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // the same build, reused: the packaging neither relinked nor recompiled anything
    assert.match(r.stderr + r.stdout, /reused/);
    assert.deepEqual([statSync(vmlinux).mtimeMs, statSync(version).mtimeMs], stamps, "vmlinux and init/version.o are untouched");
    assert.doesNotMatch(r.stderr, /^\s+CC\s+init\/version\.o/m);
    const files = readdirSync(out);
    const pkg = files.find((f) => f.startsWith(`kernel-${rpmVersionOf(k.release)}-1.`) && f.endsWith(".x86_64.rpm"));
    assert.ok(pkg, `a kernel package in ${files.join(", ")}`);
    assert.ok(files.some((f) => f.startsWith("kernel-headers-")), `a kernel-headers package in ${files.join(", ")}`);
    const info = await inspectRpm(join(out, pkg));
    assert.equal(info.name, "kernel");
    assert.equal(info.version, rpmVersionOf(k.release));
    assert.equal(info.release, "1");
    assert.equal(info.architecture, "x86_64");
    assert.deepEqual(checkKernelRpm(info, k.release, { modules: false }), []);
    await assertKernelRpm(join(out, pkg), k.release, { modules: false, root });
    // the installed image is the build's own bzImage, byte for byte
    assert.ok(readFileSync(join(root, "lib", "modules", k.release, "vmlinuz")).equals(readFileSync(k.image)), "the packaged vmlinuz is the store entry's image");
    assert.ok(readdirSync(join(root, "var", "lib", "rpm")).length > 0, "rpm kept its database inside the root");
    // packaging left nothing behind in the build folder
    assert.ok(!existsSync(join(k.buildDir, "rpmbuild")) && !existsSync(join(k.buildDir, ".version")));
    await assert.rejects(assertKernelRpm(join(out, pkg), "6.99.0", { modules: true }), (e: unknown) => e instanceof GateFailure && /\/lib\/modules\/6\.99\.0\/vmlinuz is missing/.test(e.message));
  } finally {
    writeFileSync(toml, before);
    rmSync(join(k.project, "out"), { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  }
});

test("rpm -qip and -qlp output parsing", () => {
  const f = parseRpmInfo(
    "Name        : kernel\nVersion     : 6.12.117_microvm_48be8eab6c49\nRelease     : 1\nArchitecture: x86_64\nInstall Date: (not installed)\nGroup       : System Environment/Kernel\nSize        : 4243589\nLicense     : GPL\nSummary     : The Linux Kernel\nDescription :\nThe Linux Kernel, the operating system core itself\n",
  );
  assert.equal(f.Name, "kernel");
  assert.equal(f.Architecture, "x86_64");
  assert.equal(f["Install Date"], "(not installed)");
  assert.equal(f.Description, "The Linux Kernel, the operating system core itself");
  assert.deepEqual(parseRpmList("/lib/modules/x\n/lib/modules/x/vmlinuz\n"), ["/lib/modules/x", "/lib/modules/x/vmlinuz"]);
  assert.deepEqual(parseRpmList("(contains no files)\n"), []);
});
