/**
 * Mailed series: `[series] mbox = "x.mbx"` (what `b4 am -o` writes, or a list archive's thread)
 * or `[series] b4 = "<message-id>"` fetched from a lore base with Debian's b4.
 *
 * Reading: `git mailsplit` cuts the mbox into mails (as `git am` does), series_mail.ts orders
 * them (the cover letter apart) and reads subjects, revision and message-ids.
 *
 * Applying, with `git am` semantics and no checkout: for each mail, `git mailinfo` splits the
 * message from the patch, `git apply --cached` applies the patch to a private index that starts
 * at the base tree (context must match exactly, as in `git am`), `git write-tree` and
 * `git commit-tree` record a commit with the mail's author and date. The tree is a function of
 * the content only, so the same series mailed again (other dates, other message-ids, new commit
 * SHAs) gives the same tree, and the same identity. The last commit is kept as
 * `refs/heads/b4/<slug>` in kiln's git store for review (`git --git-dir ... log b4/<slug>`).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GateFailure, ProjectError } from "../errors.js";
import { confine } from "../project/confine.js";
import { locateKey } from "../project/toml_locate.js";
import type { SeriesDecl } from "../project/schema.js";
import type { GitStore } from "../effects/git.js";
import { run } from "../effects/proc.js";
import { b4Am } from "../effects/b4.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { kilnHome } from "../store/paths.js";
import { inferLabel } from "../core/identity.js";
import { applyFailures, baseCommit, mailHeaders, orderSeries, position, subjectParts, type SeriesMail } from "./series_mail.js";

export interface MailedPatch {
  /** "2/5" */
  position: string;
  subject: string;
  messageId?: string;
  text: string;
  sha256: string;
}

