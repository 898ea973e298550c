/**
 * Mailed series, the pure part: read the headers of one mail, read a patch subject's prefix
 * ("[PATCH v3 2/5] title"), put a series' mails in order (the cover letter apart), and find the
 * hunk a `git apply` failure points at. No I/O: src/pipeline/series.ts feeds it the mails that
 * `git mailsplit` cut from the mbox.
 */

export interface MailHeaders {
  subject?: string;
  messageId?: string;
  date?: string;
  from?: string;
  inReplyTo?: string;
}

/** The headers kiln reads from one RFC 822 mail (folded lines joined), up to the first empty line. */
export function mailHeaders(mail: string): MailHeaders {
  const end = mail.search(/\r?\n\r?\n/);
  const head = (end >= 0 ? mail.slice(0, end) : mail).replace(/\r\n/g, "\n").replace(/\n[ \t]+/g, " ");
  const out: MailHeaders = {};
  for (const line of head.split("\n")) {
    const m = /^([A-Za-z-]+):[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (key === "subject" && out.subject === undefined) out.subject = value;
    else if (key === "message-id" && out.messageId === undefined) out.messageId = value.replace(/^<|>$/g, "");
    else if (key === "date" && out.date === undefined) out.date = value;
    else if (key === "from" && out.from === undefined) out.from = value;
    else if (key === "in-reply-to" && out.inReplyTo === undefined) out.inReplyTo = value.replace(/^<|>$/g, "");
  }
  return out;
}

export interface SubjectParts {
  /** The series revision: v3 -> 3; 1 when the prefix names none. */
  revision: number;
  /** N of N/M, or undefined for a single patch with no counter. */
  n?: number;
  m?: number;
  /** The subject without its [..] prefixes. */
  title: string;
}

/** "[PATCH v3 2/5] mm: foo" -> { revision: 3, n: 2, m: 5, title: "mm: foo" }. Also "[RFC PATCH]", "[PATCH 1/2 v2]". */
export function subjectParts(subject: string): SubjectParts {
  let rest = subject.trim();
  let revision = 1;
  let n: number | undefined;
  let m: number | undefined;
  for (let br = /^\[([^\]]*)\]\s*/.exec(rest); br; br = /^\[([^\]]*)\]\s*/.exec(rest)) {
    for (const word of br[1]!.split(/\s+/)) {
      const v = /^v([0-9]+)$/i.exec(word);
      if (v) revision = Number(v[1]);
      const nm = /^([0-9]+)\/([0-9]+)$/.exec(word);
      if (nm) [n, m] = [Number(nm[1]), Number(nm[2])];
    }
    rest = rest.slice(br[0].length);
  }
  return { revision, ...(n !== undefined ? { n, m: m! } : {}), title: rest };
}

export interface SeriesMail {
  /** Position in the mbox, 1-based, for messages. */
  index: number;
  text: string;
  headers: MailHeaders;
  parts: SubjectParts;
}

export interface OrderedSeries {
  cover?: SeriesMail;
  patches: SeriesMail[];
  revision: number;
  problems: string[];
}

/** Does the mail carry a diff (what `git am` would apply)? */
export function hasDiff(mail: string): boolean {
  return /^(diff --git |--- \S)/m.test(mail) && /^@@ |^GIT binary patch|^(rename|new file|deleted file) /m.test(mail);
}

/**
 * The cover letter (0/M, or a mail with no diff) and the patches in N order, with what is wrong:
 * a gap in 1..M, two mails with the same N, revisions that disagree.
 */
