/**
 * `kiln bisect --good <ref> --bad <ref> [--exec 'cmd' | --boot]`: the first bad commit of a git
 * pin's range. Each step is an ordinary kiln build of that commit (same warm tree, ccache, store
 * reuse; kiln.lock is neither read nor written) and a boot of it: good when the boot passes (the
 * guest's uname -r is the identity) and the --exec command exits 0, bad when not, skipped when
 * the kernel does not build. git bisect picks the commits (src/bisect/bisect.ts, docs/adr/0100).
 * Exit 0 with a first bad commit, 2 for an inconsistent range (or only skipped commits left),
 * 1 for kiln or the infrastructure.
 */
import type { Command } from "commander";
import { join } from "node:path";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { BuildFailure, GateFailure, HostError, KilnError, ProjectError, SourceError } from "../errors.js";
import { fmtDuration, type Ui } from "../ui/log.js";
import type { Manifest } from "../core/manifest.js";
import type { Project } from "../project/load.js";
import type { Pin } from "../project/schema.js";
import type { LockEntry } from "../project/lock.js";
import { intOption, type Context } from "./context.js";
import type { BisectReport, BisectStep, StepOutcome, StepRole } from "../bisect/bisect.js";
import type { TestSpec } from "../bisect/verdicts.js";
import { parseMemoryOption } from "../boot/qemu.js";
import { projectId, type Paths } from "../store/paths.js";
import { bootCache, cellOf, initramfsFor, recordBoot, toolchainFor } from "./boot.js";

interface BisectCliOptions {
  good: string;
  bad?: string;
  exec?: string;
  boot?: boolean;
  target?: string;
  arch?: string;
  memory: number;
  accel: "auto" | "kvm" | "tcg";
  timeout?: number;
  recheck?: boolean;
  jobs?: number;
}

export function registerBisectCommand(prog: Command, ctx: Context): void {
  prog
    .command("bisect")
    .description("find the first bad commit of a git pin's range: build and boot each step (git bisect), good when the boot passes and --exec exits 0")
    .requiredOption("--good <ref>", "a commit (ref, tag or SHA of the pin's repository) that is good")
    .option("--bad <ref>", "a commit that is bad (default: the pin's ref)")
    .option("--exec <command>", "run this command in each guest: exit 0 is good")
    .option("--boot", "only boot each step: good when it boots and uname -r is its identity (the default)")
    .option("--target <target>", "the target (default: the first in kiln.toml)")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("--memory <mib>", "guest memory in MiB (at least 64)", (v) => parseMemoryOption(v), 512)
    .option("--accel <accel>", "auto, kvm or tcg", "auto")
    .option("--timeout <sec>", "give each guest this many seconds", (v) => Number(v))
    .option("--recheck", "boot every step again instead of using the verdicts remembered for its identity")
    .option("-j, --jobs <n>", "parallel make jobs (default: the CPU count)", intOption("--jobs", 1))
    .action(async (o: BisectCliOptions) => {
      if (o.boot && o.exec !== undefined) throw new ProjectError("--boot and --exec do not go together", { symbol: "--exec" }, "--exec boots too; give one of them");
      const report = await runBisect(ctx, o);
      const { renderSteps, renderConclusion } = await import("../bisect/bisect.js");
      if (ctx.globals.json) ctx.printJson(report);
      else {
        process.stdout.write(`\n${renderSteps(report.steps, fmtDuration)}\n\n${renderConclusion(report.conclusion)}\n`);
        ctx.ui.step("bisect", `${report.steps.length} step(s) (${report.steps.filter((s) => s.build === "built").length} compiled) in ${fmtDuration(report.seconds * 1000)}`);
      }
      const c = report.conclusion;
      if (c.kind === "inconsistent") throw new GateFailure(`kiln bisect: inconsistent range: ${c.reason}`, {}, "check --good and --bad (and the --exec command) against the step table");
      if (c.kind === "only-skipped") throw new GateFailure(`kiln bisect: only commits whose kernel does not build are left; the first bad commit is one of ${c.candidates.map((x) => x.slice(0, 12)).join(", ")}`);
    });
}

