/**
 * Step 6, audit: after configure, classify every requested symbol against the final config and
 * explain each mismatch with the Kconfig reader (src/kconfig), reading the warm tree's Kconfig
 * for the arch being built.
 *
 * The explanation comes from kiln's own prediction with what kconfig was given as the input:
 * the file merge_config.sh hands to kconfig (simulated, deletions included), read the way
 * kconfig reads it (KCONFIG_ALLCONFIG for the fragments method, olddefconfig otherwise). So
 * the reason given is the reason the request lost, never "as requested". See docs/adr/0015.
 */
import { readFileSync } from "node:fs";
import {
  loadKconfig,
  evaluate,
  explain,
  explainRequest,
  invalidValueReason,
  dotConfigLines,
  parseDotConfig as parseKconfigDotConfig,
  type KconfigModel,
  type Evaluation,
  type EvalInput,
} from "../kconfig/index.js";
import { auditFindings, type Finding, type KconfigFacts } from "../core/audit.js";
import { simulateMergeConfig, type FragmentIssue, type MergeInput, type Request } from "../core/fragment.js";
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

/** The fragment kiln adds last so that it owns the release string (see configure.ts). */
export const IDENTITY_FRAGMENT = '# CONFIG_LOCALVERSION_AUTO is not set\nCONFIG_LOCALVERSION=""\n';
const BASE = "(the method's .config)";

/** What merge_config.sh was given, in order: the method's .config first unless the method is fragments. */
export function mergeInputs(cfg: Pick<ConfigureResult, "method" | "fragments">, finalConfig: string): MergeInput[] {
  const out: MergeInput[] = [];
  // The method's own .config (make goals or preset) is gone; the final one stands in for it: every
  // requested symbol is given again by a later fragment, and the rest is a kconfig fixed point.
  if (cfg.method !== "fragments") out.push({ file: BASE, text: finalConfig });
  for (const f of cfg.fragments) out.push({ file: f.rel, text: readFileSync(f.file, "utf8"), layer: f.layer });
  out.push({ file: "(kiln identity)", text: IDENTITY_FRAGMENT });
  return out;
}

/**
 * The user values kconfig takes from a merged .config text (confdata.c conf_set_sym_val): an
 * unquoted string (`CONFIG_INITRAMFS_SOURCE=y`, or `# ... is not set` for a string) is skipped
 * and a quoted number rejected, so such a line is as if absent (an earlier valid line of the same
 * symbol stays). The other invalid forms (a leading zero, m for a bool) the evaluator ignores.
 */
export function kconfigUserValues(model: KconfigModel, text: string, file = "merged"): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of dotConfigLines(text, file, { lenient: true })) {
    const s = model.symbols.get(l.name);
    if (s && s.nodes.length && s.type !== "unknown" && (s.type === "string" || l.raw.startsWith('"')) && invalidValueReason(s.type, l.raw)) continue;
    out.delete(l.name);
    out.set(l.name, l.value);
  }
  return out;
}

/** The prediction: kiln's evaluation of what kconfig was given. */
export function requestView(src: string, arch: string, cfg: Pick<ConfigureResult, "method" | "fragments"> & { base?: string }, finalConfig: string, model?: KconfigModel) {
  const sim = simulateMergeConfig(mergeInputs(cfg, finalConfig));
  const m = model ?? loadKconfig(src, { arch });
  const user = kconfigUserValues(m, sim.text);
  const input: EvalInput = {
    user,
    // Toolchain-derived symbols (checks kiln does not run) come from the config kconfig wrote.
    pinned: parseKconfigDotConfig(finalConfig, ".config", { lenient: true }),
    read: cfg.method === "fragments" ? "allconfig" : "conf_read",
    ...(cfg.method === "fragments" && (cfg.base ?? "allnoconfig") === "allnoconfig" ? { allDefault: "n" as const } : {}),
  };
  const ev = evaluate(m, input);
  // Where each symbol is set in the merged input (the last line wins, as in kconfig).
  const where = new Map<string, string>();
  sim.text.split("\n").forEach((line, i) => {
    const x = /^CONFIG_([A-Za-z0-9_]+)=/.exec(line) ?? /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(line);
    const o = sim.origins[i];
    if (x && o && o.file !== BASE) where.set(x[1]!, `${o.file}:${o.line}`);
    else if (x) where.delete(x[1]!);
  });
  return { model: m, ev, sim, where };
}

