/**
 * `kiln bump <source>`: move a source pin to a new version deliberately. The new pin is resolved
 * into kiln's source store without touching kiln.lock; then for every selected (target, arch):
 *   1. the target's series is classified on the new tree (src/bump/classify.ts), and a patch whose
 *      provenance header says it is upstream at or below the new version is flagged;
 *   2. the new symbols: the cell's current final .config read by the new tree's kconfig
 *      (`make listnewconfig` / `helpnewconfig`, the parsers and pending-file format of
 *      src/config/new_symbols.ts), listed per arch;
 *   3. the cell configured on the new tree with the patches that still apply (the ordinary flow
 *      up to the identity, in a warm tree of its own: `<target>@bump-<arch>`), audited, its
 *      invariants checked, and its final config diffed against the current one by menu
 *      (src/config/diff.ts).
 * One report (report.md, report.json, report.html, rejects/, refreshed/) is staged and renamed into place.
 * kiln.toml's pin, kiln.lock, the series and the pending layer change only with `apply`, and only
 * when every gate passed, or with `force` (the report lists what was overridden).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join, relative, resolve, basename } from "node:path";
import { GateFailure, ProjectError } from "../errors.js";
import type { Project } from "../project/load.js";
import { projectPath, seriesFor } from "../project/load.js";
import type { Pin } from "../project/schema.js";
import { readLock, writeLock, type LockEntry } from "../project/lock.js";
import { paths as kilnPaths, projectId, type Paths } from "../store/paths.js";
import { GitStore } from "../effects/git.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { readSeries, type SeriesInfo } from "../pipeline/apply_patches.js";
import { prepareSource } from "../pipeline/prepare_source.js";
import { Sources } from "../pipeline/sources.js";
import { buildCell } from "../pipeline/build.js";
import { cellMakeEnv, configureCells, kconfigMake, selectCells, type Cell } from "../pipeline/cells.js";
import { layerFiles, makeArgv } from "../pipeline/configure.js";
import { parseFragment } from "../core/fragment.js";
import { statusText, upstreamBy } from "../core/patch_headers.js";
import { parseListNewconfig, parseHelpNewconfig, pendingFileText } from "../config/new_symbols.js";
import { diffConfigValues, groupByMenu, menuIndex, readConfigValues, formatGrouped, type DiffGroup, type MenuIndex } from "../config/diff.js";
import { loadKconfig } from "../kconfig/index.js";
import { classifySeries, type PatchVerdict } from "./classify.js";
import { newPinFor, rewritePinTable, type PinRequest } from "./pin.js";
import { renderMarkdown } from "./report.js";
import { bumpDiffs, bumpView } from "./view.js";
import { renderBumpReport } from "../report/render.js";
import { KILN_VERSION } from "../version.js";
import type { Ui } from "../ui/log.js";

export interface BumpOptions {
  source: string;
  request: PinRequest;
  targets?: string[];
  arches?: string[];
  /** Write offset patches back with zero offset (with apply). */
  refresh?: boolean;
  /** Remove already-upstream patches from the series (with apply). */
  dropUpstream?: boolean;
  apply?: boolean;
  force?: boolean;
  /** The report folder (default <project>/bump-report). */
  out?: string;
  /** The pending layer ({arch}, {target} replaced), as `kiln config new-symbols --pending`. */
  pendingDir?: string;
  ui: Ui;
  paths?: Paths;
}

export interface PatchFinding {
  name: string;
  /** Project-relative patch file. */
  file: string;
  class: PatchVerdict["class"];
  files: string[];
  moved: PatchVerdict["moved"];
  gate: string[];
  subject?: string;
  status: string;
  origin?: string;
  upstreamCommit?: string;
  bugs: string[];
  /** The header line the status came from ("5: Patch-mainline: v6.8-rc1"). */
  statusLine?: string;
  /** The header says upstream at or below the new version. */
  flagged?: string;
  blockedBy?: string;
  /** Report-relative: rejects/<patch>.rej, refreshed/<patch>. */
  rejects?: string;
  refreshed?: string;
  refreshError?: string;
  /** What the bump does with it: keep, refresh, drop, fix by hand. */
  action: string;
  reproduce: string;
}

