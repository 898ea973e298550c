/**
 * Step 6, audit: after configure, classify every requested symbol against the final config and
 * explain each mismatch with the Kconfig reader (src/kconfig), reading the warm tree's Kconfig
 * for the arch being built.
 */
import { loadKconfig, evaluate, explain, parseDotConfig as parseKconfigDotConfig, type KconfigModel, type Evaluation } from "../kconfig/index.js";
import { auditFindings, type Finding, type KconfigFacts } from "../core/audit.js";
import type { ConfigureResult } from "./configure.js";

export interface KconfigView {
  model: KconfigModel;
  ev: Evaluation;
}

/** Parse the tree's Kconfig for arch and evaluate it with the final config as the user's input. */
export function kconfigView(src: string, arch: string, finalConfig: string): KconfigView {
  const model = loadKconfig(src, { arch });
  const final = parseKconfigDotConfig(finalConfig);
  const ev = evaluate(model, { user: final, pinned: final });
  return { model, ev };
}

export function kconfigFacts(v: KconfigView): KconfigFacts {
  return {
    known: (s) => v.model.symbols.has(s),
    why: (s) => explain(v.ev, s).text,
  };
}

export function auditCell(src: string, arch: string, cfg: ConfigureResult, finalConfig: string): Finding[] {
  let facts: KconfigFacts | undefined;
  if (cfg.dropped.length) facts = kconfigFacts(kconfigView(src, arch, finalConfig));
  return auditFindings({ dropped: cfg.dropped, redefinitions: cfg.redefinitions, issues: cfg.issues, ...(facts ? { facts } : {}) });
}
