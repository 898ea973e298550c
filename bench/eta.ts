/**
 * ETA replay (goal 6): a recorded compile (build.log and the build.log.times kiln's compile step
 * writes beside it) replayed through the ETA kiln states (src/core/compile_eta.ts), against the
 * real total. The expected work is what a cold build in a fresh kiln home uses: the estimate from
 * the build's .config; `--work N` gives the one a previous cold build remembered instead.
 * Also prints what counting steps (the ETA before docs/adr/0092) would have stated.
 *
 *   node dist/bench/eta.js <build.log> <.config> [--work N]
 *
 * A build folder's state/ holds build.log and build.log.times; its build/.config is the config.
 * bench/build.ts --logs keeps them for each cold run.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { estimateWork, lineWork, replayEta } from "../src/core/compile_eta.js";
import { estimateSteps } from "../src/pipeline/compile.js";
import { classifyKbuildLine, isCompileStep } from "../src/core/kbuild_lines.js";

export interface EtaReplay {
  realMs: number;
  steps: number;
  work: number;
  expectedWork: number;
  rows: { at: number; elapsedMs: number; statedMs: number; stepsStatedMs: number }[];
}

export function replayFiles(logFile: string, configFile: string, work?: number): EtaReplay {
  const lines = readFileSync(logFile, "utf8").split("\n");
  const rawTimes = readFileSync(`${logFile}.times`, "utf8").split("\n").slice(1);
  const times = rawTimes.map(Number);
  if (lines.at(-1) === "") lines.pop();
  if (times.length < lines.length) throw new Error(`${logFile}.times has ${times.length} times for ${lines.length} lines: not this log's times`);
  const realMs = Math.max(...times.slice(0, lines.length));
  const config = readFileSync(configFile, "utf8");
  const expectedWork = work ?? estimateWork(config);
  const at = [0.1, 0.25, 0.5, 0.75];
  const rows = replayEta(lines, times, expectedWork, at);
  // counting steps: every counted step one unit, the total from the config (kiln before 0092)
  const stepTotal = estimateSteps(config);
  const isStep = (l: string) => {
    const k = classifyKbuildLine(l);
    return k.kind === "step" && isCompileStep(k.verb);
  };
  const stepRows = replayEta(lines.map((l) => (isStep(l) ? "  CC      x.o" : "")), times, stepTotal, at);
  const steps = lines.filter(isStep).length;
  const done = lines.reduce((a, l) => a + lineWork(l), 0);
  return {
    realMs, steps, work: done, expectedWork,
    rows: rows.map((r, i) => ({ at: at[i]!, elapsedMs: r.elapsedMs, statedMs: r.statedMs, stepsStatedMs: stepRows[i]?.statedMs ?? NaN })),
  };
}

export function formatReplay(name: string, r: EtaReplay): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  const err = (ms: number) => `${ms >= r.realMs ? "+" : ""}${(((ms - r.realMs) / r.realMs) * 100).toFixed(1)}%`;
  return [
    `## ETA replay: ${name}`,
    `  real compile ${s(r.realMs)}; ${r.steps} steps, work ${r.work.toFixed(1)} (expected ${r.expectedWork})`,
    ...r.rows.map((x) => `  at ${(x.at * 100).toFixed(0)}% (${s(x.elapsedMs)} in): stated total ${s(x.statedMs)} (${err(x.statedMs)}); counting steps it was ${s(x.stepsStatedMs)} (${err(x.stepsStatedMs)})`),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--work");
  const work = i >= 0 ? Number(args[i + 1]) : undefined;
  const [log, config] = args.filter((a, k) => !a.startsWith("--") && (i < 0 || k !== i + 1));
  if (!log || !config) {
    console.error("usage: node dist/bench/eta.js <build.log> <.config> [--work N]");
    process.exit(1);
  }
  console.log(formatReplay(log, replayFiles(log, config, work)));
}