export interface MailedSeries {
  kind: "mbox" | "b4";
  /** The mbox file, or the lore URL of the thread. */
  origin: string;
  /** The file `git am` reads (the project's mbox, or b4's output while it existed). */
  file: string;
  /** The cover letter's message-id (or the first patch's when there is no cover). */
  messageId?: string;
  revision: number;
  cover?: string;
  patches: MailedPatch[];
  mboxSha256: string;
  /** The slug of `refs/heads/b4/<slug>`: the cover subject's label (formats.md §1). */
  slug: string;
  baseCommit?: string;
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/** Cut an mbox into mails with `git mailsplit` (the splitter `git am` uses). */
export async function splitMbox(mboxFile: string, scratch: string): Promise<string[]> {
  const dir = join(scratch, "split");
  mkdirSync(dir, { recursive: true });
  await run(["git", "mailsplit", "--keep-cr", `-o${dir}`, mboxFile], { env: { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } });
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"));
}

/** The mails of a series, ordered, with the cover's subject; GateFailure when the mbox is not one series. */
export function seriesOfMails(texts: string[], file: string, extraCover?: string): { cover?: SeriesMail; patches: SeriesMail[]; revision: number } {
  const mails: SeriesMail[] = texts.map((text, i) => {
    const headers = mailHeaders(text);
    return { index: i + 1, text, headers, parts: subjectParts(headers.subject ?? "") };
  });
  if (extraCover !== undefined) {
    const headers = mailHeaders(extraCover);
    mails.unshift({ index: 0, text: extraCover, headers, parts: subjectParts(headers.subject ?? "") });
  }
  const o = orderSeries(mails);
  if (o.problems.length) throw new GateFailure(`${file} is not one mailed series:\n  ${o.problems.join("\n  ")}`, { file }, "fetch the whole thread again (b4 am -o <dir> <message-id>), or list the patches in a series folder");
  return o;
}

const fetched = new Map<string, Promise<{ mbx: string; cover?: string }>>();

/** `b4 am` into a staging folder under KILN_HOME/tmp; the texts are kept, the folder removed. Once per process per (lore, msgid). */
function fetchWithB4(msgid: string, lore: string): Promise<{ mbx: string; cover?: string }> {
  const key = `${lore}\0${msgid}`;
  let p = fetched.get(key);
  if (!p) {
    p = (async () => {
      const root = join(kilnHome(), "tmp");
      mkdirSync(root, { recursive: true });
      const staging = mkdtempSync(join(root, "b4-"));
      try {
        const r = await b4Am(msgid, lore, staging);
        return { mbx: readFileSync(r.mbx, "utf8"), ...(r.cover ? { cover: readFileSync(r.cover, "utf8") } : {}) };
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
    })();
    fetched.set(key, p);
    p.catch(() => fetched.delete(key));
  }
  return p;
}

/** A git ref component from a label slug (git check-ref-format's rules). */
export function refSlug(slug: string): string {
  const s = slug.replace(/\.{2,}/g, ".").replace(/\.lock$/, "").replace(/^[.-]+|[.]+$/g, "");
  return s || "series";
}

/** Read `[series] mbox` or `[series] b4`. */
export async function readMailedSeries(projectDir: string, decl: SeriesDecl, allowed: readonly string[] = []): Promise<MailedSeries> {
  const toml = join(projectDir, "kiln.toml");
  const tomlText = existsSync(toml) ? readFileSync(toml, "utf8") : "";
  const lineOf = (key: string) => locateKey(tomlText, ["series", key]);
  let text: string;
  let coverText: string | undefined;
  let file: string;
  let origin: string;
  let kind: MailedSeries["kind"];
  if (decl.mbox) {
    kind = "mbox";
    const line = lineOf("mbox");
    file = confine(projectDir, join(projectDir, decl.mbox), allowed, { what: "series mbox", shown: decl.mbox, file: toml, ...(line ? { line } : {}) });
    if (!existsSync(file)) throw new ProjectError(`series mbox ${decl.mbox} does not exist`, { file: toml, ...(line ? { line } : {}) }, "write it with `b4 am -o <dir> <message-id>`, or fix the path");
    origin = file;
    text = readFileSync(file, "utf8");
    // b4 am -o writes the cover letter beside the mbox: <name>.cover
    const cover = file.replace(/\.(mbx|mbox)$/, "") + ".cover";
    if (cover !== file && existsSync(cover)) coverText = readFileSync(cover, "utf8");
  } else if (decl.b4) {
    kind = "b4";
    const lore = decl.lore ?? process.env.KILN_LORE_URL;
    const line = lineOf("b4");
    if (!lore) throw new ProjectError(`[series] b4 = "${decl.b4}" needs a lore base URL`, { file: toml, ...(line ? { line } : {}) }, 'add lore = "https://lore.kernel.org/all" under [series], or set KILN_LORE_URL');
    const msgid = decl.b4.replace(/^<|>$/g, "");
    const got = await fetchWithB4(msgid, lore);
    text = got.mbx;
    coverText = got.cover;
    origin = `${lore.replace(/\/+$/, "")}/${msgid}`;
    file = origin;
  } else throw new ProjectError("internal: readMailedSeries without mbox or b4");

  const scratchRoot = join(kilnHome(), "tmp");
  mkdirSync(scratchRoot, { recursive: true });
  const scratch = mkdtempSync(join(scratchRoot, "mbox-"));
  let texts: string[];
  try {
    const mboxFile = join(scratch, "series.mbx");
    writeFileSync(mboxFile, text);
    texts = await splitMbox(mboxFile, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const o = seriesOfMails(texts, kind === "mbox" ? file : origin, coverText);
  const total = o.patches.length;
  const patches = o.patches.map((p) => ({
    position: position(p, total),
    subject: p.headers.subject ?? "",
    ...(p.headers.messageId ? { messageId: p.headers.messageId } : {}),
    text: p.text,
    sha256: sha256(p.text),
  }));
  const coverSubject = o.cover?.headers.subject;
  const labelSubject = decl.subject ?? coverSubject ?? patches[0]!.subject;
  const messageId = (kind === "b4" ? decl.b4!.replace(/^<|>$/g, "") : undefined) ?? o.cover?.headers.messageId ?? patches[0]?.messageId;
  const base = baseCommit(o.cover?.text ?? "") ?? baseCommit(o.patches[o.patches.length - 1]?.text ?? "");
  return {
    kind,
    origin,
    file,
    ...(messageId ? { messageId } : {}),
    revision: o.revision,
    ...(coverSubject ? { cover: coverSubject } : {}),
    patches,
    mboxSha256: sha256(text),
    slug: refSlug(inferLabel({ seriesSubject: labelSubject })),
    ...(base ? { baseCommit: base } : {}),
  };
}

export interface MailedApplied {
  tree: string;
  /** refs/heads/b4/<slug> */
  ref: string;
  /** One commit per patch, in order; the last is the ref's head. */
  commits: string[];
  reused: boolean;
}

const KILN_IDENT = { name: "kiln", email: "kiln@localhost" };

/** Apply a mailed series onto baseTree with `git am` semantics (see the file comment). */
export async function applyMailed(git: GitStore, baseTree: string, series: MailedSeries, cacheDir: string, parentCommit?: string): Promise<MailedApplied> {
  const ref = `refs/heads/b4/${series.slug}`;
  const key = sha256(`kiln-mailed/1\0${baseTree}\0${parentCommit ?? ""}\0${series.patches.map((p) => p.sha256).join("\n")}`);
  const record = join(cacheDir, "patched", `mailed-${key}.json`);
  if (existsSync(record)) {
    const r = JSON.parse(readFileSync(record, "utf8")) as MailedApplied;
    if ((await git.hasObject(r.tree)) && (await git.hasObject(r.commits[r.commits.length - 1]!))) {
      await git.git(["update-ref", ref, r.commits[r.commits.length - 1]!]);
      return { ...r, ref, reused: true };
    }
  }
  mkdirSync(join(cacheDir, "patched"), { recursive: true });
  const scratch = mkdtempSync(join(cacheDir, "patched", ".am-"));
  const index = join(scratch, "index");
  const env = (who: { name: string; email: string; date: string }) => ({
    GIT_AUTHOR_NAME: who.name,
    GIT_AUTHOR_EMAIL: who.email,
    GIT_AUTHOR_DATE: who.date,
    GIT_COMMITTER_NAME: KILN_IDENT.name,
    GIT_COMMITTER_EMAIL: KILN_IDENT.email,
    // --committer-date-is-author-date: the same mails give the same commits
    GIT_COMMITTER_DATE: who.date,
  });
  try {
    let parent = parentCommit;
    if (!parent) {
      // A tarball pin has a tree and no commit: the branch starts at a commit of the bare tree.
      const r = await git.git(["commit-tree", baseTree, "-m", `kiln: source tree ${baseTree}`], { env: env({ ...KILN_IDENT, date: "@0 +0000" }) });
      parent = r.stdout.trim();
    }
    await git.git(["read-tree", baseTree], { index });
    const commits: string[] = [];
    let tree = baseTree;
    for (const [i, p] of series.patches.entries()) {
      const mail = join(scratch, `mail-${i}`);
      const msg = join(scratch, `msg-${i}`);
      const patch = join(scratch, `patch-${i}`);
      writeFileSync(mail, p.text);
      const info = await run(["git", "mailinfo", "-u", msg, patch], { input: readFileSync(mail), env: { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } });
      const field = (k: string) => new RegExp(`^${k}: (.*)$`, "m").exec(info.stdout)?.[1]?.trim() ?? "";
      const named = `patch ${p.position} "${p.subject}"`;
      if (readFileSync(patch, "utf8").trim() === "") throw new GateFailure(`${named} holds no diff`, { file: series.file });
      const r = await git.git(["apply", "--cached", "--verbose", "--whitespace=nowarn", patch], { index, allowFail: true, env: { LC_ALL: "C" } });
      if (r.exitCode !== 0) {
        const f = applyFailures(r.all, readFileSync(patch, "utf8"));
        const lines = f.length
          ? f.map((x) => `${x.file ? `${x.file}: ` : ""}${x.hunk ? `hunk #${x.hunk} (${x.header}) ` : ""}${x.reason}${x.line !== undefined ? ` at line ${x.line}` : ""}`)
          : [r.all.trim().split("\n").slice(-4).join("\n  ")];
        throw new GateFailure(
          `the mailed series does not apply (git am): ${named}${/^\d+\/\d+$/.test(p.position) && !p.subject.includes(p.position) ? ` (${p.position})` : ""}:\n  ${lines.join("\n  ")}`,
          { file: series.file },
          series.baseCommit
            ? `the series says it is based on ${series.baseCommit}; pin that commit, or ask for a revision rebased onto this source`
            : "the series was made against another tree; pin the tree it was made against, or ask for a rebased revision",
        );
      }
      tree = await git.out(["write-tree"], { index });
      const subject = field("Subject");
      const body = readFileSync(msg, "utf8").trim();
      const message = `${subject}\n\n${body}\n`;
      const c = await git.git(["commit-tree", tree, "-p", parent], { input: message, env: env({ name: field("Author") || "unknown", email: field("Email") || "unknown@localhost", date: field("Date") || "@0 +0000" }) });
      parent = c.stdout.trim();
      commits.push(parent);
    }
    await git.keep("trees", tree);
    await git.git(["update-ref", ref, parent]);
    const result: MailedApplied = { tree, ref, commits, reused: false };
    writeFileAtomic(record, JSON.stringify(result));
    return result;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Where the series came from, short: the mbox's file name or the message-id. */
export function mailedName(s: MailedSeries): string {
  return s.kind === "mbox" ? basename(s.file) : `<${s.messageId}>`;
}
