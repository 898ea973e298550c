/**
 * The config audit (issue "config truth", after Yocto's): every requested symbol compared with
 * the final config, classified. Pure: the Kconfig facts come in as functions.
 *
 *   mismatch   requested and final values differ (with why, from the Kconfig reader)
 *   unknown    no such symbol in this tree's Kconfig for this arch
 *   redefined  a later layer changed an earlier value, and that layer is not an override
 *   malformed  a fragment line cannot be read (or gives a symbol twice)
 *   invalid value   kconfig rejects the value for the symbol's type (found before make runs)
 *   merge deleted   merge_config.sh's substring `sed` deleted the line for another symbol
 */
import type { Dropped, FragmentIssue, MergeDeletion, Redefinition } from "./fragment.js";

export type FindingKind = "mismatch" | "unknown" | "redefined" | "malformed" | "invalid value" | "merge deleted";

export interface Finding {
  kind: FindingKind;
  symbol?: string;
  requested?: string;
  actual?: string;
  layer?: string;
  file: string;
  line: number;
  /** Why the value is what it is, or what is wrong with the line. */
  why: string;
  /** What would fix it (enable X, drop Y, use a value in range). */
  fix?: string[];
  /** An opt-out reason ("# kiln-allow: …"): shown, not fatal. */
  allowed?: string;
}

export interface KconfigFacts {
  known(symbol: string): boolean;
  /** Why the request lost: one sentence "requested X -> got Y, because ...". */
  why(symbol: string, requested: string): string;
  fix?(symbol: string, requested: string): string[];
}

export function auditFindings(i: {
  dropped: readonly Dropped[];
  redefinitions: readonly (Redefinition & { override: boolean })[];
  issues: readonly FragmentIssue[];
  deletions?: readonly MergeDeletion[];
  facts?: KconfigFacts;
}): Finding[] {
  const out: Finding[] = [];
  const at = (o: { file: string; line: number }): string => `${o.file}:${o.line}`;
  const claimed = new Set<string>();
  for (const m of i.issues) {
    out.push({ kind: m.kind === "invalid" ? "invalid value" : "malformed", ...(m.symbol ? { symbol: m.symbol } : {}), ...(m.value !== undefined ? { requested: m.value } : {}), file: m.origin.file, line: m.origin.line, ...(m.origin.layer ? { layer: m.origin.layer } : {}), why: m.message });
    if (m.kind === "invalid") claimed.add(at(m.origin));
  }
  for (const x of i.deletions ?? []) {
    claimed.add(at(x.origin));
    out.push({
      kind: "merge deleted",
      symbol: x.symbol,
      requested: x.value,
      file: x.origin.file,
      line: x.origin.line,
      ...(x.origin.layer ? { layer: x.origin.layer } : {}),
      why: `merge_config.sh deleted this line: CONFIG_${x.by.symbol} at ${at(x.by.origin)} matches inside the name (its sed "/CONFIG_${x.by.symbol}[ =]/d" is a substring match), so kconfig never saw CONFIG_${x.symbol}=${x.value}`,
      fix: [`put CONFIG_${x.symbol}=${x.value} in a fragment merged after ${x.by.origin.file}, or set CONFIG_${x.by.symbol} earlier than it`],
    });
  }
  for (const d of i.dropped) {
    // The line already has its own finding (kconfig rejected the value, or merge_config deleted it).
    if (claimed.has(at(d.origin))) continue;
    const base = {
      symbol: d.symbol,
      requested: d.requested,
      actual: d.present ? d.actual : "n",
      file: d.origin.file,
      line: d.origin.line,
      ...(d.origin.layer ? { layer: d.origin.layer } : {}),
      ...(d.allow ? { allowed: d.allow } : {}),
    };
    if (i.facts && !i.facts.known(d.symbol)) out.push({ kind: "unknown", ...base, why: `CONFIG_${d.symbol} is not defined by any Kconfig file for this arch` });
    else {
      const fix = i.facts?.fix?.(d.symbol, d.requested) ?? [];
      out.push({ kind: "mismatch", ...base, why: i.facts ? i.facts.why(d.symbol, d.requested) : `CONFIG_${d.symbol} is ${d.present ? d.actual : "not set"} after olddefconfig`, ...(fix.length ? { fix } : {}) });
    }
  }
  for (const r of i.redefinitions) {
    if (r.override) continue;
    out.push({
      kind: "redefined",
      symbol: r.symbol,
      requested: r.to.value,
      actual: r.from.value,
      file: r.to.origin.file,
      line: r.to.origin.line,
      ...(r.to.origin.layer ? { layer: r.to.origin.layer } : {}),
      why: `redefines CONFIG_${r.symbol}=${r.from.value} from ${r.from.origin.file}:${r.from.origin.line}${r.from.origin.layer ? ` (layer ${r.from.origin.layer})` : ""}; declare this layer an override if that is intended`,
    });
  }
  return out;
}

/** Findings that fail the gate: all but opted-out ones. */
export function fatalFindings(f: readonly Finding[]): Finding[] {
  return f.filter((x) => !x.allowed);
}

export function formatFinding(f: Finding): string {
  const head = `${f.file}:${f.line}: ${f.kind}`;
  const what = f.symbol ? ` CONFIG_${f.symbol}${f.requested !== undefined ? ` requested ${f.requested}` : ""}${f.actual !== undefined && f.kind !== "redefined" ? `, got ${f.actual}` : ""}` : "";
  const fix = f.fix?.length && !f.why.includes(f.fix.join(", ")) ? `\n    to fix: ${f.fix.join("; ")}` : "";
  return `${head}${what}${f.layer ? ` [layer ${f.layer}]` : ""}: ${f.why}${f.allowed ? ` (allowed: ${f.allowed})` : ""}${fix}`;
}
