/**
 * Minimal bootable kernels for the boot tests, built from Debian's linux-source-6.12 with
 * the example's config fragments (examples/microvm/config/common + <arch>) over allnoconfig,
 * plus a test fragment that sets the release. Built out of tree into the shared test cache,
 * keyed by content (fragments, variant, compiler), under a lock; a second call is a lookup.
 *
 * Variants:
 *   default   the example's config
 *   noserial  the same without the serial console (for the "no console output" test)
 *
 * A variant's build dir is seeded from the default one when that exists, so it rebuilds
 * incrementally. (Later these move to `kiln build`.)
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { archSpec, hostArch, type ArchSpec } from "../../src/tables/arches.js";
import { TEST_CACHE, kernelTree } from "./trees.js";

export type KernelVariant = "default" | "noserial";

export interface BootKernel {
  arch: ArchSpec;
  variant: KernelVariant;
  tree: string;
  buildDir: string;
  image: string;
  /** `make -s kernelrelease` of the build. */
  release: string;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const EXAMPLE_CONFIG = join(REPO, "examples/microvm/config");
export const TEST_LOCALVERSION = "-kilnboottest";

const NO_SERIAL: Record<string, string> = {
  x86_64: "# CONFIG_SERIAL_8250_CONSOLE is not set\n",
  aarch64: "# CONFIG_SERIAL_AMBA_PL011_CONSOLE is not set\n",
  riscv64: "# CONFIG_SERIAL_8250_CONSOLE is not set\n",
};

function fragmentFiles(arch: string): string[] {
  const out: string[] = [];
  for (const layer of ["common", arch]) {
    const dir = join(EXAMPLE_CONFIG, layer);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith(".config")) out.push(join(dir, f));
  }
  if (!out.some((f) => f.includes(`/${arch}/`))) throw new Error(`no fragments for ${arch} under ${EXAMPLE_CONFIG}`);
  return out;
}

function testFragment(arch: string, variant: KernelVariant): string {
  let s = `CONFIG_LOCALVERSION="${TEST_LOCALVERSION}"\n# CONFIG_LOCALVERSION_AUTO is not set\n`;
  if (variant === "noserial") s += NO_SERIAL[arch] ?? "";
  return s;
}

function crossPrefix(a: ArchSpec): string {
  return a.name === hostArch() ? "" : a.crossPrefix;
}

function compilerId(a: ArchSpec): string {
  return execFileSync(`${crossPrefix(a)}gcc`, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
}

function keyOf(a: ArchSpec, variant: KernelVariant, frags: string[], tree: string): string {
  const h = createHash("sha256");
  h.update(readFileSync(join(tree, "Makefile")).subarray(0, 200));
  h.update(`\0${a.name}\0${variant}\0${compilerId(a)}\0${testFragment(a.name, variant)}`);
  for (const f of frags) h.update(`\0${f.slice(EXAMPLE_CONFIG.length)}\0`).update(readFileSync(f));
  return h.digest("hex").slice(0, 12);
}

const BUILD_SCRIPT = `
set -e
tree="$1"; out="$2"; karch="$3"; cross="$4"; goal="$5"; seed="$6"; shift 6
[ -f "$out/.kiln-boot-complete" ] && exit 0
if [ ! -d "$out" ] && [ -n "$seed" ] && [ -f "$seed/.kiln-boot-complete" ]; then
  cp -a "$seed" "$out.tmp" && rm -f "$out.tmp/.kiln-boot-complete" && mv "$out.tmp" "$out"
fi
mkdir -p "$out"; cd "$out"
sh "$tree/scripts/kconfig/merge_config.sh" -m -O . "$@" >/dev/null
mv .config kiln-fragments.config
make -s -C "$tree" O="$out" ARCH="$karch" CROSS_COMPILE="$cross" KCONFIG_ALLCONFIG="$out/kiln-fragments.config" allnoconfig
make -s -C "$tree" O="$out" ARCH="$karch" CROSS_COMPILE="$cross" olddefconfig
make -s -C "$tree" O="$out" ARCH="$karch" CROSS_COMPILE="$cross" -j"\${KILN_TEST_JOBS:-2}" "$goal"
touch "$out/.kiln-boot-complete"
`;

/** The build dir bootKernel uses for an arch and variant (nothing is built). */
export function bootKernelDir(archName: string, variant: KernelVariant = "default"): string {
  const arch = archSpec(archName);
  if (!arch) throw new Error(`unknown arch ${archName}`);
  const tree = kernelTree("6.12");
  return join(TEST_CACHE, "boot-kernels", `${arch.name}-${variant}-${keyOf(arch, variant, fragmentFiles(arch.name), tree)}`);
}

/** Builds (once) and returns a minimal bootable kernel for the arch. Slow the first time (~10 min per arch on 2 cores). */
export function bootKernel(archName: string, variant: KernelVariant = "default"): BootKernel {
  const arch = archSpec(archName);
  if (!arch) throw new Error(`unknown arch ${archName}`);
  const tree = kernelTree("6.12");
  const frags = fragmentFiles(arch.name);
  const base = join(TEST_CACHE, "boot-kernels");
  const buildDir = bootKernelDir(arch.name, variant);
  mkdirSync(base, { recursive: true });
  if (existsSync(join(buildDir, ".kiln-boot-complete"))) return finish(arch, variant, tree, buildDir);
  const extra = `${buildDir}.test.config`;
  writeFileSync(extra, testFragment(arch.name, variant));
  const seed = variant === "default" ? "" : bootKernelDir(arch.name, "default");
  execFileSync(
    "flock",
    [join(base, `.${arch.name}.lock`), "sh", "-c", BUILD_SCRIPT, "sh", tree, buildDir, arch.kernelArch, crossPrefix(arch), arch.imageGoal, seed, ...frags, extra],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  return finish(arch, variant, tree, buildDir);
}

function finish(arch: ArchSpec, variant: KernelVariant, tree: string, buildDir: string): BootKernel {
  const release = execFileSync("make", ["-s", "-C", tree, `O=${buildDir}`, `ARCH=${arch.kernelArch}`, `CROSS_COMPILE=${crossPrefix(arch)}`, "kernelrelease"], {
    encoding: "utf8",
  }).trim();
  return { arch, variant, tree, buildDir, image: join(buildDir, arch.imagePath), release };
}

/** Where integration tests keep kiln's caches (init builds, KVM probe) and console logs. */
export const BOOT_TEST_CACHE = join(TEST_CACHE, "boot-cache");
export function bootTestDir(name: string): string {
  const d = join(TEST_CACHE, "boot-runs", `${name}-${process.pid}`);
  mkdirSync(d, { recursive: true });
  return d;
}
