/**
 * The guest init: a tiny static program built for the target arch from the kernel
 * tree's own nolibc (tools/include/nolibc), against the tree's own UAPI headers
 * (installed out of tree with `make O=<dir> headers_install`). No host userland is
 * needed. Built once per (tree content, arch, compiler, source) and cached.
 *
 * Also: the initramfs layout around it (pure), and finding a static busybox for
 * `kiln run --exec` and the interactive shell.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../effects/proc.js";
import { atomicDir } from "../effects/fsx.js";
import { HostError, InfraError, ProjectError } from "../errors.js";
import { ARCHES, crossPrefixFor, gnuTriple, hostArch, type ArchSpec } from "../tables/arches.js";
import { elfInfo } from "../core/elf.js";
import { fillToolchainWord, TOOLCHAINS } from "../tables/toolchains.js";
import type { CpioEntry } from "./cpio.js";

/**
 * Where the init's C source lives: src/boot/init.c in the package, found from this module's own
 * location whether it runs from src/ (ts) or from dist/src/ (compiled).
 */
export function initSourcePath(): string {
  const candidates = [new URL("./init.c", import.meta.url), new URL("../../../src/boot/init.c", import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new InfraError("kiln's guest init source is missing", { file: candidates[candidates.length - 1] }, "reinstall kiln: the package ships src/boot/init.c");
  }
  return found;
}

let initSource: string | undefined;

/** The C source of the init (src/boot/init.c). Modes are chosen on the kernel command line (kiln.mode=). */
export function readInitSource(): string {
  initSource ??= readFileSync(initSourcePath(), "utf8");
  return initSource;
}

/** Flags for a small, reproducible, freestanding static binary. */
export const INIT_CFLAGS: readonly string[] = [
  "-Os",
  "-static",
  "-nostdlib",
  "-nostdinc",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fno-ident",
  "-ffile-prefix-map=/=",
  "-W",
  "-Wall",
  "-s",
  "-Wl,--build-id=none",
];

/** How to compile for the target: the compiler argv prefix and whether to link libgcc. */
export interface InitToolchain {
  /** e.g. ["aarch64-linux-gnu-gcc"] or ["clang", "--target=aarch64-linux-gnu"]. */
  cc: string[];
  /** gcc needs -lgcc for helpers nolibc relies on; clang does not. */
  libgcc: boolean;
}

/**
 * The init's compiler from the toolchain table (its initCc row): gcc for the host arch, the
 * Debian cross gcc otherwise; clang with --target=<triple> for the clang toolchain (or `llvm`).
 */
export function defaultInitToolchain(arch: ArchSpec, opts: { llvm?: boolean; toolchain?: string; host?: string } = {}): InitToolchain {
  const host = opts.host ?? hostArch();
  const name = opts.toolchain ?? (opts.llvm ? "clang" : "gcc");
  const tc = TOOLCHAINS[name];
  if (!tc) throw new ProjectError(`unknown toolchain "${name}"`, {}, `kiln knows ${Object.keys(TOOLCHAINS).join(", ")} (src/tables/toolchains.ts)`);
  const fill = { prefix: crossPrefixFor(arch, host), triple: gnuTriple(arch) };
  return { cc: tc.initCc.map((w) => fillToolchainWord(w, fill)), libgcc: tc.initLibgcc };
}

/** The Debian package that provides a compiler command, from the arch and toolchain tables. */
export function compilerPackage(cmd: string): string {
  const cross = Object.values(ARCHES).find((a) => `${a.crossPrefix}gcc` === cmd);
  if (cross) return cross.crossGccPackage;
  const tc = Object.values(TOOLCHAINS).find((t) => fillToolchainWord(t.initCc[0] ?? "", { prefix: "", triple: "" }) === cmd);
  return tc?.debianPackages[0] ?? cmd;
}

/** The compiler argv (pure). */
export function initCompileArgs(o: {
  toolchain: InitToolchain;
  nolibcHeader: string;
  uapiInclude: string;
  source: string;
  output: string;
}): string[] {
  return [
    ...o.toolchain.cc,
    ...INIT_CFLAGS,
    "-I",
    o.uapiInclude,
    "-include",
    o.nolibcHeader,
    "-o",
    o.output,
    o.source,
    ...(o.toolchain.libgcc ? ["-lgcc"] : []),
  ];
}

function sha256(parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const p of parts) {
    h.update(p);
    h.update("\0");
  }
  return h.digest("hex");
}

/** Content key of the parts of a tree the init depends on: its version and its nolibc. */
export function nolibcKey(tree: string): string {
  const dir = join(tree, "tools/include/nolibc");
  if (!existsSync(join(dir, "nolibc.h"))) {
    throw new HostError(`${tree} has no tools/include/nolibc/nolibc.h`, { file: tree }, "kiln needs a kernel tree of 5.1 or newer to build its guest init");
  }
  const parts: (string | Buffer)[] = [readFileSync(join(tree, "Makefile")).subarray(0, 200)];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".h")) continue;
    parts.push(f, readFileSync(join(dir, f)));
  }
  return sha256(parts);
}

