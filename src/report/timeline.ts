/**
 * The compile timeline of a build: the units of work kbuild printed (src/core/kbuild_lines.ts:
 * one CC/LD/AR/... line each), and when each was done. The times come, best first, from
 *   recorded    build.log.times, written by kiln's compile step beside the log (one line per log line)
 *   file dates  the modification time of each target in the build folder, kept only when it falls
 *               inside the compile step's window (a build compiled before kiln recorded times)
 *   log order   neither: the chart's x axis is the position in the log, and the page says so
 * Pure: the caller reads the files; see docs/adr/0056.
 */
import { classifyKbuildLine, isCompileStep } from "../core/kbuild_lines.js";

export interface CompileEvent {
  verb: string;
  target: string;
  module: boolean;
  /** 1-based line in the build log. */
  line: number;
  /** ms since the compile started, when known. */
  ms?: number;
}

export type TimeSource = "recorded" | "file dates" | "log order";

export interface CompileTimeline {
  source: TimeSource;
  /** What the x axis means, in words, for the page. */
  note: string;
  /** Every unit of work, in log order. */
  events: CompileEvent[];
  /** The compile's length in ms (the last time, or the compile step's duration). */
  totalMs?: number;
  /** Units without a usable time (file dates outside the window, files gone). */
  undated: number;
}

/** The units of work in a kbuild log, in order. */
export function compileEvents(log: string): CompileEvent[] {
  const out: CompileEvent[] = [];
  const lines = log.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const k = classifyKbuildLine(lines[i]!);
    if (k.kind === "step" && isCompileStep(k.verb)) out.push({ verb: k.verb, target: k.target, module: k.module, line: i + 1 });
  }
  return out;
}

export const TIMES_MAGIC = "# kiln build.log times v1";

/** build.log.times: one ms value per log line after the header; undefined when it is not one. */
export function parseLogTimes(text: string): { started?: string; ms: number[] } | undefined {
  const lines = text.split("\n");
  if (!lines[0]?.startsWith(TIMES_MAGIC)) return undefined;
  const started = /started (\S+)\s*$/.exec(lines[0])?.[1];
  const ms: number[] = [];
  for (const l of lines.slice(1)) {
    if (l === "") continue;
    const n = Number(l);
    if (!Number.isFinite(n) || n < 0) return undefined;
    ms.push(n);
  }
  return { ...(started ? { started } : {}), ms };
}

/** Times recorded by the compile step. The two files must be of the same compile (equal line counts). */
export function timelineFromRecorded(log: string, timesText: string): CompileTimeline | undefined {
  const t = parseLogTimes(timesText);
  if (!t) return undefined;
  const lineCount = log.endsWith("\n") ? log.split("\n").length - 1 : log.split("\n").length;
  if (t.ms.length !== lineCount) return undefined;
  const events = compileEvents(log).map((e) => ({ ...e, ms: t.ms[e.line - 1]! }));
  return {
    source: "recorded",
    note: "seconds since make started, as kiln recorded each line of the build log",
    events,
    ...(t.ms.length ? { totalMs: t.ms[t.ms.length - 1]! } : {}),
    undated: 0,
  };
}

/**
 * Times from the targets' file dates (epoch ms by target path), kept only inside the compile
 * window [startMs - slack, startMs + durationMs + slack]; a log whose targets mostly fall outside
 * (another compile overwrote the folder) gives undefined.
 */
export function timelineFromDates(log: string, dates: ReadonlyMap<string, number>, window: { startMs: number; durationMs: number }, slackMs = 2000): CompileTimeline | undefined {
  const all = compileEvents(log);
  let undated = 0;
  const lo = window.startMs - slackMs;
  const hi = window.startMs + window.durationMs + slackMs;
  const events = all.map((e) => {
    const d = dates.get(e.target);
    if (d === undefined || d < lo || d > hi) {
      undated++;
      return e;
    }
    return { ...e, ms: Math.max(0, Math.min(window.durationMs, d - window.startMs)) };
  });
  if (all.length === 0 || undated * 2 > all.length) return undefined;
  return {
    source: "file dates",
    note: "seconds since the compile step started, from each target's modification time in the build folder (this build predates recorded times)",
    events,
    totalMs: window.durationMs,
    undated,
  };
}

/** No times at all: the position in the log. */
export function timelineFromOrder(log: string): CompileTimeline {
  return { source: "log order", note: "no times were recorded for this log: the x axis is the order of the units in the log", events: compileEvents(log), undated: 0 };
}

/** Units done per bin of `binMs`, over [0, totalMs]. */
export function binCounts(events: readonly CompileEvent[], totalMs: number, bins: number): number[] {
  const out = new Array<number>(Math.max(1, bins)).fill(0);
  const w = totalMs / out.length || 1;
  for (const e of events) if (e.ms !== undefined) out[Math.min(out.length - 1, Math.floor(e.ms / w))]!++;
  return out;
}

/** Count of units per verb (CC, LD, AR, ...), most first. */
export function verbCounts(events: readonly CompileEvent[]): [string, number][] {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.verb, (m.get(e.verb) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}
