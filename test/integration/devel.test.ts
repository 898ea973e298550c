/**
 * The devel layer, `kiln dev worktree` and `kiln run --gdb`, on the test store's x86_64 build
 * (exampleKernel: a store hit; its warm tree, storeProject("default")'s work folder, holds the
 * build). Real make, the kernel's gen_compile_commands.py, Debian's clang and gcc on a laid-out
 * worktree, QEMU's gdb stub and Debian's gdb in batch mode.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { exampleKernel, type ExampleKernel } from "../support/store.js";
import { exampleCopy, kiln, kilnSpawn, removeProject, RUN_ID, TEST_HOME } from "../support/kiln.js";
import { projectId } from "../../src/store/paths.js";
import { createHash } from "node:crypto";
import { TEST_CACHE } from "../support/trees.js";
import { haveCommand, needs } from "../support/needs.js";
import { startRegistry } from "./ship_cli_support.js";
import { pullKernelOci, RegistryClient } from "../../src/ship/oci.js";
import { parsePublicKey } from "../../src/ship/minisign.js";
import { hasDebugInfo } from "../../src/devel/gdb.js";
import { entryFor, parseCompileCommands, splitCommand, syntaxOnlyArgv, SRC_PLACEHOLDER, BUILD_PLACEHOLDER } from "../../src/devel/compdb.js";

const ARCH = "x86_64";
let k: ExampleKernel;
const scratch = join(TEST_CACHE, `devel-${RUN_ID}`);

before(() => {
  k = exampleKernel(ARCH);
  mkdirSync(scratch, { recursive: true });
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** mtime of every object, archive and kernel file of the build folder (what a recompile rewrites). */
function objectTimes(build: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && (/\.(o|a)$/.test(e.name) || /^(vmlinux|bzImage)$/.test(e.name))) out.set(f, statSync(f).mtimeMs);
    }
  };
  walk(build);
  return out;
}

test("kiln dev layer: compile_commands.json, vmlinux-gdb.py and the module set from the warm tree, nothing recompiled", { timeout: 10 * 60 * 1000 }, async () => {
  // made on demand: start from an entry without one, so make really runs
  rmSync(join(k.storeEntry, "devel"), { recursive: true, force: true });
  const objects = objectTimes(k.buildDir);
  assert.ok(objects.size > 500, `the warm build folder holds the build's objects (${objects.size})`);
  const r = await kiln(["-C", k.project, "--json", "dev", "layer", "--arch", ARCH]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { release: string; dir: string; status: string; compile_commands: number; seconds: number };
  assert.equal(out.release, k.release);
  assert.equal(out.status, "made");
  assert.equal(out.dir, join(k.storeEntry, "devel"));
  console.log(`devel layer made in ${out.seconds.toFixed(1)} s (${out.compile_commands} compile commands)`);
  // no object, archive or the kernel was rewritten
  const after = objectTimes(k.buildDir);
  const rewritten = [...objects].filter(([f, t]) => after.get(f) !== t).map(([f]) => f);
  assert.deepEqual(rewritten, [], "make scripts_gdb and gen_compile_commands.py recompiled nothing");
  assert.equal(after.size, objects.size);

  const d = out.dir;
  const info = JSON.parse(readFileSync(join(d, "devel.json"), "utf8")) as { schema: string; release: string; source_tree: string };
  assert.equal(info.schema, "kiln.devel/v1");
  assert.equal(info.source_tree, k.built.source_tree);
  const text = readFileSync(join(d, "compile_commands.json"), "utf8");
  assert.ok(!text.includes(TEST_HOME), "the stored database names no host path");
  assert.ok(!/ccache/.test(text), "the compiler wrapper is dropped");
  const db = parseCompileCommands(text, "compile_commands.json");
  assert.equal(db.length, out.compile_commands);
  const cal = entryFor(db, SRC_PLACEHOLDER, "init/calibrate.c");
  assert.ok(cal, "init/calibrate.c is in the database");
  assert.equal(cal.directory, BUILD_PLACEHOLDER);
  assert.match(cal.command, /^gcc .* -c -o init\/calibrate\.o @KILN_SRC@\/init\/calibrate\.c$/);
  // the generated headers, the prepared scripts and the gdb scripts, as real files
  const b = join(d, "build");
  for (const f of ["Makefile", ".config", "include/generated/autoconf.h", "include/config/auto.conf", "arch/x86/include/generated/uapi/asm/unistd_64.h", "vmlinux-gdb.py", "scripts/gdb/linux/constants.py", "scripts/gdb/linux/utils.py", "include/linux/module.h"]) {
    assert.ok(existsSync(join(b, f)), `${f} is in the devel layer`);
    assert.ok(lstatSync(join(b, f)).isFile(), `${f} is a file, not a link into the build host`);
  }
  assert.equal(readFileSync(join(b, "include/config/kernel.release"), "utf8").trim(), k.release);
  assert.ok(statSync(join(b, "scripts/basic/fixdep")).mode & 0o111, "the prepared fixdep is executable");
  assert.ok(!readdirSync(join(b, "scripts", "mod")).some((f) => f.endsWith(".o")), "no objects in the layer");

  // asked again: the store's copy, nothing made
  const again = await kiln(["-C", k.project, "--json", "dev", "layer", "--arch", ARCH]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { status: string }).status, "stored");
});