export function orderSeries(mails: SeriesMail[]): OrderedSeries {
  const problems: string[] = [];
  let cover: SeriesMail | undefined;
  const patches: SeriesMail[] = [];
  for (const x of mails) {
    if (x.parts.n === 0 || !hasDiff(x.text)) {
      if (cover) problems.push(`mail ${x.index} ("${x.headers.subject ?? "no subject"}") holds no patch and is not the first cover letter`);
      else cover = x;
    } else patches.push(x);
  }
  const counted = patches.every((p) => p.parts.n !== undefined);
  if (counted) patches.sort((a, b) => a.parts.n! - b.parts.n!);
  if (patches.length === 0) problems.push("the mbox holds no patch (no mail with a diff)");
  const total = cover?.parts.m ?? patches[0]?.parts.m;
  if (counted && total !== undefined && patches.length) {
    const seen = new Set<number>();
    for (const p of patches) {
      if (seen.has(p.parts.n!)) problems.push(`patch ${p.parts.n}/${total} appears twice (mail ${p.index})`);
      seen.add(p.parts.n!);
      if (p.parts.m !== total) problems.push(`mail ${p.index} says ${p.parts.n}/${p.parts.m}, the series has ${total}`);
    }
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !seen.has(i));
    if (missing.length) problems.push(`patch(es) ${missing.map((i) => `${i}/${total}`).join(", ")} missing from the mbox`);
  }
  const revs = new Set([...(cover ? [cover] : []), ...patches].map((x) => x.parts.revision));
  if (revs.size > 1) problems.push(`the mails mix revisions ${[...revs].map((r) => `v${r}`).join(", ")}`);
  return { ...(cover ? { cover } : {}), patches, revision: cover?.parts.revision ?? patches[0]?.parts.revision ?? 1, problems };
}

/** "2/5" for a patch, or "1/1" when it has no counter. */
export function position(p: SeriesMail, total: number): string {
  return p.parts.n !== undefined ? `${p.parts.n}/${p.parts.m}` : `${p.index}/${total}`;
}

/** The series' `base-commit:` trailer (b4 and `git format-patch --base` write it), if any. */
export function baseCommit(text: string): string | undefined {
  return /^base-commit: ([0-9a-f]{7,64})\s*$/m.exec(text)?.[1];
}

export interface ApplyFailure {
  file: string;
  /** The line `git apply` reports ("patch failed: f:12"). */
  line?: number;
  /** The hunk (1-based) that starts there, and its @@ header. */
  hunk?: number;
  header?: string;
  reason: string;
}

/** Read `git apply`'s errors into file / line / hunk, with the hunk found in the patch text. */
export function applyFailures(output: string, patch: string): ApplyFailure[] {
  const out: ApplyFailure[] = [];
  const failedAt = new Map<string, number>();
  for (const raw of output.split("\n")) {
    const l = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^error: patch failed: (.+):([0-9]+)$/.exec(l))) failedAt.set(m[1]!, Number(m[2]));
    else if ((m = /^error: (.+?): patch does not apply$/.exec(l))) {
      const file = m[1]!;
      const line = failedAt.get(file);
      const h = line !== undefined ? hunkAt(patch, file, line) : undefined;
      out.push({ file, ...(line !== undefined ? { line } : {}), ...(h ? { hunk: h.n, header: h.header } : {}), reason: "does not apply" });
    } else if ((m = /^error: (.+?): (does not exist in index|No such file or directory)$/.exec(l))) out.push({ file: m[1]!, reason: "does not exist in the tree" });
    else if ((m = /^error: (.+?): already exists in index$/.exec(l))) out.push({ file: m[1]!, reason: "already exists in the tree (the patch creates it)" });
    else if ((m = /^error: (.+)$/.exec(l)) && !/^error: (patch failed:|while searching for:)/.test(l)) out.push({ file: "", reason: m[1]! });
  }
  return out;
}

/** The hunk of `file` in a patch whose old range starts at `line`. */
export function hunkAt(patch: string, file: string, line: number): { n: number; header: string } | undefined {
  let inFile = false;
  let n = 0;
  for (const l of patch.split("\n")) {
    if (l.startsWith("diff --git ")) {
      inFile = false;
      n = 0;
    }
    if (l.startsWith("--- ") || l.startsWith("+++ ")) {
      const p = l.slice(4).replace(/\t.*$/, "").trim();
      if (p.replace(/^[ab]\//, "") === file) inFile = true;
      continue;
    }
    if (!inFile) continue;
    const m = /^@@ -([0-9]+)(?:,[0-9]+)? \+[0-9]+(?:,[0-9]+)? @@/.exec(l);
    if (m) {
      n++;
      if (Number(m[1]) === line) return { n, header: m[0] };
    }
  }
  return undefined;
}
