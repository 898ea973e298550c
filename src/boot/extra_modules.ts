/**
 * Out-of-tree modules for the guest (`kiln run --module <file.ko>`). Each file must be a kernel
 * module built for the booted release: the first word of its .modinfo vermagic is that release,
 * or the guest's kernel would refuse it. The files are laid beside the build's own module tree
 * under extra/, and depmod indexes the result, so `modprobe <name>` in the guest finds each module
 * with its dependencies, as on a system where the module was installed with
 * `make M=... modules_install`. The tree is staged and renamed into place, keyed by the content of
 * every input, so a second run with the same files reuses it (docs/adr/0109).
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pidAlive, run } from "../effects/proc.js";
import { atomicDir } from "../effects/fsx.js";
import { ElfFormatError, readElfSections, SHT_NOBITS } from "../core/elf.js";
import { HostError, ProjectError } from "../errors.js";

/** The .modinfo fields of a module (`key=value` strings, NUL separated), or undefined when the file has none. Pure. */
export function modinfo(buf: Buffer): Map<string, string[]> | undefined {
  let sections;
  try {
    sections = readElfSections(buf);
  } catch (e) {
    if (e instanceof ElfFormatError) return undefined;
    throw e;
  }
  const s = sections.find((x) => x.name === ".modinfo" && x.type !== SHT_NOBITS);
  if (!s || s.offset + s.size > buf.length) return undefined;
  const out = new Map<string, string[]>();
  for (const item of buf.toString("latin1", s.offset, s.offset + s.size).split("\0")) {
    const eq = item.indexOf("=");
    if (eq <= 0) continue;
    const k = item.slice(0, eq);
    out.set(k, [...(out.get(k) ?? []), item.slice(eq + 1)]);
  }
  return out;
}

export interface ExtraModule {
  /** The file as given, made absolute. */
  file: string;
  /** Its file name, e.g. kiln_hello.ko: the name under extra/. */
  name: string;
  /** The name modprobe loads it by (its .modinfo name=, else from the file name; "-" read as "_"). */
  module: string;
  data: Buffer;
}

const SWEEP_AFTER_MS = 10 * 60 * 1000;

const HINT = "build it against this build's devel layer: `kiln dev layer <target> --arch <arch>` prints its folder, then `make -C <folder>/build M=<module dir> modules`";

/** Checks one module file's bytes against the release the guest boots. Pure. */
export function checkExtraModule(file: string, data: Buffer, release: string): ExtraModule {
  if (!file.endsWith(".ko")) throw new ProjectError(`--module ${file}: not a kernel module file (a .ko)`, { file }, HINT);
  const info = modinfo(data);
  if (!info) throw new ProjectError(`--module ${file}: not a kernel module (no .modinfo section in a 64-bit ELF file)`, { file }, HINT);
  const vermagic = info.get("vermagic")?.[0];
  if (vermagic === undefined) throw new ProjectError(`--module ${file}: its .modinfo has no vermagic`, { file }, HINT);
  const built = vermagic.split(" ")[0];
  if (built !== release) throw new ProjectError(`--module ${file}: built for ${built}, but the guest runs ${release}; its kernel would refuse the module`, { file }, HINT);
  return { file, name: basename(file), module: (info.get("name")?.[0] ?? moduleName(file)).replace(/-/g, "_"), data };
}

const MODULE_FILE = /\.ko(\.(gz|xz|zst))?$/;

/** The name modprobe knows a module file by: the file name without .ko[.gz|.xz|.zst], "-" read as "_". Pure. */
export function moduleName(file: string): string {
  return basename(file).replace(MODULE_FILE, "").replace(/-/g, "_");
}

/** The module files of an installed module tree (relative paths), compressed ones included. */
function moduleFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...moduleFiles(dir, r));
    else if (MODULE_FILE.test(e.name)) out.push(r);
  }
  return out;
}

