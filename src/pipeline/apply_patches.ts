/**
 * Step 2, apply_patches: apply the ordered series to the unpatched tree at -p1 with zero fuzz
 * and zero offset, producing a new tree in the object store. No checkout is needed: the files a
 * patch touches are taken from the store into a scratch folder, patched with GNU patch, and
 * written back as a tree. The warm tree then switches to it touching only the changed files.
 */
import { confine } from "../project/confine.js";
import { existsSync, readFileSync, readdirSync, statSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { createHash } from "node:crypto";
import { GateFailure, KilnError, ProjectError } from "../errors.js";
import { parseSeriesFile, PATCH_FILE, touchedPaths, unsafePaths, parsePatchOutput, cleanApplyFailures, patchSubject } from "../core/patch.js";
import type { GitStore } from "../effects/git.js";
import { run } from "../effects/proc.js";
import { writeFileAtomic } from "../effects/fsx.js";
import type { SeriesDecl } from "../project/schema.js";
import { readMailedSeries, applyMailed, type MailedSeries } from "./series.js";
import { subjectParts } from "./series_mail.js";

export interface PatchFile {
  name: string;
  path: string;
  text: string;
  sha256: string;
}

export interface SeriesInfo {
  patches: PatchFile[];
  /** Where the series came from, for messages and the manifest. */
  origin?: string;
  subject?: string;
  /** A mailed series ([series] mbox or b4): applied with `git am` semantics (src/pipeline/series.ts). */
  mailed?: MailedSeries;
}

/** Read any declared series: a folder or series file (readSeries), or a mailed series (mbox, b4: src/pipeline/series.ts). */
export async function loadSeries(projectDir: string, decl: SeriesDecl | undefined, allowed: readonly string[] = []): Promise<SeriesInfo> {
  if (decl && (decl.mbox || decl.b4)) {
    const mailed = await readMailedSeries(projectDir, decl, allowed);
    const patches = mailed.patches.map((m) => ({ name: `${m.position} ${subjectParts(m.subject).title}`, path: mailed.file, text: m.text, sha256: m.sha256 }));
    return { patches, origin: mailed.origin, subject: decl.subject ?? mailed.cover ?? mailed.patches[0]!.subject, mailed };
  }
  return readSeries(projectDir, decl, allowed);
}

/** Read the declared series: a folder (name order, or its `series` file) or a series file. */
export function readSeries(projectDir: string, decl: SeriesDecl | undefined, allowed: readonly string[] = []): SeriesInfo {
  if (decl && (decl.mbox || decl.b4)) throw new KilnError("internal: a mailed series is read with loadSeries");
  const toml = join(projectDir, "kiln.toml");
  const keep = (abs: string, what: string, shown: string, file = toml, line?: number) => confine(projectDir, abs, allowed, { what, shown, file, ...(line ? { line } : {}) });
  if (!decl || (!decl.dir && !decl.file)) return { patches: [] };
  let names: { name: string; path: string; line?: number; file?: string }[] = [];
  let origin: string;
  const seriesFile = decl.file ? join(projectDir, decl.file) : decl.dir && existsSync(join(projectDir, decl.dir, "series")) ? join(projectDir, decl.dir, "series") : undefined;
  if (seriesFile) {
    keep(seriesFile, decl.file ? "series file" : "series folder", decl.file ?? decl.dir!);
    origin = seriesFile;
    if (!existsSync(seriesFile)) throw new ProjectError(`series file ${seriesFile} does not exist`, { file: join(projectDir, "kiln.toml") });
    const { entries, errors } = parseSeriesFile(readFileSync(seriesFile, "utf8"), seriesFile);
    if (errors.length) throw new ProjectError(errors.join("\n"), { file: seriesFile });
    names = entries.map((e) => ({ name: e.patch, path: join(dirname(seriesFile), e.patch), line: e.line, file: seriesFile }));
  } else {
    const dir = keep(join(projectDir, decl.dir!), "series folder", decl.dir!);
    origin = dir;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ProjectError(`patch folder ${dir} does not exist`, { file: join(projectDir, "kiln.toml") }, "create it, or remove the series from kiln.toml");
    names = readdirSync(dir)
      .filter((f) => PATCH_FILE.test(f))
      .sort()
      .map((f) => ({ name: f, path: join(dir, f) }));
  }
  const patches = names.map((n) => {
    keep(n.path, "patch", n.name, n.file ?? toml, n.line);
    if (!existsSync(n.path)) throw new ProjectError(`patch ${n.name} is listed but does not exist`, { file: n.file, line: n.line });
    const text = readFileSync(n.path, "utf8");
    return { name: n.name, path: n.path, text, sha256: createHash("sha256").update(text).digest("hex") };
  });
  const subject = decl.subject ?? (patches[0] ? patchSubject(patches[0].text) : undefined);
  return { patches, origin, ...(subject ? { subject } : {}) };
}

export interface PatchedTree {
  tree: string;
  applied: { name: string; sha256: string; files: number }[];
  reused: boolean;
  /** A mailed series: the review branch in kiln's git store and its commits, one per patch. */
  mailed?: { ref: string; commits: string[] };
}

/**
 * Apply the series onto baseTree. Throws GateFailure naming the patch, the file and the hunk.
 * A mailed series is applied with `git am` semantics on top of baseCommit (a git pin's commit)
 * or, for a tarball pin, a commit of the bare tree.
 */
export async function applySeries(git: GitStore, baseTree: string, series: SeriesInfo, cacheDir: string, baseCommit?: string): Promise<PatchedTree> {
  if (series.patches.length === 0) return { tree: baseTree, applied: [], reused: true };
  if (series.mailed) {
    const m = await applyMailed(git, baseTree, series.mailed, cacheDir, baseCommit);
    const applied = series.patches.map((p) => ({ name: p.name, sha256: p.sha256, files: touchedPaths(p.text).length }));
    return { tree: m.tree, applied, reused: m.reused, mailed: { ref: m.ref, commits: m.commits } };
  }
  const key = createHash("sha256").update(baseTree).update(series.patches.map((p) => p.sha256).join("\n")).digest("hex");
  const record = join(cacheDir, "patched", `${key}.json`);
  if (existsSync(record)) {
    const r = JSON.parse(readFileSync(record, "utf8")) as PatchedTree;
    if (await git.hasObject(r.tree)) return { ...r, reused: true };
  }
  mkdirSync(join(cacheDir, "patched"), { recursive: true });
  const scratch = mkdtempSync(join(cacheDir, "patched", ".apply-"));
  const index = `${scratch}.index`;
  try {
    const touched = new Set<string>();
    const fetched = new Set<string>();
    const applied: PatchedTree["applied"] = [];
    for (const p of series.patches) {
      const paths = touchedPaths(p.text);
      if (paths.length === 0) throw new GateFailure(`${p.name}: not a patch (no ---/+++ file headers)`, { file: p.path });
      const bad = unsafePaths(paths);
      if (bad.length) throw new GateFailure(`${p.name}: refuses to touch paths outside the tree: ${bad.join(", ")}`, { file: p.path });
      // Bring the files this patch needs from the base tree (files an earlier patch made stay).
      const need = [...new Set(paths.flatMap((t) => [t.old, t.new]).filter((x): x is string => !!x))].filter((f) => !fetched.has(f));
      if (need.length) {
        const present = (await git.out(["ls-tree", "-r", "--name-only", baseTree, "--", ...need])).split("\n").filter(Boolean);
        if (present.length) {
          await run(["bash", "-c", 'set -o pipefail; d="$1"; g="$2"; t="$3"; shift 3; git --git-dir="$g" archive --format=tar "$t" -- "$@" | tar -x -C "$d"', "bash", scratch, git.dir, baseTree, ...present]);
        }
        need.forEach((f) => fetched.add(f));
      }
      const r = await run(["patch", "-p1", "-F0", "--batch", "--forward", "--no-backup-if-mismatch", "--reject-file=-", "-d", scratch, "-i", p.path], { allowFail: true, env: { LC_ALL: "C" } });
      const failures = cleanApplyFailures(p.name, p.text, parsePatchOutput(r.all), r.exitCode);
      if (failures.length)
        throw new GateFailure(`the patch series does not apply clean (zero fuzz, zero offset):\n  ${failures.join("\n  ")}`, { file: p.path }, "rebase the patch onto this source pin (e.g. with quilt refresh or git format-patch)");
      paths.forEach((t) => [t.old, t.new].forEach((x) => x && touched.add(x)));
      applied.push({ name: p.name, sha256: p.sha256, files: paths.length });
    }
    // Write the touched files back as a tree.
    await git.git(["read-tree", baseTree], { index });
    const infoLines: string[] = [];
    const files = [...touched].sort();
    const existing = files.filter((f) => existsSync(join(scratch, f)) && statSync(join(scratch, f)).isFile());
    const oids = existing.length ? (await git.out(["hash-object", "-w", "--stdin-paths", "--no-filters"], { input: existing.map((f) => join(scratch, f)).join("\n") + "\n" })).split("\n") : [];
    existing.forEach((f, i) => {
      const mode = statSync(join(scratch, f)).mode & 0o111 ? "100755" : "100644";
      infoLines.push(`${mode} ${oids[i]}\t${f}`);
    });
    for (const f of files) if (!existing.includes(f)) infoLines.push(`0 ${"0".repeat(40)}\t${f}`);
    await git.git(["update-index", "--index-info"], { index, input: infoLines.join("\n") + "\n" });
    const tree = await git.out(["write-tree"], { index });
    await git.keep("trees", tree);
    const result: PatchedTree = { tree, applied, reused: false };
    writeFileAtomic(record, JSON.stringify(result));
    return result;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(index, { force: true });
  }
}

export function seriesName(s: SeriesInfo): string {
  return s.origin ? basename(s.origin) : "";
}

