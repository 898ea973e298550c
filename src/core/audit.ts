/**
 * The config audit (issue "config truth", after Yocto's): every requested symbol compared with
 * the final config, classified. Pure: the Kconfig facts come in as functions.
 *
 *   mismatch   requested and final values differ (with why, from the Kconfig reader)
 *   unknown    no such symbol in this tree's Kconfig for this arch
 *   redefined  a later layer changed an earlier value, and that layer is not an override
 *   malformed  a fragment line cannot be read (or gives a symbol twice)
 */
import type { Dropped, FragmentIssue, Redefinition } from "./fragment.js";

export type FindingKind = "mismatch" | "unknown" | "redefined" | "malformed";

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
  /** An opt-out reason ("# kiln-allow: …"): shown, not fatal. */
  allowed?: string;
}

export interface KconfigFacts {
  known(symbol: string): boolean;
  why(symbol: string): string;
}

export function auditFindings(i: {
  dropped: readonly Dropped[];
  redefinitions: readonly (Redefinition & { override: boolean })[];
  issues: readonly FragmentIssue[];
  facts?: KconfigFacts;
}): Finding[] {
  const out: Finding[] = [];
  for (const m of i.issues) out.push({ kind: "malformed", file: m.origin.file, line: m.origin.line, ...(m.origin.layer ? { layer: m.origin.layer } : {}), why: m.message });
  for (const d of i.dropped) {
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
    else out.push({ kind: "mismatch", ...base, why: i.facts ? i.facts.why(d.symbol) : `CONFIG_${d.symbol} is ${d.present ? d.actual : "not set"} after olddefconfig` });
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
  return `${head}${what}${f.layer ? ` [layer ${f.layer}]` : ""}: ${f.why}${f.allowed ? ` (allowed: ${f.allowed})` : ""}`;
}