const toolIds = new Map<string, Promise<string>>();

/** The compiler's version and target, asked once per process. */
function toolIdentity(cc: string[]): Promise<string> {
  const key = cc.join("\0");
  let p = toolIds.get(key);
  if (!p) {
    p = askToolIdentity(cc);
    toolIds.set(key, p);
    p.catch(() => toolIds.delete(key));
  }
  return p;
}

async function askToolIdentity(cc: string[]): Promise<string> {
  try {
    const r = await run([...cc, "--version"]);
    const m = await run([...cc, "-dumpmachine"]);
    return `${r.stdout.split("\n")[0] ?? ""}\n${m.stdout.trim()}`;
  } catch (e) {
    throw new HostError(
      `compiler ${cc.join(" ")} is not usable`,
      {},
      `install it (Debian: apt-get install ${compilerPackage(cc[0]!)})`,
    );
  }
}

/** The tree's UAPI headers for an arch, installed out of tree into the cache (`make O= headers_install`). */
export async function uapiHeaders(o: { tree: string; arch: ArchSpec; cacheDir: string; treeKey?: string }): Promise<string> {
  const key = sha256([o.treeKey ?? nolibcKey(o.tree), o.tree, o.arch.kernelArch]).slice(0, 16);
  const final = join(o.cacheDir, "uapi", `${o.arch.name}-${key}`);
  const include = join(final, "usr/include");
  if (existsSync(include)) return include;
  mkdirSync(join(o.cacheDir, "uapi"), { recursive: true });
  await atomicDir(final, async (tmp) => {
    const r = await run(
      ["make", "-s", "-C", o.tree, `O=${join(tmp, "obj")}`, `ARCH=${o.arch.kernelArch}`, "headers_install", `INSTALL_HDR_PATH=${join(tmp, "usr")}`],
      { allowFail: true },
    );
    if (r.exitCode !== 0) {
      throw new InfraError(`make headers_install failed for ${o.arch.name}`, { file: o.tree }, (r.all ?? "").split("\n").slice(-20).join("\n"));
    }
    rmSync(join(tmp, "obj"), { recursive: true, force: true });
  });
  return include;
}

export interface BuiltInit {
  path: string;
  key: string;
  cached: boolean;
}

/** Where the init of these inputs lives in the cache (built or not); reads no tree. */
async function initCacheEntry(o: { arch: ArchSpec; cacheDir: string; toolchain: InitToolchain; treeKey: string }): Promise<{ key: string; final: string; path: string; source: string }> {
  const tool = await toolIdentity(o.toolchain.cc);
  const source = readInitSource();
  const key = sha256([source, INIT_CFLAGS.join(" "), o.toolchain.cc.join(" "), String(o.toolchain.libgcc), tool, o.treeKey, o.arch.name]).slice(0, 16);
  const final = join(o.cacheDir, "init", `${o.arch.name}-${key}`);
  return { key, final, path: join(final, "init"), source };
}

/** True when the init for a tree (by its content key) is in the cache: building it needs no tree. */
export async function initCached(o: { arch: ArchSpec; cacheDir: string; toolchain?: InitToolchain; treeKey: string }): Promise<boolean> {
  return existsSync((await initCacheEntry({ ...o, toolchain: o.toolchain ?? defaultInitToolchain(o.arch) })).path);
}

/**
 * Builds (or finds in the cache) the static init for an arch.
 * The cache key covers the source, flags, compiler identity and the tree's nolibc.
 */
export async function buildInit(o: {
  tree: string;
  arch: ArchSpec;
  cacheDir: string;
  toolchain?: InitToolchain;
  treeKey?: string;
}): Promise<BuiltInit> {
  const toolchain = o.toolchain ?? defaultInitToolchain(o.arch);
  const treeKey = o.treeKey ?? nolibcKey(o.tree);
  const { key, final, path, source } = await initCacheEntry({ arch: o.arch, cacheDir: o.cacheDir, toolchain, treeKey });
  if (existsSync(path)) return { path, key, cached: true };
  const uapi = await uapiHeaders({ tree: o.tree, arch: o.arch, cacheDir: o.cacheDir, treeKey });
  mkdirSync(join(o.cacheDir, "init"), { recursive: true });
  await atomicDir(final, async (tmp) => {
    const sourceFile = join(tmp, "init.c");
    writeFileSync(sourceFile, source);
    const argv = initCompileArgs({
      toolchain,
      nolibcHeader: join(o.tree, "tools/include/nolibc/nolibc.h"),
      uapiInclude: uapi,
      source: sourceFile,
      output: join(tmp, "init"),
    });
    const r = await run(argv, { allowFail: true, cwd: tmp });
    if (r.exitCode !== 0) {
      throw new InfraError(`building the guest init for ${o.arch.name} failed`, {}, `${argv.join(" ")}\n${r.all ?? ""}`);
    }
  });
  return { path, key, cached: false };
}

