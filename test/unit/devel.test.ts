/**
 * The devel layer's pure parts: compile_commands.json placeholders and lay-out, the syntax-only
 * argv, the "nothing recompiled" check, the gdb command line, QEMU's gdb stub arguments and the
 * /proc/net/tcp listen check. The inputs are kbuild's own: a compile command as
 * gen_compile_commands.py wrote it for init/calibrate.c of the example's x86_64 build.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BUILD_PLACEHOLDER, entryFor, layOut, leftoverPaths, parseCompileCommands, splitCommand, SRC_PLACEHOLDER, stripWrapper, syntaxOnlyArgv, toPlaceholders } from "../../src/devel/compdb.js";
import { changedFiles, recompiled } from "../../src/devel/layer.js";
import { gdbCommandLine, gdbFor } from "../../src/devel/gdb.js";
import { listensIn } from "../../src/effects/port.js";
import { qemuArgv, kernelCmdline } from "../../src/boot/qemu.js";
import { ARCHES, hostArch } from "../../src/tables/arches.js";
import { ProjectError } from "../../src/errors.js";

const W = "/var/tmp/kiln-test-cache/kiln-home/work/microvm-d0d93ba1/base-x86_64";
const CAL = {
  directory: `${W}/build`,
  file: `${W}/src/init/calibrate.c`,
  command:
    `/usr/bin/ccache gcc -Wp,-MMD,init/.calibrate.o.d -nostdinc -I${W}/src/arch/x86/include -I./arch/x86/include/generated -I${W}/src/include -I./include ` +
    `-include ${W}/src/include/linux/kconfig.h -D__KERNEL__ -fmacro-prefix-map=${W}/src/= -std=gnu11 -mpreferred-stack-boundary=3 -mskip-rax-setup -fconserve-stack ` +
    `-Wimplicit-fallthrough=5 -Wno-maybe-uninitialized -ffile-prefix-map=${W}/src/= -ffile-prefix-map=${W}/build/= -I${W}/src/init -Iinit ` +
    `-DKBUILD_MODFILE='"init/calibrate"' -DKBUILD_BASENAME='"calibrate"' -c -o init/calibrate.o ${W}/src/init/calibrate.c`,
};

test("toPlaceholders: no host path is left, the ccache wrapper is dropped, relative paths stay", () => {
  const [p] = toPlaceholders([CAL], { src: `${W}/src`, build: `${W}/build/` });
  assert.equal(p!.directory, BUILD_PLACEHOLDER);
  assert.equal(p!.file, `${SRC_PLACEHOLDER}/init/calibrate.c`);
  assert.match(p!.command, /^gcc -Wp,-MMD,init\/\.calibrate\.o\.d -nostdinc -I@KILN_SRC@\/arch\/x86\/include -I\.\/arch\/x86\/include\/generated /);
  assert.ok(p!.command.includes("-ffile-prefix-map=@KILN_SRC@/= -ffile-prefix-map=@KILN_BUILD@/="));
  assert.deepEqual(leftoverPaths([p!], [`${W}/src`, `${W}/build`, W]), []);
  assert.deepEqual(leftoverPaths([CAL], [`${W}/src`]), [`${W}/src`]);
  assert.throws(() => toPlaceholders([CAL], { src: "/x", build: "/x/" }), ProjectError);
});

test("layOut: placeholders point at the worktree and its .kiln/build, and entryFor finds the file", () => {
  const stored = toPlaceholders([CAL], { src: `${W}/src`, build: `${W}/build` });
  const [l] = layOut(stored, { src: "/home/me/wt/", build: "/home/me/wt/.kiln/build" });
  assert.equal(l!.directory, "/home/me/wt/.kiln/build");
  assert.equal(l!.file, "/home/me/wt/init/calibrate.c");
  assert.ok(!l!.command.includes("@KILN_"));
  assert.ok(l!.command.includes("-include /home/me/wt/include/linux/kconfig.h"));
  assert.equal(entryFor([l!], "/home/me/wt", "init/calibrate.c"), l);
  assert.equal(entryFor([l!], "/home/me/wt", "init/main.c"), undefined);
});

test("stripWrapper and splitCommand read kbuild's quoting", () => {
  assert.equal(stripWrapper("/usr/bin/ccache gcc -c x.c"), "gcc -c x.c");
  assert.equal(stripWrapper("sccache clang -c x.c"), "clang -c x.c");
  assert.equal(stripWrapper("gcc -c ccache.c"), "gcc -c ccache.c");
  assert.deepEqual(splitCommand(`gcc -DKBUILD_MODFILE='"init/calibrate"' -I./a  -c`), ["gcc", '-DKBUILD_MODFILE="init/calibrate"', "-I./a", "-c"]);
  assert.deepEqual(splitCommand(`gdb -ex 'it'\\''s'`), ["gdb", "-ex", "it's"]);
  assert.throws(() => splitCommand("gcc 'open"), /unbalanced/);
});

test("syntaxOnlyArgv: no object or dependency file; gcc-only options filtered for clang only", () => {
  const gcc = syntaxOnlyArgv(CAL);
  assert.equal(gcc[0], "/usr/bin/ccache");
  const [p] = toPlaceholders([CAL], { src: `${W}/src`, build: `${W}/build` });
  const g = syntaxOnlyArgv(p!);
  assert.equal(g[0], "gcc");
  assert.equal(g.at(-1), "-fsyntax-only");
  for (const w of ["-c", "-o", "init/calibrate.o", "-Wp,-MMD,init/.calibrate.o.d"]) assert.ok(!g.includes(w), w);
  assert.ok(g.includes("-fconserve-stack") && g.includes("-mskip-rax-setup"));
  const c = syntaxOnlyArgv(p!, { compiler: "clang", clangFilter: true });
  assert.equal(c[0], "clang");
  for (const w of ["-fconserve-stack", "-mskip-rax-setup", "-mpreferred-stack-boundary=3", "-Wimplicit-fallthrough=5", "-Wno-maybe-uninitialized"]) assert.ok(!c.includes(w), w);
  assert.ok(c.includes("-std=gnu11") && c.includes("-D__KERNEL__") && c.includes('-DKBUILD_BASENAME="calibrate"'));
  assert.equal(c.at(-2), `${SRC_PLACEHOLDER}/init/calibrate.c`);
});

test("parseCompileCommands names the file and the entry that is wrong", () => {
  assert.equal(parseCompileCommands(JSON.stringify([CAL]), "db.json").length, 1);
  assert.throws(() => parseCompileCommands("{", "db.json"), (e: unknown) => e instanceof ProjectError && /db\.json is not JSON/.test(e.message));
  assert.throws(() => parseCompileCommands("{}", "db.json"), /not a JSON array/);
  assert.throws(() => parseCompileCommands(JSON.stringify([CAL, { file: "x" }]), "db.json"), /entry 1 lacks/);
});

test("recompiled: objects, archives and the kernel count; make's records and the gdb scripts do not", () => {
  const before = new Map<string, bigint>([["init/calibrate.o", 1n], ["vmlinux", 1n], ["Makefile", 1n], ["source", 1n]]);
  const after = new Map<string, bigint>([["init/calibrate.o", 1n], ["vmlinux", 1n], ["Makefile", 2n], ["source", 2n], [".missing-syscalls.d", 3n]]);
  const ch = changedFiles(before, after);
  assert.deepEqual(ch, [".missing-syscalls.d", "Makefile", "source"]);
  assert.deepEqual(recompiled(ch), []);
  assert.deepEqual(recompiled(["init/calibrate.o", "vmlinux", "vmlinux.a", "arch/x86/boot/bzImage", "arch/x86/kernel/asm-offsets.s", "scripts/gdb/linux/constants.py", "scripts/mod/modpost"]), ["init/calibrate.o", "vmlinux", "vmlinux.a", "arch/x86/boot/bzImage", "arch/x86/kernel/asm-offsets.s"]);
});

test("gdbCommandLine: vmlinux, the devel layer's helpers only with debug info, the stub's port", () => {
  const withDi = gdbCommandLine({ arch: hostArch(), vmlinux: "/b/vmlinux", scriptsDir: "/s/devel/build", port: 40123, debugInfo: true });
  assert.deepEqual(withDi.argv, ["gdb", "-iex", "set auto-load python-scripts off", "/b/vmlinux", "-ex", "add-auto-load-safe-path /s/devel/build", "-ex", "source /s/devel/build/vmlinux-gdb.py", "-ex", "target remote 127.0.0.1:40123"]);
  assert.equal(withDi.note, undefined);
  const noDi = gdbCommandLine({ arch: hostArch(), vmlinux: "/b/vmlinux", scriptsDir: "/s/devel/build", port: 40123, debugInfo: false });
  assert.deepEqual(noDi.argv, ["gdb", "-iex", "set auto-load python-scripts off", "/b/vmlinux", "-ex", "target remote 127.0.0.1:40123"]);
  assert.match(noDi.note ?? "", /no debug info/);
  const noLayer = gdbCommandLine({ arch: hostArch(), vmlinux: "/store/r/vmlinux", port: 40123, debugInfo: true });
  assert.deepEqual(noLayer.argv, ["gdb", "-iex", "set auto-load python-scripts off", "/store/r/vmlinux", "-ex", "target remote 127.0.0.1:40123"]);
  assert.match(noLayer.note ?? "", /no devel layer/);
  const other = Object.keys(ARCHES).find((a) => a !== hostArch())!;
  assert.deepEqual(gdbFor(other), { gdb: "gdb-multiarch", gdbPackage: "gdb-multiarch" });
});

test("qemuArgv: --gdb starts stopped with the stub on the loopback port given", () => {
  const arch = ARCHES.x86_64!;
  const base = { arch, accel: "tcg" as const, kernel: "/k", cmdline: kernelCmdline(arch), memoryMiB: 512, cpus: 1, console: "interactive" as const };
  const a = qemuArgv({ ...base, gdbPort: 40123 });
  const i = a.indexOf("-S");
  assert.ok(i > 0);
  assert.deepEqual(a.slice(i, i + 3), ["-S", "-gdb", "tcp:127.0.0.1:40123"]);
  assert.ok(!qemuArgv(base).includes("-S"));
  assert.throws(() => qemuArgv({ ...base, gdbPort: 70000 }), ProjectError);
});

test("listensIn reads /proc/net/tcp: a LISTEN socket on 127.0.0.1:<port> only", () => {
  const text = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:9CBB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2330578 1 00000000eb76b593 100 0 0 10 0",
    "   1: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 634 1 0000000097ae901c 100 0 0 10 0",
    "   2: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 634 1 0000000097ae901c 100 0 0 10 0",
  ].join("\n");
  assert.equal(listensIn(text, 0x9cbb), true);
  assert.equal(listensIn(text, 0x1f90), false, "an established connection is not a listener");
  assert.equal(listensIn(text, 0x07e8), false, "0.0.0.0 is not the loopback address kiln asked for");
  assert.equal(listensIn(text, 1234), false);
});
