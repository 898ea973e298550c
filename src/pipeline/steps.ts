/**
 * The steps of the build flow, each a function from typed inputs to a typed result:
 *   Prepared -> Patched -> Worktree -> Flags -> Configured -> (gate) -> Identified
 *     -> Reused | Built -> Installed -> Shipped
 * The order, the skip conditions and the manifest live elsewhere (build.ts, manifest.ts); a step
 * does its one job and returns what it found. Steps that need a lock get it from FlowEnv.
 */
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KilnError, GateFailure } from "../errors.js";
import { checkInvariants, type InvariantRule, type Violation } from "../core/invariants.js";
import { fatalFindings, formatFinding, type Finding } from "../core/audit.js";
import { computeDigest, fitLabel, bakeLocalversion, releaseString, blankHostPaths } from "../core/identity.js";
import { kernelVersionFromMakefile } from "../core/kernel_version.js";
import { parseDotConfig } from "../core/fragment.js";
import { parseGeneratedHeaders, type Manifest } from "../core/manifest.js";
import type { Project } from "../project/load.js";
import type { TargetDecl } from "../project/schema.js";
import type { LockEntry } from "../project/lock.js";
import type { ArchSpec } from "../tables/arches.js";
import type { Paths, WarmTree } from "../store/paths.js";
import { entryDir, hasEntry, commitEntry, newTmpDir, touchEntry, readManifest } from "../store/store.js";
import type { GitStore } from "../effects/git.js";
import type { HeldLock } from "../effects/lock.js";
import { which } from "../effects/proc.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { toolchainIdentity, type ToolchainIdentity } from "../effects/toolchain.js";
import { readConfigRecord, writeConfigRecord } from "../store/configs.js";
import { applySeries, type SeriesInfo, type PatchedTree } from "./apply_patches.js";
import { prepareWorktree, type WorktreeResult } from "./prepare_worktree.js";
import type { Sources } from "./sources.js";
import { buildFlags, ccacheEnv, type BuildFlags } from "./build_flags.js";
import { buildSettings, distccPlan, distccRecord, localDistccEnv, prepareDistccCompile, remoteCcacheEnv, type DistccPlan, type DistccRecord } from "../distcc/flow.js";
import type { CcacheRemote } from "../distcc/config.js";
import { configure, bakeRelease, rebakeText, layerFiles, type MakeEnv, type ConfigureResult } from "./configure.js";
import type { CompileResult } from "./compile.js";
import type { Installed as InstalledFiles } from "./install.js";
import { fmtDuration, type Ui } from "../ui/log.js";

// ------------------------------------------------------------------ results

/** The flow's input: one (target, arch) cell with its resolved source, series and label. */
export interface Prepared {
  project: Project;
  tname: string;
  target: TargetDecl;
  arch: ArchSpec;
  source: LockEntry;
  /** The resolved pins; the first warm tree of a freshly imported tree adopts its extraction. */
  sources: Sources;
  series: SeriesInfo;
  label: string;
  paths: Paths;
  warm: WarmTree;
  git: GitStore;
}

export type Patched = PatchedTree;
export type Worktree = WorktreeResult;

export interface Flags {
  flags: BuildFlags;
  toolchain: ToolchainIdentity;
  /** The ccache binary, when used. */
  ccache?: string;
  statsLog: string;
  make: MakeEnv;
  /** distcc hosts for the compile (configure and install compile locally through the same CC). */
  distcc?: DistccPlan;
  /** ccache remote storage (shared cache), when configured. */
  ccacheRemote?: CcacheRemote;
}

