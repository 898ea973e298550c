/**
 * The arch and toolchain tables are the one source of arch facts: every module's view
 * (kconfig, bundles, ELF machines, host detection, doctor rows, the init's compiler) comes
 * from their rows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ARCHES, archByAnyName, archByElfMachine, crossPrefixFor, gnuTriple, hostArchOf } from "../../src/tables/arches.js";
import { TOOLCHAINS, fillToolchainWord } from "../../src/tables/toolchains.js";
import { HOST_TOOLS } from "../../src/tables/host.js";
import { kconfigArch, kconfigEnv } from "../../src/kconfig/run.js";
import { BUNDLE_ARCHES } from "../../src/ship/bundle.js";
import { bundleInputInEntry, bundleInputPath } from "../../src/ship/bundle_file.js";
import { compilerPackage, defaultInitToolchain } from "../../src/boot/init.js";
import { ProjectError } from "../../src/errors.js";

test("host detection reads the nodeArch column", () => {
  assert.equal(hostArchOf("x64"), "x86_64");
  assert.equal(hostArchOf("arm64"), "aarch64");
  assert.equal(hostArchOf("riscv64"), "riscv64");
  assert.equal(hostArchOf("s390x"), "s390x");
});

test("kconfig's ARCH/SRCARCH/CROSS_COMPILE come from the table and depend on the host", () => {
  assert.deepEqual(kconfigArch("x86_64", "x86_64"), { arch: "x86_64", srcArch: "x86", crossCompile: "" });
  assert.deepEqual(kconfigArch("x86", "x86_64"), { arch: "x86_64", srcArch: "x86", crossCompile: "" });
  assert.deepEqual(kconfigArch("arm64", "x86_64"), { arch: "arm64", srcArch: "arm64", crossCompile: "aarch64-linux-gnu-" });
  assert.deepEqual(kconfigArch("riscv", "x86_64"), { arch: "riscv", srcArch: "riscv", crossCompile: "riscv64-linux-gnu-" });
  // On an arm64 host the arm64 kernel is native and x86_64 is the cross build.
  assert.deepEqual(kconfigArch("aarch64", "aarch64"), { arch: "arm64", srcArch: "arm64", crossCompile: "" });
  assert.deepEqual(kconfigArch("x86_64", "aarch64"), { arch: "x86_64", srcArch: "x86", crossCompile: "x86_64-linux-gnu-" });
  assert.throws(() => kconfigArch("mips"), (e: unknown) => e instanceof ProjectError && /mips/.test(e.message) && /x86_64, aarch64, riscv64/.test(e.hint ?? ""));
});

test("names resolve by kiln name, kernel ARCH and SRCARCH; ELF machines map back to rows", () => {
  assert.equal(archByAnyName("arm64")?.name, "aarch64");
  assert.equal(archByAnyName("x86")?.name, "x86_64");
  assert.equal(archByAnyName("riscv64")?.name, "riscv64");
  assert.equal(archByAnyName("sparc"), undefined);
  assert.equal(archByElfMachine(62)?.name, "x86_64");
  assert.equal(archByElfMachine(183)?.name, "aarch64");
  assert.equal(archByElfMachine(243)?.name, "riscv64");
  assert.equal(archByElfMachine(3), undefined);
  assert.equal(gnuTriple(ARCHES.riscv64!), "riscv64-linux-gnu");
  assert.equal(crossPrefixFor(ARCHES.riscv64!, "x86_64"), "riscv64-linux-gnu-");
  assert.equal(crossPrefixFor(ARCHES.riscv64!, "riscv64"), "");
});

test("every row is complete and its columns are unique where they must be", () => {
  const rows = Object.entries(ARCHES);
  for (const [key, a] of rows) {
    assert.equal(a.name, key);
    assert.match(a.crossPrefix, /^[a-z0-9_]+-linux-gnu-$/);
    assert.ok(a.imagePath.startsWith(`arch/${a.srcArch}/`), `${key}: image under arch/${a.srcArch}`);
    assert.ok(a.debianArch && a.qemuPackage && a.crossGccPackage && a.nodeArch, key);
  }
  for (const col of ["elfMachine", "nodeArch", "debianArch", "crossPrefix"] as const) {
    const values = rows.map(([, a]) => a[col]);
    assert.equal(new Set(values).size, values.length, `${col} is unique`);
  }
  assert.deepEqual(
    rows.map(([, a]) => a.debianArch),
    ["amd64", "arm64", "riscv64"],
  );
});

test("SUBK bundle codes and inputs are the table's bundle column", () => {
  assert.deepEqual({ ...BUNDLE_ARCHES }, { x86_64: 1, aarch64: 2, riscv64: 3 });
  assert.equal(bundleInputPath("x86_64", "/b"), "/b/vmlinux");
  assert.equal(bundleInputPath("aarch64", "/b"), "/b/arch/arm64/boot/Image");
  assert.equal(bundleInputPath("riscv64", "/b"), "/b/arch/riscv/boot/Image");
  assert.equal(bundleInputInEntry("x86_64", "/s", "6.12.0-x"), "/s/vmlinux");
  assert.equal(bundleInputInEntry("riscv64", "/s", "6.12.0-x"), "/s/boot/vmlinuz-6.12.0-x");
  assert.throws(() => bundleInputPath("mips", "/b"), ProjectError);
});

test("doctor rows: QEMU for every arch, cross compilers for the non-host arches, from the table", () => {
  for (const a of Object.values(ARCHES)) {
    const q = HOST_TOOLS.find((t) => t.cmd === a.qemuBinary);
    assert.equal(q?.pkg, a.qemuPackage, a.name);
  }
  const cross = HOST_TOOLS.filter((t) => t.cmd.endsWith("-linux-gnu-gcc"));
  for (const t of cross) assert.ok(t.arch && ARCHES[t.arch]?.crossGccPackage === t.pkg, t.cmd);
  assert.equal(new Set(HOST_TOOLS.map((t) => t.cmd)).size, HOST_TOOLS.length, "no tool listed twice");
});

test("toolchains are rows: the init compiler, its package and its placeholders", () => {
  assert.equal(fillToolchainWord("{prefix}gcc", { prefix: "aarch64-linux-gnu-", triple: "" }), "aarch64-linux-gnu-gcc");
  assert.equal(fillToolchainWord("--target={triple}", { prefix: "", triple: "riscv64-linux-gnu" }), "--target=riscv64-linux-gnu");
  assert.deepEqual(defaultInitToolchain(ARCHES.aarch64!, { host: "x86_64", toolchain: "clang" }), { cc: ["clang", "--target=aarch64-linux-gnu"], libgcc: false });
  assert.deepEqual(defaultInitToolchain(ARCHES.x86_64!, { host: "aarch64" }), { cc: ["x86_64-linux-gnu-gcc"], libgcc: true });
  assert.throws(() => defaultInitToolchain(ARCHES.x86_64!, { toolchain: "icc" }), /unknown toolchain "icc"/);
  assert.equal(compilerPackage("riscv64-linux-gnu-gcc"), "gcc-riscv64-linux-gnu");
  assert.equal(compilerPackage("gcc"), "gcc");
  assert.equal(compilerPackage("clang"), "clang");
  assert.equal(TOOLCHAINS.gcc!.compilerProper, "cc1");
  assert.equal(TOOLCHAINS.clang!.compilerProper, undefined);
});

test("kconfig's environment names the toolchain row's tools", () => {
  const arm = kconfigArch("aarch64", "x86_64");
  const gcc = kconfigEnv("/t", arm);
  assert.equal(gcc.CC, "aarch64-linux-gnu-gcc");
  assert.equal(gcc.LD, "aarch64-linux-gnu-ld");
  assert.equal(gcc.CPP, "aarch64-linux-gnu-gcc -E");
  assert.equal(gcc.HOSTCC, "gcc");
  assert.equal(gcc.ARCH, "arm64");
  const clang = kconfigEnv("/t", arm, "clang");
  assert.equal(clang.CC, "clang");
  assert.equal(clang.LD, "ld.lld");
  assert.equal(clang.HOSTCXX, "clang++");
});
