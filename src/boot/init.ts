/**
 * The guest init: a tiny static program built for the target arch from the kernel
 * tree's own nolibc (tools/include/nolibc), against the tree's own UAPI headers
 * (installed out of tree with `make O=<dir> headers_install`). No host userland is
 * needed. Built once per (tree content, arch, compiler, source) and cached.
 *
 * Also: the initramfs layout around it (pure), and finding a static busybox for
 * `kiln run --exec` and the interactive shell.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { HostError, InfraError } from "../errors.js";
import { hostArch, type ArchSpec } from "../tables/arches.js";
import type { CpioEntry } from "./cpio.js";

/** The C source of the init. Modes are chosen on the kernel command line (kiln.mode=). */
export const INIT_SOURCE = String.raw`/*
 * kiln's guest init: a tiny static program built against the kernel tree's own
 * nolibc (tools/include/nolibc). It mounts proc, sys and devtmpfs, prints one
 * marker line that identifies the running kernel, optionally runs a command or a
 * shell with busybox, and powers the machine off.
 *
 * Modes, from the kernel command line (kiln.mode=...):
 *   smoke (default)  marker, then power off
 *   exec             marker, run /kiln/exec.sh with /bin/sh, print its exit status, power off
 *   shell            marker, interactive /bin/sh on kiln.tty, power off when it exits
 */
#include <linux/reboot.h>

static char cmdline[4096];
static char buf[4096];

static void put(const char *s) { write(1, s, strlen(s)); }

static void putnum(unsigned long v)
{
	char tmp[24];
	int i = sizeof(tmp) - 1;
	tmp[i] = 0;
	do { tmp[--i] = '0' + v % 10; v /= 10; } while (v && i > 0);
	put(tmp + i);
}

static long slurp(const char *path, char *out, long size)
{
	long n = 0, r;
	int fd = open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	while (n < size - 1 && (r = read(fd, out + n, size - 1 - n)) > 0)
		n += r;
	close(fd);
	out[n] = 0;
	return n;
}

static void chomp(char *s)
{
	long n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* The value of "key=" on the command line, copied into out (empty when absent). */
static void param(const char *key, char *out, long size)
{
	long klen = strlen(key), i = 0, j;
	out[0] = 0;
	while (cmdline[i]) {
		if ((i == 0 || cmdline[i - 1] == ' ') && strncmp(cmdline + i, key, klen) == 0 && cmdline[i + klen] == '=') {
			i += klen + 1;
			for (j = 0; cmdline[i] && cmdline[i] != ' ' && j < size - 1; j++, i++)
				out[j] = cmdline[i];
			out[j] = 0;
			return;
		}
		i++;
	}
}

static unsigned long parse_num(const char **p)
{
	unsigned long v = 0;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (unsigned long)(*(*p)++ - '0');
	return v;
}

/* Counts CPUs in a list like "0-3,5". */
static unsigned long count_cpus(void)
{
	const char *p = buf;
	unsigned long n = 0, a, b;
	if (slurp("/sys/devices/system/cpu/online", buf, sizeof(buf)) <= 0)
		return 0;
	while (*p >= '0' && *p <= '9') {
		a = b = parse_num(&p);
		if (*p == '-') { p++; b = parse_num(&p); }
		n += b - a + 1;
		if (*p != ',')
			break;
		p++;
	}
	return n;
}

static unsigned long mem_kib(void)
{
	const char *p = buf;
	if (slurp("/proc/meminfo", buf, sizeof(buf)) <= 0 || strncmp(buf, "MemTotal:", 9) != 0)
		return 0;
	p += 9;
	while (*p == ' ')
		p++;
	return parse_num(&p);
}

static void mount_one(const char *src, const char *dir, const char *type, int *ok)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, 0) != 0 && errno != EBUSY) {
		*ok = 0;
		put("kiln-init: mount ");
		put(dir);
		put(" failed: errno ");
		putnum((unsigned long)errno);
		put("\n");
	}
}

static int run(char *const argv[])
{
	static char *const envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=linux", 0 };
	int status = 0;
	pid_t pid = fork();
	if (pid == 0) {
		execve(argv[0], argv, envp);
		put("kiln-init: cannot execute ");
		put(argv[0]);
		put("\n");
		exit(127);
	}
	if (pid < 0)
		return 127;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if ((status & 0x7f) == 0)
		return (status >> 8) & 0xff;
	return 128 + (status & 0x7f);
}

static void power_off(void)
{
	my_syscall0(__NR_sync);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	put("kiln-init: power-off failed\n");
	for (;;)
		sleep(3600);
}

int main(void)
{
	struct utsname u;
	int mounted = 1;
	char mode[32], tty[64];

	put("kiln-init: started\n");
	mount_one("proc", "/proc", "proc", &mounted);
	mount_one("sysfs", "/sys", "sysfs", &mounted);
	mount_one("devtmpfs", "/dev", "devtmpfs", &mounted);
	if (slurp("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		cmdline[0] = 0;
	chomp(cmdline);
	if (uname(&u) != 0) {
		put("kiln-init: uname failed\n");
		power_off();
	}
	put("KILN-MARKER v1 release=");
	put(u.release);
	put(" machine=");
	put(u.machine);
	put(" cpus=");
	putnum(count_cpus());
	put(" mem_kib=");
	putnum(mem_kib());
	put(" mounts=");
	put(mounted ? "ok" : "failed");
	put(" cmdline=");
	put(cmdline);
	put("\n");

	param("kiln.mode", mode, sizeof(mode));
	if (strcmp(mode, "exec") == 0 || strcmp(mode, "shell") == 0) {
		static char *const install[] = { "/bin/busybox", "--install", "-s", "/bin", 0 };
		static char *const script[] = { "/bin/sh", "/kiln/exec.sh", 0 };
		static char *const shell[] = { "/bin/sh", "-l", 0 };
		int status;
		run(install);
		if (strcmp(mode, "exec") == 0) {
			put("KILN-EXEC-BEGIN\n");
			status = run(script);
			put("\nKILN-EXEC-END status=");
			putnum((unsigned long)status);
			put("\n");
		} else {
			param("kiln.tty", tty, sizeof(tty));
			if (tty[0]) {
				char path[80] = "/dev/";
				int fd;
				strncat(path, tty, sizeof(path) - 6);
				setsid();
				fd = open(path, O_RDWR, 0);
				if (fd >= 0) {
					ioctl(fd, TIOCSCTTY, (void *)1);
					dup2(fd, 0);
					dup2(fd, 1);
					dup2(fd, 2);
				}
			}
			run(shell);
		}
	}
	power_off();
	return 0;
}
`;

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

