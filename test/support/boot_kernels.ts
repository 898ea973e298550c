/**
 * Bootable kernels for the boot tests: the example's kernels from the test store
 * (test/support/store.ts), built once per suite run into the shared test KILN_HOME.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { TEST_CACHE } from "./trees.js";
import { exampleKernel, storeProject, type ExampleKernel, type KernelVariant } from "./store.js";

export type { KernelVariant };
export type BootKernel = ExampleKernel;
export { storeProject };

/** Builds (or reuses) and returns the example's kernel for the arch. Slow the first time per arch. */
export function bootKernel(archName: string, variant: KernelVariant = "default"): BootKernel {
  return exampleKernel(archName, variant);
}

/** Where integration tests keep kiln's caches (init builds, KVM probe) and console logs. */
export const BOOT_TEST_CACHE = join(TEST_CACHE, "boot-cache");
export function bootTestDir(name: string): string {
  const d = join(TEST_CACHE, "boot-runs", `${name}-${process.pid}`);
  mkdirSync(d, { recursive: true });
  return d;
}
