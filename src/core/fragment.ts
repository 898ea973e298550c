/**
 * Kconfig fragments: parse, merge with provenance, and compare with a final .config. Pure.
 *
 * A fragment line is `CONFIG_X=value`, `# CONFIG_X is not set` (read as =n), a comment or blank.
 * Anything else is malformed and gets a file:line error. A symbol given twice in one fragment
 * is an error; a later fragment changing an earlier value is a redefinition (recorded).
 */
export interface Origin {
  file: string;
  line: number;
  layer?: string;
}

export interface Request {
  symbol: string; // without the CONFIG_ prefix
  value: string; // y, m, n, a number, or a quoted string as written
  origin: Origin;
  /** Reason given on a preceding "# kiln-allow: <reason>" line: a mismatch is expected. */
  allow?: string;
}

/** A comment line that exempts the next CONFIG line from the mismatch gate, with a reason. */
export const ALLOW = /^#\s*kiln-allow:\s*(\S.*)$/;

export interface FragmentIssue {
  kind: "malformed" | "duplicate";
  origin: Origin;
  message: string;
}

export interface Redefinition {
  symbol: string;
  from: Request;
  to: Request;
}

const SET = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^# CONFIG_([A-Za-z0-9_]+) is not set\s*$/;

export function parseFragment(text: string, file: string, layer?: string): { requests: Request[]; issues: FragmentIssue[] } {
  const requests: Request[] = [];
  const issues: FragmentIssue[] = [];
  const seen = new Map<string, number>();
  const lines = text.split("\n");
  let allow: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    const line = raw.trim();
    const origin: Origin = { file, line: i + 1, ...(layer ? { layer } : {}) };
    let m: RegExpExecArray | null;
    let req: Request | undefined;
    if ((m = ALLOW.exec(line))) {
      allow = m[1]!.trim();
      continue;
    }
    if ((m = UNSET.exec(line))) req = { symbol: m[1]!, value: "n", origin };
    else if ((m = SET.exec(line))) {
      const value = m[2]!.trim();
      if (!isValidValue(value)) {
        issues.push({ kind: "malformed", origin, message: `CONFIG_${m[1]}: cannot read the value ${JSON.stringify(value)} (expected y, m, n, a number, 0x… or a "quoted string")` });
        continue;
      }
      req = { symbol: m[1]!, value, origin };
    } else if (line === "" || line.startsWith("#")) {
      if (line === "") allow = undefined;
      continue;
    }
    else {
      issues.push({ kind: "malformed", origin, message: `not a CONFIG_ line (${raw.length} characters; not quoted, since a line that is not Kconfig may be anything, e.g. a secret) (expected CONFIG_X=value or "# CONFIG_X is not set")` });
      continue;
    }
    const prev = seen.get(req.symbol);
    if (prev !== undefined) {
      issues.push({ kind: "duplicate", origin, message: `CONFIG_${req.symbol} is given twice in this fragment (first at line ${prev})` });
      continue;
    }
    seen.set(req.symbol, i + 1);
    if (allow) req.allow = allow;
    allow = undefined;
    requests.push(req);
  }
  return { requests, issues };
}

function isValidValue(v: string): boolean {
  return /^(y|m|n)$/.test(v) || /^-?[0-9]+$/.test(v) || /^0x[0-9a-fA-F]+$/.test(v) || /^"(?:[^"\\]|\\.)*"$/.test(v);
}

/** Merge fragments in order; later wins. Returns the effective requests and every redefinition. */
export function mergeRequests(lists: readonly Request[][]): { merged: Map<string, Request>; redefinitions: Redefinition[] } {
  const merged = new Map<string, Request>();
  const redefinitions: Redefinition[] = [];
  for (const list of lists) {
    for (const r of list) {
      const prev = merged.get(r.symbol);
      if (prev && prev.value !== r.value) redefinitions.push({ symbol: r.symbol, from: prev, to: r });
      merged.set(r.symbol, r);
    }
  }
  return { merged, redefinitions };
}

/** Read a .config into symbol -> value; "# CONFIG_X is not set" is n. */
export function parseDotConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = UNSET.exec(line))) out.set(m[1]!, "n");
    else if ((m = SET.exec(line))) out.set(m[1]!, m[2]!);
  }
  return out;
}

export interface Dropped {
  symbol: string;
  requested: string;
  actual: string; // "n" when unset or absent
  present: boolean; // false when the symbol is not in the final config at all
  origin: Origin;
  /** The opt-out reason, when the line was marked "# kiln-allow: <reason>". */
  allow?: string;
}

/** Every requested value that did not survive configuration. */
export function droppedValues(merged: Map<string, Request>, final: Map<string, string>): Dropped[] {
  const out: Dropped[] = [];
  for (const r of merged.values()) {
    const actual = final.get(r.symbol);
    const a = actual ?? "n";
    if (!sameValue(r.value, a)) out.push({ symbol: r.symbol, requested: r.value, actual: a, present: actual !== undefined, origin: r.origin, ...(r.allow ? { allow: r.allow } : {}) });
  }
  return out.sort((x, y) => x.origin.file.localeCompare(y.origin.file) || x.origin.line - y.origin.line);
}

function sameValue(req: string, act: string): boolean {
  if (req === act) return true;
  if (/^0x/i.test(req) && /^0x/i.test(act)) return BigInt(req) === BigInt(act);
  return false;
}

export function formatDropped(d: Dropped): string {
  const where = `${d.origin.file}:${d.origin.line}`;
  const act = d.present ? `CONFIG_${d.symbol}=${d.actual}` : `CONFIG_${d.symbol} absent (no such symbol for this arch, or its menu is off)`;
  return `${where}: requested CONFIG_${d.symbol}=${d.requested}, got ${act}${d.allow ? ` (allowed: ${d.allow})` : ""}`;
}
