/**
 * The compile ETA (docs/adr/0092): progress is counted in work, not in steps. Most kbuild steps
 * cost about the same (one object compiled or assembled), but an archive step (AR of a
 * built-in.a) costs next to nothing, and a third of a small kernel's steps are archives of
 * folders where nothing is enabled, late in the build (drivers/). Counting them as full steps
 * made the rate at 10% done look low and the stated total about 2x the real one.
 *
 * The stated total is elapsed / fraction done, where the fraction is the work done over the
 * expected work: the previous cold build's work for this tree when there is one, else an
 * estimate from the config. Pure: the compile step and bench/eta.ts (which replays a recorded
 * build.log with its times) use the same functions.
 */
import { classifyKbuildLine, isCompileStep } from "./kbuild_lines.js";

/** What an archive step weighs against a compiled object. */
export const ARCHIVE_WORK = 0.05;

/** The work of one counted step (isCompileStep verbs): archives next to nothing, the rest one unit. */
export function stepWork(verb: string): number {
  const v = verb.replace(/ \[M\]$/, "").trim();
  return v === "AR" || v === "BOOTAR" ? ARCHIVE_WORK : 1;
}

/** The work of one build.log line (0 for lines that are not counted steps). */
export function lineWork(line: string): number {
  const k = classifyKbuildLine(line);
  return k.kind === "step" && isCompileStep(k.verb) ? stepWork(k.verb) : 0;
}

/**
 * Expected work of a cold build from the config, when no earlier cold build of this tree says.
 * Calibrated on Debian 6.12 x86_64: the example (518 symbols =y/=m) compiles 903 non-archive
 * steps and archives 402 folders (1305 steps); steps grow about 1.2 per enabled symbol over a
 * fixed floor of host tools, headers and the core, and the archives are mostly that floor.
 */
export function estimateWork(configText: string): number {
  let enabled = 0;
  for (const l of configText.split("\n")) if (/^CONFIG_[A-Z0-9_]+=(y|m)$/.test(l)) enabled++;
  const steps = 700 + enabled * 1.2;
  const archives = Math.min(400, steps * 0.3);
  return Math.round(steps - archives + archives * ARCHIVE_WORK);
}

/** The fraction of the work done, kept below 1 until the end (an estimate can be short). */
export function workFraction(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(0.99, done / total);
}

/**
 * Milliseconds left at `elapsedMs` with `fraction` of the work done; undefined while it is too
 * early to tell (under 3% done in the first 20 s: host tools run at another pace).
 */
export function remainingMs(elapsedMs: number, fraction: number): number | undefined {
  if (fraction <= 0 || (fraction < 0.03 && elapsedMs < 20_000)) return undefined;
  return (elapsedMs / fraction) * (1 - fraction);
}

/** The stated totals of a recorded compile (log lines and ms since make started), replayed. */
export function replayEta(lines: readonly string[], times: readonly number[], totalWork: number, at: readonly number[]): { fraction: number; elapsedMs: number; statedMs: number }[] {
  const out: { fraction: number; elapsedMs: number; statedMs: number }[] = [];
  let done = 0;
  let next = 0;
  for (let i = 0; i < lines.length && next < at.length; i++) {
    const w = lineWork(lines[i]!);
    if (!w) continue;
    done += w;
    const f = workFraction(done, totalWork);
    while (next < at.length && f >= at[next]!) {
      const el = times[i]!;
      out.push({ fraction: f, elapsedMs: el, statedMs: el + (remainingMs(el, f) ?? NaN) });
      next++;
    }
  }
  return out;
}
