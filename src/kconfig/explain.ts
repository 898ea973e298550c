/**
 * Why a symbol has its value: the answer `kiln config explain` and the audit show.
 * Pure: works on an Evaluation.
 */
import { exprToString, triName, type Expr, type Loc, type Prop, type Sym, type Tri } from "./ast.js";
import type { Evaluation } from "./eval.js";
import { menuPath } from "./parser.js";

export type Reason =
  | "unknown-symbol"
  | "pinned"
  | "choice"
  | "requested"
  | "dependency"
  | "select"
  | "imply"
  | "default"
  | "invisible"
  | "no-default"
  | "range";

export interface Explanation {
  /** CONFIG_ name. */
  symbol: string;
  /** Value as written to .config ("n" for "is not set" and for symbols not written). */
  value: string;
  /** Whether kconfig writes the symbol at all. */
  written: boolean;
  reason: Reason;
  /** One sentence, e.g. "CONFIG_UBSAN_BOUNDS=n because it depends on UBSAN (=n): enable CONFIG_UBSAN". */
  text: string;
  /** Further facts (visibility, selectors, where it is defined). */
  details: string[];
  /** What a user could change to get the symbol on, when it is blocked. */
  actions: string[];
  /** Titles of the menus it sits in, top first. */
  menuPath: string[];
  /** Where it is defined. */
  locations: Loc[];
}

/** Explains one symbol (with or without the CONFIG_ prefix). */
export function explain(ev: Evaluation, name: string): Explanation {
  const bare = name.replace(/^CONFIG_/, "");
  const s = ev.model.symbols.get(bare);
  const cname = `CONFIG_${bare}`;
  if (!s || s.nodes.length === 0 || s.type === "unknown") {
    return {
      symbol: cname,
      value: "n",
      written: false,
      reason: "unknown-symbol",
      text: `${cname} is not defined by this tree's Kconfig for this arch`,
      details: s && s.nodes.length === 0 ? ["it is only referenced, never defined"] : [],
      actions: [],
      menuPath: [],
      locations: [],
    };
  }
  return new Explainer(ev).symbol(s);
}

class Explainer {
  constructor(private readonly ev: Evaluation) {}