/** A copy of an installed module tree: .ko files hard-linked (depmod never writes them), the rest copied. */
function layTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const a = join(from, e.name);
    const b = join(to, e.name);
    if (e.isDirectory()) layTree(a, b);
    else if (e.name.endsWith(".ko")) {
      try {
        linkSync(a, b);
      } catch {
        copyFileSync(a, b); // another filesystem
      }
    } else copyFileSync(a, b);
  }
}

/** The checks that need no build: each file exists and is named like a module. Run before building. */
export function precheckExtraModules(files: string[]): void {
  for (const f of files) {
    const abs = resolve(f);
    if (!existsSync(abs) || !statSync(abs).isFile()) throw new ProjectError(`--module ${f}: no such file`, { file: abs }, HINT);
    if (!f.endsWith(".ko")) throw new ProjectError(`--module ${f}: not a kernel module file (a .ko)`, { file: abs }, HINT);
  }
}

/**
 * The build's module tree plus `files` under extra/, indexed by depmod, in
 * `<workDir>/modules-<key>/lib/modules/<release>`. Earlier staged trees in workDir are removed.
 */
export async function stageExtraModules(o: { tree: { dir: string; release: string }; files: string[]; workDir: string }): Promise<{ dir: string; release: string }> {
  const { release } = o.tree;
  const own = new Map(moduleFiles(o.tree.dir).map((f) => [moduleName(f), f]));
  precheckExtraModules(o.files);
  const mods: ExtraModule[] = [];
  for (const f of o.files) {
    const abs = resolve(f);
    const m = checkExtraModule(abs, readFileSync(abs), release);
    const twice = mods.find((x) => x.module === m.module || x.name === m.name);
    if (twice) throw new ProjectError(`--module ${f}: ${twice.file} is the same module ${m.module}`, { file: abs }, "rename one of them: the guest finds modules by name");
    const clash = own.get(m.module);
    if (clash) throw new ProjectError(`--module ${f}: the build has its own module ${m.module} (${clash})`, { file: abs }, "rename the module: modprobe would not know which one to load");
    mods.push(m);
  }
  const h = createHash("sha256").update(`kiln-extra-modules/1\0${release}\0`).update(readFileSync(join(o.tree.dir, "modules.dep")));
  for (const m of [...mods].sort((a, b) => a.name.localeCompare(b.name))) h.update(`${m.name}\0`).update(createHash("sha256").update(m.data).digest("hex"));
  const key = h.digest("hex").slice(0, 16);
  const name = `modules-${key}`;
  const final = join(o.workDir, name);
  const dir = join(final, "lib", "modules", release);
  if (!existsSync(join(dir, "modules.dep"))) {
    mkdirSync(o.workDir, { recursive: true });
    await atomicDir(final, async (tmp) => {
      const to = join(tmp, "lib", "modules", release);
      layTree(o.tree.dir, to);
      mkdirSync(join(to, "extra"), { recursive: true });
      for (const m of mods) writeFileSync(join(to, "extra", m.name), m.data, { mode: 0o644 });
      const r = await run(["/sbin/depmod", "-b", tmp, release], { allowFail: true });
      if (r.exitCode !== 0) throw new HostError(`depmod could not index the guest's modules with ${mods.map((m) => m.name).join(", ")}`, { file: to }, `${r.all ?? ""}`.trim() || "install kmod (Debian: apt-get install kmod), which provides /sbin/depmod");
    });
  }
  // one staged tree is enough: drop the ones earlier runs left, and the half-filled folders of
  // runs that were killed. A .tmp- folder whose process is alive, and a tree staged in the last
  // ten minutes, may be another run's that has not yet read it into its initramfs: left alone.
  for (const e of readdirSync(o.workDir)) {
    if (!e.startsWith("modules-") || e === name) continue;
    const tmpOf = /\.tmp-(\d+)-[0-9a-f]+$/.exec(e);
    if (tmpOf ? pidAlive(Number(tmpOf[1])) : Date.now() - statSync(join(o.workDir, e)).mtimeMs < SWEEP_AFTER_MS) continue;
    rmSync(join(o.workDir, e), { recursive: true, force: true });
  }
  return { dir, release };
}