export interface Configured {
  /** The configure result; its configText is dropped (the baked text is kept instead). */
  cfg: ConfigureResult;
  findings: Finding[];
  violations: Violation[];
  digest: string;
  /** The label as it fits into the 64-byte release. */
  fitted: string;
  baked: { release: string; configText: string };
  kernelVersion: string;
  /**
   * "content": the configure record of these exact inputs, found by its content key in
   *   KILN_HOME/configs (any folder, no tree needed);
   * "record": no input changed since the last run, the result came from state/configure.json;
   * "rebaked": only source files Kconfig never reads changed, so the last config was kept and
   * only the release re-baked into it; "ran": configured from scratch.
   */
  how: "content" | "ran" | "record" | "rebaked";
  /** The content key of configure's inputs (KILN_HOME/configs/<key>.json). */
  key: string;
}

export interface Identified {
  release: string;
}

/** A build with this identity already existed: in the store, after waiting, or at a peer. */
export interface Reused {
  kind: "reused" | "waited-reused";
  from: string;
  /** The stored build's own manifest (compile, artifacts, provenance). */
  stored: Manifest;
}

export interface Built {
  compile: CompileResult;
  jobs: number;
  log: string;
  distcc?: DistccRecord;
}

export interface Installed {
  entry: string;
  files: InstalledFiles;
  provenance: NonNullable<Manifest["provenance"]>;
}

export interface Shipped {
  outputs: Record<string, string>;
}

export interface StepRecord {
  step: string;
  status: "ran" | "skipped" | "failed";
  reason?: string;
  ms: number;
}

/** Every result the flow produced so far, and the record of each step. */
export interface FlowResults {
  prepared: Prepared;
  patched?: Patched;
  worktree?: Worktree;
  flags?: Flags;
  configured?: Configured;
  identified?: Identified;
  reused?: Reused;
  built?: Built;
  installed?: Installed;
  shipped?: Shipped;
  records: StepRecord[];
}

export interface FlowOptions {
  jobs?: number;
  /** Off forces a rebuild even when the identity is in the store. */
  reuse?: boolean;
  ccache?: boolean;
  wipe?: boolean;
  label?: string;
  /** The caller reads the warm tree afterwards (boot's init, Debian packages): check it out even on a reuse. */
  tree?: boolean;
  /** Stop after the identity (the `check configured` gate). */
  configureOnly?: boolean;
  /** With configureOnly: the caller reads only the identity, so a content record may answer (no tree, no make). */
  identityOnly?: boolean;
  /** Audit findings are reported but do not fail the build. */
  reportOnly?: boolean;
  /** Off: do not write the target's outputs (check repro writes its own artifact). */
  outputs?: boolean;
  ui: Ui;
  paths?: Paths;
}

/** What steps share besides results: options, the ui, the held locks, the manifest so far. */
export interface FlowEnv {
  opts: FlowOptions;
  ui: Ui;
  treeLock: HeldLock;
  /** The manifest of the results so far, as a finished (status ok) build would record it. */
  manifestNow(r: FlowResults): Manifest;
}

function need<K extends keyof FlowResults>(r: FlowResults, k: K): NonNullable<FlowResults[K]> {
  const v = r[k];
  if (v === undefined) throw new Error(`the flow reached a step that needs "${k}" before it was produced`);
  return v as NonNullable<FlowResults[K]>;
}

// ------------------------------------------------------------------ steps

export async function applyPatchesStep(r: FlowResults, x: FlowEnv): Promise<Patched> {
  const p = r.prepared;
  const patched = await applySeries(p.git, p.source.tree, p.series, p.paths.git, p.source.commit);
  if (p.series.mailed && patched.mailed) x.ui.step("patches", `${p.series.patches.length} mailed patch(es) apply (git am) -> ${patched.mailed.ref.replace(/^refs\/heads\//, "")}${patched.reused ? " (cached)" : ""}`);
  else if (p.series.patches.length) x.ui.step("patches", `${patched.applied.length || p.series.patches.length} patch(es) apply clean${patched.reused ? " (cached)" : ""}`);
  return patched;
}