  symbol(s: Sym): Explanation {
    const ev = this.ev;
    const value = ev.value(s);
    const written = ev.written(s);
    const head = `CONFIG_${s.name}=${value}`;
    const base = {
      symbol: `CONFIG_${s.name}`,
      value,
      written,
      menuPath: s.nodes[0] ? menuPath(s.nodes[0]) : [],
      locations: s.nodes.map((n) => n.loc),
    };
    const details: string[] = [];
    const vis = ev.visibility(s);
    const prompts = s.props.filter((p) => p.kind === "prompt");
    const user = ev.input.user.get(s.name);
    if (user !== undefined) details.push(`requested: ${user}`);
    if (prompts.length === 0) details.push("it has no prompt: only defaults and select can set it");
    else if (vis === 0) details.push(`not visible: its prompt depends on ${this.failing(prompts.map((p) => p.visible))}`);

    const out = (reason: Reason, text: string, actions: string[] = []): Explanation => ({
      ...base,
      reason,
      text,
      details,
      actions,
    });

    if (ev.isPinned(s)) {
      // Its prompt and defaults hinge on checks kiln did not run: say only what is known.
      details.splice(0, details.length, ...(user !== undefined ? [`requested: ${user}`] : []));
      return out("pinned", `${head}: kconfig computed it from a toolchain or environment check; the value comes from the .config kconfig wrote`);
    }

    if (s.choice) {
      const choice = s.choice;
      const title = choice.prompt?.text ? `"${choice.prompt.text}"` : "a choice";
      const sel = ev.choiceSelection(choice);
      if (sel === s) {
        const why = user === "y" ? "as requested" : ev.choiceDefault(choice) === s ? "it is the choice's default" : "it is the first visible entry";
        return out("choice", `${head}: it is the selected entry of ${title} (${why})`);
      }
      if (sel) return out("choice", `${head}: it is in ${title} whose selected entry is CONFIG_${sel.name}`, [`set CONFIG_${s.name}=y to select it instead`]);
      if (vis === 0) {
        const actions = this.actions(prompts.map((p) => p.visible));
        return out("dependency", `${head} because its choice ${title} is not visible: it depends on ${this.failing(prompts.map((p) => p.visible))}${actions.length ? ": " + actions.join(", ") : ""}`, actions);
      }
      return out("choice", `${head}: it is in ${title}`);
    }

    if (s.type === "bool" || s.type === "tristate") {
      const tri = ev.tri(s);
      const dir = ev.dirDep(s);
      const rev = ev.revDep(s);
      const selectors = this.reverse(s, "select");
      const implyers = this.reverse(s, "imply");
      const activeSel = selectors.filter((x) => x.tri > 0);
      if (activeSel.length) details.push(`selected by: ${activeSel.map((x) => x.text).join(", ")}`);
      if (selectors.length > activeSel.length) details.push(`${selectors.length - activeSel.length} other symbols can select it (inactive now)`);
      if (dir < 2 && s.dirDep) details.push(`depends on ${exprToString(s.dirDep)} (=${triName(dir)})`);
      if (rev > 0 && rev > dir) details.push("warning: selected although its dependencies are not met (kconfig's \"unmet direct dependencies\")");

      if (rev === tri && tri > 0 && !(user !== undefined && vis > 0 && ev.userValue(s) === value)) {
        const active = selectors.filter((x) => x.tri > 0).map((x) => `CONFIG_${x.by.name}`);
        return out("select", `${head} because ${active.join(", ") || "another symbol"} select${active.length > 1 ? "" : "s"} it`);
      }
      if (vis > 0 && ev.userValue(s) !== undefined) {
        const u = ev.userValue(s) as string;
        if (u === value) return out("requested", `${head} as requested`);
        if (u === "m" && value === "y" && s.type === "tristate" && ev.effectiveType(s) === "bool") {
          const modules = ev.model.modules;
          return out("requested", `${head}: requested m, but ${modules ? `CONFIG_${modules.name}=n` : "the lack of module support"} turns m into y`, modules ? [`enable CONFIG_${modules.name}`] : []);
        }
        if (u !== value && tri < (u === "y" ? 2 : u === "m" ? 1 : 0)) {
          return out("dependency", `${head}: requested ${u}, but its prompt depends on ${this.failing(prompts.map((p) => p.visible), 2)} which limits it to ${triName(vis)}`);
        }
        return out("requested", `${head}: requested ${u}`);
      }
      if (tri === 0 && dir === 0 && s.dirDep) {
        const acts = this.actions([s.dirDep]);
        return out("dependency", `${head} because it depends on ${this.failing([s.dirDep])}${acts.length ? ": " + acts.join(", ") : ""}`, acts);
      }
      if (tri === 0 && user !== undefined && user !== "n" && vis === 0 && prompts.length) {
        const acts = this.actions(prompts.map((p) => p.visible));
        return out("invisible", `${head}: not visible: its prompt depends on ${this.failing(prompts.map((p) => p.visible))}${acts.length ? ": " + acts.join(", ") : ""}`, acts);
      }
      const imp = ev.impliedBy(s);
      const d = ev.activeDefault(s);
      if (imp > 0 && imp === tri && (!d || Math.min(ev.expr(d.expr), ev.expr(d.visible)) < tri)) {
        const active = implyers.filter((x) => x.tri > 0).map((x) => `CONFIG_${x.by.name}`);
        return out("imply", `${head} because ${active.join(", ")} impl${active.length > 1 ? "y" : "ies"} it`);
      }
      if (d) {
        const vtext = vis === 0 && prompts.length ? "not visible, so its default applies: " : "";
        return out("default", `${head}: ${vtext}default ${exprToString(d.expr)}${d.cond ? ` if ${exprToString(d.cond)}` : ""} (${d.loc.file}:${d.loc.line})`);
      }
      if (tri === 0) {
        if (vis === 0 && prompts.length && user !== undefined) {
          return out("invisible", `${head}: not visible: its prompt depends on ${this.failing(prompts.map((p) => p.visible))}`, this.actions(prompts.map((p) => p.visible)));
        }
        return out("no-default", `${head}: no default applies and nothing selects it`);
      }
      return out("default", `${head}`);
    }

    // string, int, hex
    const u = ev.userValue(s);
    if (vis > 0 && u !== undefined) {
      return u === value || `0x${u}` === value ? out("requested", `${head} as requested`) : out("range", `${head}: requested ${u}, clamped to its range`);
    }
    if (user !== undefined && vis > 0) details.push(`the requested value ${user} is outside its range or malformed`);
    const d = ev.activeDefault(s);
    if (user !== undefined && vis === 0 && prompts.length && (!s.dirDep || ev.dirDep(s) > 0)) {
      const acts = this.actions(prompts.map((p) => p.visible));
      const dflt = d ? `, so its default applies: ${exprToString(d.expr)} (${d.loc.file}:${d.loc.line})` : "";
      return out("invisible", `${head}: not visible: its prompt depends on ${this.failing(prompts.map((p) => p.visible))}${dflt}`, acts);
    }
    if (!written && s.dirDep && ev.dirDep(s) === 0) {
      const acts = this.actions([s.dirDep]);
      return out("dependency", `CONFIG_${s.name} is not set because it depends on ${this.failing([s.dirDep])}${acts.length ? ": " + acts.join(", ") : ""}`, acts);
    }
    if (d) return out("default", `${head}: default ${exprToString(d.expr)}${d.cond ? ` if ${exprToString(d.cond)}` : ""} (${d.loc.file}:${d.loc.line})`);
    return out("no-default", `${head}: no default applies`);
  }

