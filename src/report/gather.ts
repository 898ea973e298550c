/**
 * Reads what the report shows: the build's manifest (schema-checked), the manifest of the build
 * that compiled it when this one was a reuse, the build log and its times, the store entry's
 * files (sizes, vmlinux sections, modules) and the boot records of the target's other arches.
 * Reads only; the page is written by the command (src/commands/report.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import type { Manifest } from "../core/manifest.js";
import { readElfSections } from "../core/elf.js";
import { readManifest } from "../store/store.js";
import { logTimesPath } from "../pipeline/compile.js";
import type { BumpView } from "./bump.js";
import type { ConfigDiffView, ReportData, SizeItem, Sizes } from "./model.js";
import { compileEvents, parseLogTimes, timelineFromDates, timelineFromOrder, timelineFromRecorded, type CompileTimeline } from "./timeline.js";

export interface GatherOptions {
  /** The build's manifest file. */
  manifestFile: string;
  /** Manifests of the same target's other arches (their boot records join the page). */
  siblings?: string[];
  configDiff?: ConfigDiffView;
  bump?: BumpView;
  kilnVersion: string;
  now?: Date;
}

/** The store entry's manifest when it is the build that compiled a reused one. */
function compilingManifest(m: Manifest): Manifest | undefined {
  if (m.reuse?.status === "built" || !m.artifacts) return undefined;
  const f = join(m.artifacts.store_entry, "manifest.json");
  if (!existsSync(f)) return undefined;
  const s = readManifest(f);
  return s.reuse?.status === "built" && s.uts_release === m.uts_release ? s : undefined;
}

/** When the compile step of a manifest started (epoch ms) and how long it took. */
export function compileWindow(m: Manifest): { startMs: number; durationMs: number } | undefined {
  const flow = m.flow ?? Object.entries(m.steps).map(([step, ms]) => ({ step, ms }));
  const i = flow.findIndex((s) => s.step === "compile");
  const durationMs = m.steps.compile;
  if (i < 0 || durationMs === undefined) return undefined;
  const before = flow.slice(0, i).reduce((a, s) => a + s.ms, 0);
  return { startMs: Date.parse(m.started_at) + before, durationMs };
}

function fileDates(buildDir: string, targets: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of targets) {
    try {
      // tools/objtool prints its targets with the build folder's absolute path
      out.set(t, statSync(isAbsolute(t) ? t : join(buildDir, t)).mtimeMs);
    } catch {
      /* a target that is gone has no date */
    }
  }
  return out;
}

function compileTimeline(build: Manifest, compiledBy: Manifest | undefined): ReportData["compile"] {
  const cm = build.reuse?.status === "built" ? build : compiledBy;
  const log = cm?.compile?.log ?? build.compile?.log;
  if (!log) return { none: "this build did not compile (it was reused) and the build that compiled it left no log record" };
  if (!existsSync(log)) return { none: `the build log ${log} is gone (the warm tree was removed or rebuilt)` };
  const text = readFileSync(log, "utf8");
  let t: CompileTimeline | undefined;
  const w = cm ? compileWindow(cm) : undefined;
  const times = logTimesPath(log);
  if (existsSync(times)) {
    const timesText = readFileSync(times, "utf8");
    const started = parseLogTimes(timesText)?.started;
    // the warm tree's log is its last compile's: one that started far from this build's compile is another's
    if (w && started && Math.abs(Date.parse(started) - w.startMs) > LOG_MATCH_SLACK_MS) {
      return { none: `the build log ${log} is of a later compile (started ${started}), not of this build's (about ${new Date(w.startMs).toISOString()})` };
    }
    t = timelineFromRecorded(text, timesText);
  }
  let held: string | undefined;
  if (!t && cm?.build_dir && cm.uts_release) {
    const rel = join(cm.build_dir, "include", "config", "kernel.release");
    held = existsSync(rel) ? readFileSync(rel, "utf8").trim() : undefined;
    if (w && held === cm.uts_release) {
      t = timelineFromDates(text, fileDates(cm.build_dir, compileEvents(text).map((e) => e.target)), w);
    }
  }
  if (!t) {
    t = timelineFromOrder(text);
    if (held && held !== cm?.uts_release) t.note += `; the build folder now holds ${held}, so this log may be of a later compile`;
  }
  return { timeline: t, log };
}

