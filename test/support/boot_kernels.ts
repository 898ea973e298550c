/**
 * Bootable kernels for the boot tests, built by kiln itself from the bundled example
 * (examples/microvm) into the shared test KILN_HOME. The x86_64 cell has the same identity as
 * the build tests' example build, so it is usually a store hit; aarch64 and riscv64 are cross
 * builds the first time and store hits after that.
 *
 * Variants:
 *   default   the example as shipped
 *   noserial  the example with its serial console turned off in an override layer (and the
 *             invariant that requires it removed), for the "no console output" test
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archSpec, type ArchSpec } from "../../src/tables/arches.js";
import type { Manifest } from "../../src/core/manifest.js";
import { TEST_CACHE } from "./trees.js";
import { KILN_BIN, REPO, TEST_HOME } from "./kiln.js";

export type KernelVariant = "default" | "noserial";

export interface BootKernel {
  arch: ArchSpec;
  variant: KernelVariant;
  /** The warm source tree (its nolibc builds the init). */
  tree: string;
  buildDir: string;
  image: string;
  /** The build's identity, `uname -r` of the booted kernel. */
  release: string;
  manifest: Manifest;
}

const NO_SERIAL: Record<string, { symbol: string; invariant: RegExp }> = {
  x86_64: { symbol: "SERIAL_8250_CONSOLE", invariant: /, SERIAL_8250_CONSOLE = "y" \}/ },
};

/** A stable copy of the example for a variant (the same folder each run keeps its warm trees warm). */
function projectFor(variant: KernelVariant, arch: string): string {
  const dir = join(TEST_CACHE, "projects", `boot-${variant}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(TEST_CACHE, "projects"), { recursive: true });
  cpSync(join(REPO, "examples", "microvm"), dir, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
  if (variant === "noserial") {
    const ns = NO_SERIAL[arch];
    if (!ns) throw new Error(`no noserial variant for ${arch}`);
    mkdirSync(join(dir, "config", "noserial"), { recursive: true });
    writeFileSync(join(dir, "config", "noserial", "10-no-console.config"), `# CONFIG_${ns.symbol} is not set\n`);
    const toml = join(dir, "kiln.toml");
    writeFileSync(
      toml,
      readFileSync(toml, "utf8")
        .replace('layers = ["config/common", "config/{arch}"]', 'layers = ["config/common", "config/{arch}", { path = "config/noserial", override = true }]')
        .replace('label = "microvm"', 'label = "noserial"')
        .replace(ns.invariant, " }"),
    );
  }
  return dir;
}

const built = new Map<string, BootKernel>();

/** Builds (or reuses) and returns the example's kernel for the arch. Slow the first time per arch. */
export function bootKernel(archName: string, variant: KernelVariant = "default"): BootKernel {
  const key = `${archName}/${variant}`;
  const have = built.get(key);
  if (have) return have;
  const arch = archSpec(archName);
  if (!arch) throw new Error(`unknown arch ${archName}`);
  const dir = projectFor(variant, archName);
  const r = spawnSync(process.execPath, [KILN_BIN, "-C", dir, "--json", "build", "--tree", "--arch", archName], {
    env: { ...process.env, KILN_HOME: TEST_HOME, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`kiln build --arch ${archName} (${variant}) failed with exit ${r.status}`);
  const m = (JSON.parse(r.stdout) as Manifest[])[0]!;
  const k: BootKernel = { arch, variant, tree: join(m.build_dir!, "..", "src"), buildDir: m.build_dir!, image: m.artifacts!.image, release: m.uts_release!, manifest: m };
  built.set(key, k);
  return k;
}

/** Where integration tests keep kiln's caches (init builds, KVM probe) and console logs. */
export const BOOT_TEST_CACHE = join(TEST_CACHE, "boot-cache");
export function bootTestDir(name: string): string {
  const d = join(TEST_CACHE, "boot-runs", `${name}-${process.pid}`);
  mkdirSync(d, { recursive: true });
  return d;
}