export async function prepareWorktreeStep(r: FlowResults, x: FlowEnv): Promise<Worktree> {
  const p = r.prepared;
  const wt = await prepareWorktree(p.git, p.warm, need(r, "patched").tree, p.sources.adopt(p.source.tree), x.opts.wipe, p.source.tree);
  x.ui.debug(`worktree ${wt.mode}${wt.linkedFrom ? ` from ${wt.linkedFrom}` : ""}, ${wt.changedFiles} file(s) changed`);
  return wt;
}

export async function buildFlagsStep(r: FlowResults, x: FlowEnv): Promise<Flags> {
  const p = r.prepared;
  // The warm tree's paths, whether or not it is checked out yet: the flags need only where it is.
  const wt = { src: p.warm.src, build: p.warm.build };
  const ccacheBin = x.opts.ccache === false ? undefined : await which("ccache");
  const statsLog = join(p.warm.state, "ccache-stats.log");
  const settings = buildSettings(p.project, process.env);
  const ccacheRemote = ccacheBin ? settings.ccacheRemote : undefined;
  if (settings.ccacheRemote && !ccacheBin) x.ui.warn(`ccache remote storage ${settings.ccacheRemote.shown} is configured but ccache is ${x.opts.ccache === false ? "off" : "not installed"}; building without it`);
  const plain = buildFlags({ arch: p.arch, toolchain: p.target.toolchain, src: wt.src, build: wt.build, timestamp: p.source.timestamp, makeVars: p.target.make_vars });
  const distcc = await distccPlan(settings.distcc, p.warm.state, plain.cc);
  const flags = buildFlags({ arch: p.arch, toolchain: p.target.toolchain, src: wt.src, build: wt.build, timestamp: p.source.timestamp, makeVars: p.target.make_vars, ...(ccacheBin ? { ccache: { bin: ccacheBin } } : {}), ...(distcc ? { distcc: { bin: distcc.bin, ccPath: distcc.ccPath } } : {}) });
  const toolchain = await toolchainIdentity(p.target.toolchain, flags.crossPrefix, join(p.paths.home, "toolchains.json"));
  const env: Record<string, string> = {
    LC_ALL: "C",
    ...(ccacheBin ? ccacheEnv(p.paths.ccache, statsLog, wt) : {}),
    ...remoteCcacheEnv(ccacheRemote),
    ...(distcc ? localDistccEnv(distcc, !!ccacheBin, availableParallelism()) : {}),
  };
  return { flags, toolchain, ...(ccacheBin ? { ccache: ccacheBin } : {}), statsLog, make: { src: wt.src, build: wt.build, makeVars: flags.makeVars, env }, ...(distcc ? { distcc } : {}), ...(ccacheRemote ? { ccacheRemote } : {}) };
}

/**
 * Configure re-runs whenever one of its inputs changed; when none did and the build folder still
 * holds the config it produced, its result is taken from the record (docs/adr/0005); when only
 * sources Kconfig cannot see changed, the release is re-baked into the last config (0006).
 */
/** The content key of configure's inputs, and the same with the tree left out. */
async function configureKeys(r: FlowResults): Promise<{ key: string; kconfigKey: string }> {
  const p = r.prepared;
  const f = need(r, "flags");
  const keyInputs = { tname: p.tname, target: p.target, label: p.label, project: p.project, arch: p.arch.name, identityVars: f.flags.identityVars.map(blankHostPaths), toolchain: f.toolchain.canonical, hostKconfig: await kconfigHostFacts() };
  // The same inputs with the source tree left out: equal when only the tree changed.
  return { key: configureKey({ ...keyInputs, tree: need(r, "patched").tree }), kconfigKey: configureKey({ ...keyInputs, tree: "" }) };
}

