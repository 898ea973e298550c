/**
 * Remembered step verdicts: what booting (and testing) one identity gave, keyed by the identity
 * and the test (boot or the exact --exec command, arch, memory). An identity names the exact
 * kernel bytes (docs/adr/0003), so a second bisect over the same range reuses each build from
 * the store and each verdict from here, and finishes in seconds. `--recheck` boots again.
 * KILN_HOME/bisect/verdicts/<release>/<key>.json, written by rename.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../effects/fsx.js";
import type { Verdict } from "./bisect.js";

export interface TestSpec {
  kind: "boot" | "exec";
  command?: string;
  arch: string;
  memoryMiB: number;
}

export interface RememberedVerdict {
  verdict: Verdict;
  reason?: string;
  /** ISO time of the run that decided it. */
  at: string;
  console_log?: string;
}

/** Pure: the key of a test. */
export function testKey(t: TestSpec): string {
  return createHash("sha256").update(JSON.stringify({ v: 1, kind: t.kind, command: t.command ?? null, arch: t.arch, memory: t.memoryMiB })).digest("hex").slice(0, 32);
}

const file = (home: string, release: string, t: TestSpec) => join(home, "bisect", "verdicts", release, `${testKey(t)}.json`);

export function recallVerdict(home: string, release: string, t: TestSpec): RememberedVerdict | undefined {
  const f = file(home, release, t);
  if (!existsSync(f)) return undefined;
  try {
    const v = JSON.parse(readFileSync(f, "utf8")) as RememberedVerdict;
    return v.verdict === "good" || v.verdict === "bad" || v.verdict === "skip" ? v : undefined;
  } catch {
    return undefined; // a torn or foreign file: decide again (and overwrite it)
  }
}

export function rememberVerdict(home: string, release: string, t: TestSpec, v: RememberedVerdict): void {
  writeFileAtomic(file(home, release, t), JSON.stringify(v, null, 2) + "\n");
}
