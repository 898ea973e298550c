/**
 * The build flow of one (target, arch) cell, as data: FLOW is the ordered list of steps, SKIPS
 * says beside it when a step does not run and why. Each step is a function from the results so
 * far to its own typed result (src/pipeline/steps.ts):
 *   apply_patches -> build_flags -> configure_record -> prepare_worktree -> configure -> config_gate
 *     -> identity -> reuse_check -> waited_reuse -> fetch_identity -> checkout -> compile -> install
 *     -> outputs
 * configure_record finds configure's result by the content of its inputs (KILN_HOME/configs), so
 * on a hit the identity, and a store hit, come before any tree is checked out: prepare_worktree
 * and configure are skipped, and checkout brings the tree only when something compiles or the
 * caller reads the tree (docs/adr/0047).
 * The runner records every step (ran, skipped with its reason, failed) and its duration; the
 * manifest is a pure function of those results (src/pipeline/manifest.ts), written early
 * (status running), after each step, and at the end, each time atomically.
 * `check configured` runs the same flow up to the identity and records it in state/configured.json,
 * never in the manifest of the last build.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { KilnError } from "../errors.js";
import type { Project } from "../project/load.js";
import { seriesFor } from "../project/load.js";
import { ARCHES } from "../tables/arches.js";
import { paths as kilnPaths, projectId, warmTree } from "../store/paths.js";
import { GitStore } from "../effects/git.js";
import { acquire, type HeldLock } from "../effects/lock.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { loadSeries } from "./apply_patches.js";
import { inferLabel } from "../core/identity.js";
import type { Manifest } from "../core/manifest.js";
import { KILN_VERSION } from "../version.js";
import type { Sources } from "./sources.js";
import { cellManifest, type ManifestRun } from "./manifest.js";
import {
  applyPatchesStep, prepareWorktreeStep, buildFlagsStep, configureRecordStep, configureStep, checkoutStep, configGateStep, identityStep,
  reuseCheckStep, waitedReuseStep, peerReused, compileStep, installStep, outputsStep,
  type FlowEnv, type FlowOptions, type FlowResults, type Prepared,
} from "./steps.js";

export type BuildOptions = FlowOptions;
export { invariantRules } from "./steps.js";

export interface CellResult {
  manifest: Manifest;
  /** state/manifest.json of the cell's warm tree; state/configured.json for a configure-only run. */
  manifestPath: string;
  results: FlowResults;
}

type StepName =
  | "apply_patches" | "build_flags" | "configure_record" | "prepare_worktree" | "configure" | "config_gate" | "identity"
  | "reuse_check" | "waited_reuse" | "fetch_identity" | "checkout" | "compile" | "install" | "outputs";

interface Step {
  name: StepName;
  /** Runs under the identity lock, so one of two equal builds compiles and the other reuses. */
  identityLock?: true;
  run(r: FlowResults, x: FlowEnv): Promise<Partial<FlowResults>>;
}

/** A step's result lands in one field of the results. */
function into<K extends Exclude<keyof FlowResults, "prepared" | "records">>(k: K, f: (r: FlowResults, x: FlowEnv) => Promise<FlowResults[K]>) {
  return async (r: FlowResults, x: FlowEnv): Promise<Partial<FlowResults>> => ({ [k]: await f(r, x) }) as Partial<FlowResults>;
}

/** fetch_identity: a signed copy of this exact identity at a configured remote beats compiling. */
async function fetchIdentityStep(r: FlowResults, x: FlowEnv): Promise<FlowResults["reused"]> {
  const p = r.prepared;
  const { fetchIdentity } = await import("./fetch_identity.js"); // http and the ship formats: only when a remote is asked
  const peer = await fetchIdentity(p.project, r.identified!.release, p.arch.name, { paths: p.paths, ui: x.ui });
  return peerReused(r, x, peer);
}

/** The steps, in order. */
export const FLOW: readonly Step[] = [
  { name: "apply_patches", run: into("patched", applyPatchesStep) },
  { name: "build_flags", run: into("flags", buildFlagsStep) },
  { name: "configure_record", run: into("configured", configureRecordStep) },
  { name: "prepare_worktree", run: into("worktree", prepareWorktreeStep) },
  { name: "configure", run: into("configured", configureStep) },
  { name: "config_gate", run: async (r, x) => (await configGateStep(r, x), {}) },
  { name: "identity", run: into("identified", identityStep) },
  { name: "reuse_check", run: into("reused", reuseCheckStep) },
  { name: "waited_reuse", identityLock: true, run: into("reused", waitedReuseStep) },
  { name: "fetch_identity", identityLock: true, run: into("reused", fetchIdentityStep) },
  { name: "checkout", identityLock: true, run: into("worktree", checkoutStep) },
  { name: "compile", identityLock: true, run: into("built", compileStep) },
  { name: "install", identityLock: true, run: into("installed", installStep) },
  { name: "outputs", run: into("shipped", outputsStep) },
];

/** A configure-only run (`check configured`, the config tools) stops after this step. */
export const CONFIGURE_ONLY_UNTIL: StepName = "identity";

const noReuse = (o: FlowOptions) => (o.reuse === false ? "--no-reuse" : undefined);
const reusedAlready = (r: FlowResults) => (r.reused ? `${r.reused.kind} from ${r.reused.from}` : undefined);

