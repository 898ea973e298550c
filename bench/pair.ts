/**
 * The one interleaving helper every bench uses: run side A and side B alternately
 * (A B A B ..., each at least 3 times), then print min and median of each side, their ratios,
 * and the machine's load average at the start and the end, so a noisy run is visible.
 *
 * A side is a function that does its own setup untimed and returns the seconds it measured
 * (timeSync/timeAsync do the usual "time this call"); a warm-up round can be asked for and is
 * not counted.
 */
import { loadavg } from "node:os";
import { spawnSync } from "node:child_process";

export type Side = () => number | Promise<number>;

export interface PairResult {
  name: string;
  a: { label: string; runs: number[] };
  b: { label: string; runs: number[] };
  load: { start: number[]; end: number[] };
  goal?: string;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function timeSync(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

export async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Run argv (no shell), fail loudly; stdout/stderr are dropped unless `show`. */
export function sh(argv: readonly string[], o: { cwd?: string; env?: Record<string, string>; show?: boolean } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", o.show ? "inherit" : "pipe"], encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited with ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-5).join("\n")}`);
  return r.stdout;
}

const fmt = (s: number) => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);
const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");

/**
 * Interleave A and B `runs` times (default 3); the order alternates which goes first. Fewer than
 * 3 runs (a pair of cold kernel builds is minutes) are allowed and said in the output.
 */
export async function pair(name: string, a: [string, Side], b: [string, Side], o: { runs?: number; warmup?: boolean; goal?: string } = {}): Promise<PairResult> {
  const runs = Math.max(1, Math.floor(o.runs ?? 3));
  const start = loadavg();
  if (o.warmup) {
    await a[1]();
    await b[1]();
  }
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < runs; i++) {
    // A B, then B A: a drift in load hits both sides alike
    if (i % 2 === 0) {
      ra.push(await a[1]());
      rb.push(await b[1]());
    } else {
      rb.push(await b[1]());
      ra.push(await a[1]());
    }
  }
  const res: PairResult = { name, a: { label: a[0], runs: ra }, b: { label: b[0], runs: rb }, load: { start, end: loadavg() }, ...(o.goal ? { goal: o.goal } : {}) };
  console.log(formatPair(res));
  return res;
}

export function formatPair(r: PairResult): string {
  const [ma, mb] = [median(r.a.runs), median(r.b.runs)];
  const [na, nb] = [Math.min(...r.a.runs), Math.min(...r.b.runs)];
  return [
    `## ${r.name}${r.goal ? `   (goal: ${r.goal})` : ""}`,
    `  ${r.a.label}: min ${fmt(na)}  median ${fmt(ma)}  [${r.a.runs.map(fmt).join(", ")}]`,
    `  ${r.b.label}: min ${fmt(nb)}  median ${fmt(mb)}  [${r.b.runs.map(fmt).join(", ")}]`,
    `  ratio A/B: median ${(ma / mb).toFixed(3)}  min ${(na / nb).toFixed(3)}   load ${la(r.load.start)} -> ${la(r.load.end)}${r.a.runs.length < 3 ? `   (only ${r.a.runs.length} run${r.a.runs.length > 1 ? "s" : ""} per side)` : ""}`,
  ].join("\n");
}

/** One line per pair, for the closing table. */
export function table(rs: readonly PairResult[]): string {
  const rows = rs.map((r) => {
    const [ma, mb] = [median(r.a.runs), median(r.b.runs)];
    const [na, nb] = [Math.min(...r.a.runs), Math.min(...r.b.runs)];
    return `| ${r.name} | ${fmt(na)} / ${fmt(ma)} | ${fmt(nb)} / ${fmt(mb)} | ${(ma / mb).toFixed(3)} | ${(na / nb).toFixed(3)} | ${r.a.runs.length} | ${la(r.load.start)} -> ${la(r.load.end)} | ${r.goal ?? ""} |`;
  });
  return ["| pair (A vs B) | A min / median | B min / median | ratio (median) | ratio (min) | runs | load 1/5/15 start -> end | goal |", "|---|---|---|---:|---:|---:|---|---|", ...rows].join("\n");
}

export const quick = process.argv.includes("--quick");
