/**
 * Patch provenance, pure: read the headers distributions put on top of their patches and turn
 * them into one record (status, origin, upstream commit, bug references), each field naming the
 * header line it came from.
 *
 * Read here:
 * - DEP-3 (Debian): Description/Subject, Author/From, Origin, Forwarded, Applied-Upstream,
 *   Bug and Bug-<Vendor>, Last-Update;
 * - SUSE kernel-source: Patch-mainline (a version like v6.8-rc1, "Never, ...", "Queued ...",
 *   "Submitted ...", "Not yet, ..."), Git-commit, References;
 * - Yocto: Upstream-Status (Pending, Submitted [where], Backport [version], Denied,
 *   Inappropriate [why], Accepted, Inactive-Upstream);
 * - git format-patch: the mbox From/Date/Subject lines, and in the message the stable-kernel
 *   "commit <sha> upstream." / "[ Upstream commit <sha> ]" and "(cherry picked from commit <sha>)".
 */

export type ProvenanceStatus = "upstream" | "backport" | "submitted" | "pending" | "never" | "inappropriate" | "unknown";

export type HeaderFormat = "dep3" | "suse" | "yocto" | "git";

/** One header line: its 1-based number in the patch file and its text. */
export interface HeaderLine {
  line: number;
  text: string;
}

export interface Provenance {
  /**
   * upstream: merged upstream (in `version` when known); backport: taken from upstream into this
   * older tree; submitted: sent or queued, not merged; pending: not sent yet; never: will not go
   * upstream (or was refused); inappropriate: not meant for upstream; unknown: no header says.
   */
  status: ProvenanceStatus;
  /** The upstream version the change is in ("6.8-rc1"), when a header names one. */
  version?: string;
  /** Where the patch comes from: a URL, "upstream", "vendor, <url>", a mailing list. */
  origin?: string;
  /** The upstream commit (hex), when a header or the message names one. */
  upstreamCommit?: string;
  /** Bug and tracker references: URLs, bsc#N, CVE-N, Debian bug numbers. */
  bugs: string[];
  /** Free text after the status: where it was submitted, why it is inappropriate, a reason. */
  note?: string;
  subject?: string;
  author?: string;
  lastUpdate?: string;
  /** The header formats seen. */
  formats: HeaderFormat[];
  /** The header line each field came from. */
  from: {
    status?: HeaderLine;
    version?: HeaderLine;
    origin?: HeaderLine;
    upstreamCommit?: HeaderLine;
    bugs: HeaderLine[];
    subject?: HeaderLine;
    author?: HeaderLine;
    lastUpdate?: HeaderLine;
  };
}

interface Field {
  key: string;
  value: string;
  /** The value on the field's own line (DEP-3's short description), without continuations. */
  first: string;
  line: number;
  text: string;
}

/** The header part of a patch: everything before the first diff. */
export function headerText(patch: string): string {
  const lines = patch.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith("diff --git ") || l.startsWith("Index: ") || (l.startsWith("--- ") && lines[i + 1]?.startsWith("+++ "))) return lines.slice(0, i).join("\n");
  }
  return patch;
}

/** `Key: value` fields of the header (continuation lines joined), with their line numbers. */
export function headerFields(patch: string): Field[] {
  const lines = headerText(patch).split("\n");
  const out: Field[] = [];
  let cur: Field | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (cur && /^[ \t]+\S/.test(raw)) {
      // DEP-3 continuation (" ." is an empty paragraph line)
      const t = raw.trim();
      cur.value = `${cur.value}${t === "." ? "\n" : ` ${t}`}`.trim();
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$/.exec(raw);
    if (m) {
      cur = { key: m[1]!.toLowerCase(), value: m[2]!.trim(), first: m[2]!.trim(), line: i + 1, text: raw };
      out.push(cur);
    } else cur = undefined;
  }
  return out;
}

const HEX = /\b([0-9a-f]{12,40})\b/;
const VERSION = /^v?(\d+\.\d+(?:\.\d+)?(?:-rc\d+)?)\b/;

