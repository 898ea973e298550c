/**
 * Classify each patch of a series on a source tree, in order, the way the series would apply:
 *   clean     applies at -p1 with zero fuzz and zero offset (the gate of src/pipeline/apply_patches.ts)
 *   offset    applies only at an offset or with fuzz (the offsets and fuzz are listed); a refreshed,
 *             zero-offset text is made from the files as patched
 *   upstream  does not apply, but reverse-applies with zero fuzz: the tree already has the change
 *   conflict  neither; the rejected hunks are saved (GNU patch's .rej)
 *   blocked   fails on a file that an earlier conflicted or blocked patch touched: it stops applying
 *             because of that patch, not on its own
 * The state moves forward the way the series would: clean and offset patches are applied, upstream
 * ones are dropped (their change is in the tree), conflicted and blocked ones are left out.
 *
 * The files a patch touches are taken from kiln's git store into a scratch folder (no checkout),
 * and GNU patch runs from argv arrays through src/effects/proc.ts, as the zero-fuzz gate does.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { GateFailure } from "../errors.js";
import { cleanApplyFailures, parsePatchOutput, touchedPaths, unsafePaths, type HunkResult } from "../core/patch.js";
import { parseProvenance, type Provenance } from "../core/patch_headers.js";
import type { GitStore } from "../effects/git.js";
import { run } from "../effects/proc.js";
import { writeFileAtomic } from "../effects/fsx.js";
import type { PatchFile } from "../pipeline/apply_patches.js";
import { refreshedText } from "./refresh.js";

export type PatchClass = "clean" | "offset" | "upstream" | "conflict" | "blocked";

export interface PatchVerdict {
  name: string;
  /** The patch file in the project. */
  path: string;
  class: PatchClass;
  /** Files the patch touches (-p1). */
  files: string[];
  /** The forward run's hunks at zero fuzz (offset ones carry their offset). */
  hunks: HunkResult[];
  /** The zero-fuzz gate's own lines (empty when clean). */
  gate: string[];
  /** offset: the hunks that moved or needed fuzz. */
  moved: { file: string; hunk: number; offset: number; fuzz: number }[];
  /** offset: the refreshed patch text (header kept, zero offset on this tree), or why there is none. */
  refreshed?: string;
  refreshError?: string;
  /** conflict/blocked: the rejected hunks (GNU patch .rej text). */
  rejects?: string;
  /** blocked: the earlier patch it depends on. */
  blockedBy?: string;
  provenance: Provenance;
}

async function fetchFiles(git: GitStore, tree: string, dir: string, files: string[]): Promise<void> {
  if (!files.length) return;
  const present = (await git.out(["ls-tree", "-r", "--name-only", tree, "--", ...files])).split("\n").filter(Boolean);
  if (!present.length) return;
  await run(["bash", "-c", 'set -o pipefail; d="$1"; g="$2"; t="$3"; shift 3; git --git-dir="$g" archive --format=tar "$t" -- "$@" | tar -x -C "$d"', "bash", dir, git.dir, tree, ...present]);
}

const PATCH = (dir: string, file: string, extra: string[]) => ["patch", "-p1", "--batch", "--no-backup-if-mismatch", ...extra, "-d", dir, "-i", file];

async function patchRun(dir: string, file: string, extra: string[]) {
  const r = await run(PATCH(dir, file, extra), { allowFail: true, env: { LC_ALL: "C" } });
  return { ...r, parsed: parsePatchOutput(r.all) };
}

function copyFiles(from: string, to: string, files: string[]): void {
  for (const f of files) {
    const s = join(from, f);
    if (!existsSync(s) || !statSync(s).isFile()) continue;
    mkdirSync(dirname(join(to, f)), { recursive: true });
    copyFileSync(s, join(to, f));
  }
}