/** Violations follow from the baked config; findings were recorded; both are said once. */
function reportConfig(r: FlowResults, x: FlowEnv, findings: Finding[], configText: string): Violation[] {
  const p = r.prepared;
  const archName = p.arch.name;
  if (findings.length) {
    const fatal = fatalFindings(findings).length;
    x.ui.warn(`config audit for ${archName}/${p.tname}: ${findings.length} finding(s)${fatal !== findings.length ? `, ${findings.length - fatal} allowed` : ""}:\n  ${findings.map(formatFinding).join("\n  ")}`);
  }
  const violations = checkInvariants(invariantRules(p.project), parseDotConfig(configText), archName, p.tname);
  if (violations.length) x.ui.warn(`${violations.length} config invariant violation(s) for ${archName}/${p.tname}:\n  ${violations.map((v) => `${v.origin}: ${v.message}`).join("\n  ")}`);
  return violations;
}

/**
 * configure_record: the configure result of these exact inputs, from KILN_HOME/configs by its
 * content key (docs/adr/0047). A hit gives the identity without a source tree, so a reuse from
 * any folder checks nothing out; a miss (or a record that fails its checks) leaves configure to run.
 */
export async function configureRecordStep(r: FlowResults, x: FlowEnv): Promise<Configured | undefined> {
  const p = r.prepared;
  const f = need(r, "flags");
  const { key } = await configureKeys(r);
  const got = readConfigRecord<ConfigureResult, Finding>(p.paths.home, key, { toolchain: f.toolchain.canonical, makeFlags: f.flags.identityVars });
  if ("miss" in got) {
    if (got.miss === "invalid") x.ui.warn(`ignoring the configure record ${got.file}: ${got.why}; configuring again`);
    return undefined;
  }
  const rec = got.hit;
  if (rec.tree !== need(r, "patched").tree) return undefined;
  x.ui.debug(`configure: record ${key.slice(0, 12)} has the config of these inputs`);
  const violations = reportConfig(r, x, rec.findings, rec.baked.configText);
  return { cfg: rec.cfg, findings: rec.findings, digest: rec.digest, fitted: rec.fitted, baked: rec.baked, kernelVersion: rec.kernelVersion, violations, how: "content", key };
}

export async function configureStep(r: FlowResults, x: FlowEnv): Promise<Configured> {
  const p = r.prepared;
  const wt = need(r, "worktree");
  const f = need(r, "flags");
  const patched = need(r, "patched");
  const archName = p.arch.name;
  const { key, kconfigKey } = await configureKeys(r);
  const recordFile = join(p.warm.state, "configure.json");
  const kernelVersion = kernelVersionFromMakefile(readFileSync(join(wt.src, "Makefile"), "utf8")) ?? "";
  const last = readConfigureRecord(recordFile, join(wt.build, ".config"));
  let rec: ConfigureRecord;
  let how: Configured["how"] = "ran";
  if (last?.key === key) {
    rec = { cfg: last.cfg, findings: last.findings, digest: last.digest, fitted: last.fitted, baked: last.baked };
    how = "record";
    x.ui.debug("configure: inputs unchanged since the last run, config taken from its record");
  } else if (last && last.kconfigKey === kconfigKey && last.tree && kconfigUnaffected((await changedPaths(p.git, last.tree, patched.tree)) ?? ["?"])) {
    // Only files Kconfig never reads changed (docs/adr/0006): the config is the last one; the
    // identity (which covers the tree) changes, so bake the new release into the same config.
    // The digest ignores CONFIG_LOCALVERSION, so the baked text gives the same digest as the
    // unbaked one would.
    const digest = computeDigest({ config: last.baked.configText, toolchain: f.toolchain.canonical, makeFlags: f.flags.identityVars, sourceTree: patched.tree });
    const fitted = fitLabel(p.label, kernelVersion);
    const text = rebakeText(last.baked, bakeLocalversion("", last.fitted, last.digest), bakeLocalversion("", fitted, digest));
    let baked: { release: string; configText: string };
    if (text) {
      writeFileAtomic(join(wt.build, ".config"), text.configText);
      baked = text;
    } else baked = await bakeRelease(f.make, bakeLocalversion("", fitted, digest));
    rec = { cfg: last.cfg, findings: last.findings, digest, fitted, baked };
    how = "rebaked";
    writeFileAtomic(recordFile, JSON.stringify({ key, kconfigKey, tree: patched.tree, ...rec } satisfies StoredRecord));
    x.ui.debug(`configure: only sources Kconfig does not read changed since ${last.tree.slice(0, 12)}; release re-baked into the last config${text ? " without make" : " with make"}`);
  } else {
    const c = await configure(p.project, p.tname, p.target, p.arch, f.make);
    const digest = computeDigest({ config: c.configText, toolchain: f.toolchain.canonical, makeFlags: f.flags.identityVars, sourceTree: patched.tree });
    const fitted = fitLabel(p.label, kernelVersion);
    const baked = await bakeRelease(f.make, bakeLocalversion("", fitted, digest));
    // The steps a reuse never reaches load their modules (the Kconfig reader, make, the ship formats) when they run.
    const { auditCell } = await import("./audit.js");
    const findings = auditCell(wt.src, archName, c, baked.configText);
    rec = { cfg: { ...c, configText: "" }, digest, fitted, baked, findings };
    writeFileAtomic(recordFile, JSON.stringify({ key, kconfigKey, tree: patched.tree, ...rec } satisfies StoredRecord));
  }
  writeConfigRecord(p.paths.home, key, { tree: patched.tree, kernelVersion, ...rec });
  const violations = reportConfig(r, x, rec.findings, rec.baked.configText);
  return { ...rec, violations, kernelVersion, how, key };
}

