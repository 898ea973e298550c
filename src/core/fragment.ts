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

import { parseDotConfig as readConfig } from "../kconfig/dotconfig.js";

export interface FragmentIssue {
  /** invalid: the line reads, but kconfig rejects the value for the symbol's type. */
  kind: "malformed" | "duplicate" | "invalid";
  origin: Origin;
  /** For "invalid": the symbol and the value as written. */
  symbol?: string;
  value?: string;
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
  // Only the shape is checked here; whether kconfig accepts the value for the symbol's type
  // (a leading zero, m for a bool, bare hex digits) needs the Kconfig model: see judgeRequests.
  return /^(y|m|n)$/.test(v) || /^-?[0-9]+$/.test(v) || /^(0[xX])?[0-9a-fA-F]+$/.test(v) || /^"(?:[^"\\]|\\.)*"$/.test(v);
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

/**
 * Read a .config into symbol -> value as written ("# CONFIG_X is not set" is n, strings keep
 * their quotes, so they compare with a fragment's request). The same reader as the Kconfig
 * evaluator's (kconfig/dotconfig.ts), in its as-written form; lines it cannot read are skipped.
 */
export function parseDotConfig(text: string): Map<string, string> {
  return readConfig(text, ".config", { lenient: true, raw: true });
}

/** One input file of a merge_config.sh run. */
export interface MergeInput {
  file: string;
  text: string;
  layer?: string;
}

/** A line merge_config.sh deleted although it sets another symbol (its `sed "/CONFIG_X[ =]/d"`). */
export interface MergeDeletion {
  /** The symbol whose line was deleted. */
  symbol: string;
  value: string;
  origin: Origin;
  /** The later assignment whose name matched inside it. */
  by: { symbol: string; origin: Origin };
}

/**
 * What scripts/kconfig/merge_config.sh hands to kconfig (the same steps as the 6.1 and 6.12
 * scripts): the first file is the base; for each later file, every symbol it sets that occurs as
 * a word in the merged text so far (`grep -q -w`) has all merged lines containing
 * `CONFIG_X ` or `CONFIG_X=` deleted, then the file is appended. The deletion is a substring
 * match, so CONFIG_SPI also deletes CONFIG_FPGA_MGR_LATTICE_SYSCONFIG_SPI=y: those are returned
 * as `deletions`. `text` is the merged file; `origins` maps each of its lines to its source.
 */
export function simulateMergeConfig(inputs: readonly MergeInput[]): { text: string; origins: (Origin | undefined)[]; deletions: MergeDeletion[] } {
  type L = { text: string; origin?: Origin };
  const toLines = (f: MergeInput): L[] =>
    f.text.replace(/\n$/, "").split("\n").map((t, i) => ({ text: t, origin: { file: f.file, line: i + 1, ...(f.layer ? { layer: f.layer } : {}) } }));
  const deletions: MergeDeletion[] = [];
  const first = inputs[0];
  let merged: L[] = first ? toLines(first) : [];
  const word = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
  const hasWord = (text: string, w: string): boolean => {
    for (let i = text.indexOf(w); i >= 0; i = text.indexOf(w, i + 1)) {
      if (!word(text[i - 1]) && !word(text[i + w.length])) return true;
    }
    return false;
  };
  for (const f of inputs.slice(1)) {
    const lines = toLines(f);
    const cfgs: { name: string; origin: Origin }[] = [];
    for (const l of lines) {
      const m = /^(CONFIG_[a-zA-Z0-9_]*)=/.exec(l.text) ?? /^# (CONFIG_[a-zA-Z0-9_]*) is not set$/.exec(l.text);
      if (m) cfgs.push({ name: m[1]!, origin: l.origin! });
    }
    for (const c of cfgs) {
      if (!merged.some((l) => hasWord(l.text, c.name))) continue;
      merged = merged.filter((l) => {
        if (!l.text.includes(c.name + " ") && !l.text.includes(c.name + "=")) return true;
        const own = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(l.text) ?? /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(l.text);
        if (own && `CONFIG_${own[1]}` !== c.name && l.origin) {
          deletions.push({ symbol: own[1]!, value: own[2] ?? "n", origin: l.origin, by: { symbol: c.name.replace(/^CONFIG_/, ""), origin: c.origin } });
        }
        return false;
      });
    }
    merged.push({ text: "" }, ...lines);
  }
  return { text: merged.map((l) => l.text).join("\n") + "\n", origins: merged.map((l) => l.origin), deletions };
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