/** A commit hash inside a URL or text ("…/commit/?id=<sha>", "…/linus/<sha>", "commit <sha>"). */
export function commitIn(text: string): string | undefined {
  const m = /(?:[?&]id=|\/commit\/|\/linus\/|\/c\/|commit[: ]\s*|\bh=)([0-9a-f]{7,40})\b/i.exec(text) ?? HEX.exec(text);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** A kernel version at the start of a text ("v6.8-rc1", "6.8", "6.12.3, https://…"). */
export function versionIn(text: string): string | undefined {
  const m = VERSION.exec(text.trim());
  return m ? m[1] : undefined;
}

const STRENGTH: Record<ProvenanceStatus, number> = { unknown: 0, pending: 1, submitted: 2, inappropriate: 3, never: 3, backport: 4, upstream: 5 };

/** Read a patch's provenance from its headers. */
export function parseProvenance(patch: string): Provenance {
  const fields = headerFields(patch);
  const p: Provenance = { status: "unknown", bugs: [], formats: [], from: { bugs: [] } };
  const fmt = (f: HeaderFormat) => p.formats.includes(f) || p.formats.push(f);
  const at = (f: Field): HeaderLine => ({ line: f.line, text: f.text });
  const claim = (status: ProvenanceStatus, f: Field, extra: { version?: string; note?: string } = {}) => {
    if (STRENGTH[status] < STRENGTH[p.status]) return;
    if (STRENGTH[status] === STRENGTH[p.status] && p.from.status && !extra.version) return;
    p.status = status;
    p.from.status = at(f);
    if (extra.version) {
      p.version = extra.version;
      p.from.version = at(f);
    }
    if (extra.note) p.note = extra.note;
    else delete p.note;
  };
  const commit = (sha: string | undefined, f: Field) => {
    if (!sha || p.upstreamCommit) return;
    p.upstreamCommit = sha;
    p.from.upstreamCommit = at(f);
  };
  const bug = (refs: string[], f: Field) => {
    for (const r of refs) if (r && !p.bugs.includes(r)) p.bugs.push(r);
    if (refs.length) p.from.bugs.push(at(f));
  };
  const bracket = (v: string) => /\[([^\]]*)\]/.exec(v)?.[1]?.trim();

  const first = patch.split("\n", 1)[0] ?? "";
  if (/^From [0-9a-f]{40} /.test(first)) fmt("git");

  for (const f of fields) {
    const v = f.value;
    switch (f.key) {
      case "subject":
        if (!p.subject) (p.subject = v.replace(/^\[PATCH[^\]]*\]\s*/i, "")), (p.from.subject = at(f));
        break;
      case "description":
        fmt("dep3");
        if (!p.subject) (p.subject = f.first), (p.from.subject = at(f));
        break;
      case "from":
      case "author":
        if (!p.author) (p.author = v), (p.from.author = at(f));
        break;
      case "last-update":
        fmt("dep3");
        p.lastUpdate = v;
        p.from.lastUpdate = at(f);
        break;
      case "origin": {
        fmt("dep3");
        if (!p.origin) (p.origin = v), (p.from.origin = at(f));
        const kind = /^(upstream|backport|vendor|other)\b/i.exec(v)?.[1]?.toLowerCase();
        // DEP-3: "upstream" is a patch taken from upstream (here: a backport onto an older tree)
        if (kind === "upstream" || kind === "backport") claim("backport", f);
        commit(commitIn(v.replace(/^\w+,\s*/, "")), f);
        break;
      }
      case "forwarded": {
        fmt("dep3");
        const l = v.toLowerCase();
        if (l === "no") claim("pending", f);
        else if (l === "not-needed") claim("inappropriate", f);
        else claim("submitted", f, { note: v });
        break;
      }
      case "applied-upstream": {
        fmt("dep3");
        const ver = versionIn(v);
        claim("upstream", f, ver ? { version: ver } : {});
        commit(commitIn(v), f);
        break;
      }
      case "bug":
      case "bug-debian":
      case "bug-ubuntu":
      case "bug-fedora":
        fmt("dep3");
        bug(v.split(/[\s,]+/).filter(Boolean), f);
        break;
      case "patch-mainline": {
        fmt("suse");
        const ver = versionIn(v);
        if (ver) claim("upstream", f, { version: ver });
        else if (/^(never|no)\b/i.test(v)) claim("never", f, { note: v.replace(/^(never|no)\b[,;:]?\s*/i, "") });
        else if (/^(queued|submitted)\b/i.test(v)) claim("submitted", f, { note: v });
        else if (/^not[ -]yet\b/i.test(v)) claim("pending", f, { note: v.replace(/^not[ -]yet\b[,;:]?\s*/i, "") });
        else if (/^yes\b/i.test(v)) claim("upstream", f);
        break;
      }
      case "git-commit":
        fmt("suse");
        commit(commitIn(v), f);
        break;
      case "git-repo":
        fmt("suse");
        if (!p.origin) (p.origin = v), (p.from.origin = at(f));
        break;
      case "references":
        fmt("suse");
        bug(v.split(/[\s,;]+/).filter(Boolean), f);
        break;
      case "upstream-status": {
        fmt("yocto");
        const word = /^([A-Za-z-]+)/.exec(v)?.[1]?.toLowerCase() ?? "";
        const br = bracket(v);
        const note = br ? { note: br } : {};
        if (word === "pending") claim("pending", f, note);
        else if (word === "submitted") claim("submitted", f, note);
        else if (word === "backport") {
          const ver = br ? versionIn(br) : undefined;
          claim("backport", f, { ...note, ...(ver ? { version: ver } : {}) });
          if (br) commit(commitIn(br), f);
          if (br && /^https?:/.test(br) && !p.origin) (p.origin = br), (p.from.origin = at(f));
        } else if (word === "denied") claim("never", f, note);
        else if (word === "inappropriate") claim("inappropriate", f, note);
        else if (word === "accepted") claim("upstream", f, note);
        break;
      }
    }
    if (f.key === "date" || f.key === "subject") fmt("git");
  }
  if (p.formats.includes("git") && !fields.some((f) => f.key === "subject")) p.formats.splice(p.formats.indexOf("git"), 1);

  // The message: stable-kernel and cherry-pick lines name the upstream commit.
  const head = headerText(patch).split("\n");
  head.forEach((raw, i) => {
    const m = /^\s*(?:\[\s*)?(?:commit ([0-9a-f]{12,40}) upstream\.?|upstream commit ([0-9a-f]{12,40})\s*\]?)\s*$/i.exec(raw) ?? /\(cherry picked from commit ([0-9a-f]{12,40})\)/.exec(raw);
    if (!m) return;
    const f: Field = { key: "message", value: raw, first: raw, line: i + 1, text: raw };
    commit((m[1] ?? m[2])!.toLowerCase(), f);
    claim("backport", f);
  });
  return p;
}