export function kconfigFacts(v: KconfigView): KconfigFacts {
  return {
    known: (s) => v.model.symbols.has(s),
    why: (s) => explain(v.ev, s).text,
  };
}

/**
 * Fragment values kconfig would reject or skip for the symbol's type (a leading zero, m for a
 * bool, an unquoted string), judged before any make runs. Unknown symbols are left to the audit.
 */
export function judgeRequests(model: KconfigModel, requests: readonly Request[]): FragmentIssue[] {
  const out: FragmentIssue[] = [];
  for (const r of requests) {
    const s = model.symbols.get(r.symbol);
    if (!s || s.nodes.length === 0 || s.type === "unknown") continue;
    const why = invalidValueReason(s.type, r.value);
    if (why) out.push({ kind: "invalid", origin: r.origin, symbol: r.symbol, value: r.value, message: `CONFIG_${r.symbol} is ${s.type === "int" ? "an" : "a"} ${s.type} (${s.nodes[0]!.loc.file}:${s.nodes[0]!.loc.line}): ${why}` });
  }
  return out;
}

/** judgeRequests on a tree: loads the arch's Kconfig. */
export function judgeRequestsInTree(src: string, arch: string, requests: readonly Request[]): FragmentIssue[] {
  return judgeRequests(loadKconfig(src, { arch }), requests);
}

export function auditCell(src: string, arch: string, cfg: ConfigureResult, finalConfig: string): Finding[] {
  const sim = simulateMergeConfig(mergeInputs(cfg, finalConfig));
  const deletions = sim.deletions.filter((d) => d.origin.file !== BASE);
  let facts: KconfigFacts | undefined;
  if (cfg.dropped.length) {
    const v = requestView(src, arch, cfg, finalConfig);
    const get = (s: string, requested: string) => explainRequest(v.ev, { symbol: s, value: requested }, (n) => v.where.get(n));
    // The finding's head already reads "requested A, got B"; the why is the reason, then the fix.
    facts = {
      known: (s) => v.model.symbols.has(s),
      why: (s, requested) => {
        const x = get(s, requested);
        return `CONFIG_${s}=${x.got.replace(/ \(not written\)$/, "")} because ${x.because}${x.actions.length ? `: ${x.actions.join(", ")}` : ""}`;
      },
      fix: (s, requested) => get(s, requested).actions,
    };
  }
  return auditFindings({ dropped: cfg.dropped, redefinitions: cfg.redefinitions, issues: cfg.issues, deletions, ...(facts ? { facts } : {}) });
}

/** `kiln config explain`'s answer: the first line, then the fix and the facts around it. */
export interface SymbolAnswer {
  symbol: string;
  /** The value in the final .config ("n" when not written). */
  value: string;
  /** The request that asked for it (the last one, as merge_config.sh keeps it), if any. */
  requested?: { value: string; where: string };
  /** requested (kept or lost), merge deleted, or where an unrequested value comes from. */
  kind: "kept" | "lost" | "merge deleted" | "unrequested" | "base" | "unknown-symbol";
  /** The rule that decided it (explainRequest's rule for a request, explain's reason otherwise; "reason" in the JSON of `kiln config explain`). */
  reason: string;
  /** First line: "CONFIG_X: requested A -> got B, because ..." or "CONFIG_X=B, not requested: ...". */
  text: string;
  actions: string[];
  details: string[];
  menuPath: string[];
  locations: { file: string; line: number }[];
}

/**
 * Why a symbol has its value in a configured tree, from the requests (the same prediction the
 * audit uses): a request that lost gets explainRequest's reason; a symbol nobody requested is
 * explained from an evaluation where nothing sets it, so the answer is its default, a select or
 * its choice, never "as requested". `requests` are the layers' merged requests.
 */