/**
 * checkout: the warm tree for a compile (or for a caller that reads the tree) when configure came
 * from its content record and so needed none. The build folder gets the record's baked config;
 * the folder's own record is written so a later run there takes the usual paths.
 */
export async function checkoutStep(r: FlowResults, x: FlowEnv): Promise<Worktree> {
  const p = r.prepared;
  const c = need(r, "configured");
  const wt = await prepareWorktreeStep(r, x);
  const dotconfig = join(wt.build, ".config");
  if (!existsSync(dotconfig) || readFileSync(dotconfig, "utf8") !== c.baked.configText) writeFileAtomic(dotconfig, c.baked.configText);
  const { kconfigKey } = await configureKeys(r);
  const rec: ConfigureRecord = { cfg: c.cfg, findings: c.findings, digest: c.digest, fitted: c.fitted, baked: c.baked };
  writeFileAtomic(join(p.warm.state, "configure.json"), JSON.stringify({ key: c.key, kconfigKey, tree: need(r, "patched").tree, ...rec } satisfies StoredRecord));
  return wt;
}

/** The config gate: audit findings (unless --report-only) and invariant violations stop the build. */
export async function configGateStep(r: FlowResults, x: FlowEnv): Promise<undefined> {
  const p = r.prepared;
  const c = need(r, "configured");
  const where = `${p.arch.name}/${p.tname}`;
  const fatal = fatalFindings(c.findings).length;
  if (!x.opts.reportOnly && fatal) {
    throw new GateFailure(`the config audit failed for ${where}: ${fatal} finding(s)`, {}, "fix the fragments, opt a line out with \"# kiln-allow: <reason>\", or pass --report-only; `kiln config explain CONFIG_X` says why a symbol has its value");
  }
  if (c.violations.length) {
    throw new GateFailure(`the config gate failed for ${where}: ${c.violations.length} invariant violation(s)`, {}, "fix the fragments or the invariants in kiln.toml; `kiln check configured` lists every violation");
  }
  return undefined;
}

