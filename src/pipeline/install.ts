/**
 * The install step: lay the build out in a temporary store folder in the usual install layout:
 *   boot/<image>-<release>, boot/System.map-<release>, boot/config-<release>,
 *   lib/modules/<release>/ (no build/source symlinks), plus vmlinux for bundle packing.
 * The caller moves the folder into the store in one rename.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BuildFailure } from "../errors.js";
import { run } from "../effects/proc.js";
import type { ArchSpec } from "../tables/arches.js";
import { makeArgv, type MakeEnv } from "./configure.js";

export interface Installed {
  image: string;
  system_map: string;
  config: string;
  vmlinux?: string;
  modules?: string;
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
    rmSync(join(mod, "build"), { force: true });
    rmSync(join(mod, "source"), { force: true });
    out.modules = `lib/modules/${release}`;
  }
  return out;
}