/** The status as a person reads it: "upstream in 6.8-rc1", "submitted (linux-kernel)". */
export function statusText(p: Provenance): string {
  if (p.status === "upstream") return p.version ? `upstream in ${p.version}` : "upstream";
  if (p.status === "backport") return p.version ? `backport of ${p.version}` : "backport";
  return p.note && p.status !== "pending" ? `${p.status} (${p.note})` : p.status;
}

/** Parse a kernel version ("6.12.57", "v6.8-rc1") into numbers; rc -1 means a release. */
export function parseKernelVersion(v: string): { parts: number[]; rc: number } | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?/.exec(v.trim());
  if (!m) return undefined;
  return { parts: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)], rc: m[4] !== undefined ? Number(m[4]) : -1 };
}

/** a <= b as kernel versions (6.8-rc1 < 6.8 = 6.8.0 < 6.8.1 < 6.12); undefined if either is not one. */
export function versionAtOrBelow(a: string, b: string): boolean | undefined {
  const x = parseKernelVersion(a);
  const y = parseKernelVersion(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 3; i++) if (x.parts[i] !== y.parts[i]) return x.parts[i]! < y.parts[i]!;
  // same numbers: an rc comes before the release; a release "6.8" is at or below "6.8.0"
  const rx = x.rc < 0 ? Infinity : x.rc;
  const ry = y.rc < 0 ? Infinity : y.rc;
  return rx <= ry;
}

/** Whether the provenance says the change is upstream at or below `newVersion` (what bump flags). */
export function upstreamBy(p: Provenance, newVersion: string): boolean {
  return p.status === "upstream" && !!p.version && versionAtOrBelow(p.version, newVersion) === true;
}
