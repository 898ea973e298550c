/**
 * Config invariants: required symbols with an exact value, forbidden symbols (any y or
 * m is a violation), each rule common or scoped to arches and/or variants (a variant is a target
 * name), or to everything but some variants. Pure: rules and a final config in, violations out.
 */
export interface InvariantRule {
  /** Where the rule is declared, for messages (file:line). */
  origin: string;
  arches?: string[];
  variants?: string[];
  not_variants?: string[];
  required: Record<string, string>;
  forbidden: string[];
}

export interface Violation {
  kind: "required" | "forbidden";
  symbol: string;
  want?: string;
  got: string | undefined;
  origin: string;
  message: string;
}

const strip = (s: string) => s.replace(/^CONFIG_/, "");

export function applies(r: InvariantRule, arch: string, variant: string): boolean {
  if (r.arches && !r.arches.includes(arch)) return false;
  if (r.variants && !r.variants.includes(variant)) return false;
  if (r.not_variants && r.not_variants.includes(variant)) return false;
  return true;
}

/** Check a final config (symbol without CONFIG_ -> value; absent means unset) against the rules. */
export function checkInvariants(rules: readonly InvariantRule[], config: ReadonlyMap<string, string>, arch: string, variant: string): Violation[] {
  const out: Violation[] = [];
  for (const r of rules) {
    if (!applies(r, arch, variant)) continue;
    for (const [sym0, want] of Object.entries(r.required)) {
      const sym = strip(sym0);
      const got = config.get(sym);
      const gotN = got ?? "n";
      if (gotN !== want) {
        out.push({ kind: "required", symbol: sym, want, got, origin: r.origin, message: `required CONFIG_${sym}=${want} but got CONFIG_${sym}=${got === undefined || got === "n" ? "UNSET" : got}` });
      }
    }
    for (const sym0 of r.forbidden) {
      const sym = strip(sym0);
      const got = config.get(sym);
      if (got === "y" || got === "m") out.push({ kind: "forbidden", symbol: sym, got, origin: r.origin, message: `forbidden CONFIG_${sym}=${got} (must be unset for ${arch}/${variant})` });
    }
  }
  return out;
}
