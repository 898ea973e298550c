/**
 * A patch series for the bump test, made from REAL differences between Debian's linux-source-6.1
 * and linux-source-6.12 (both unpacked by test/support/trees.ts). Every patch applies to 6.1 with
 * zero fuzz and zero offset; on 6.12:
 *   upstream  one hunk of the 6.1 -> 6.12 diff of a file: 6.12 has it, so it reverse-applies
 *   offset    one added comment in a stretch both trees share, below a hunk that changed the
 *             line count: 6.12 has the same context, lower down
 *   conflict  one line of 6.1 that 6.12 no longer has anywhere, edited
 *   clean     one added comment in a file both trees have byte for byte
 * The files are found, not hard-coded to line numbers, so the makers name what they looked for
 * when a tree changes under them.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

export interface MadePatch {
  name: string;
  text: string;
  /** What the patch should be on 6.12. */
  expect: "upstream" | "offset" | "conflict" | "clean";
  file: string;
}

/** `diff -u` of two texts, labelled a/<file> b/<file>. */
export function unified(file: string, a: string, b: string): string {
  const d = mkdtempSync(join(tmpdir(), "kiln-bump-diff-"));
  try {
    writeFileSync(join(d, "a"), a);
    writeFileSync(join(d, "b"), b);
    try {
      execFileSync("diff", ["-u", "--label", `a/${file}`, "--label", `b/${file}`, join(d, "a"), join(d, "b")], { encoding: "utf8" });
      return "";
    } catch (e) {
      const x = e as { status?: number; stdout?: string };
      if (x.status === 1 && x.stdout) return x.stdout;
      throw e;
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

interface Hunk {
  oldStart: number;
  oldLen: number;
  newStart: number;
  newLen: number;
  lines: string[];
  header: string;
}

function hunks(diff: string): Hunk[] {
  const out: Hunk[] = [];
  let cur: Hunk | undefined;
  for (const l of diff.split("\n")) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(l);
    if (m) {
      cur = { oldStart: +m[1]!, oldLen: m[2] === undefined ? 1 : +m[2], newStart: +m[3]!, newLen: m[4] === undefined ? 1 : +m[4], lines: [], header: l };
      out.push(cur);
    } else if (cur && /^[ +\-\\]/.test(l)) cur.lines.push(l);
  }
  return out;
}

const read = (tree: string, f: string) => readFileSync(join(tree, f), "utf8");

function header(subject: string, fields: string[]): string {
  return [`From: Kiln Test <kiln@example.org>`, `Date: Mon, 1 Dec 2025 12:00:00 +0000`, `Subject: [PATCH] ${subject}`, ...fields, "", `${subject}.`, "", "Signed-off-by: Kiln Test <kiln@example.org>", "---", ""].join("\n");
}

/** Insert `line` after line `at` (1-based) of `text`. */
function insertAfter(text: string, at: number, line: string): string {
  const ls = text.split("\n");
  ls.splice(at, 0, line);
  return ls.join("\n");
}

function count(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) n++;
  return n;
}

export function upstreamPatch(old: string, neu: string, file: string): MadePatch {
  const a = read(old, file);
  const b = read(neu, file);
  const h = hunks(unified(file, a, b)).find((x) => x.lines.some((l) => l.startsWith("-")) && x.lines.some((l) => l.startsWith("+")));
  if (!h) throw new Error(`${file}: no hunk with removed and added lines between the trees`);
  const text = header(`${file}: take the change 6.12 has`, ["Patch-mainline: v6.12", "References: kiln-test"]) + `--- a/${file}\n+++ b/${file}\n${h.header.replace(/^(@@[^@]*@@).*$/, "$1")}\n${h.lines.join("\n")}\n`;
  return { name: "0001-upstream-hunk.patch", text, expect: "upstream", file };
}

export function offsetPatch(old: string, neu: string, file: string): MadePatch {
  const a = read(old, file);
  const b = read(neu, file);
  const hs = hunks(unified(file, a, b));
  const al = a.split("\n");
  let delta = 0;
  for (let i = 0; i < hs.length; i++) {
    delta += hs[i]!.newLen - hs[i]!.oldLen;
    const from = hs[i]!.oldStart + hs[i]!.oldLen; // first shared line after hunk i (1-based)
    const to = i + 1 < hs.length ? hs[i + 1]!.oldStart - 1 : al.length;
    if (delta === 0 || to - from < 12) continue;
    const at = from + 5; // insert after this line: 3+ shared lines each side
    const ctx = al.slice(at - 3, at + 3).join("\n");
    if (ctx.trim().length < 40 || count(a, ctx) !== 1 || count(b, ctx) !== 1) continue;
    const text = header(`${file}: a comment in a stretch both trees share`, ["Forwarded: no", "Last-Update: 2025-12-01"]) + unified(file, a, insertAfter(a, at, "/* kiln bump test: this line moves with the file */"));
    return { name: "0002-offset-comment.patch", text, expect: "offset", file };
  }
  throw new Error(`${file}: no shared stretch of 12 lines below a hunk that changes the line count`);
}

export function conflictPatch(old: string, neu: string, file: string): MadePatch {
  const a = read(old, file);
  const b = read(neu, file);
  const al = a.split("\n");
  const h = hunks(unified(file, a, b));
  for (const x of h) {
    let n = x.oldStart - 1;
    for (const l of x.lines) {
      if (l.startsWith("+")) continue;
      n++;
      if (!l.startsWith("-")) continue;
      const line = l.slice(1);
      if (line.trim().length < 24 || !b.split("\n").every((y) => y !== line) || count(a, line) !== 1) continue;
      const edited = al.slice();
      edited[n - 1] = `${line} /* kiln bump test */`;
      const text = header(`${file}: edit a line 6.12 rewrote`, ["Upstream-Status: Pending"]) + unified(file, a, edited.join("\n"));
      return { name: "0003-conflict.patch", text, expect: "conflict", file };
    }
  }
  throw new Error(`${file}: no removed line that 6.12 has nowhere`);
}

export function cleanPatch(old: string, neu: string, file: string): MadePatch {
  const a = read(old, file);
  if (!existsSync(join(neu, file)) || read(neu, file) !== a) throw new Error(`${file}: differs between the trees; the clean patch needs a file both have byte for byte`);
  const text = header(`${file}: a comment`, ["Upstream-Status: Inappropriate [kiln test fixture]"]) + unified(file, a, insertAfter(a, 1, "/* kiln bump test: applies clean on both trees */"));
  return { name: "0004-clean-comment.patch", text, expect: "clean", file };
}

/** The four patches, from the two trees. */
export function bumpSeries(old: string, neu: string): MadePatch[] {
  return [upstreamPatch(old, neu, "lib/string.c"), offsetPatch(old, neu, "kernel/panic.c"), conflictPatch(old, neu, "init/main.c"), cleanPatch(old, neu, "lib/cmdline.c")];
}
