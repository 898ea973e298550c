/**
 * Patch series logic, pure: read a quilt series file, list the files a patch touches, read the
 * subject, and read GNU patch's output into per-hunk results for the "applies clean" gate
 * (zero fuzz, zero offset).
 */

export interface SeriesLine {
  patch: string;
  line: number;
}

/** A quilt series file: one patch per line, `#` comments, optional "-p1" (other levels refused). */
export function parseSeriesFile(text: string, file: string): { entries: SeriesLine[]; errors: string[] } {
  const entries: SeriesLine[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const [patch, ...opts] = line.split(/\s+/);
    for (const o of opts) if (o !== "-p1") errors.push(`${file}:${i + 1}: option ${o} is not supported: kiln applies every patch at -p1`);
    entries.push({ patch: patch!, line: i + 1 });
  });
  return { entries, errors };
}

export const PATCH_FILE = /\.(patch|diff)$/;

export interface TouchedPath {
  /** Path before the patch (-p1 stripped), or undefined for a new file. */
  old?: string;
  /** Path after the patch, or undefined for a deleted file. */
  new?: string;
}

function strip1(p: string): string | undefined {
  const clean = p.replace(/\t.*$/, "").trim();
  if (clean === "/dev/null") return undefined;
  const i = clean.indexOf("/");
  return i >= 0 ? clean.slice(i + 1) : clean;
}

/** Every file a unified (or git) diff touches, at -p1. */
export function touchedPaths(patch: string): TouchedPath[] {
  const out: TouchedPath[] = [];
  const lines = patch.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith("--- ") && lines[i + 1]?.startsWith("+++ ")) {
      out.push({ old: strip1(l.slice(4)), new: strip1(lines[i + 1]!.slice(4)) });
      i++;
    } else if (l.startsWith("rename from ") && lines[i + 1]?.startsWith("rename to ")) {
      out.push({ old: l.slice(12).trim(), new: lines[i + 1]!.slice(10).trim() });
      i++;
    }
  }
  return out;
}

/** Validate that no path escapes the tree (absolute, or containing ..). Returns the bad ones. */
export function unsafePaths(t: TouchedPath[]): string[] {
  const bad: string[] = [];
  for (const p of t)
    for (const x of [p.old, p.new])
      if (x !== undefined && (x.startsWith("/") || x.split("/").includes(".."))) bad.push(x);
  return bad;
}

/** The subject of a patch in mbox / git format-patch form, without the [PATCH …] prefix kept. */
export function patchSubject(patch: string): string | undefined {
  const m = /^Subject: (.*(?:\n[ \t].*)*)/m.exec(patch);
  return m ? m[1]!.replace(/\n[ \t]+/g, " ").trim() : undefined;
}

export interface HunkResult {
  file: string;
  hunk: number;
  status: "ok" | "offset" | "fuzz" | "failed";
  at?: number;
  offset?: number;
  fuzz?: number;
}

export interface PatchRun {
  hunks: HunkResult[];
  /** Problems that are not about one hunk: missing file, reversed patch, garbage. */
  problems: string[];
}

/** Read GNU patch's output. */
export function parsePatchOutput(text: string): PatchRun {
  const hunks: HunkResult[] = [];
  const problems: string[] = [];
  let file = "";
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(?:patching|checking) file '?(.+?)'?$/.exec(l))) file = m[1]!;
    else if ((m = /^Hunk #(\d+) succeeded at (\d+)(?: with fuzz (\d+))?(?: \(offset (-?\d+) lines?\))?\.?$/.exec(l))) {
      const fuzz = m[3] ? Number(m[3]) : 0;
      const offset = m[4] ? Number(m[4]) : 0;
      hunks.push({ file, hunk: Number(m[1]), status: fuzz ? "fuzz" : offset ? "offset" : "ok", at: Number(m[2]), ...(fuzz ? { fuzz } : {}), ...(offset ? { offset } : {}) });
    } else if ((m = /^Hunk #(\d+) FAILED at (\d+)/.exec(l))) hunks.push({ file, hunk: Number(m[1]), status: "failed", at: Number(m[2]) });
    else if (/Reversed \(or previously applied\) patch detected/.test(l)) problems.push(`${file}: the patch looks already applied (or reversed)`);
    else if (/^can't find file to patch/.test(l)) problems.push(`a file to patch does not exist in the tree`);
    else if ((m = /^No file to patch\.\s+Skipping patch/.exec(l))) problems.push(`a file to patch does not exist in the tree`);
    else if (/^patch: \*\*\*\* (.*)$/.test(l)) problems.push(l.replace(/^patch: \*\*\*\* /, ""));
    else if (/^The next patch would (create|delete) the file/.test(l)) problems.push(`${l}`);
  }
  return { hunks, problems };
}

/** The @@ header of hunk n (1-based) of a file in a patch, to show the user which hunk. */
export function hunkHeader(patch: string, file: string, n: number): string | undefined {
  const lines = patch.split("\n");
  let inFile = false;
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith("+++ ")) {
      const p = strip1(l.slice(4));
      const prev = lines[i - 1]?.startsWith("--- ") ? strip1(lines[i - 1]!.slice(4)) : undefined;
      inFile = p === file || prev === file;
      count = 0;
    } else if (inFile && l.startsWith("@@")) {
      count++;
      if (count === n) return l.replace(/^(@@[^@]*@@).*$/, "$1");
    }
  }
  return undefined;
}

/** Gate verdict for one patch: readable failures, empty when it applies clean. */
export function cleanApplyFailures(patchName: string, patchText: string, runOut: PatchRun, exitCode: number): string[] {
  const out: string[] = [];
  for (const h of runOut.hunks) {
    if (h.status === "ok") continue;
    const hdr = hunkHeader(patchText, h.file, h.hunk);
    const which = `hunk #${h.hunk}${hdr ? ` (${hdr})` : ""}`;
    if (h.status === "failed") out.push(`${patchName}: ${h.file}: ${which} does not apply`);
    else if (h.status === "fuzz") out.push(`${patchName}: ${h.file}: ${which} needs fuzz ${h.fuzz}`);
    else out.push(`${patchName}: ${h.file}: ${which} applies only at an offset of ${h.offset} lines (at line ${h.at})`);
  }
  for (const p of runOut.problems) out.push(`${patchName}: ${p}`);
  if (exitCode !== 0 && out.length === 0) out.push(`${patchName}: patch exited with ${exitCode}`);
  return out;
}