/** The release the kernel reports must be the one kiln baked. */
export async function identityStep(r: FlowResults, x: FlowEnv): Promise<Identified> {
  const c = need(r, "configured");
  const expected = releaseString(c.kernelVersion, r.prepared.label, c.digest);
  if (c.baked.release !== expected) {
    throw new KilnError(`the kernel reports release "${c.baked.release}" but kiln baked "${expected}"`, { file: join(r.prepared.warm.build, ".config") }, "a patch or make variable changed LOCALVERSION handling; check the series and make_vars");
  }
  x.ui.step("identity", c.baked.release);
  return { release: c.baked.release };
}

function reusedFrom(r: FlowResults, x: FlowEnv, kind: Reused["kind"], from?: string): Reused {
  const p = r.prepared;
  const release = need(r, "identified").release;
  const entry = entryDir(p.paths, release);
  const stored = readManifest(join(entry, "manifest.json"));
  touchEntry(p.paths, release);
  const ms = r.records.reduce((a, s) => a + s.ms, 0);
  x.ui.step("reused", `${release} from ${entry} (${fmtDuration(ms)})`);
  return { kind, from: from ?? entry, stored };
}

/** The identity in the local store: nothing to compile (taken without the identity lock: a fast path). */
export async function reuseCheckStep(r: FlowResults, x: FlowEnv): Promise<Reused | undefined> {
  return hasEntry(r.prepared.paths, need(r, "identified").release) ? reusedFrom(r, x, "reused") : undefined;
}

/** Under the identity lock: another kiln may have finished this identity while we waited. */
export async function waitedReuseStep(r: FlowResults, x: FlowEnv): Promise<Reused | undefined> {
  return hasEntry(r.prepared.paths, need(r, "identified").release) ? reusedFrom(r, x, "waited-reused") : undefined;
}

/** A copy of the identity fetched from a peer: handed in by the caller (fetch_identity). */
export function peerReused(r: FlowResults, x: FlowEnv, peer: { from: string } | undefined): Reused | undefined {
  return peer ? reusedFrom(r, x, "reused", peer.from) : undefined;
}

export async function compileStep(r: FlowResults, x: FlowEnv): Promise<Built> {
  const p = r.prepared;
  const f = need(r, "flags");
  const wt = need(r, "worktree");
  const c = need(r, "configured");
  const release = need(r, "identified").release;
  const [{ compile, estimateSteps, buildLogPath }, { estimateWork }] = await Promise.all([import("./compile.js"), import("../core/compile_eta.js")]);
  const dc = f.distcc
    ? await prepareDistccCompile(f.distcc, { make: f.make, ccache: !!f.ccache, cores: availableParallelism(), ...(x.opts.jobs ? { jobs: x.opts.jobs } : {}), configText: c.baked.configText, ui: x.ui })
    : undefined;
  const jobs = dc?.jobs ?? x.opts.jobs ?? availableParallelism();
  const lastFile = join(p.warm.state, "last-build.json");
  const cold = !existsSync(join(wt.build, "vmlinux"));
  const last = existsSync(lastFile) ? (JSON.parse(readFileSync(lastFile, "utf8")) as { coldSteps?: number; coldWork?: number }) : {};
  const estimate = cold ? (last.coldSteps ?? estimateSteps(c.baked.configText)) : 0;
  // the ETA weighs the steps (docs/adr/0092): the last cold build's work here, else from the config
  const work = cold ? (last.coldWork ?? estimateWork(c.baked.configText)) : 0;
  const log = buildLogPath(p.warm.state);
  x.ui.step("compile", `${release} with -j${jobs}${f.ccache ? ` and ccache${f.ccacheRemote ? ` (remote ${f.ccacheRemote.shown})` : ""}` : ""}${dc ? " through distcc" : ""}${cold ? "" : " (incremental)"}`);
  const res = await compile({
    make: dc?.make ?? f.make, jobs, goals: p.target.goals, estimate, estimateWork: work, logFile: log,
    ...(f.ccache ? { ccacheStatsLog: f.statsLog, ...(f.ccacheRemote ? { ccacheRemote: true } : {}) } : {}),
    ...(f.distcc ? { distccLog: f.distcc.log } : {}),
    lock: x.treeLock, ui: x.ui,
  });
  // the release make built with (include/config/kernel.release, written by this make) must be the
  // identity: a re-bake without make (docs/adr/0093) is read back here
  const made = join(wt.build, "include", "config", "kernel.release");
  const madeRelease = existsSync(made) ? readFileSync(made, "utf8").trim() : undefined;
  if (madeRelease !== undefined && madeRelease !== release) {
    throw new KilnError(`make built release "${madeRelease}" but kiln baked "${release}"`, { file: made }, "a patch changed how the release is made; run again with --wipe, and check the series for localversion files or Makefile changes");
  }
  if (cold) writeFileSync(lastFile, JSON.stringify({ coldSteps: res.steps, coldWork: res.work }));
  const distcc = dc && f.distcc && res.distcc ? distccRecord(f.distcc.settings.from, dc.hosts, dc.dropped, res.distcc) : undefined;
  return { compile: res, jobs, log, ...(distcc ? { distcc } : {}) };
}