test("outputs = [\"devel\"]: a reused build writes <name>-devel-<release>-<arch>.tar.zst from the stored layer; publish signs it beside the run artifact and in the OCI manifest", { timeout: 5 * 60 * 1000 }, async () => {
  assert.ok(existsSync(join(k.storeEntry, "devel", "devel.json")), "the layer test ran first and stored the layer");
  const dir = exampleCopy("devel-out");
  try {
    const toml = join(dir, "kiln.toml");
    const text = readFileSync(toml, "utf8");
    assert.ok(text.includes('outputs = ["install"]'));
    writeFileSync(toml, text.replace('outputs = ["install"]', 'outputs = ["install", "devel"]'));
    const r = await kiln(["-C", dir, "--json", "build", "--arch", ARCH]);
    assert.equal(r.code, 0, r.stderr);
    const m = (JSON.parse(r.stdout) as { uts_release: string; reuse?: { status: string } }[])[0]!;
    assert.equal(m.uts_release, k.release, "outputs are not part of the identity");
    const art = join(dir, "out", k.release, `microvm-devel-${k.release}-${ARCH}.tar.zst`);
    assert.ok(existsSync(art), `${art} is written`);
    const sum = readFileSync(`${art}.sha256`, "utf8").trim();
    assert.equal(sum, createHash("sha256").update(readFileSync(art)).digest("hex"));
    const list = spawnSync("tar", ["--zstd", "-tf", art], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    assert.equal(list.status, 0, list.stderr);
    const names = list.stdout.split("\n");
    for (const f of ["devel/devel.json", "devel/compile_commands.json", "devel/build/vmlinux-gdb.py", "devel/build/include/generated/autoconf.h"]) assert.ok(names.includes(f), `${f} is in the devel artifact`);
    assert.ok(!names.some((n) => n.startsWith("boot/")), "the run layer stays in its own artifact");
    // kiln publish puts it beside the run artifact, in the same signed SHA256SUMS
    const keys = join(dir, "keys");
    const kg = await kiln(["keygen", "--out", keys]);
    assert.equal(kg.code, 0, kg.stderr);
    writeFileSync(toml, readFileSync(toml, "utf8") + `\n[remote.folder]\nurl = "mirror"\n`);
    const pub = await kiln(["-C", dir, "--json", "publish", "--release", k.release, "--remote", "folder"], { env: { KILN_SIGNING_KEY: join(keys, "kiln.key") } });
    assert.equal(pub.code, 0, pub.stderr);
    const rel = join(dir, "mirror", "microvm", k.release);
    const sums = readFileSync(join(rel, "SHA256SUMS"), "utf8");
    assert.match(sums, new RegExp(`^${sum}  microvm-devel-${k.release.replace(/\./g, "\\.")}-${ARCH}\\.tar\\.zst$`, "m"));
    assert.match(sums, new RegExp(`  microvm-kernel-${k.release.replace(/\./g, "\\.")}-${ARCH}\\.tar\\.zst$`, "m"));
    assert.ok(existsSync(join(rel, `microvm-devel-${k.release}-${ARCH}.tar.zst`)));
    if (haveCommand("minisign")) {
      const v = spawnSync("minisign", ["-V", "-p", join(keys, "kiln.pub"), "-m", join(rel, "SHA256SUMS")], { encoding: "utf8" });
      assert.equal(v.status, 0, v.stderr);
    }
    // the same publish to an OCI registry carries it as one more layer of the signed manifest;
    // a pull takes it only when asked
    const reg = await startRegistry(join(dir, "registry"));
    try {
      writeFileSync(toml, readFileSync(toml, "utf8") + `\n[remote.reg]\noci = "${reg.addr}/kernels/microvm"\ninsecure = true\n`);
      const pubOci = await kiln(["-C", dir, "--json", "publish", "--release", k.release, "--remote", "reg"], { env: { KILN_SIGNING_KEY: join(keys, "kiln.key") } });
      assert.equal(pubOci.code, 0, pubOci.stderr);
      const client = new RegistryClient(reg.addr, "kernels/microvm");
      const trusted = [parsePublicKey(readFileSync(join(keys, "kiln.pub"), "utf8"))];
      const plain = await pullKernelOci({ client, reference: k.release, dest: join(dir, "oci-run"), trustedKeys: trusted });
      assert.ok(!(`microvm-devel-${k.release}-${ARCH}.tar.zst` in plain.files), "a plain pull leaves the devel layer at the registry");
      await pullKernelOci({ client, reference: k.release, dest: join(dir, "oci-devel"), trustedKeys: trusted, devel: true });
      assert.ok(readFileSync(join(dir, "oci-devel", `microvm-devel-${k.release}-${ARCH}.tar.zst`)).equals(readFileSync(art)), "the registry's devel layer is the published artifact");
    } finally {
      reg.proc.kill();
    }
    // kiln fetch --devel: verified against the signed sums, unpacked into its own folder
    const fetchArgs = (dest: string, cache = "f-cache") => ["-C", dir, "--json", "fetch", `microvm@${k.release}`, "--remote", join(dir, "mirror"), "--arch", ARCH, "--trusted-key", join(keys, "kiln.pub"), "--boot-dir", join(dir, "f-boot"), "--root", join(dir, "f-root"), "--cache-dir", join(dir, cache), "--devel", dest];
    const f = await kiln(fetchArgs(join(dir, "f-devel")), { home: join(dir, "consumer-home") });
    assert.equal(f.code, 0, f.stderr);
    const fj = JSON.parse(f.stdout) as { devel: { dir: string; sha256: string } };
    assert.equal(fj.devel.sha256, sum);
    for (const x of ["devel.json", "compile_commands.json", "build/Makefile", "build/include/generated/autoconf.h", "build/scripts/basic/fixdep"]) assert.ok(existsSync(join(dir, "f-devel", x)), `${x} fetched`);
    // a tampered devel artifact on the mirror is refused, nothing is laid out
    const mirrored = join(rel, `microvm-devel-${k.release}-${ARCH}.tar.zst`);
    writeFileSync(mirrored, Buffer.concat([readFileSync(mirrored), Buffer.from("x")]));
    const bad = await kiln(fetchArgs(join(dir, "f-devel2"), "f-cache2"), { home: join(dir, "consumer-home") });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /checksum mismatch: .*microvm-devel-/);
    assert.ok(!existsSync(join(dir, "f-devel2")));
  } finally {
    removeProject(dir);
    rmSync(join(TEST_HOME, "work", projectId("microvm", dir)), { recursive: true, force: true });
  }
});

