/**
 * The build flow, one (target, arch) cell at a time:
 *   prepare_source -> apply_patches -> prepare_worktree -> build_flags -> configure -> identity
 *   -> reuse_check -> compile -> install -> collect
 * Skip conditions live here, not inside the steps: a present identity skips compile and install.
 * The manifest is written early (status running) and again at the end, each time atomically.
 */
import { availableParallelism } from "node:os";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { KilnError, GateFailure } from "../errors.js";
import { quoteArg } from "../core/shell.js";
import { checkInvariants, type InvariantRule } from "../core/invariants.js";
import { fatalFindings, formatFinding, type Finding } from "../core/audit.js";
import { auditCell } from "./audit.js";
import { fetchIdentity } from "./fetch_identity.js";
import type { Project } from "../project/load.js";
import type { TargetDecl } from "../project/schema.js";
import { seriesFor } from "../project/load.js";
import type { LockEntry } from "../project/lock.js";
import { ARCHES, type ArchSpec } from "../tables/arches.js";
import { paths as kilnPaths, projectId, warmTree, type Paths } from "../store/paths.js";
import { GitStore } from "../effects/git.js";
import { acquire } from "../effects/lock.js";
import { which } from "../effects/proc.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { toolchainIdentity } from "../effects/toolchain.js";
import { readSeries, applySeries } from "./apply_patches.js";
import { prepareWorktree } from "./prepare_worktree.js";
import { takeAdoptable } from "./prepare_source.js";
import { buildFlags, ccacheEnv } from "./build_flags.js";
import { configure, bakeRelease, layerFiles, type MakeEnv, type ConfigureResult } from "./configure.js";
import { computeDigest, inferLabel, fitLabel, bakeLocalversion, releaseString, blankHostPaths } from "../core/identity.js";
import { kernelVersionFromMakefile } from "../core/kernel_version.js";
import { parseDotConfig } from "../core/fragment.js";
import { compile, estimateSteps, buildLogPath } from "./compile.js";
import { install } from "./install.js";
import { entryDir, hasEntry, commitEntry, newTmpDir, touchEntry } from "../store/store.js";
import { type Manifest, parseGeneratedHeaders } from "../core/manifest.js";
import type { Ui } from "../ui/log.js";
import { fmtDuration } from "../ui/log.js";
import { KILN_VERSION } from "../version.js";

export interface BuildOptions {
  jobs?: number;
  /** Off forces a rebuild even when the identity is in the store. */
  reuse?: boolean;
  ccache?: boolean;
  wipe?: boolean;
  label?: string;
  /** Stop after configure and identity (the `check configured` gate). */
  configureOnly?: boolean;
  /** Audit findings are reported but do not fail the build. */
  reportOnly?: boolean;
  ui: Ui;
  paths?: Paths;
}

export interface CellResult {
  manifest: Manifest;
  manifestPath: string;
}