  /** Select or imply properties that target s, with their current strength. */
  private reverse(s: Sym, kind: "select" | "imply"): { by: Sym; prop: Prop; tri: Tri; text: string }[] {
    const out: { by: Sym; prop: Prop; tri: Tri; text: string }[] = [];
    const idx = reverseIndex(this.ev);
    for (const p of idx.get(s) ?? []) {
      if (p.kind !== kind || !p.node.sym) continue;
      const by = p.node.sym;
      const t = Math.min(this.ev.tri(by), this.ev.expr(p.visible)) as Tri;
      out.push({ by, prop: p, tri: t, text: `CONFIG_${by.name} (=${this.ev.value(by)})${p.cond ? ` if ${exprToString(p.cond)}` : ""}` });
    }
    return out;
  }

  /** The false parts of some conditions, as "A (=n) && B (=n)". */
  private failing(es: (Expr | undefined)[], want: Tri = 1): string {
    const all: { text: string; derived: boolean }[] = [];
    for (const e of es) for (const l of this.leaves(e, want)) if (!all.some((x) => x.text === l.text)) all.push(l);
    // Parts that only fail because of another listed part (e.g. CC_HAS_* inside `if UBSAN`)
    // are left out of the sentence when something the user can change is listed.
    const shown = all.some((x) => !x.derived) ? all.filter((x) => !x.derived) : all;
    return shown.length ? shown.map((x) => x.text).join(" && ") : es.map((e) => exprToString(e)).join(" || ");
  }

  private leaves(e: Expr | undefined, want: Tri): { text: string; derived: boolean }[] {
    if (!e) return [];
    const ev = this.ev;
    if (ev.expr(e) >= want) return [];
    switch (e.t) {
      case "sym":
        return e.sym.isConst ? [] : [{ text: `${e.sym.name} (=${ev.value(e.sym)})`, derived: this.derived(e) }];
      case "and":
        return [...this.leaves(e.a, want), ...this.leaves(e.b, want)];
      case "or":
      case "not":
      case "cmp":
        return [{ text: `${exprToString(e, 3)} (=${triName(ev.expr(e))})`, derived: this.derived(e) }];
    }
  }