/** When a step does not run, and why. A step not listed here always runs. */
export const SKIPS: Partial<Record<StepName, (r: FlowResults, o: FlowOptions) => string | undefined>> = {
  configure_record: (_r, o) => (o.configureOnly && !o.identityOnly ? "configure only: the config tools read the configured tree" : undefined),
  prepare_worktree: (r) => (r.configured ? "configured from its content record: a tree is checked out only when something compiles" : undefined),
  configure: (r) => (r.configured ? `the content record ${r.configured.key.slice(0, 12)} holds this configure's result` : undefined),
  config_gate: (_r, o) => (o.configureOnly ? "configure only: check configured reports every finding and violation itself" : undefined),
  reuse_check: (_r, o) => noReuse(o),
  waited_reuse: (r, o) => noReuse(o) ?? reusedAlready(r),
  fetch_identity: (r, o) => noReuse(o) ?? reusedAlready(r) ?? (r.prepared.project.decl.ship.reuse.length === 0 ? "no [ship] reuse remotes" : undefined),
  checkout: (r, o) =>
    r.worktree ? "the tree was checked out for configure" : !o.tree && !r.prepared.target.outputs.some((k) => k === "deb" || k === "rpm") && r.reused ? `nothing compiles: ${reusedAlready(r)}` : undefined,
  compile: (r) => reusedAlready(r),
  install: (r) => reusedAlready(r),
  outputs: (r, o) =>
    o.outputs === false ? "not asked for (the caller writes its own)" : r.prepared.target.outputs.every((k) => k === "install") ? "the target declares no outputs beyond install" : undefined,
};

/** Run the flow for one cell. `sources` holds the resolved pins (and the import's extraction to adopt). */
export async function buildCell(project: Project, tname: string, archName: string, sources: Sources, opts: BuildOptions): Promise<CellResult> {
  const ui = opts.ui;
  const p = opts.paths ?? kilnPaths();
  const target = project.targets[tname]!;
  const arch = ARCHES[archName]!;
  const git = new GitStore(p.git);
  await git.init();
  const warm = warmTree(p, projectId(project.decl.name, project.dir), tname, archName);
  const source = sources.entry(target.source);
  const series = await loadSeries(project.dir, seriesFor(project, target), project.decl.outside_paths);
  const label = opts.label ?? target.label ?? inferLabel({
    ...(series.patches.length && series.subject ? { seriesSubject: series.subject } : {}),
    upstreamRelease: series.patches.length === 0 && (source.kind !== "git" || !!source.tag),
    ...(source.kind === "git" && source.commit ? { ref: source.commit.slice(0, 12) } : {}),
  });
  const prepared: Prepared = { project, tname, target, arch, source, sources, series, label, paths: p, warm, git };
  const r: FlowResults = { prepared, records: [] };
  const run0 = { startedAt: new Date().toISOString(), kilnVersion: KILN_VERSION };
  const manifestOf = (status: ManifestRun["status"], extra: Partial<ManifestRun> = {}) =>
    cellManifest(r, { ...run0, status, ...(status !== "running" ? { finishedAt: new Date().toISOString() } : {}), ...extra });
  const manifestPath = join(warm.state, opts.configureOnly ? "configured.json" : "manifest.json");
  // the running manifest after each step is atomic but not fsynced; the final one (ok or failed) is
  const save = (m: Manifest) => writeFileAtomic(manifestPath, JSON.stringify(m, null, 2) + "\n", 0o644, { durable: m.status !== "running" });
  mkdirSync(warm.state, { recursive: true });

  const treeLock = await acquire(warm.lock, { onWait: () => ui.step("wait", `another kiln is using the ${tname}/${archName} tree; waiting`) });
  let idLock: HeldLock | undefined;
  const env: FlowEnv = { opts, ui, treeLock, manifestNow: (x) => cellManifest(x, { ...run0, status: "ok", finishedAt: new Date().toISOString() }) };
  try {
    save(manifestOf("running"));
    let stopped: string | undefined;
    for (const step of FLOW) {
      const reason = stopped ?? SKIPS[step.name]?.(r, opts);
      if (reason !== undefined) {
        r.records.push({ step: step.name, status: "skipped", reason, ms: 0 });
        continue;
      }
      if (!step.identityLock && idLock) {
        await idLock.release();
        idLock = undefined;
      }
      // one compile per identity: the steps that may compile it hold its lock; a build already
      // reused (from the store or a peer) only lays out its own warm tree, under the tree lock
      if (step.identityLock && !idLock && !r.reused) {
        const release = r.identified!.release;
        idLock = await acquire(join(p.locks, `release-${release}.lock`), { onWait: () => ui.step("wait", `another kiln is building ${release}; waiting to reuse it`) });
      }
      const t0 = Date.now();
      try {
        Object.assign(r, await step.run(r, env));
      } catch (e) {
        r.records.push({ step: step.name, status: "failed", ms: Date.now() - t0 });
        throw e;
      }
      r.records.push({ step: step.name, status: "ran", ms: Date.now() - t0 });
      save(manifestOf("running"));
      if (opts.configureOnly && step.name === CONFIGURE_ONLY_UNTIL) stopped = `configure only: the flow stops after ${CONFIGURE_ONLY_UNTIL}`;
    }
    const manifest = manifestOf("ok");
    save(manifest);
    return { manifest, manifestPath, results: r };
  } catch (e) {
    try {
      save(manifestOf("failed", { error: e instanceof KilnError ? e.render() : String((e as Error).stack ?? e) }));
    } catch {
      /* keep the original error */
    }
    throw e;
  } finally {
    await idLock?.release();
    await treeLock.release();
  }
}
