/**
 * Refresh a patch that applies only at an offset (or with fuzz): keep its header (the mail
 * headers, provenance lines and message) and its trailer, and replace the diff with `diff -u`
 * of the files before and after the patch was applied to the new tree, so it applies there with
 * zero offset and zero fuzz.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GateFailure } from "../errors.js";
import type { TouchedPath } from "../core/patch.js";
import { headerText } from "../core/patch_headers.js";
import { run } from "../effects/proc.js";

/** The text after the last hunk that is not diff: git format-patch's "-- \n2.43.0" signature. */
export function patchTrailer(patch: string): string {
  const m = /\n-- \n[^\n]*\n*$/.exec(patch);
  return m ? m[0].replace(/^\n/, "") : "";
}

/** Put a refreshed diff between a patch's header and trailer. Pure. */
export function assemble(original: string, diffs: readonly string[]): string {
  const head = headerText(original);
  const trailer = patchTrailer(original);
  const body = diffs.join("");
  // headerText drops the newline that ended the header's last line
  return `${head || /^\n/.test(original) ? `${head}\n` : ""}${body}${trailer && !body.endsWith("\n") ? "\n" : ""}${trailer}`;
}

/** `diff -u` of each touched file between two folders, git-style headers when the patch had them. */
export async function refreshedText(original: string, paths: readonly TouchedPath[], before: string, after: string): Promise<string> {
  if (/^(rename from|copy from|GIT binary patch|Binary files )/m.test(original)) throw new GateFailure("the patch renames, copies or holds binary files: refresh it by hand (git format-patch)", {});
  const gitStyle = /^diff --git /m.test(original);
  const diffs: string[] = [];
  for (const t of paths) {
    const file = (t.new ?? t.old)!;
    const a = t.old && existsSync(join(before, t.old)) ? join(before, t.old) : "/dev/null";
    const b = t.new && existsSync(join(after, t.new)) ? join(after, t.new) : "/dev/null";
    const la = a === "/dev/null" ? "/dev/null" : `a/${t.old}`;
    const lb = b === "/dev/null" ? "/dev/null" : `b/${t.new}`;
    const r = await run(["diff", "-u", "--label", la, "--label", lb, a, b], { allowFail: true, env: { LC_ALL: "C" } });
    if (r.exitCode > 1) throw new GateFailure(`diff failed on ${file}: ${r.stderr.trim()}`, {});
    if (r.exitCode === 0) continue;
    const hdr = gitStyle ? `diff --git a/${t.old ?? file} b/${t.new ?? file}\n${a === "/dev/null" ? "new file mode 100644\n" : b === "/dev/null" ? "deleted file mode 100644\n" : ""}` : "";
    diffs.push(hdr + r.stdout);
  }
  return assemble(original, diffs);
}