/** The project with the git pin moved to `commit` (in memory: kiln.toml is not touched). */
function atCommit(project: Project, source: string, pin: Extract<Pin, { kind: "git" }>, commit: string): Project {
  return { ...project, pins: { ...project.pins, [source]: { ...pin, ref: commit } } };
}

async function runBisect(ctx: Context, o: BisectCliOptions): Promise<BisectReport> {
  const t0 = Date.now();
  const ui: Ui = ctx.ui;
  const [{ pickCell, buildCells, configureCells }, { GitStore }, { gitPinUrl }, { pinDeclHash }, lib, verdicts, bootLib] = await Promise.all([
    import("../pipeline/cells.js"),
    import("../effects/git.js"),
    import("../pipeline/prepare_source.js"),
    import("../project/lock.js"),
    import("../bisect/bisect.js"),
    import("../bisect/verdicts.js"),
    import("../boot/index.js"),
  ]);
  const project = await ctx.project();
  const p = await ctx.paths();
  const cell = pickCell(project, o.target, o.arch);
  const sourceName = project.targets[cell.target]!.source;
  const pin = project.pins[sourceName]!;
  if (pin.kind !== "git")
    throw new ProjectError(`kiln bisect needs a git pin: source "${sourceName}" of target "${cell.target}" is a ${pin.kind} pin`, { file: project.file, symbol: `source.${sourceName}` }, `pin the kernel as git = "<repository>" with ref = "<bad commit>" (see docs/bisect.md)`);
  const url = gitPinUrl(pin, project.dir);
  const store = new GitStore(p.git);
  await store.init();
  const good = await resolveRef(store, url, o.good, "--good", ui);
  const bad = await resolveRef(store, url, o.bad ?? pin.ref, o.bad ? "--bad" : `the pin's ref (source.${sourceName}.ref)`, ui);
  const test: TestSpec = { kind: o.exec !== undefined ? "exec" : "boot", ...(o.exec !== undefined ? { command: o.exec } : {}), arch: cell.arch, memoryMiB: o.memory };
  const buildUi = ctx.globals.json ? ctx.stderrUi : ui;

  // a commit a tag points at is labelled like a tag pin (`vanilla` when no series applies)
  const tags = await store.git(["ls-remote", "--tags", url], { allowFail: true });
  const tagged = tags.exitCode === 0 ? lib.taggedCommits(tags.stdout) : new Set<string>();
  const override = (proj: Project, commit: string): Record<string, LockEntry> => ({
    [sourceName]: { declared: pinDeclHash(proj.pins[sourceName]!), kind: "git", url, commit, tag: tagged.has(commit), tree: "", timestamp: 0, kernel_version: "" },
  });
  const build = async (commit: string, tree: boolean) => {
    const proj = atCommit(project, sourceName, pin, commit);
    return (await buildCells(proj, [cell], { ui: buildUi, paths: p, reuse: true, ccache: true, lockOverride: override(proj, commit), ...(tree ? { tree: true } : {}), ...(o.jobs ? { jobs: o.jobs } : {}) }))[0]!;
  };
  /** The identity of the commit's build, up to the identity step only (a content record hit: no tree, no make). */
  const identityOf = async (commit: string): Promise<string | undefined> => {
    const proj = atCommit(project, sourceName, pin, commit);
    try {
      const { cells } = await configureCells(proj, [cell], { ui: buildUi, paths: p, lockOverride: override(proj, commit), identityOnly: true });
      return cells[0]?.manifest.uts_release;
    } catch (e) {
      if (e instanceof BuildFailure || e instanceof GateFailure) return undefined; // the full build says why
      throw e;
    }
  };
  const inStore = (release: string) => existsSync(join(p.store, release, "manifest.json"));

  const evaluate = async (commit: string): Promise<StepOutcome> => {
    const s0 = Date.now();
    const secs = () => (Date.now() - s0) / 1000;
    // a verdict remembered for this identity and test: a store hit (or a known build failure) decides at once
    const early = o.recheck ? undefined : await identityOf(commit);
    const known = early ? verdicts.recallVerdict(p.home, early, test) : undefined;
    if (early && known && (known.verdict === "skip" || inStore(early)))
      return { verdict: known.verdict, identity: early, build: known.verdict === "skip" ? "failed" : "reused", remembered: true, ...(known.reason ? { reason: known.reason } : {}), seconds: secs() };
    let r;
    try {
      r = await build(commit, false);
    } catch (e) {
      // the kernel of this commit does not build (compile, patches, config gate): git bisect skip
      if (e instanceof BuildFailure || e instanceof GateFailure) {
        const identity = failedIdentity(project, cell, p);
        const reason = failureLine(e.message);
        if (identity) verdicts.rememberVerdict(p.home, identity, test, { verdict: "skip", reason, at: new Date().toISOString() });
        return { verdict: "skip", build: "failed", ...(identity ? { identity } : {}), reason, seconds: secs() };
      }
      throw e;
    }
    const release = r.manifest.uts_release!;
    const status: StepOutcome["build"] = r.manifest.reuse?.status === "built" || r.manifest.reuse === undefined ? "built" : "reused";
    // boot needs the warm tree (the init is built from its nolibc): a store hit lays it out now
    if (status === "reused") r = await build(commit, true);
    const c = cellOf(r);
    const cacheDir = await bootCache(ctx);
    const notify = (m: string) => buildUi.info(m);
    const smoke = await bootLib.runSmoke({
      arch: c.arch, kernel: c.image, initramfs: await initramfsFor(ctx, c), expectedRelease: release, consoleLog: join(c.state, `bisect-boot-${c.arch}.log`),
      memoryMiB: o.memory, accel: o.accel, cacheDir, notify, ...(o.timeout ? { timeoutSec: o.timeout } : {}),
    });
    await recordBoot(c, [smoke]);
    buildUi.step("boot", `${c.arch} ${smoke.memoryMiB} MiB (${smoke.accel}): ${smoke.ok ? `${release} booted` : `FAILED at ${smoke.stage}`} in ${fmtDuration(smoke.timings.totalSec * 1000)}`);
    let verdict: StepOutcome["verdict"] = smoke.ok ? "good" : "bad";
    let reason = smoke.ok ? undefined : `boot failed at ${smoke.stage}: ${smoke.reason ?? "see the console log"}`;
    let consoleLog = smoke.consoleLog;
    if (smoke.ok && o.exec !== undefined) {
      const work = join(c.state, "bisect");
      mkdirSync(work, { recursive: true });
      try {
        const x = await bootLib.runExec({
          arch: c.arch, kernel: c.image, tree: c.src, cacheDir, workDir: work, memoryMiB: o.memory, accel: o.accel, toolchain: await toolchainFor(c.manifest), notify,
          command: o.exec, consoleLog: join(c.state, `bisect-exec-${c.arch}.log`), ...(o.timeout ? { timeoutSec: o.timeout } : {}),
        });
        consoleLog = x.consoleLog;
        buildUi.step("exec", `exited ${x.exitCode} in ${fmtDuration(x.totalSec * 1000)} (${x.accel})`);
        if (x.exitCode !== 0) {
          verdict = "bad";
          const tail = x.output.trim().split("\n").slice(-1)[0];
          reason = `--exec exited ${x.exitCode}${tail ? `: ${clip(tail, 80)}` : ""}`;
        }
      } catch (e) {
        // the guest booted, then never finished the command (a crash or a hang it caused): bad
        if (!(e instanceof KilnError) || e instanceof ProjectError || e instanceof HostError) throw e;
        verdict = "bad";
        reason = `--exec did not finish: ${firstLine(e.message)}`;
      }
    }
    verdicts.rememberVerdict(p.home, release, test, { verdict, ...(reason ? { reason } : {}), at: new Date().toISOString(), console_log: consoleLog });
    return { verdict, identity: release, build: status, ...(reason ? { reason } : {}), seconds: secs() };
  };

  const times: number[] = [];
  const run = await lib.driveBisect({
    store, scratchRoot: join(p.home, "tmp"), good, bad, evaluate,
    onStart: (n: number, role: StepRole, commit: string, subject: string, left: number | undefined) => {
      const avg = times.length ? times.reduce((a, b) => a + b, 0) / times.length : undefined;
      const eta = left !== undefined && avg !== undefined ? `, ETA ${fmtDuration(avg * (left + 1) * 1000)}` : "";
      ui.step("bisect", `step ${n}${role !== "bisect" ? ` (${role})` : left !== undefined ? ` (~${left} more after this${eta})` : ""}: ${commit.slice(0, 12)} ${subject}`);
    },
    onStep: (s: BisectStep) => {
      times.push(s.seconds);
      ui.step("bisect", `step ${s.n}: ${s.verdict}${s.remembered ? " (remembered)" : ""}, ${s.build}${s.identity ? ` ${s.identity}` : ""} in ${fmtDuration(s.seconds * 1000)}${s.reason ? ` — ${s.reason}` : ""}`);
    },
  });
  return {
    source: { name: sourceName, url }, target: cell.target, arch: cell.arch,
    test: o.exec !== undefined ? { kind: "exec", command: o.exec } : { kind: "boot" },
    good, bad, steps: run.steps, conclusion: run.conclusion, seconds: (Date.now() - t0) / 1000,
  };
}

