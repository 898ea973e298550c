/**
 * Skips that are allowed only off CI. The project's own setup (scripts/setup-debian.sh)
 * installs every tool and tree the tests use, so under CI=true a missing one is a broken setup,
 * not a reason to skip: `needs` throws at load time and the file fails, naming what is missing
 * and how to install it. On a developer's machine it returns the reason, for node:test's `skip`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const ON_CI = process.env.CI === "true" || process.env.CI === "1";

/**
 * `missing` is false when everything is there, else what is missing and how to get it.
 * Returns the value for a test's `skip` option; under CI a missing tool throws instead.
 */
export function needs(missing: string | false | undefined | null | 0 | ""): string | false {
  if (!missing) return false;
  if (ON_CI) {
    throw new Error(`CI=true and ${missing}: scripts/setup-debian.sh installs it, so this is a setup failure, not a skip`);
  }
  return missing;
}

/** Whether a command is on PATH (an argv run of `sh -c 'command -v "$1"'`). */
export function haveCommand(name: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1" >/dev/null', "sh", name]).status === 0;
}

/** "linux-source-X is not installed (...)" when Debian's tarball for the series is missing. */
export function needSource(...series: string[]): string | false {
  const gone = series.filter((s) => !existsSync(`/usr/src/linux-source-${s}.tar.xz`));
  return needs(gone.length > 0 && `${gone.map((s) => `linux-source-${s}`).join(" and ")} ${gone.length > 1 ? "are" : "is"} not installed (apt-get install ${gone.map((s) => `linux-source-${s}`).join(" ")})`);
}