/** Lay the build out in a store staging folder, write its manifest there, move it in with one rename. */
export async function installStep(r: FlowResults, x: FlowEnv): Promise<Installed> {
  const p = r.prepared;
  const release = need(r, "identified").release;
  const built = need(r, "built");
  const { install } = await import("./install.js");
  const tmp = newTmpDir(p.paths, release);
  const files = await install(need(r, "flags").make, p.arch, release, tmp, built.jobs);
  const installed: Installed = { entry: entryDir(p.paths, release), files, provenance: readProvenance(need(r, "worktree").build) };
  writeFileAtomic(join(tmp, "manifest.json"), JSON.stringify(x.manifestNow({ ...r, installed }), null, 2) + "\n");
  commitEntry(p.paths, tmp, release);
  touchEntry(p.paths, release);
  const ms = r.records.reduce((a, s) => a + s.ms, 0);
  x.ui.step("done", `${release} built in ${fmtDuration(ms)} -> ${installed.entry}`);
  return installed;
}

/** The outputs the target declares beyond "install" (artifact, bundle, deb) into out/<release>/. */
export async function outputsStep(r: FlowResults, x: FlowEnv): Promise<Shipped> {
  const p = r.prepared;
  const { produceOutputs } = await import("./outputs.js");
  const outputs = await produceOutputs(p.project, p.tname, p.arch.name, x.manifestNow(r), { paths: p.paths, ui: x.ui });
  return { outputs };
}

// ------------------------------------------------------------------ helpers

function readProvenance(build: string): NonNullable<Manifest["provenance"]> {
  const files = ["utsrelease.h", "compile.h", "utsversion.h"].map((f) => join(build, "include", "generated", f)).filter(existsSync);
  const h = parseGeneratedHeaders(files.map((f) => readFileSync(f, "utf8")));
  return {
    ...(h.LINUX_COMPILER ? { linux_compiler: h.LINUX_COMPILER } : {}),
    ...(h.LINUX_COMPILE_BY ? { linux_compile_by: h.LINUX_COMPILE_BY } : {}),
    ...(h.LINUX_COMPILE_HOST ? { linux_compile_host: h.LINUX_COMPILE_HOST } : {}),
    ...(h.UTS_VERSION ? { uts_version: h.UTS_VERSION } : {}),
    ...(h.UTS_MACHINE ? { uts_machine: h.UTS_MACHINE } : {}),
  };
}

interface ConfigureRecord {
  cfg: ConfigureResult;
  findings: Finding[];
  digest: string;
  fitted: string;
  baked: { release: string; configText: string };
}