export { elfInfo, type ElfInfo } from "../core/elf.js";

/** Where kiln looks for a static busybox for an arch, in order. */
export function busyboxCandidates(arch: ArchSpec, env: NodeJS.ProcessEnv = process.env, host = hostArch()): string[] {
  const out: string[] = [];
  const fromEnv = env[`KILN_BUSYBOX_${arch.name.toUpperCase()}`] ?? (arch.name === host ? env.KILN_BUSYBOX : undefined);
  if (fromEnv) out.push(fromEnv);
  const triple = gnuTriple(arch);
  out.push(`/usr/${triple}/bin/busybox`, `/usr/lib/kiln/busybox-${arch.name}`);
  if (arch.name === host) out.push("/bin/busybox", "/usr/bin/busybox");
  return out;
}

/** A static busybox binary for the arch, or a HostError saying how to get one. */
export function findBusybox(arch: ArchSpec, explicit?: string): string {
  const tried: string[] = [];
  for (const p of explicit ? [explicit] : busyboxCandidates(arch)) {
    if (!existsSync(p) || !statSync(p).isFile()) {
      tried.push(`${p}: missing`);
      continue;
    }
    const head = Buffer.alloc(4096);
    const fd = openSync(p, "r");
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    const info = elfInfo(head);
    if (!info) tried.push(`${p}: not an ELF file`);
    else if (info.machine !== arch.name) tried.push(`${p}: built for ${info.machine}`);
    else if (!info.static) tried.push(`${p}: dynamically linked`);
    else return p;
  }
  throw new HostError(
    `no static busybox for ${arch.name}`,
    {},
    `tried ${tried.join("; ")}. ` +
      (arch.name === hostArch()
        ? "Install Debian's busybox-static."
        : `Unpack a static busybox for ${arch.name} (e.g. \`apt-get download busybox-static:${arch.debianArch}\` then \`dpkg-deb -x\`) and set KILN_BUSYBOX_${arch.name.toUpperCase()} to its bin/busybox.`),
  );
}

export interface InitramfsSpec {
  /** The init binary. */
  init: Uint8Array;
  /** A static busybox: installed as /bin/busybox with /bin/sh pointing at it. */
  busybox?: Uint8Array;
  /** Script for kiln.mode=exec, stored as /kiln/exec.sh. */
  execScript?: string;
  /** The build's module tree (modulesTreeEntries): lib/modules/<release>/... in the guest. */
  modules?: CpioEntry[];
  /** More entries (they must not collide with kiln's). */
  extra?: CpioEntry[];
}

/** The initramfs layout (pure). /dev/console must exist for the kernel to give init a console. */
export function initramfsEntries(s: InitramfsSpec): CpioEntry[] {
  const e: CpioEntry[] = [
    { type: "dir", path: "dev", mode: 0o755 },
    { type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 },
    { type: "dir", path: "proc", mode: 0o555 },
    { type: "dir", path: "sys", mode: 0o555 },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "file", path: "init", mode: 0o755, data: s.init },
  ];
  if (s.busybox) {
    e.push({ type: "file", path: "bin/busybox", mode: 0o755, data: s.busybox });
    e.push({ type: "symlink", path: "bin/sh", target: "busybox" });
  }
  if (s.execScript !== undefined) {
    e.push({ type: "file", path: "kiln/exec.sh", mode: 0o644, data: Buffer.from(s.execScript, "utf8") });
  }
  return [...e, ...(s.modules ?? []), ...(s.extra ?? [])];
}

/**
 * The store entry's module tree (`<entry>/lib/modules/<release>`, as modules_install and depmod
 * left it) as initramfs entries under lib/modules/<release>/, so `modprobe` in the guest finds
 * the exact modules of the booted build. Files keep their mode; a symlink is refused (the store
 * copy has none: install drops build/ and source/).
 */
export function modulesTreeEntries(dir: string, release: string): CpioEntry[] {
  if (!existsSync(join(dir, "modules.dep"))) {
    throw new ProjectError(`${dir} holds no modules.dep: it is not an installed module tree`, { file: dir }, "rebuild the entry: kiln build --no-reuse");
  }
  const out: CpioEntry[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = join(dir, r);
      const path = `lib/modules/${release}/${r}`;
      if (e.isDirectory()) {
        out.push({ type: "dir", path, mode: 0o755 });
        walk(r);
      } else if (e.isFile()) out.push({ type: "file", path, mode: statSync(abs).mode & 0o777, data: readFileSync(abs) });
      else throw new ProjectError(`${abs} is not a plain file or folder; the store's module tree holds none`, { file: abs }, "rebuild the entry: kiln build --no-reuse");
    }
  };
  walk("");
  return out;
}