export async function buildCell(project: Project, tname: string, archName: string, source: LockEntry, opts: BuildOptions): Promise<CellResult> {
  const ui = opts.ui;
  const p = opts.paths ?? kilnPaths();
  const target = project.targets[tname]!;
  const arch: ArchSpec = ARCHES[archName]!;
  const git = new GitStore(p.git);
  await git.init();
  const pid = projectId(project.decl.name, project.dir);
  const warm = warmTree(p, pid, tname, archName);
  const steps: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      steps[name] = (steps[name] ?? 0) + (Date.now() - t);
    }
  };
  const jobs = opts.jobs ?? availableParallelism();
  const series = readSeries(project.dir, seriesFor(project, target));
  const label = opts.label ?? target.label ?? inferLabel({
    ...(series.patches.length && series.subject ? { seriesSubject: series.subject } : {}),
    upstreamRelease: series.patches.length === 0 && (source.kind !== "git" || !!source.tag),
    ...(source.kind === "git" && source.commit ? { ref: source.commit.slice(0, 12) } : {}),
  });
  const m0: Manifest = {
    schema: "kiln.manifest/v1",
    status: "running",
    started_at: new Date().toISOString(),
    kiln_version: KILN_VERSION,
    project: { name: project.decl.name, dir: project.dir, kiln_toml_sha256: createHash("sha256").update(project.text).digest("hex") },
    target: tname,
    arch: archName,
    inputs: {
      source: {
        name: target.source,
        kind: source.kind,
        ...(source.package ? { package: source.package } : {}),
        ...(source.version ? { version: source.version } : {}),
        ...(source.url ? { url: source.url } : {}),
        ...(source.tarball_sha256 ? { tarball_sha256: source.tarball_sha256 } : {}),
        ...(source.deb_sha256 ? { deb_sha256: source.deb_sha256 } : {}),
        ...(source.commit ? { commit: source.commit } : {}),
        tree: source.tree,
        timestamp: source.timestamp,
      },
      series: series.patches.map((x) => ({ name: x.name, sha256: x.sha256 })),
      config_method: target.config.method,
      ...(target.config.method === "fragments" ? { config_base: target.config.base } : {}),
      fragments: [],
      toolchain: target.toolchain,
      make_vars: target.make_vars,
      label,
    },
    ...(source.commit ? { commit: source.commit } : {}),
    source_tree: source.tree,
    steps,
    reproduce: `cd ${quoteArg(project.dir)} && kiln build ${tname} --arch ${archName} --locked`,
  };
  const manifestPath = join(warm.state, "manifest.json");
  const save = (m: Manifest) => writeFileAtomic(manifestPath, JSON.stringify(m, null, 2) + "\n");
  mkdirSync(warm.state, { recursive: true });

  const treeLock = await acquire(warm.lock, { onWait: () => ui.step("wait", `another kiln is using the ${tname}/${archName} tree; waiting`) });
  let manifest = m0;
  try {
    save(manifest);
    const patched = await timed("apply_patches", () => applySeries(git, source.tree, series, p.git));
    if (series.patches.length) ui.step("patches", `${patched.applied.length || series.patches.length} patch(es) apply clean${patched.reused ? " (cached)" : ""}`);
    manifest.source_tree = patched.tree;
    const wt = await timed("prepare_worktree", () => prepareWorktree(git, warm, patched.tree, takeAdoptable(source.tree), opts.wipe));
    ui.debug(`worktree ${wt.mode}, ${wt.changedFiles} file(s) changed`);

    const ccacheBin = opts.ccache === false ? undefined : await which("ccache");
    const statsLog = join(warm.state, "ccache-stats.log");
    const flags = buildFlags({ arch, toolchain: target.toolchain, src: wt.src, build: wt.build, timestamp: source.timestamp, makeVars: target.make_vars, ...(ccacheBin ? { ccache: { bin: ccacheBin } } : {}) });
    const tcid = await timed("build_flags", () => toolchainIdentity(target.toolchain, flags.crossPrefix, join(p.home, "toolchains.json")));
    const env: Record<string, string> = { LC_ALL: "C", ...(ccacheBin ? ccacheEnv(p.ccache, statsLog) : {}) };
    const m: MakeEnv = { src: wt.src, build: wt.build, makeVars: flags.makeVars, env };

    // Configure re-runs whenever one of its inputs changed; when none did and the build folder
    // still holds the config it produced, its result is taken from the record (docs/adr/0005).
    const cfgKey = configureKey({ tree: patched.tree, target, label, project, arch: archName, identityVars: flags.identityVars.map(blankHostPaths), toolchain: tcid.canonical, hostKconfig: await kconfigHostFacts() });
    const cfgRecord = join(warm.state, "configure.json");
    const kv = kernelVersionFromMakefile(readFileSync(join(wt.src, "Makefile"), "utf8")) ?? "";
    const cached = readConfigureRecord(cfgRecord, cfgKey, join(wt.build, ".config"));
    let cfg: ConfigureRecord["cfg"];
    let findings: Finding[];
    let digest: string;
    let fitted: string;
    let baked: { release: string; configText: string };
    if (cached) {
      ({ cfg, digest, fitted, baked, findings } = cached);
      ui.debug("configure: inputs unchanged since the last run, config taken from its record");
    } else {
      const c = await timed("configure", () => configure(project, tname, target, arch, m));
      cfg = { ...c, configText: "" };
      digest = computeDigest({ config: c.configText, toolchain: tcid.canonical, makeFlags: flags.identityVars, sourceTree: patched.tree });
      fitted = fitLabel(label, kv);
      baked = await timed("configure", () => bakeRelease(m, bakeLocalversion("", fitted, digest)));
      findings = await timed("audit", async () => auditCell(wt.src, archName, c, baked.configText));
      writeFileAtomic(cfgRecord, JSON.stringify({ key: cfgKey, cfg, digest, fitted, baked, findings } satisfies ConfigureRecord & { key: string }));
    }
    manifest.inputs.fragments = cfg.fragments.map((f) => ({ layer: f.layer, file: f.rel }));
    if (cfg.preset) manifest.inputs.preset = cfg.preset;
    if (cfg.goals) manifest.inputs.goals = cfg.goals;
    manifest.config = {
      requested: cfg.requested,
      dropped: cfg.dropped.map((d) => ({ symbol: d.symbol, requested: d.requested, actual: d.actual, file: d.origin.file, line: d.origin.line, ...(d.allow ? { allowed: d.allow } : {}) })),
      redefined: cfg.redefinitions.map((r) => ({ symbol: r.symbol, from: r.from.value, to: r.to.value, file: r.to.origin.file, line: r.to.origin.line, override: r.override })),
    };
    manifest.config.findings = findings;
    if (findings.length) {
      const fatal = fatalFindings(findings).length;
      ui.warn(`config audit for ${archName}/${tname}: ${findings.length} finding(s)${fatal !== findings.length ? `, ${findings.length - fatal} allowed` : ""}:\n  ${findings.map(formatFinding).join("\n  ")}`);
    }
    const violations = checkInvariants(invariantRules(project), parseDotConfig(baked.configText), archName, tname);
    manifest.config.invariants = violations.map((v) => ({ kind: v.kind, symbol: v.symbol, message: v.message, origin: v.origin }));
    if (violations.length) ui.warn(`${violations.length} config invariant violation(s) for ${archName}/${tname}:\n  ${violations.map((v) => `${v.origin}: ${v.message}`).join("\n  ")}`);
    if (!opts.configureOnly && !opts.reportOnly && fatalFindings(findings).length) {
      throw new GateFailure(`the config audit failed for ${archName}/${tname}: ${fatalFindings(findings).length} finding(s)`, {}, "fix the fragments, opt a line out with \"# kiln-allow: <reason>\", or pass --report-only; `kiln config explain CONFIG_X` says why a symbol has its value");
    }
    if (violations.length && !opts.configureOnly) {
      throw new GateFailure(`the config gate failed for ${archName}/${tname}: ${violations.length} invariant violation(s)`, {}, "fix the fragments or the invariants in kiln.toml; `kiln check configured` lists every violation");
    }
    const expected = releaseString(kv, label, digest);
    if (baked.release !== expected) {
      throw new KilnError(`the kernel reports release "${baked.release}" but kiln baked "${expected}"`, { file: join(wt.build, ".config") }, "a patch or make variable changed LOCALVERSION handling; check the series and make_vars");
    }
    const release = baked.release;
    manifest.kernel_version = kv;
    manifest.uts_release = release;
    manifest.identity = { digest, label: fitted, toolchain: tcid.tools.map((t) => ({ name: t.name, version: t.version, sha256: t.sha256 })), make_flags: flags.identityVars.map(blankHostPaths) };
    manifest.build_dir = wt.build;
    save(manifest);
    ui.step("identity", release);
    if (opts.configureOnly) {
      manifest.status = "ok";
      manifest.finished_at = new Date().toISOString();
      save(manifest);
      return { manifest, manifestPath };
    }

    // reuse_check -> compile -> install, under the identity lock so one of two equal builds compiles
    const reuse = opts.reuse !== false;
    if (reuse && hasEntry(p, release)) {
      return finishReused(p, manifest, release, "reused", save, manifestPath, ui, steps);
    }
    const idLock = await acquire(join(p.locks, `release-${release}.lock`), { onWait: () => ui.step("wait", `another kiln is building ${release}; waiting to reuse it`) });
    try {
      if (reuse && hasEntry(p, release)) return finishReused(p, manifest, release, "waited-reused", save, manifestPath, ui, steps);
      // fetch_identity: a signed copy of this exact identity at a configured remote beats compiling
      const peer = reuse ? await timed("fetch_identity", () => fetchIdentity(project, release, archName, { paths: p, ui })) : undefined;
      if (peer) {
        const r = finishReused(p, manifest, release, "reused", save, manifestPath, ui, steps);
        r.manifest.reuse = { status: "reused", from: peer.from };
        save(r.manifest);
        return r;
      }
      const lastFile = join(warm.state, "last-build.json");
      const cold = !existsSync(join(wt.build, "vmlinux"));
      const last = existsSync(lastFile) ? (JSON.parse(readFileSync(lastFile, "utf8")) as { coldSteps?: number }) : {};
      const estimate = cold ? (last.coldSteps ?? estimateSteps(baked.configText)) : 0;
      ui.step("compile", `${release} with -j${jobs}${ccacheBin ? " and ccache" : ""}${cold ? "" : " (incremental)"}`);
      const c = await timed("compile", () => compile({ make: m, jobs, goals: target.goals, estimate, logFile: buildLogPath(warm.state), ...(ccacheBin ? { ccacheStatsLog: statsLog } : {}), lock: treeLock, ui }));
      if (cold) writeFileSync(lastFile, JSON.stringify({ coldSteps: c.steps }));
      manifest.compile = {
        steps: c.steps,
        jobs,
        warnings: c.warnings,
        errors: c.errors,
        diagnostics: c.diagnostics.map((d) => ({ ...d, tool: d.tool })) as NonNullable<Manifest["compile"]>["diagnostics"],
        ...(c.ccache ? { ccache: c.ccache } : {}),
        log: buildLogPath(warm.state),
      };
      const tmp = newTmpDir(p, release);
      const inst = await timed("install", () => install(m, arch, release, tmp, jobs));
      manifest.provenance = readProvenance(wt.build);
      manifest.reuse = { status: "built" };
      manifest.artifacts = { store_entry: entryDir(p, release), image: join(entryDir(p, release), inst.image), system_map: join(entryDir(p, release), inst.system_map), config: join(entryDir(p, release), inst.config), ...(inst.vmlinux ? { vmlinux: join(entryDir(p, release), inst.vmlinux) } : {}), ...(inst.modules ? { modules: join(entryDir(p, release), inst.modules) } : {}) };
      manifest.status = "ok";
      manifest.finished_at = new Date().toISOString();
      writeFileAtomic(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
      commitEntry(p, tmp, release);
      touchEntry(p, release);
      save(manifest);
      ui.step("done", `${release} built in ${fmtDuration(Object.values(steps).reduce((a, b) => a + b, 0))} -> ${entryDir(p, release)}`);
      return { manifest, manifestPath };
    } finally {
      await idLock.release();
    }
  } catch (e) {
    manifest.status = "failed";
    manifest.finished_at = new Date().toISOString();
    manifest.error = e instanceof KilnError ? e.render() : String((e as Error).stack ?? e);
    try {
      save(manifest);
    } catch {
      /* keep the original error */
    }
    throw e;
  } finally {
    await treeLock.release();
  }
}