export function explainConfigured(
  src: string,
  arch: string,
  cfg: Pick<ConfigureResult, "method" | "fragments"> & { base?: string },
  finalConfig: string,
  requests: ReadonlyMap<string, Request>,
  symbol: string,
  model?: KconfigModel,
): SymbolAnswer {
  const name = symbol.replace(/^CONFIG_/, "");
  const v = requestView(src, arch, cfg, finalConfig, model);
  const final = parseKconfigDotConfig(finalConfig, ".config", { lenient: true });
  const got = final.get(name) ?? "n";
  const shown = (x: string): string => (x === "n" && !final.has(name) ? "n (not written)" : x);
  const general = explain(v.ev, name);
  const facts = { details: general.details, menuPath: general.menuPath, locations: general.locations };
  const s = v.model.symbols.get(name);
  const deleted = v.sim.deletions.find((d) => d.symbol === name && d.origin.file !== BASE);
  const req = requests.get(name);
  const at = (o: { file: string; line: number }): string => `${o.file}:${o.line}`;
  if (deleted && (!req || at(req.origin) === at(deleted.origin))) {
    return {
      symbol: `CONFIG_${name}`, value: got, requested: { value: deleted.value, where: at(deleted.origin) }, kind: "merge deleted", reason: "merge deleted",
      text: `CONFIG_${name}: requested ${deleted.value} at ${at(deleted.origin)} -> got ${shown(got)}, because merge_config.sh deleted the line: CONFIG_${deleted.by.symbol} at ${at(deleted.by.origin)} matches inside the name (its sed "/CONFIG_${deleted.by.symbol}[ =]/d" is a substring match), so kconfig never saw it`,
      actions: [`put CONFIG_${name}=${deleted.value} in a fragment merged after ${deleted.by.origin.file}, or set CONFIG_${deleted.by.symbol} earlier than it`],
      ...facts,
    };
  }
  if (!s || s.nodes.length === 0 || s.type === "unknown") {
    const where = req ? ` (requested ${req.value} at ${at(req.origin)})` : "";
    return { symbol: `CONFIG_${name}`, value: "n", ...(req ? { requested: { value: req.value, where: at(req.origin) } } : {}), kind: "unknown-symbol", reason: "unknown-symbol", text: `CONFIG_${name} is not defined by this tree's Kconfig for ${arch}${where}`, actions: req ? ["drop the line (or move it to a layer for the arches that have it)"] : [], ...facts };
  }
  if (req) {
    const requested = { value: req.value, where: at(req.origin) };
    const same = req.value === got || (/^0x/i.test(req.value) && /^0x/i.test(got) && BigInt(req.value) === BigInt(got));
    if (same) {
      // Kept; say whether something else would hold it there anyway (a select).
      const also = general.reason === "select" ? `; ${general.text.replace(/^CONFIG_\S+ because /, "").replace(/; the config also sets it.*$/, "")}, so it would be ${got} without the request too` : "";
      return { symbol: `CONFIG_${name}`, value: got, requested, kind: "kept", reason: "kept", text: `CONFIG_${name}: requested ${req.value} at ${requested.where} -> got ${got}, as requested${also}`, actions: general.actions, ...facts };
    }
    const e = explainRequest(v.ev, { symbol: name, value: req.value }, (n) => v.where.get(n));
    return { symbol: `CONFIG_${name}`, value: got, requested, kind: "lost", reason: e.rule, text: e.text.replace(/: requested (\S+) -> got \S+( \(not written\))?, because/, `: requested $1 at ${requested.where} -> got ${shown(got)}, because`), actions: e.actions, ...facts };
  }
  // Nobody requested it: evaluate with nothing setting it, and explain that value.
  const user = new Map(v.ev.input.user);
  user.delete(name);
  const ev = evaluate(v.model, { ...v.ev.input, user });
  const alone = ev.written(s) ? ev.value(s) : "n";
  if (alone !== got) {
    const from = cfg.method === "fragments" ? "the merged fragments" : `the ${cfg.method} method's .config`;
    return { symbol: `CONFIG_${name}`, value: got, kind: "base", reason: "base", text: `CONFIG_${name}=${shown(got)}, not requested by any layer: it comes from ${from}, which kconfig kept (left to itself kconfig would give ${alone})`, actions: [], ...facts };
  }
  const x = explain(ev, name);
  const reason = x.text.replace(new RegExp(`^CONFIG_${name}(=[^\\s:]+)?( is not set)?(: | because )?`), "");
  const tag = x.reason === "select" ? "selected" : x.reason === "choice" ? "choice" : x.reason === "pinned" ? "toolchain" : x.reason;
  return { symbol: `CONFIG_${name}`, value: got, kind: "unrequested", reason: tag, text: `CONFIG_${name}=${shown(got)}, not requested by any layer: ${x.reason === "select" || x.reason === "dependency" || x.reason === "imply" ? "because " : ""}${reason || "its computed value"}`, actions: x.actions, ...facts, details: x.details };
}