/** How far a recorded log's start may be from the compile step's start (from the manifest) and still be its log. */
const LOG_MATCH_SLACK_MS = 30_000;

/** vmlinux files above this size (distribution kernels with debug info) are not read for their sections. */
const MAX_VMLINUX_READ = 256 * 1024 * 1024;

const SKIP_SECTION = /^(\.debug|\.comment|\.note|\.symtab|\.strtab|\.shstrtab|\.rela|\.gnu)/;

function walk(dir: string, out: string[] = []): string[] {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) walk(p, out);
    else if (d.isFile()) out.push(p);
  }
  return out;
}

export function gatherSizes(m: Manifest): Sizes {
  const notes: string[] = [];
  const a = m.artifacts;
  if (!a) return { modules: [], notes: ["the build has no store entry (it stopped before install)"] };
  const item = (f: string | undefined): SizeItem | undefined => (f && existsSync(f) ? { name: relative(a.store_entry, f), bytes: statSync(f).size } : undefined);
  const image = item(a.image);
  if (!image) notes.push(`the image ${a.image} is not in the store entry`);
  const systemMap = item(a.system_map);
  let vmlinux: Sizes["vmlinux"];
  const vf = a.vmlinux ?? join(a.store_entry, "vmlinux");
  if (existsSync(vf)) {
    const v = item(vf)!;
    if (v.bytes > MAX_VMLINUX_READ) {
      vmlinux = { ...v, sections: [] };
      notes.push(`vmlinux is ${Math.round(v.bytes / 1024 / 1024)} MiB (debug info): its sections are not read`);
    } else {
      try {
        const sections = readElfSections(readFileSync(vf))
          .filter((s) => s.size > 0 && s.name && !SKIP_SECTION.test(s.name))
          .map((s) => ({ name: s.name, bytes: s.size }))
          .sort((x, y) => y.bytes - x.bytes);
        vmlinux = { ...v, sections };
      } catch (e) {
        vmlinux = { ...v, sections: [] };
        notes.push(`vmlinux sections unreadable: ${(e as Error).message}`);
      }
    }
  } else notes.push("vmlinux is not in the store entry (a build fetched from a peer may lack it)");
  const modRoot = m.uts_release ? join(a.store_entry, "lib", "modules", m.uts_release) : undefined;
  const modules = modRoot && existsSync(modRoot)
    ? walk(modRoot).filter((f) => /\.ko(\.(xz|zst|gz))?$/.test(f)).map((f) => ({ name: relative(modRoot, f), bytes: statSync(f).size })).sort((x, y) => y.bytes - x.bytes)
    : [];
  return { ...(image ? { image } : {}), ...(vmlinux ? { vmlinux } : {}), ...(systemMap ? { systemMap } : {}), modules, notes };
}

/** Everything the page shows, read from the files the options name. */
export function gatherReport(o: GatherOptions): ReportData {
  const build = readManifest(o.manifestFile);
  const compiledBy = compilingManifest(build);
  const siblings = (o.siblings ?? []).map((f) => readManifest(f));
  const boots = [build, ...siblings].map((m) => ({ arch: m.arch, release: m.uts_release ?? "", records: m.boot ?? [] }));
  return {
    generatedAt: (o.now ?? new Date()).toISOString(),
    kilnVersion: o.kilnVersion,
    build,
    manifestFile: o.manifestFile,
    ...(compiledBy ? { compiledBy } : {}),
    compile: compileTimeline(build, compiledBy),
    sizes: gatherSizes(build),
    boots,
    ...(o.configDiff ? { configDiff: o.configDiff } : {}),
    ...(o.bump ? { bump: o.bump } : {}),
  };
}