export interface BumpTargetReport {
  target: string;
  series?: string;
  patches: PatchFinding[];
  /** Patches the new tree was configured with (the ones that still apply). */
  configuredWith: string[];
}

export interface BumpCellReport {
  target: string;
  arch: string;
  current: { release?: string; config: string };
  next: { release?: string; config: string };
  newSymbols: { symbol: string; value: string }[];
  pendingDir: string;
  pendingWritten: string[];
  findings: { kind: string; symbol?: string; file: string; line: number; why: string; allowed?: string }[];
  invariants: { kind: string; symbol: string; message: string }[];
  diff: { counts: { removed: number; changed: number; added: number }; groups: DiffGroup[]; menus: string };
  reproduce: { newSymbols: string; configure: string; diff: string };
}

export interface Gate {
  name: string;
  /** What the gate checks: a target's patches, or a cell's audit or invariants. */
  kind: "patches" | "audit" | "invariants";
  target: string;
  /** Per-cell gates; a patches gate holds for every arch of its target. */
  arch?: string;
  ok: boolean;
  problems: string[];
}

export interface BumpReport {
  version: 1;
  source: string;
  asked: string;
  from: { kernel_version: string; tree: string; package?: string; version?: string; url?: string; commit?: string };
  to: { kernel_version: string; tree: string; package?: string; version?: string; url?: string; commit?: string };
  targets: BumpTargetReport[];
  cells: BumpCellReport[];
  gates: Gate[];
  passed: boolean;
  applied: boolean;
  /** With force: the gates that failed and were overridden. */
  overridden: string[];
  /** Files --apply changed, project-relative. */
  changed: string[];
  reportDir: string;
  command: string;
}

const side = (e: LockEntry) => ({ kernel_version: e.kernel_version, tree: e.tree, ...(e.package ? { package: e.package } : {}), ...(e.version ? { version: e.version } : {}), ...(e.url ? { url: e.url } : {}), ...(e.commit ? { commit: e.commit } : {}) });