function finishReused(p: Paths, manifest: Manifest, release: string, status: "reused" | "waited-reused", save: (m: Manifest) => void, manifestPath: string, ui: Ui, steps: Record<string, number>): CellResult {
  const stored = JSON.parse(readFileSync(join(entryDir(p, release), "manifest.json"), "utf8")) as Manifest;
  touchEntry(p, release);
  const m: Manifest = {
    ...manifest,
    status: "ok",
    finished_at: new Date().toISOString(),
    reuse: { status, from: entryDir(p, release) },
    ...(stored.provenance ? { provenance: stored.provenance } : {}),
    ...(stored.artifacts ? { artifacts: stored.artifacts } : {}),
    ...(stored.compile ? { compile: stored.compile } : {}),
  };
  save(m);
  ui.step("reused", `${release} from ${entryDir(p, release)} (${fmtDuration(Object.values(steps).reduce((a, b) => a + b, 0))})`);
  return { manifest: m, manifestPath };
}

function readProvenance(build: string): Manifest["provenance"] {
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
function configureKey(i: { tree: string; target: TargetDecl; label: string; project: Project; arch: string; identityVars: string[]; toolchain: string; hostKconfig: string }): string {
  const h = createHash("sha256");
  h.update(`kiln-configure/2\0${i.tree}\0${i.arch}\0${JSON.stringify(i.target.config)}\0${i.label}\0`);
  h.update(`${i.identityVars.join(" ")}\0${i.toolchain}\0${i.hostKconfig}\0`);
  for (const f of layerFiles(i.project, "", i.target, i.arch)) h.update(`${f.rel}\0`).update(readFileSync(f.file)).update("\0");
  if (i.target.config.method === "preset") {
    const pf = join(i.project.dir, i.project.decl.presets_dir, i.target.config.preset!);
    if (existsSync(pf)) h.update(readFileSync(pf));
  }
  return h.digest("hex");
}

function readConfigureRecord(file: string, key: string, dotconfig: string): ConfigureRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, "utf8")) as ConfigureRecord & { key: string };
    if (r.key !== key) return undefined;
    // the build folder must still hold exactly the config that run produced
    if (readFileSync(dotconfig, "utf8") !== r.baked.configText) return undefined;
    return r;
  } catch {
    return undefined;
  }
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