/** Classify the series on `tree`. `scratchRoot` holds the temporary folders (removed before return). */
export async function classifySeries(git: GitStore, tree: string, patches: readonly PatchFile[], scratchRoot: string): Promise<PatchVerdict[]> {
  mkdirSync(scratchRoot, { recursive: true });
  const work = mkdtempSync(join(scratchRoot, ".classify-"));
  const state = join(work, "tree");
  mkdirSync(state);
  const fetched = new Set<string>();
  const out: PatchVerdict[] = [];
  // files an earlier patch that did not apply (conflict, blocked) touched -> that patch
  const failedFiles = new Map<string, string>();
  try {
    let n = 0;
    for (const p of patches) {
      n++;
      const paths = touchedPaths(p.text);
      if (paths.length === 0) throw new GateFailure(`${p.name}: not a patch (no ---/+++ file headers)`, { file: p.path });
      const bad = unsafePaths(paths);
      if (bad.length) throw new GateFailure(`${p.name}: refuses to touch paths outside the tree: ${bad.join(", ")}`, { file: p.path });
      const files = [...new Set(paths.flatMap((t) => [t.old, t.new]).filter((x): x is string => !!x))];
      const need = files.filter((f) => !fetched.has(f));
      await fetchFiles(git, tree, state, need);
      need.forEach((f) => fetched.add(f));
      const provenance = parseProvenance(p.text);
      const base = { name: p.name, path: p.path, files, provenance };

      const fwd = await patchRun(state, p.path, ["-F0", "--forward", "--dry-run"]);
      const gate = cleanApplyFailures(p.name, p.text, fwd.parsed, fwd.exitCode);
      if (gate.length === 0) {
        await patchRun(state, p.path, ["-F0", "--forward"]);
        out.push({ ...base, class: "clean", hunks: fwd.parsed.hunks, gate, moved: [] });
        continue;
      }
      const rev = await patchRun(state, p.path, ["-F0", "-R", "--force", "--dry-run"]);
      // GNU patch names only the hunks that moved; an exact hunk prints nothing
      if (rev.exitCode === 0 && rev.parsed.problems.length === 0 && rev.parsed.hunks.every((h) => h.status === "ok" || h.status === "offset")) {
        out.push({ ...base, class: "upstream", hunks: fwd.parsed.hunks, gate, moved: [] });
        continue;
      }
      // offset at zero fuzz, else with GNU patch's default fuzz
      let applied = fwd.exitCode === 0 && fwd.parsed.problems.length === 0 ? { run: fwd, fuzz: "-F0" } : undefined;
      if (!applied) {
        const fz = await patchRun(state, p.path, ["-F2", "--forward", "--dry-run"]);
        if (fz.exitCode === 0 && fz.parsed.problems.length === 0 && !fz.parsed.hunks.some((h) => h.status === "failed")) applied = { run: fz, fuzz: "-F2" };
      }
      if (applied) {
        const before = join(work, `before-${n}`);
        copyFiles(state, before, files);
        await patchRun(state, p.path, [applied.fuzz, "--forward"]);
        const moved = applied.run.parsed.hunks.filter((h) => h.status !== "ok").map((h) => ({ file: h.file, hunk: h.hunk, offset: h.offset ?? 0, fuzz: h.fuzz ?? 0 }));
        const v: PatchVerdict = { ...base, class: "offset", hunks: applied.run.parsed.hunks, gate: cleanApplyFailures(p.name, p.text, applied.run.parsed, applied.run.exitCode), moved };
        try {
          v.refreshed = await refreshedText(p.text, paths, before, state);
        } catch (e) {
          v.refreshError = (e as Error).message;
        }
        rmSync(before, { recursive: true, force: true });
        out.push(v);
        continue;
      }
      // conflict or blocked: the rejects come from a throwaway copy, so the state keeps no half-applied hunks
      const copy = join(work, `reject-${n}`);
      copyFiles(state, copy, files);
      const rej = join(work, `reject-${n}.rej`);
      await run(PATCH(copy, p.path, ["-F0", "--forward", `--reject-file=${rej}`]), { allowFail: true, env: { LC_ALL: "C" } });
      const rejects = existsSync(rej) ? readFileSync(rej, "utf8") : undefined;
      rmSync(copy, { recursive: true, force: true });
      const by = files.map((f) => failedFiles.get(f)).find((x) => x !== undefined);
      out.push({ ...base, class: by ? "blocked" : "conflict", hunks: fwd.parsed.hunks, gate, moved: [], ...(rejects ? { rejects } : {}), ...(by ? { blockedBy: by } : {}) });
      for (const f of files) if (!failedFiles.has(f)) failedFiles.set(f, p.name);
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Save the rejected hunks beside a report: <dir>/<patch>.rej. Returns the file names written. */
export function saveRejects(verdicts: readonly PatchVerdict[], dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of verdicts) {
    if (!v.rejects) continue;
    const f = join(dir, `${v.name}.rej`);
    writeFileAtomic(f, v.rejects);
    out[v.name] = f;
  }
  return out;
}
