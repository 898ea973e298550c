/**
 * Real kernel trees for tests. Debian's linux-source-X.Y packages put a tarball in
 * /usr/src; we unpack each once into a shared test cache and reuse it.
 * The unpack happens under a lock and lands by rename, so parallel test files are safe.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export const TEST_CACHE = process.env.KILN_TEST_CACHE ?? "/var/tmp/kiln-test-cache";

/** Path of the Debian tarball for a series like "6.12", or undefined when not installed. */
export function debianTarball(series: string): string | undefined {
  const p = `/usr/src/linux-source-${series}.tar.xz`;
  return existsSync(p) ? p : undefined;
}

/** An unpacked, pristine tree of linux-source-<series>. Throws when the package is missing. */
export function kernelTree(series: string): string {
  const tarball = debianTarball(series);
  if (!tarball) {
    throw new Error(`linux-source-${series} is not installed: apt-get install linux-source-${series}`);
  }
  const dest = join(TEST_CACHE, "trees", `linux-source-${series}`);
  if (existsSync(join(dest, "Makefile"))) return dest;
  mkdirSync(join(TEST_CACHE, "trees"), { recursive: true });
  const lock = join(TEST_CACHE, "trees", `.linux-source-${series}.lock`);
  // flock serialises concurrent unpackers; the second one finds the tree done.
  execFileSync(
    "flock",
    [
      lock,
      "sh",
      "-c",
      'set -e; [ -f "$1/Makefile" ] && exit 0; rm -rf "$1.tmp"; mkdir -p "$1.tmp"; tar -xf "$2" -C "$1.tmp" --strip-components=1; mv "$1.tmp" "$1"',
      "sh",
      dest,
      tarball,
    ],
    { stdio: "inherit" },
  );
  return dest;
}

export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