  /** Every symbol in e is one users cannot set and is off because its own dependencies fail. */
  private derived(e: Expr): boolean {
    const syms: Sym[] = [];
    const collect = (x: Expr): void => {
      if (x.t === "sym") syms.push(x.sym);
      else if (x.t === "not") collect(x.e);
      else if (x.t === "cmp") syms.push(x.a, x.b);
      else {
        collect(x.a);
        collect(x.b);
      }
    };
    collect(e);
    const vars = syms.filter((s) => !s.isConst);
    return (
      vars.length > 0 &&
      vars.every((s) => !s.props.some((p) => p.kind === "prompt") && !!s.dirDep && this.ev.expr(s.dirDep) === 0)
    );
  }

  /** Concrete changes that would satisfy the conditions. */
  private actions(es: (Expr | undefined)[]): string[] {
    const acts = new Set<string>();
    for (const e of es) for (const a of this.fix(e)) acts.add(a);
    return [...acts];
  }

  private fix(e: Expr | undefined, depth = 0): string[] {
    if (!e) return [];
    const ev = this.ev;
    if (ev.expr(e) > 0) return [];
    switch (e.t) {
      case "sym": {
        const s = e.sym;
        if (s.isConst) return [];
        if (s.nodes.length === 0) return [`CONFIG_${s.name} does not exist for this arch`];
        const prompted = s.props.some((p) => p.kind === "prompt");
        if (prompted || s.choice) return [`enable CONFIG_${s.name}`];
        // Not settable by users: what it needs, or what it is derived from.
        if (s.dirDep && ev.expr(s.dirDep) === 0 && depth < 3) return this.fix(s.dirDep, depth + 1);
        if (ev.isPinned(s)) return [`CONFIG_${s.name} comes from a toolchain check that failed`];
        const sel = (reverseIndex(ev).get(s) ?? []).filter((p) => p.kind === "select" && p.node.sym).map((p) => `CONFIG_${(p.node.sym as Sym).name}`);
        const uniq = [...new Set(sel)];
        if (uniq.length === 0) return [`CONFIG_${s.name} cannot be enabled: it has no prompt and nothing selects it`];
        const shown = uniq.slice(0, 6).join(" | ") + (uniq.length > 6 ? ` | ... (${uniq.length - 6} more)` : "");
        return [`enable one of ${shown} (they select CONFIG_${s.name})`];
      }
      case "not":
        return e.e.t === "sym" && !e.e.sym.isConst ? [`disable CONFIG_${e.e.sym.name}`] : [`make ${exprToString(e.e)} false`];
      case "and":
        return [...this.fix(e.a, depth), ...this.fix(e.b, depth)];
      case "or": {
        const alts = [...new Set([...this.fix(e.a, depth), ...this.fix(e.b, depth)])];
        return alts.length > 1 ? [`one of: ${alts.join(" | ")}`] : alts;
      }
      case "cmp":
        return [`make ${exprToString(e)} hold (${e.a.name} is ${ev.value(e.a)})`];
    }
  }
}

const indexes = new WeakMap<object, Map<Sym, Prop[]>>();

function reverseIndex(ev: Evaluation): Map<Sym, Prop[]> {
  let idx = indexes.get(ev.model);
  if (!idx) {
    idx = new Map();
    for (const s of ev.model.all) {
      for (const p of s.props) {
        if ((p.kind === "select" || p.kind === "imply") && p.target) {
          const l = idx.get(p.target) ?? [];
          l.push(p);
          idx.set(p.target, l);
        }
      }
    }
    indexes.set(ev.model, idx);
  }
  return idx;
}