test("kiln dev worktree: the build's tree for an editor; clang -fsyntax-only and gcc resolve a kernel file from the database", { timeout: 10 * 60 * 1000, skip: needs(!haveCommand("clang") && "clang is not installed (apt-get install clang)") }, async () => {
  const wt = join(scratch, "worktree");
  try {
    const r = await kiln(["-C", k.project, "--json", "dev", "worktree", wt, "--arch", ARCH]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { dir: string; compile_commands: string; build_dir: string; files: number; seconds: number };
    console.log(`worktree laid out in ${out.seconds.toFixed(1)} s (${out.files} files)`);
    assert.equal(out.dir, wt);
    assert.ok(out.files > 50000);
    // the exact tree: the example's patch is in it
    assert.ok(readFileSync(join(wt, "init", "main.c"), "utf8").length > 0);
    const db = parseCompileCommands(readFileSync(out.compile_commands, "utf8"), out.compile_commands);
    assert.ok(!JSON.stringify(db).includes("@KILN_"), "no placeholder is left");
    const e = entryFor(db, wt, "init/calibrate.c");
    assert.ok(e);
    assert.equal(e.directory, join(wt, ".kiln", "build"));
    assert.ok(!e.command.includes(k.tree), "the command names the worktree, not the warm tree");
    // clang, with the gcc-only flags filtered as clangd users do; its dependency list says
    // where each header was found
    const clang = syntaxOnlyArgv(e, { compiler: "clang", clangFilter: true });
    const deps = join(scratch, "calibrate.d");
    const c = spawnSync(clang[0]!, [...clang.slice(1), "-MD", "-MF", deps], { cwd: e.directory, encoding: "utf8" });
    assert.equal(c.status, 0, `clang -fsyntax-only failed:\n${c.stderr.slice(-3000)}`);
    const headers = readFileSync(deps, "utf8").replace(/\\\n/g, " ").split(/\s+/).filter((w) => w.endsWith(".h"));
    assert.ok(headers.includes(`${wt}/include/linux/init.h`), "kernel headers come from the worktree");
    assert.ok(headers.includes("include/generated/autoconf.h") && existsSync(join(e.directory, "include/generated/autoconf.h")), "the generated autoconf.h resolves in .kiln/build");
    assert.ok(headers.some((h) => h.startsWith("arch/x86/include/generated/asm/")), "the arch's generated headers resolve in .kiln/build");
    assert.ok(!headers.some((h) => h.startsWith(k.tree) || h.startsWith(k.buildDir)), "nothing comes from the warm tree");
    // gcc with the database's exact command (no object, no dependency file)
    const gcc = syntaxOnlyArgv(e);
    assert.equal(gcc[0], "gcc");
    const g = spawnSync(gcc[0]!, gcc.slice(1), { cwd: e.directory, encoding: "utf8" });
    assert.equal(g.status, 0, `gcc -fsyntax-only failed:\n${g.stderr.slice(-3000)}`);
    // a broken edit in the worktree is seen: the check is real
    writeFileSync(join(wt, "init", "calibrate.c"), readFileSync(join(wt, "init", "calibrate.c"), "utf8") + "\nint kiln_broken = ;\n");
    const bad = spawnSync(clang[0]!, clang.slice(1), { cwd: e.directory, encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /calibrate\.c:\d+:\d+: error/);
    // kiln never writes over a folder that has files
    const again = await kiln(["-C", k.project, "dev", "worktree", wt, "--arch", ARCH]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists and is not empty/);
  } finally {
    rmSync(wt, { recursive: true, force: true });
  }
});

/** Pids of processes whose command line contains `needle`. */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ").includes(needle)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

test("kiln run --gdb: QEMU's stub on a free port, the printed gdb line attaches and reads linux_banner; gdb's kill stops QEMU", { timeout: 5 * 60 * 1000, skip: needs(!haveCommand("gdb") && "gdb is not installed (apt-get install gdb)") }, async () => {
  const child = kilnSpawn(["-C", k.project, "run", "--gdb", "--arch", ARCH, "--accel", "tcg"]);
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number>((res) => child.on("close", (code) => res(code ?? 1)));
  try {
    const line = await new Promise<string>((res, rej) => {
      const rl = createInterface({ input: child.stdout! });
      rl.on("line", (l) => {
        stdout += `${l}\n`;
        if (l.startsWith("gdb: ")) res(l.slice("gdb: ".length));
      });
      void exited.then((c) => rej(new Error(`kiln run --gdb exited (${c}) before printing the gdb line:\n${stderr}`)));
    });
    const argv = splitCommand(line);
    assert.equal(argv[0], "gdb");
    assert.deepEqual(argv.slice(1, 4), ["-iex", "set auto-load python-scripts off", join(k.buildDir, "vmlinux")], "gdb loads the build folder's vmlinux");
    const port = Number(/target remote 127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    assert.ok(port > 0 && port !== 1234, `a free port, not QEMU's default (${port})`);
    const scripts = join(k.storeEntry, "devel", "build");
    if (hasDebugInfo(readFileSync(join(k.buildDir, "vmlinux")))) {
      assert.ok(line.includes(`source ${join(scripts, "vmlinux-gdb.py")}`));
      assert.ok(line.includes(`add-auto-load-safe-path ${scripts}`));
    } else {
      // the example has no DEBUG_INFO: the lx-* helpers cannot load, and kiln says so
      assert.ok(!line.includes("source "), line);
      assert.match(stdout, /vmlinux has no debug info/);
    }
    const qemu = pidsWith(`tcp:127.0.0.1:${port}`).filter((p) => p !== child.pid);
    // the kernel's text is mapped once it runs: stop at start_kernel (a hardware breakpoint:
    // nothing is loaded at the -S stop), then read the banner from .rodata
    const gdb = spawnSync(
      argv[0]!,
      ["-batch", "-nx", ...argv.slice(1), "-ex", "hbreak start_kernel", "-ex", "continue", "-ex", "x/s &linux_banner", "-ex", "kill"],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(gdb.status, 0, `gdb failed:\n${gdb.stdout}\n${gdb.stderr}`);
    assert.match(gdb.stdout, /Breakpoint 1, .*start_kernel/, "the guest ran to start_kernel under gdb: the banner below is read from its memory");
    assert.match(gdb.stdout, new RegExp(`<linux_banner>:\\s+"Linux version ${k.release.replace(/\./g, "\\.")} `));
    const code = await Promise.race([exited, new Promise<number>((res) => setTimeout(() => res(-1), 30_000))]);
    assert.notEqual(code, -1, "kiln run --gdb ends when gdb kills the guest");
    assert.ok(qemu.length >= 1, "QEMU was running with the stub");
    assert.deepEqual(pidsWith(`tcp:127.0.0.1:${port}`), [], "no QEMU is left");
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  }
});
