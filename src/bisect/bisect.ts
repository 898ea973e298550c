/**
 * `kiln bisect`: find the first bad commit of a git pin's range by building and booting commits.
 *
 * The range is driven by real `git bisect` in a scratch bare repository that borrows kiln's git
 * store through objects/info/alternates (no checkout, nothing copied; `--no-checkout` moves only
 * BISECT_HEAD). git decides which commit to test next, handles `skip` (a commit whose kernel does
 * not build) and says when it is done; kiln evaluates each commit it is handed (an ordinary build
 * plus a boot, src/commands/bisect.ts) and reports good, bad or skip. See docs/adr/0100.
 *
 * Before git bisects, both ends are checked: a good end that fails, or a bad end that passes, is an
 * inconsistent range (exit 2), said at once instead of after a bisect that names a wrong commit.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GitStore } from "../effects/git.js";
import { pidAlive } from "../effects/proc.js";
import { InfraError, ProjectError } from "../errors.js";

export type Verdict = "good" | "bad" | "skip";
export type StepRole = "good end" | "bad end" | "bisect";

/** What evaluating one commit gave. */
export interface StepOutcome {
  verdict: Verdict;
  /** The build's identity (uname -r), when the flow got that far. */
  identity?: string;
  /** built: compiled now; reused: a store hit; failed: the kernel did not build. */
  build: "built" | "reused" | "failed";
  /** The boot's verdict came from an earlier run over the same identity and command. */
  remembered?: boolean;
  /** Why bad or skipped: one line. */
  reason?: string;
  seconds: number;
}

export interface BisectStep extends StepOutcome {
  n: number;
  role: StepRole;
  commit: string;
  subject: string;
}

export type Conclusion =
  | { kind: "found"; commit: string; subject: string }
  | { kind: "inconsistent"; reason: string }
  | { kind: "only-skipped"; candidates: string[] };

/** What one `git bisect good|bad|skip` (or start) said: done, stuck on skips, or test the next. */
export type BisectSays = { kind: "found"; commit: string } | { kind: "only-skipped"; candidates: string[] } | { kind: "next"; left?: number };

/** Pure: read git bisect's output (LC_ALL=C). */
export function parseBisectOutput(text: string): BisectSays {
  const found = /^([0-9a-f]{40,64}) is the first bad commit$/m.exec(text);
  if (found) return { kind: "found", commit: found[1]! };
  if (/There are only 'skip'ped commits left to test\./.test(text)) {
    const after = text.slice(text.indexOf("could be any of:"));
    const candidates = [...after.matchAll(/^([0-9a-f]{40,64})$/gm)].map((m) => m[1]!);
    return { kind: "only-skipped", candidates };
  }
  const left = /\(roughly (\d+) steps?\)/.exec(text);
  return { kind: "next", ...(left ? { left: Number(left[1]) } : {}) };
}

/**
 * Pure: the commits that tags point at, from `git ls-remote --tags` output ("<sha>\trefs/tags/<name>"
 * lines; an annotated tag's commit is its peeled "<name>^{}" line, a lightweight tag's is its own).
 * A bisect step on one of these commits is a tagged upstream release, labelled like a tag pin.
 */
export function taggedCommits(lsRemote: string): Set<string> {
  const direct = new Map<string, string>();
  const peeled = new Map<string, string>();
  for (const line of lsRemote.split("\n")) {
    const m = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\trefs\/tags\/(.+?)(\^\{\})?$/.exec(line.trim());
    if (!m) continue;
    (m[3] ? peeled : direct).set(m[2]!, m[1]!);
  }
  const out = new Set<string>();
  for (const [name, sha] of direct) out.add(peeled.get(name) ?? sha);
  return out;
}

export interface DriveOptions {
  /** kiln's git store: it holds every commit of the range. */
  store: GitStore;
  /** A folder for the scratch repository (KILN_HOME/tmp); stale ones of dead runs are swept. */
  scratchRoot: string;
  good: string;
  bad: string;
  evaluate(commit: string, role: StepRole): Promise<StepOutcome>;
  /** Called before each evaluation: the step number and git's estimate of the steps left after it. */
  onStart?(n: number, role: StepRole, commit: string, subject: string, left: number | undefined): void;
  onStep?(step: BisectStep): void;
}

export interface BisectRun {
  steps: BisectStep[];
  conclusion: Conclusion;
}

const GIT_ENV = { LC_ALL: "C", LANG: "C", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };

/** Remove scratch repositories whose kiln is gone (a killed bisect leaves one behind). */
export function sweepScratch(root: string): void {
  if (!existsSync(root)) return;
  for (const f of readdirSync(root)) {
    const m = /^bisect-(\d+)-/.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!(pid === process.pid || pidAlive(pid))) rmSync(join(root, f), { recursive: true, force: true });
  }
}