function quote(a: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function actionFor(v: PatchVerdict, o: Pick<BumpOptions, "refresh" | "dropUpstream">): string {
  switch (v.class) {
    case "clean":
      return "keep";
    case "offset":
      return v.refreshed ? (o.refresh ? "refresh (rewritten with zero offset on --apply)" : "needs --refresh") : `refresh by hand: ${v.refreshError}`;
    case "upstream":
      return o.dropUpstream ? "drop (removed from the series on --apply)" : "already upstream: --drop-upstream drops it";
    case "conflict":
      return "rebase by hand: see the rejected hunks";
    case "blocked":
      return `blocked by ${v.blockedBy}: rebase that one first`;
  }
}

/** The gate a set of verdicts passes or fails. Pure. */
export function patchGate(target: string, vs: readonly PatchVerdict[], o: Pick<BumpOptions, "refresh" | "dropUpstream">): Gate {
  const problems: string[] = [];
  for (const v of vs) {
    if (v.class === "conflict") problems.push(`${target}: ${v.name} conflicts with the new tree`);
    else if (v.class === "blocked") problems.push(`${target}: ${v.name} is blocked by ${v.blockedBy}`);
    else if (v.class === "offset" && !v.refreshed) problems.push(`${target}: ${v.name} applies only at an offset and cannot be refreshed: ${v.refreshError}`);
    else if (v.class === "offset" && !o.refresh) problems.push(`${target}: ${v.name} applies only at an offset or with fuzz (pass --refresh)`);
    else if (v.class === "upstream" && !o.dropUpstream) problems.push(`${target}: ${v.name} is already upstream (pass --drop-upstream)`);
  }
  return { name: `patches ${target}`, kind: "patches", target, ok: problems.length === 0, problems };
}

export async function bump(project: Project, o: BumpOptions): Promise<BumpReport> {
  const ui = o.ui;
  const p = o.paths ?? kilnPaths();
  const np = newPinFor(project.pins, o.source, o.request, project.file);
  const cells = selectCells(project, o.targets, o.arches).filter((c) => project.targets[c.target]!.source === o.source);
  if (!cells.length) throw new ProjectError(`no selected target uses source "${o.source}"`, { file: project.file }, `targets and their sources: ${Object.entries(project.targets).map(([t, d]) => `${t} (${d.source})`).join(", ")}`);
  const out = resolve(project.dir, o.out ?? "bump-report");
  const staging = `${out}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, "rejects"), { recursive: true });
  const pid = projectId(project.decl.name, project.dir);
  const scratch = join(p.work, pid, ".bump");
  const git = new GitStore(p.git);
  await git.init();

  // The current configs: the ordinary flow up to the identity (the current pins, as locked).
  ui.step("bump", `configuring ${cells.length} cell(s) on the current pin`);
  const current = await configureCells(project, cells, { ui, paths: p, reportOnly: true, keepSources: true });
  const newName = `${o.source}-bump`;
  let next: Sources | undefined;
  try {
    const cur = current.sources.entry(o.source);
    // The new pin: resolved and imported, never written to kiln.lock here.
    const prepared = await prepareSource(newName, np.pin, undefined, { projectDir: project.dir, paths: p, git, ui });
    const to = prepared.entry;
    if (np.pin.kind === "debian" && np.pin.version && to.version !== np.pin.version) throw new ProjectError(`--to ${np.pin.version}: apt resolved ${np.pin.debian} to ${to.version}`, {}, "check the version with `apt-cache policy " + np.pin.debian + "`");
    next = new Sources({ ...current.sources.entries, [newName]: to });
    if (prepared.adoptable) next.offer(to.tree, prepared.adoptable);
    ui.step("bump", `${o.source}: ${cur.kernel_version} -> ${to.kernel_version} (${np.asked})`);
    const command = ["kiln", "-C", project.dir, "bump", o.source, ...np.asked.replace(/ \(.*\)$/, "").split(" "), ...(o.targets ?? []).flatMap((t) => ["--target", t]), ...(o.arches ?? []).flatMap((a) => ["--arch", a])].map(quote).join(" ");

    // 1. the series on the new tree, per target
    const targets: BumpTargetReport[] = [];
    const verdictsOf = new Map<string, { series: SeriesInfo; verdicts: PatchVerdict[]; seriesDir: string }>();
    const gates: Gate[] = [];
    for (const t of [...new Set(cells.map((c) => c.target))]) {
      const decl = project.targets[t]!;
      const series = readSeries(project.dir, seriesFor(project, decl), project.decl.outside_paths);
      const verdicts = await classifySeries(git, to.tree, series.patches, scratch);
      // the series the new tree is configured with: what still applies, refreshed where it moved
      const seriesDir = join(scratch, "series", t);
      rmSync(seriesDir, { recursive: true, force: true });
      mkdirSync(seriesDir, { recursive: true });
      const keep: string[] = [];
      for (const v of verdicts) {
        const text = v.class === "clean" ? readFileSync(v.path, "utf8") : v.class === "offset" ? v.refreshed : undefined;
        if (text === undefined) continue;
        writeFileSync(join(seriesDir, v.name), text);
        keep.push(v.name);
      }
      writeFileSync(join(seriesDir, "series"), keep.map((n) => `${n}\n`).join(""));
      verdictsOf.set(t, { series, verdicts, seriesDir });
      const findings: PatchFinding[] = verdicts.map((v) => {
        const rel = relative(project.dir, v.path);
        const pv = v.provenance;
        const flag = upstreamBy(pv, to.kernel_version) ? `its header says upstream in ${pv.version} (line ${pv.from.version?.line}: ${pv.from.version?.text}), at or below ${to.kernel_version}${v.class === "upstream" ? "" : `, but it does not reverse-apply: check whether upstream took another form of it`}` : undefined;
        if (v.rejects) writeFileAtomic(join(staging, "rejects", `${v.name}.rej`), v.rejects);
        if (v.refreshed) writeFileAtomic(join(staging, "refreshed", v.name), v.refreshed);
        const earlier = verdicts.slice(0, verdicts.indexOf(v)).filter((x) => x.class === "clean" || x.class === "offset").map((x) => x.name);
        const reproduce = [
          `d=$(mktemp -d) && git --git-dir ${quote(git.dir)} archive ${to.tree.slice(0, 12)} -- ${v.files.map(quote).join(" ")} | tar -x -C "$d"`,
          ...(earlier.length ? [`(after ${earlier.join(", ")})`] : []),
          `patch -p1 -F0 --dry-run ${v.class === "upstream" ? "-R " : ""}-d "$d" -i ${quote(v.path)}`,
        ].join(" && ");
        return {
          name: v.name, file: rel, class: v.class, files: v.files, moved: v.moved, gate: v.gate,
          ...(pv.subject ? { subject: pv.subject } : {}), status: statusText(pv),
          ...(pv.origin ? { origin: pv.origin } : {}), ...(pv.upstreamCommit ? { upstreamCommit: pv.upstreamCommit } : {}), bugs: pv.bugs,
          ...(pv.from.status ? { statusLine: `${pv.from.status.line}: ${pv.from.status.text}` } : {}),
          ...(flag ? { flagged: flag } : {}), ...(v.blockedBy ? { blockedBy: v.blockedBy } : {}),
          ...(v.rejects ? { rejects: `rejects/${v.name}.rej` } : {}), ...(v.refreshed ? { refreshed: `refreshed/${v.name}` } : {}), ...(v.refreshError ? { refreshError: v.refreshError } : {}),
          action: actionFor(v, o), reproduce,
        };
      });
      for (const f of findings) ui.step("patch", `${t}: ${f.name}: ${f.class}${f.moved.length ? ` (${f.moved.map((m) => `${m.file} hunk #${m.hunk} offset ${m.offset}${m.fuzz ? ` fuzz ${m.fuzz}` : ""}`).join(", ")})` : ""}${f.flagged ? `; flagged: ${f.flagged}` : ""}`);
      targets.push({ target: t, ...(series.origin ? { series: relative(project.dir, series.origin) || "." } : {}), patches: findings, configuredWith: keep });
      gates.push(patchGate(t, verdicts, o));
    }

    // 2 and 3, per cell: configure on the new tree, new symbols, audit, invariants, diff
    const cellReports: BumpCellReport[] = [];
    const pendingTemplate = o.pendingDir ?? "config/pending/{arch}";
    const pendingWrites: { file: string; text: string }[] = [];
    const menus = new Map<string, MenuIndex | string>();
    for (const c of current.cells) {
      const decl = project.targets[c.target]!;
      const { seriesDir } = verdictsOf.get(c.target)!;
      const tname = `${c.target}@bump`;
      const derived: Project = {
        ...project,
        pins: { ...project.pins, [newName]: np.pin as Pin },
        decl: { ...project.decl, outside_paths: [...project.decl.outside_paths, seriesDir] },
        targets: { ...project.targets, [tname]: { ...decl, source: newName, series: { file: relative(project.dir, join(seriesDir, "series")) } } },
      };
      ui.step("bump", `${c.arch}/${c.target}: configuring on ${to.kernel_version}`);
      const r = await buildCell(derived, tname, c.arch, next, { ui, paths: p, configureOnly: true, reportOnly: true });
      const buildDir = r.manifest.build_dir!;
      const src = join(buildDir, "..", "src");
      const newConfig = join(buildDir, ".config");
      // new symbols: the current final config read by the new tree's kconfig
      const ns = join(buildDir, "..", "bump-new-symbols");
      rmSync(ns, { recursive: true, force: true });
      mkdirSync(ns, { recursive: true });
      writeFileSync(join(ns, ".config"), c.configText);
      const m = cellMakeEnv(derived, { target: tname, arch: c.arch } as Cell, src, ns, to.timestamp);
      const listed = parseListNewconfig((await kconfigMake(m, ["listnewconfig"])).stdout);
      const help = listed.length ? parseHelpNewconfig((await kconfigMake(m, ["helpnewconfig"])).stdout) : new Map<string, string[]>();
      const seen = new Set<string>();
      const symbols = listed.filter((s) => !seen.has(s.symbol) && seen.add(s.symbol));
      const pendingRel = pendingTemplate.replaceAll("{arch}", c.arch).replaceAll("{target}", c.target);
      const pendingAbs = projectPath(project, pendingRel);
      const inLayer = new Set<string>();
      for (const f of layerFiles(project, c.target, decl, c.arch)) {
        if (resolve(f.file, "..") === resolve(pendingAbs)) continue;
        for (const q of parseFragment(readFileSync(f.file, "utf8"), f.rel, f.layer).requests) inLayer.add(q.symbol);
      }
      const written: string[] = [];
      for (const s of symbols) {
        if (inLayer.has(s.symbol)) continue;
        const file = join(pendingAbs, `CONFIG_${s.symbol}`);
        if (existsSync(file) || pendingWrites.some((w) => w.file === file)) continue;
        pendingWrites.push({ file, text: pendingFileText(s, help.get(s.symbol) ?? [], `${o.source} ${to.kernel_version}`) });
        written.push(`CONFIG_${s.symbol}`);
      }
      rmSync(ns, { recursive: true, force: true });
      // the config diff, grouped by the new tree's menus
      const d = diffConfigValues(readConfigValues(c.configText), readConfigValues(readFileSync(newConfig, "utf8")));
      let idx = menus.get(c.arch);
      if (idx === undefined) {
        try {
          idx = menuIndex(loadKconfig(src, { arch: c.arch }));
        } catch (e) {
          idx = `the Kconfig reader failed on ${src}: ${(e as Error).message.split("\n")[0]}`;
        }
        menus.set(c.arch, idx);
      }
      const groups = groupByMenu(d, typeof idx === "string" ? undefined : idx);
      const cfg = r.manifest.config;
      const findings = (cfg?.findings ?? []).map((f) => ({ kind: f.kind, ...(f.symbol ? { symbol: f.symbol } : {}), file: f.file, line: f.line, why: f.why, ...(f.allowed ? { allowed: f.allowed } : {}) }));
      const invariants = (cfg?.invariants ?? []).map((v) => ({ kind: v.kind, symbol: v.symbol, message: v.message }));
      const curConfig = join(c.manifest.build_dir ?? c.warm.build, ".config");
      cellReports.push({
        target: c.target, arch: c.arch,
        current: { ...(c.manifest.uts_release ? { release: c.manifest.uts_release } : {}), config: curConfig },
        next: { ...(r.manifest.uts_release ? { release: r.manifest.uts_release } : {}), config: newConfig },
        newSymbols: symbols.map((s) => ({ symbol: s.symbol, value: s.value })),
        pendingDir: pendingRel, pendingWritten: written, findings, invariants,
        diff: { counts: { removed: d.removed.length, changed: d.changed.length, added: d.added.length }, groups, menus: typeof idx === "string" ? idx : `${basename(src)} (${c.arch})` },
        reproduce: {
          newSymbols: `cp ${quote(curConfig)} "$d/.config" && ${makeArgv({ ...m, build: "$d" }, ["listnewconfig"], ["-s"]).map((a) => (a.includes("$d") ? `"${a}"` : quote(a))).join(" ")}`,
          configure: `${command} (the cell is configured in ${quote(join(buildDir, ".."))})`,
          diff: `kiln config diff ${quote(curConfig)} ${quote(newConfig)}`,
        },
      });
      const bad = findings.filter((f) => !f.allowed);
      gates.push({ name: `audit ${c.arch}/${c.target}`, kind: "audit", target: c.target, arch: c.arch, ok: bad.length === 0, problems: bad.map((f) => `${c.arch}/${c.target}: ${f.kind}${f.symbol ? ` ${f.symbol}` : ""} at ${f.file}:${f.line}: ${f.why}`) });
      gates.push({ name: `invariants ${c.arch}/${c.target}`, kind: "invariants", target: c.target, arch: c.arch, ok: invariants.length === 0, problems: invariants.map((v) => `${c.arch}/${c.target}: ${v.message}`) });
      ui.step("bump", `${c.arch}/${c.target}: ${r.manifest.uts_release}: ${symbols.length} new symbol(s), ${bad.length} audit finding(s), ${invariants.length} violation(s), config diff -${d.removed.length} ~${d.changed.length} +${d.added.length}`);
    }

    const passed = gates.every((g) => g.ok);
    const overridden = passed ? [] : gates.filter((g) => !g.ok).flatMap((g) => g.problems);
    const report: BumpReport = {
      version: 1, source: o.source, asked: np.asked, from: side(cur), to: side(to), targets, cells: cellReports, gates, passed,
      applied: false, overridden: [], changed: [], reportDir: out, command,
    };

    // --apply: the pin, the lock, the series and the pending layer, only when the gates passed (or --force)
    if (o.apply && (passed || o.force)) {
      if (!passed) report.overridden = overridden;
      const changed: string[] = [];
      const toml = readFileSync(project.file, "utf8");
      writeFileAtomic(project.file, rewritePinTable(toml, o.source, np.pin, project.file));
      changed.push(relative(project.dir, project.file));
      const lock = readLock(project.dir) ?? { version: 1 as const, source: {} };
      lock.source[o.source] = to;
      writeLock(project.dir, lock);
      changed.push("kiln.lock");
      for (const [, { series, verdicts }] of verdictsOf) {
        const seriesFile = series.origin && existsSync(series.origin) && statSync(series.origin).isFile() ? series.origin : undefined;
        for (const v of verdicts) {
          if (v.class === "offset" && o.refresh && v.refreshed) {
            writeFileAtomic(v.path, v.refreshed);
            changed.push(relative(project.dir, v.path));
          } else if (v.class === "upstream" && o.dropUpstream) {
            if (seriesFile) {
              const lines = readFileSync(seriesFile, "utf8").split("\n");
              writeFileAtomic(seriesFile, lines.filter((l) => l.replace(/#.*$/, "").trim().split(/\s+/)[0] !== v.name).join("\n"));
              if (!changed.includes(relative(project.dir, seriesFile))) changed.push(relative(project.dir, seriesFile));
            }
            unlinkSync(v.path);
            changed.push(`${relative(project.dir, v.path)} (removed)`);
          }
        }
      }
      for (const w of pendingWrites) {
        writeFileAtomic(w.file, w.text);
        changed.push(relative(project.dir, w.file));
      }
      report.applied = true;
      report.changed = changed;
      ui.step("bump", `applied: ${changed.length} file(s) changed${report.overridden.length ? ` (--force overrode ${report.overridden.length} problem(s))` : ""}`);
    }

    writeFileAtomic(join(staging, "report.json"), JSON.stringify(report, null, 2) + "\n");
    writeFileAtomic(join(staging, "report.md"), renderMarkdown(report, formatGrouped));
    // the same page kiln report renders, for a bump (no build manifest): src/bump/view.ts maps the report
    writeFileAtomic(join(staging, "report.html"), renderBumpReport({ bump: bumpView(report), diffs: bumpDiffs(report), from: join(out, "report.json"), generatedAt: new Date().toISOString(), kilnVersion: KILN_VERSION }));
    rmSync(out, { recursive: true, force: true });
    renameSync(staging, out);
    ui.step("bump", `report: ${relative(process.cwd(), join(out, "report.md")) || join(out, "report.md")}`);
    return report;
  } finally {
    rmSync(staging, { recursive: true, force: true });
    current.sources.discard();
    next?.discard();
  }
}

/** The gate outcome as an error (exit 2) when the report did not pass and nothing overrode it. */
export function gateError(r: BumpReport): GateFailure | undefined {
  if (r.passed || (r.applied && r.overridden.length)) return undefined;
  const problems = r.gates.filter((g) => !g.ok).flatMap((g) => g.problems);
  return new GateFailure(`the bump of ${r.source} to ${r.to.kernel_version} did not pass:\n  ${problems.join("\n  ")}`, { file: join(r.reportDir, "report.md") }, r.applied ? undefined : "nothing was changed; fix what the report lists (or pass --force with --apply to override, which the report records)");
}
