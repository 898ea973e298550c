/**
 * Step 7, compile: run make out of tree with a live progress bar and ETA, parse diagnostics as
 * they stream, and count ccache hits. make runs in its own process group, registered with the
 * tree lock's guardian, so a killed kiln never leaves a make running in the warm tree.
 * Beside the log, `build.log.times` records when each log line arrived (ms since make started,
 * one line per log line), for the compile timeline of `kiln report` (src/report/timeline.ts).
 */
import { createWriteStream, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BuildFailure } from "../errors.js";
import { start } from "../effects/proc.js";
import { DiagnosticCollector, formatDiagnostic, type Diagnostic } from "../core/diagnostics.js";
import { classifyKbuildLine, isCompileStep } from "../core/kbuild_lines.js";
import { parseCcacheStatsLog } from "./build_flags.js";
import { parseCcacheStorageLog, parseDistccLog, type CcacheStorageCounts, type DistccCounts } from "../distcc/stats.js";
import type { HeldLock } from "../effects/lock.js";
import type { Ui } from "../ui/log.js";
import { makeProgress } from "../ui/progress.js";
import { stepWork, workFraction } from "../core/compile_eta.js";
import { fmtDuration } from "../ui/log.js";
import { makeArgv, type MakeEnv } from "./configure.js";

export interface CompileInputs {
  make: MakeEnv;
  jobs: number;
  goals: string[];
  /** Estimated number of work steps (compile/link lines); 0 when unknown. */
  estimate: number;
  /** Expected work (src/core/compile_eta.ts); 0 when unknown: the ETA then follows the steps. */
  estimateWork?: number;
  logFile: string;
  ccacheStatsLog?: string;
  /** ccache has remote storage: count local and remote hits too. */
  ccacheRemote?: boolean;
  /** The distcc client log (DISTCC_LOG) to count remote and local compiles from. */
  distccLog?: string;
  lock: HeldLock;
  ui: Ui;
}

export interface CompileResult {
  steps: number;
  /** The work of those steps (src/core/compile_eta.ts), for the next cold build's ETA. */
  work: number;
  durationMs: number;
  warnings: number;
  errors: number;
  diagnostics: Diagnostic[];
  ccache?: { hits: number; misses: number; uncacheable: number };
  /** With remote storage: where the hits came from. */
  ccacheStorage?: CcacheStorageCounts;
  distcc?: DistccCounts;
  argv: string[];
}

export async function compile(i: CompileInputs): Promise<CompileResult> {
  const argv = makeArgv(i.make, i.goals, [`-j${i.jobs}`]);
  if (i.ccacheStatsLog) rmSync(i.ccacheStatsLog, { force: true });
  if (i.distccLog) rmSync(i.distccLog, { force: true });
  const t0 = Date.now();
  const log = createWriteStream(i.logFile);
  const times = createWriteStream(logTimesPath(i.logFile));
  times.write(`${LOG_TIMES_HEADER} ${new Date(t0).toISOString()}\n`);
  const diags = new DiagnosticCollector({ stripPrefixes: [`${i.make.src}/`, `${i.make.build}/`] });
  const prog = makeProgress(i.ui, "compile", i.estimate, "steps");
  let steps = 0;
  let work = 0;
  const onLine = (line: string) => {
    log.write(line + "\n");
    times.write(`${Date.now() - t0}\n`);
    diags.push(line);
    const k = classifyKbuildLine(line);
    if (k.kind === "step" && isCompileStep(k.verb)) {
      steps++;
      work += stepWork(k.verb);
      prog.update(steps, k.target, i.estimateWork ? workFraction(work, i.estimateWork) : undefined);
    }
  };
  // Its own process group, so a person pressing Ctrl-C (or a SIGTERM to kiln) stops all of make
  // too, and the tree is left consistent for the next run.
  const child = start(argv, { env: { ...i.make.env, LC_ALL: "C" }, onLine, group: true, killOnSignal: true });
  if (child.pid) i.lock.guard(child.pid);
  const code = (await child.done).exitCode;
  i.lock.unguard();
  diags.end();
  await Promise.all([log, times].map((s) => new Promise<void>((r) => s.end(() => r()))));
  const durationMs = Date.now() - t0;
  const counts = diags.counts;
  const statsText = i.ccacheStatsLog && existsSync(i.ccacheStatsLog) ? readFileSync(i.ccacheStatsLog, "utf8") : undefined;
  const ccache = statsText !== undefined ? parseCcacheStatsLog(statsText) : undefined;
  const ccacheStorage = statsText !== undefined && i.ccacheRemote ? parseCcacheStorageLog(statsText) : undefined;
  const distcc = i.distccLog ? parseDistccLog(existsSync(i.distccLog) ? readFileSync(i.distccLog, "utf8") : "") : undefined;
  if (code !== 0) {
    prog.stop();
    const first = diags.firstErrors(8);
    const shown = first.length ? first.map((d) => `  ${formatDiagnostic(d)}`).join("\n") : lastLines(i.logFile, 15);
    throw new BuildFailure(
      `the kernel build failed (make exited with ${code}) after ${fmtDuration(durationMs)}: ${counts.errors} error(s), ${counts.warnings} warning(s)\n${shown}`,
      { file: i.logFile },
      `the full build log is ${i.logFile}`,
    );
  }
  const remoteText = ccacheStorage ? ` (${ccacheStorage.local_hits} local, ${ccacheStorage.remote_hits} remote)` : "";
  const distccText = distcc ? `, distcc ${distcc.remote} remote / ${distcc.local} local compiles` : "";
  prog.stop(`${steps} steps in ${fmtDuration(durationMs)}, ${counts.warnings} warning(s)${ccache ? `, ccache ${ccache.hits} hits${remoteText} / ${ccache.misses} misses` : ""}${distccText}`);
  return { steps, work: Math.round(work * 100) / 100, durationMs, warnings: counts.warnings, errors: counts.errors, diagnostics: diags.diagnostics, ...(ccache ? { ccache } : {}), ...(ccacheStorage ? { ccacheStorage } : {}), ...(distcc ? { distcc } : {}), argv };
}

function lastLines(file: string, n: number): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-n).map((l) => `  ${l}`).join("\n");
  } catch {
    return "";
  }
}

/** Estimate the work of a cold build from the config when no earlier build of this target exists. */
export function estimateSteps(configText: string): number {
  let enabled = 0;
  for (const l of configText.split("\n")) if (/^CONFIG_[A-Z0-9_]+=(y|m)$/.test(l)) enabled++;
  // Calibrated on Debian 6.12 x86_64: the example (518 symbols on) takes 1305 steps, host tools
  // included; allnoconfig-based guests land near 1.2 steps per enabled symbol over a fixed floor.
  return Math.round(700 + enabled * 1.2);
}

/** The first line of build.log.times; the make start time (ISO) follows it. */
export const LOG_TIMES_HEADER = "# kiln build.log times v1: ms since make started, one line per build.log line; started";

/** Where the per-line times of a build log are kept. */
export function logTimesPath(logFile: string): string {
  return `${logFile}.times`;
}

export function buildLogPath(stateDir: string): string {
  return join(stateDir, "build.log");
}
