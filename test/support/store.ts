/**
 * The test store: each example kernel (examples/microvm per arch, plus the variants the tests
 * need) is built ONCE per suite run, by kiln itself, into the shared test KILN_HOME
 * (test/support/kiln.ts). kiln's own store is keyed by identity, so the first test file that
 * asks for a kernel compiles it and every later ask, in this process or another file's, is a
 * store hit (`reused`, no compile). A test that needs "a built kernel" calls exampleKernel();
 * a test whose point is a cold build makes its own identity (a unique --label) or lives in
 * test/full/ (`npm run test:full`).
 *
 * Each variant builds in one stable project folder ($KILN_TEST_CACHE/projects/boot-<variant>),
 * so its warm tree and build folder stay warm from one run to the next.
 *
 * Variants:
 *   default   the example as shipped
 *   noserial  the example with its serial console turned off in an override layer (and the
 *             invariant that requires it removed), for the "no console output" test
 *   modular   the example's [target.modular] (x86_64; MODULES=y and a few drivers and
 *             filesystems as =m), built by name: it is `default = false`
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archSpec, type ArchSpec } from "../../src/tables/arches.js";
import type { Manifest } from "../../src/core/manifest.js";
import { TEST_CACHE } from "./trees.js";
import { KILN_BIN, REPO, TEST_HOME } from "./kiln.js";

export type KernelVariant = "default" | "noserial" | "modular";

/** The target a variant builds (by name when it is not a default target). */
const VARIANT_TARGET: Partial<Record<KernelVariant, string>> = { modular: "modular" };

export interface ExampleKernel {
  arch: ArchSpec;
  variant: KernelVariant;
  /** The project folder the kernel was built (or reused) from; it holds the kiln.lock. */
  project: string;
  /** The warm source tree (its nolibc builds the init). */
  tree: string;
  buildDir: string;
  image: string;
  /** The build's identity, `uname -r` of the booted kernel. */
  release: string;
  /** The manifest of this ask (status "built" the first time, "reused" after). */
  manifest: Manifest;
  /** The store entry: <TEST_HOME>/store/<release>. */
  storeEntry: string;
  /** The manifest the store entry was committed with: the build that compiled it. */
  built: Manifest;
  /** Wall seconds of this ask (the compile the first time, a store hit after). */
  seconds: number;
}

const NO_SERIAL: Record<string, { symbol: string; invariant: RegExp }> = {
  x86_64: { symbol: "SERIAL_8250_CONSOLE", invariant: /, SERIAL_8250_CONSOLE = "y" \}/ },
};

/** The folder a variant builds in. */
export function storeProject(variant: KernelVariant): string {
  return join(TEST_CACHE, "projects", `boot-${variant}`);
}

/** A fresh copy of the example for a variant, in its stable folder (its work folder stays warm). */
function layProject(variant: KernelVariant, arch: string): string {
  const dir = storeProject(variant);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(TEST_CACHE, "projects"), { recursive: true });
  cpSync(join(REPO, "examples", "microvm"), dir, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
  if (variant === "noserial") {
    const ns = NO_SERIAL[arch];
    if (!ns) throw new Error(`no noserial variant for ${arch}: the test store knows only ${Object.keys(NO_SERIAL).join(", ")}`);
    mkdirSync(join(dir, "config", "noserial"), { recursive: true });
    writeFileSync(join(dir, "config", "noserial", "10-no-console.config"), `# CONFIG_${ns.symbol} is not set\n`);
    const toml = join(dir, "kiln.toml");
    const before = readFileSync(toml, "utf8");
    const after = before
      .replace('layers = ["config/common", "config/{arch}"]', 'layers = ["config/common", "config/{arch}", { path = "config/noserial", override = true }]')
      .replace('label = "microvm"', 'label = "noserial"')
      .replace(ns.invariant, " }");
    if (!after.includes("config/noserial") || !after.includes('label = "noserial"')) {
      throw new Error(`examples/microvm/kiln.toml changed shape: test/support/store.ts cannot lay the noserial variant; update layProject`);
    }
    writeFileSync(toml, after);
  }
  return dir;
}

const asked = new Map<string, ExampleKernel>();
/** Which project folder was laid this process, per variant (laid once, then reused per arch). */
const laid = new Map<KernelVariant, string>();

/**
 * The example's kernel for an arch: built the first time in a suite run, a store hit after.
 * Throws with kiln's exit code and the last lines of its output when the build fails.
 */
export function exampleKernel(archName: string, variant: KernelVariant = "default"): ExampleKernel {
  const key = `${archName}/${variant}`;
  const have = asked.get(key);
  if (have) return have;
  const arch = archSpec(archName);
  if (!arch) throw new Error(`unknown arch ${archName}`);
  let dir = laid.get(variant);
  if (!dir) {
    dir = layProject(variant, archName);
    laid.set(variant, dir);
  }
  const t0 = Date.now();
  const target = VARIANT_TARGET[variant];
  const r = spawnSync(process.execPath, [KILN_BIN, "-C", dir, "--json", "build", ...(target ? [target] : []), "--tree", "--arch", archName], {
    env: { ...process.env, KILN_HOME: TEST_HOME, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    const tail = (r.stderr ?? "").split("\n").slice(-30).join("\n");
    throw new Error(`test store: kiln build --arch ${archName} (${variant}) in ${dir} failed with exit ${r.status}:\n${tail}`);
  }
  const m = (JSON.parse(r.stdout) as Manifest[])[0]!;
  const storeEntry = join(TEST_HOME, "store", m.uts_release!);
  const storedManifest = join(storeEntry, "manifest.json");
  if (!existsSync(storedManifest)) throw new Error(`test store: ${m.uts_release} is not in ${join(TEST_HOME, "store")} after a successful build`);
  const k: ExampleKernel = {
    arch,
    variant,
    project: dir,
    tree: join(m.build_dir!, "..", "src"),
    buildDir: m.build_dir!,
    image: m.artifacts!.image,
    release: m.uts_release!,
    manifest: m,
    storeEntry,
    built: JSON.parse(readFileSync(storedManifest, "utf8")) as Manifest,
    seconds: (Date.now() - t0) / 1000,
  };
  console.log(`test store: ${archName} ${variant} ${k.release} ${m.reuse?.status ?? "?"} in ${k.seconds.toFixed(1)} s`);
  asked.set(key, k);
  return k;
}