/** A ref of the pin's repository as a commit in kiln's store (fetched when it is not there). */
async function resolveRef(store: import("../effects/git.js").GitStore, url: string, ref: string, what: string, ui: Ui): Promise<string> {
  if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(ref)) {
    const have = await store.git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { allowFail: true });
    if (have.exitCode === 0) return have.stdout.trim();
  }
  ui.step("fetch", `${url} ${ref}`);
  const tmpRef = `refs/kiln/fetch/bisect-${process.pid}-${Date.now()}`;
  const r = await store.git(["fetch", "--no-tags", "--quiet", url, `+${ref}:${tmpRef}`], { allowFail: true });
  if (r.exitCode !== 0) throw new SourceError(`cannot fetch ${what} ${ref} from ${url}:\n${r.all.trim().split("\n").slice(-4).join("\n")}`, { url }, "give a branch, tag or full SHA the repository has");
  const commit = await store.out(["rev-parse", `${tmpRef}^{commit}`]);
  await store.git(["update-ref", "-d", tmpRef]);
  await store.keep("commits", commit);
  return commit;
}

/** The identity a failed build had reached (its cell manifest), if it got that far. */
function failedIdentity(project: Project, cell: { target: string; arch: string }, p: Paths): string | undefined {
  const f = join(p.work, projectId(project.decl.name, project.dir), `${cell.target}-${cell.arch}`, "state", "manifest.json");
  if (!existsSync(f)) return undefined;
  try {
    const m = JSON.parse(readFileSync(f, "utf8")) as Manifest;
    return m.status === "failed" && m.uts_release ? m.uts_release : undefined;
  } catch {
    return undefined;
  }
}


/** The failure's first line and its first detail (the compiler's first error, the patch's hunk). */
function failureLine(msg: string): string {
  const lines = msg.split("\n").map((l) => l.trim()).filter(Boolean);
  return clip(lines.slice(0, 2).join(" — "), 240);
}
const firstLine = (s: string) => clip(s.split("\n").find((l) => l.trim()) ?? s, 160);
const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