/** Everything configure reads, hashed: the tree, the method and every fragment's bytes, the flags, the toolchain. */
function configureKey(i: { tree: string; tname: string; target: TargetDecl; label: string; project: Project; arch: string; identityVars: string[]; toolchain: string; hostKconfig: string }): string {
  const h = createHash("sha256");
  h.update(`kiln-configure/2\0${i.tree}\0${i.arch}\0${JSON.stringify(i.target.config)}\0${i.label}\0`);
  h.update(`${i.identityVars.join(" ")}\0${i.toolchain}\0${i.hostKconfig}\0`);
  for (const f of layerFiles(i.project, i.tname, i.target, i.arch)) h.update(`${f.rel}\0`).update(readFileSync(f.file)).update("\0");
  if (i.target.config.method === "preset") {
    const pf = join(i.project.dir, i.project.decl.presets_dir, i.target.config.preset!);
    if (existsSync(pf)) h.update(readFileSync(pf));
  }
  return h.digest("hex");
}

/** state/configure.json: the last configure's result, with what it was computed from. */
interface StoredRecord extends ConfigureRecord {
  key: string;
  /** configureKey with the tree left out. */
  kconfigKey: string;
  tree: string;
}

/** The last record, when the build folder still holds exactly the config that run produced. */
function readConfigureRecord(file: string, dotconfig: string): (ConfigureRecord & Partial<StoredRecord>) | undefined {
  try {
    const r = JSON.parse(readFileSync(file, "utf8")) as ConfigureRecord & Partial<StoredRecord>;
    if (readFileSync(dotconfig, "utf8") !== r.baked.configText) return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/** Paths that differ between two trees of the object store; undefined when git cannot say. */
async function changedPaths(git: GitStore, a: string, b: string): Promise<string[] | undefined> {
  try {
    const out = await git.out(["diff-tree", "-r", "--name-only", "--no-renames", a, b]);
    return out ? out.split("\n") : [];
  } catch {
    return undefined; // e.g. the old tree is gone: configure from scratch
  }
}

const KCONFIG_BLIND = /\.(c|h|S|rs|dts|dtsi)$/;

/**
 * True when Kconfig cannot see any of these changed paths: C, assembly, Rust and device-tree
 * sources outside scripts/ and tools/ (kconfig itself and the helpers Kconfig runs live there),
 * and documentation. Kconfig files, Makefiles, Kbuild files, defconfigs and config fragments
 * all count as Kconfig inputs, as does anything else. Pure; conservative by design.
 */
export function kconfigUnaffected(paths: readonly string[]): boolean {
  return paths.every((f) => {
    if (/^(scripts|tools)\//.test(f)) return false;
    if (f.startsWith("Documentation/") && !/(^|\/)(Kconfig|Makefile|Kbuild)[^/]*$/.test(f)) return true;
    const base = f.slice(f.lastIndexOf("/") + 1);
    if (/^(Kconfig|Makefile|Kbuild)/.test(base)) return false;
    if (/\/configs\//.test(f)) return false;
    return KCONFIG_BLIND.test(base);
  });
}

/** Host facts kconfig reads besides the compiler: Rust availability. */
async function kconfigHostFacts(): Promise<string> {
  const facts: string[] = [];
  for (const t of ["rustc", "bindgen"]) facts.push(`${t}=${(await which(t)) ?? "-"}`);
  return facts.join(",");
}

/** The project's invariants, each with the kiln.toml line of its [[invariant]] table. */
export function invariantRules(project: Project): InvariantRule[] {
  const lines: number[] = [];
  project.text.split("\n").forEach((l, i) => {
    if (/^\s*\[\[\s*invariant\s*\]\]/.test(l)) lines.push(i + 1);
  });
  return project.decl.invariant.map((r, i) => ({
    origin: `${project.file}:${lines[i] ?? 0}`,
    ...(r.arches ? { arches: r.arches } : {}),
    ...(r.variants ? { variants: r.variants } : {}),
    ...(r.not_variants ? { not_variants: r.not_variants } : {}),
    required: r.required,
    forbidden: r.forbidden,
  }));
}