/** gcc for the host arch, the Debian cross gcc otherwise; clang with --target when asked. */
export function defaultInitToolchain(arch: ArchSpec, opts: { llvm?: boolean; host?: string } = {}): InitToolchain {
  const host = opts.host ?? hostArch();
  if (opts.llvm) return { cc: ["clang", `--target=${arch.crossPrefix.replace(/-$/, "")}`], libgcc: false };
  return { cc: [arch.name === host ? "gcc" : `${arch.crossPrefix}gcc`], libgcc: true };
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
    const r = await execa(cc[0]!, [...cc.slice(1), "--version"], { reject: true });
    const m = await execa(cc[0]!, [...cc.slice(1), "-dumpmachine"], { reject: true });
    return `${r.stdout.split("\n")[0] ?? ""}\n${m.stdout.trim()}`;
  } catch (e) {
    throw new HostError(
      `compiler ${cc.join(" ")} is not usable`,
      {},
      `install it (Debian: apt-get install ${cc[0] === "gcc" ? "gcc" : cc[0] === "clang" ? "clang" : `gcc-${cc[0]!.replace(/-gcc$/, "").replace(/_/g, "-")}`})`,
    );
  }
}

function atomicDir(final: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${final}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(tmp, { recursive: true });
  return fill(tmp).then(
    () => {
      try {
        renameSync(tmp, final);
      } catch {
        // Another process landed the same content first.
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    (e: unknown) => {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    },
  );
}

/** The tree's UAPI headers for an arch, installed out of tree into the cache (`make O= headers_install`). */
export async function uapiHeaders(o: { tree: string; arch: ArchSpec; cacheDir: string; treeKey?: string }): Promise<string> {
  const key = sha256([o.treeKey ?? nolibcKey(o.tree), o.tree, o.arch.kernelArch]).slice(0, 16);
  const final = join(o.cacheDir, "uapi", `${o.arch.name}-${key}`);
  const include = join(final, "usr/include");
  if (existsSync(include)) return include;
  mkdirSync(join(o.cacheDir, "uapi"), { recursive: true });
  await atomicDir(final, async (tmp) => {
    const r = await execa(
      "make",
      ["-s", "-C", o.tree, `O=${join(tmp, "obj")}`, `ARCH=${o.arch.kernelArch}`, "headers_install", `INSTALL_HDR_PATH=${join(tmp, "usr")}`],
      { reject: false, all: true },
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
  const tool = await toolIdentity(toolchain.cc);
  const key = sha256([INIT_SOURCE, INIT_CFLAGS.join(" "), toolchain.cc.join(" "), String(toolchain.libgcc), tool, treeKey, o.arch.name]).slice(0, 16);
  const final = join(o.cacheDir, "init", `${o.arch.name}-${key}`);
  const path = join(final, "init");
  if (existsSync(path)) return { path, key, cached: true };
  const uapi = await uapiHeaders({ tree: o.tree, arch: o.arch, cacheDir: o.cacheDir, treeKey });
  mkdirSync(join(o.cacheDir, "init"), { recursive: true });
  await atomicDir(final, async (tmp) => {
    const source = join(tmp, "init.c");
    writeFileSync(source, INIT_SOURCE);
    const argv = initCompileArgs({
      toolchain,
      nolibcHeader: join(o.tree, "tools/include/nolibc/nolibc.h"),
      uapiInclude: uapi,
      source,
      output: join(tmp, "init"),
    });
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, all: true, cwd: tmp });
    if (r.exitCode !== 0) {
      throw new InfraError(`building the guest init for ${o.arch.name} failed`, {}, `${argv.join(" ")}\n${r.all ?? ""}`);
    }
  });
  return { path, key, cached: false };
}

/** ELF facts kiln checks before putting a binary into a guest. */
export interface ElfInfo {
  /** kiln arch name, or `e_machine=<n>` when unknown. */
  machine: string;
  is64: boolean;
  littleEndian: boolean;
  /** No PT_INTERP: runs without a dynamic loader. */
  static: boolean;
}

const ELF_MACHINES: Record<number, string> = { 62: "x86_64", 183: "aarch64", 243: "riscv64", 3: "i386", 40: "arm" };

/** Parses just enough of an ELF header (pure). Undefined when not an ELF file. */
export function elfInfo(buf: Buffer): ElfInfo | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const word = (o: number) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  const em = u16(18);
  const phoff = word(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  let hasInterp = false;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 4 > buf.length) break;
    if (u32(o) === 3) hasInterp = true;
  }
  return { machine: ELF_MACHINES[em] ?? `e_machine=${em}`, is64, littleEndian: le, static: !hasInterp };
}

/** Where kiln looks for a static busybox for an arch, in order. */
export function busyboxCandidates(arch: ArchSpec, env: NodeJS.ProcessEnv = process.env, host = hostArch()): string[] {
  const out: string[] = [];
  const fromEnv = env[`KILN_BUSYBOX_${arch.name.toUpperCase()}`] ?? (arch.name === host ? env.KILN_BUSYBOX : undefined);
  if (fromEnv) out.push(fromEnv);
  const triple = arch.crossPrefix.replace(/-$/, "");
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
        : `Unpack a static busybox for ${arch.name} (e.g. \`apt-get download busybox-static:${debianArch(arch.name)}\` then \`dpkg-deb -x\`) and set KILN_BUSYBOX_${arch.name.toUpperCase()} to its bin/busybox.`),
  );
}

function debianArch(arch: string): string {
  return arch === "x86_64" ? "amd64" : arch === "aarch64" ? "arm64" : arch;
}

export interface InitramfsSpec {
  /** The init binary. */
  init: Uint8Array;
  /** A static busybox: installed as /bin/busybox with /bin/sh pointing at it. */
  busybox?: Uint8Array;
  /** Script for kiln.mode=exec, stored as /kiln/exec.sh. */
  execScript?: string;
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
  return [...e, ...(s.extra ?? [])];
}