/** Run the bisect: check both ends, then let git bisect pick each commit until it names one. */
export async function driveBisect(o: DriveOptions): Promise<BisectRun> {
  const steps: BisectStep[] = [];
  const subject = async (c: string) => o.store.out(["log", "-1", "--format=%s", c]);
  const step = async (commit: string, role: StepRole, left?: number): Promise<BisectStep> => {
    const s = await subject(commit);
    o.onStart?.(steps.length + 1, role, commit, s, left);
    const out = await o.evaluate(commit, role);
    const st: BisectStep = { n: steps.length + 1, role, commit, subject: s, ...out };
    steps.push(st);
    o.onStep?.(st);
    return st;
  };
  if (o.good === o.bad) return { steps, conclusion: { kind: "inconsistent", reason: `--good and --bad are the same commit ${o.good.slice(0, 12)}` } };
  const anc = await o.store.git(["merge-base", "--is-ancestor", o.good, o.bad], { allowFail: true });
  if (anc.exitCode !== 0)
    throw new ProjectError(`the good commit ${o.good.slice(0, 12)} is not an ancestor of the bad commit ${o.bad.slice(0, 12)}`, {}, "give --good an older commit of the same history as --bad (git merge-base --is-ancestor <good> <bad>)");

  const g = await step(o.good, "good end");
  if (g.verdict !== "good")
    return { steps, conclusion: { kind: "inconsistent", reason: `the good end ${o.good.slice(0, 12)} is ${g.verdict === "bad" ? "bad" : "not buildable"}${g.reason ? ` (${g.reason})` : ""}` } };
  const b = await step(o.bad, "bad end");
  if (b.verdict !== "bad")
    return { steps, conclusion: { kind: "inconsistent", reason: `the bad end ${o.bad.slice(0, 12)} is ${b.verdict === "good" ? "good: nothing regressed in the range" : `not buildable${b.reason ? ` (${b.reason})` : ""}`}` } };

  mkdirSync(o.scratchRoot, { recursive: true });
  sweepScratch(o.scratchRoot);
  const dir = join(o.scratchRoot, `bisect-${process.pid}-${Date.now().toString(36)}.git`);
  const scratch = new GitStore(dir);
  const git = async (args: string[]) => {
    const r = await scratch.git(args, { allowFail: true, env: GIT_ENV });
    return r;
  };
  try {
    await new GitStore(dir).init();
    writeFileSync(join(dir, "objects", "info", "alternates"), join(o.store.dir, "objects") + "\n");
    await scratch.git(["update-ref", "--no-deref", "HEAD", o.bad], { env: GIT_ENV });
    let says = parseBisectOutput(must(await git(["bisect", "start", "--no-checkout", o.bad, o.good]), "git bisect start"));
    for (;;) {
      if (says.kind === "found") return { steps, conclusion: { kind: "found", commit: says.commit, subject: await subject(says.commit) } };
      if (says.kind === "only-skipped") return { steps, conclusion: { kind: "only-skipped", candidates: says.candidates } };
      const next = (await scratch.out(["rev-parse", "--verify", "BISECT_HEAD"], { env: GIT_ENV })).trim();
      const st = await step(next, "bisect", says.left);
      const r = await git(["bisect", st.verdict, next]);
      // "only skipped commits left" exits 2 and says so; anything else non-zero is git failing
      if (r.exitCode !== 0 && !/only 'skip'ped commits left/.test(r.all)) must(r, `git bisect ${st.verdict}`);
      says = parseBisectOutput(r.all);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function must(r: { exitCode: number; all: string }, what: string): string {
  if (r.exitCode !== 0) throw new InfraError(`${what} failed (exit ${r.exitCode}):\n${r.all.trim().split("\n").slice(-6).join("\n")}`);
  return r.all;
}

// ---------------------------------------------------------------- the report

export interface BisectReport {
  source: { name: string; url: string };
  target: string;
  arch: string;
  test: { kind: "boot" } | { kind: "exec"; command: string };
  good: string;
  bad: string;
  steps: BisectStep[];
  conclusion: Conclusion;
  seconds: number;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** Pure: the step table a person reads (ref, identity, build, result, time). */
export function renderSteps(steps: readonly BisectStep[], fmt: (ms: number) => string): string {
  const rows = [
    ["#", "ref", "subject", "identity", "build", "result", "time"],
    ...steps.map((s) => [
      String(s.n),
      s.commit.slice(0, 12),
      clip(s.subject, 36),
      s.identity ?? "-",
      s.build,
      `${s.verdict}${s.remembered ? " (remembered)" : ""}${s.role !== "bisect" ? ` [${s.role}]` : ""}`,
      fmt(s.seconds * 1000),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join("  ").trimEnd());
  const why = steps.filter((s) => s.reason && s.verdict !== "good").map((s) => `  ${s.n}: ${s.verdict === "skip" ? "skipped, " : ""}${s.reason}`);
  return [...lines, ...(why.length ? ["", ...why] : [])].join("\n");
}

/** Pure: the closing lines. */
export function renderConclusion(c: Conclusion): string {
  switch (c.kind) {
    case "found":
      return `first bad commit: ${c.commit} ${c.subject}`;
    case "inconsistent":
      return `inconsistent range: ${c.reason}`;
    case "only-skipped":
      return `only skipped commits are left: the first bad commit is one of\n${c.candidates.map((x) => `  ${x}`).join("\n")}`;
  }
}
