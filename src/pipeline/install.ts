/**
 * The install step: lay the build out in a temporary store folder in the usual install layout:
 *   boot/<image>-<release>, boot/System.map-<release>, boot/config-<release>,
 *   lib/modules/<release>/ (no build/source symlinks), plus vmlinux for bundle packing.
 * The caller moves the folder into the store in one rename.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BuildFailure } from "../errors.js";
import { run } from "../effects/proc.js";
import type { ArchSpec } from "../tables/arches.js";
import { makeArgv, type MakeEnv } from "./configure.js";
import type { ModuleFile } from "../core/modules.js";

export interface Installed {
  image: string;
  system_map: string;
  config: string;
  vmlinux?: string;
  modules?: string;
  /** The installed modules (.ko), relative to lib/modules/<release>/, with their (stripped) sizes, by path. */
  module_files?: ModuleFile[];
  /** The device trees `make dtbs_install` laid out (boot/dtbs/<release>), when the build made any. */
  dtbs?: string;
  /** The .dtb and .dtbo files under it, relative, sorted. */
  dtb_files?: string[];
}

/** Every device tree blob (.dtb, .dtbo) under `dir`, relative paths, sorted. */
export function listDtbs(dir: string): string[] {
  return filesNamed(dir, /\.dtbo?$/);
}

/** Every regular file under `dir` whose name matches, as relative paths in code-point order ([] when there is no dir). */
function filesNamed(dir: string, name: RegExp): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && name.test(e.name)) out.push(r);
    }
  };
  if (existsSync(dir)) walk("");
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every .ko under `dir` (relative paths, sorted), with its size. */
export function listModules(dir: string): ModuleFile[] {
  return filesNamed(dir, /\.ko(\.(gz|xz|zst))?$/).map((path) => ({ path, bytes: lstatSync(join(dir, path)).size }));
}

export async function install(m: MakeEnv, arch: ArchSpec, release: string, dest: string, jobs: number): Promise<Installed> {
  const boot = join(dest, "boot");
  mkdirSync(boot, { recursive: true });
  const img = join(m.build, arch.imagePath);
  if (!existsSync(img)) throw new BuildFailure(`the build produced no ${arch.imagePath}`, { file: img });
  const out: Installed = {
    image: `boot/${arch.installName}-${release}`,
    system_map: `boot/System.map-${release}`,
    config: `boot/config-${release}`,
  };
  copyFileSync(img, join(dest, out.image));
  copyFileSync(join(m.build, "System.map"), join(dest, out.system_map));
  copyFileSync(join(m.build, ".config"), join(dest, out.config));
  if (existsSync(join(m.build, "vmlinux"))) {
    copyFileSync(join(m.build, "vmlinux"), join(dest, "vmlinux"));
    out.vmlinux = "vmlinux";
  }
  if (/^CONFIG_MODULES=y$/m.test(readFileSync(join(m.build, ".config"), "utf8"))) {
    const r = await run(makeArgv(m, ["modules_install"], [`-j${jobs}`, `INSTALL_MOD_PATH=${dest}`, "INSTALL_MOD_STRIP=1", "DEPMOD=/sbin/depmod"]), { env: m.env, allowFail: true });
    if (r.exitCode !== 0) throw new BuildFailure(`modules_install failed:\n${r.all.trim().split("\n").slice(-10).join("\n")}`);
    const mod = join(dest, "lib", "modules", release);
    if (!existsSync(join(mod, "modules.dep"))) throw new BuildFailure(`modules_install left no modules.dep in lib/modules/${release}: depmod did not run`, { file: mod }, "install kmod (Debian: apt-get install kmod), which provides /sbin/depmod");
    rmSync(join(mod, "build"), { force: true });
    rmSync(join(mod, "source"), { force: true });
    out.modules = `lib/modules/${release}`;
    out.module_files = listModules(mod);
  }
  // device trees: make's default goal builds the dtbs of the enabled platforms (CONFIG_ARCH_*);
  // when it made any, dtbs_install lays them out by vendor for images and boot loaders
  if (listDtbs(join(m.build, "arch", arch.srcArch, "boot", "dts")).length > 0) {
    const rel = `boot/dtbs/${release}`;
    const r = await run(makeArgv(m, ["dtbs_install"], [`INSTALL_DTBS_PATH=${join(dest, rel)}`]), { env: m.env, allowFail: true });
    if (r.exitCode !== 0) throw new BuildFailure(`dtbs_install failed:\n${r.all.trim().split("\n").slice(-10).join("\n")}`);
    out.dtbs = rel;
    out.dtb_files = listDtbs(join(dest, rel));
  }
  return out;
}
