/**
 * Why a symbol has its value: the answer `kiln config explain` and the audit show.
 * Pure: works on an Evaluation.
 */
import { exprToString, triName, type Expr, type Loc, type Prop, type Sym, type Tri } from "./ast.js";
import { evaluate, invalidValueReason, validUserValue, type Evaluation } from "./eval.js";
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

    if (ev.isPinned(s) && !s.choice) {
      // Its prompt and defaults hinge on checks kiln did not run: say only what is known. (A
      // choice member is explained by its choice: the checks' results are inferred from the
      // .config, so the members' visibility is kconfig's.)
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

      if (rev === tri && tri > 0) {
        const active = selectors.filter((x) => x.tri > 0).map((x) => `CONFIG_${x.by.name}`);
        const also = user !== undefined && vis > 0 && ev.userValue(s) === value ? "; the config also sets it, but a select would force it anyway" : "";
        return out("select", `${head} because ${active.join(", ") || "another symbol"} select${active.length > 1 ? "" : "s"} it${also}`, selectors.filter((x) => x.tri > 0).map((x) => `disable CONFIG_${x.by.name} to set it yourself`));
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
        if (prompts.length === 0 && selectors.length) {
          const names = [...new Set(selectors.map((x) => `CONFIG_${x.by.name}`))];
          const shown = names.slice(0, 6).join(" | ") + (names.length > 6 ? ` | ... (${names.length - 6} more)` : "");
          return out("no-default", `${head}: it has no prompt, so only a symbol that selects it can enable it, and none of its ${names.length} selector${names.length > 1 ? "s is" : " is"} on`, [`enable one of ${shown}`]);
        }
        if (selectors.length) return out("no-default", `${head}: no default applies and its selectors are off (${selectors.map((x) => x.text).slice(0, 6).join(", ")})`);
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

  request(req: RequestedValue, where: (symbol: string) => string | undefined): RequestExplanation {
    const ev = this.ev;
    const bare = req.symbol.replace(/^CONFIG_/, "");
    const s = ev.model.symbols.get(bare);
    const asked = unquote(req.value);
    const res = (rule: RequestExplanation["rule"], got: string, because: string, actions: string[] = [], blockers: string[] = [], flips?: Record<string, string>): RequestExplanation => ({
      symbol: `CONFIG_${bare}`,
      requested: req.value,
      got,
      rule,
      text: `CONFIG_${bare}: requested ${req.value} -> got ${got}, because ${because}`,
      because,
      actions,
      blockers,
      flips: flips ?? Object.fromEntries(blockers.map((b) => [b, this.wantOf(b)])),
    });
    this.negated.clear();
    this.wanted.clear();
    // m survives only with module support: said (and flipped) along with any other reason.
    const modOff = asked === "m" && s?.type === "tristate" && ev.effectiveType(s) === "bool" && ev.model.modules ? ev.model.modules : undefined;
    const withModules = (x: RequestExplanation): RequestExplanation =>
      modOff && x.rule !== "modules" && x.rule !== "invalid"
        ? { ...x, text: `${x.text}; and with CONFIG_${modOff.name}=n an m would become y anyway`, because: `${x.because}; and with CONFIG_${modOff.name}=n an m would become y anyway`, actions: [...x.actions, `enable CONFIG_${modOff.name}`], flips: { ...x.flips, [modOff.name]: "y" }, ...(x.alternatives ? { alternatives: x.alternatives.map((a) => ({ ...a, [modOff.name]: "y" })) } : {}) }
        : x;
    const r0 = this.requestInner(req, where, res, asked, bare, s);
    return this.withRange(withModules(r0), s, asked);
  }

  /**
   * An int/hex request hidden by a dependency can also be out of range (TTY_PRINTK_LEVEL=90,
   * range 1 7): enabling the blocker then gives the clamped bound or the default, never the
   * request. Said along with the dependency, with the value the flips lead to (`afterFlips`).
   */
  private withRange(x: RequestExplanation, s: Sym | undefined, asked: string): RequestExplanation {
    const ev = this.ev;
    if (!s || (s.type !== "int" && s.type !== "hex") || x.rule === "invalid" || x.rule === "range" || !Object.keys(x.flips).length || !validUserValue(s.type, asked)) return x;
    const cf = evaluate(ev.model, { ...ev.input, force: new Map([...(ev.input.force ?? []), ...Object.entries(x.flips)]) });
    const r = cf.activeRange(s);
    if (!r || cf.withinRange(s, asked)) return x;
    const then = cf.written(s) ? cf.value(s) : "n";
    const span = this.rangeSpan(cf, r.prop);
    const fate = cf.clampsUserRange() ? `this tree's kconfig would clamp it to ${then}` : `this tree's kconfig (conf_read before 6.12) would drop it and give the default ${then}`;
    const more = `; and ${asked} is outside its range ${span} (${r.prop.loc.file}:${r.prop.loc.line}), so once that is fixed ${fate}: ${asked} can never be kept`;
    return { ...x, text: x.text + more, because: x.because + more, actions: [...x.actions, `use a value in ${span}`], afterFlips: then };
  }

  /** "1..7", bounds that are symbols with their values. */
  private rangeSpan(ev: Evaluation, p: Prop): string {
    const bound = (b: Sym): string => (b.isConst || ev.value(b) === b.name ? b.name : `${b.name} (=${ev.value(b)})`);
    return `${bound(p.range![0])}..${bound(p.range![1])}`;
  }

  private requestInner(
    req: RequestedValue,
    where: (symbol: string) => string | undefined,
    res: (rule: RequestExplanation["rule"], got: string, because: string, actions?: string[], blockers?: string[], flips?: Record<string, string>) => RequestExplanation,
    asked: string,
    bare: string,
    s: Sym | undefined,
  ): RequestExplanation {
    const ev = this.ev;
    if (!s || s.nodes.length === 0 || s.type === "unknown") return res("unknown-symbol", "n", "no Kconfig file defines it for this arch", [`drop the line (or move it to a layer for the arches that have it)`]);
    const got = ev.written(s) ? ev.value(s) : "n";
    const gotText = ev.written(s) ? got : "n (not written)";
    const set = (x: Sym): string => this.origin(x, where);
    const prompts = s.props.filter((p) => p.kind === "prompt");
    const vis = ev.visibility(s);
    const dflt = (): string => {
      const d = ev.activeDefault(s);
      return d ? `default ${this.exprText(d.expr)}${d.cond ? ` if ${this.exprText(d.cond)}` : ""} (${d.loc.file}:${d.loc.line})` : "no default";
    };

    // 1. kconfig does not accept the value for this type: the line is ignored.
    const rawWhy = s.type === "string" || req.value.startsWith('"') ? invalidValueReason(s.type, req.value) : undefined;
    if (rawWhy || !validUserValue(s.type, asked)) {
      const why = rawWhy
        ? `CONFIG_${bare} is a ${s.type}: ${rawWhy}`
        : (s.type === "bool" && asked === "m")
          ? `CONFIG_${bare} is a bool: kconfig accepts only y or n for it and ignores the line ("symbol value 'm' invalid")`
          : s.type === "int" && /^-?0[0-9]+$/.test(asked)
            ? `kconfig rejects an int with a leading zero (${asked}) and ignores the line ("symbol value '${asked}' invalid")`
            : `${asked} is not a valid ${s.type} value for kconfig, which ignores the line`;
      const then = ev.input.allDefault ? `, so ${ev.input.allDefault === "n" ? "allnoconfig" : "all*config"} sets it like an unset symbol` : `, so ${dflt()} applies`;
      const fix = s.type === "string" && rawWhy ? `write CONFIG_${bare}="${req.value}"` : rawWhy ? `write CONFIG_${bare}=${asked} without quotes` : s.type === "bool" ? "write y or n" : s.type === "int" ? `write ${asked.replace(/^(-?)0+(?=[0-9])/, "$1")}` : `write a valid ${s.type}`;
      return res("invalid", gotText, why + then, [fix]);
    }
    // 2. An int/hex outside its range.
    if ((s.type === "int" || s.type === "hex") && vis > 0) {
      const r = ev.activeRange(s);
      if (r && !ev.withinRange(s, asked)) {
        const bound = (b: Sym): string => (b.isConst || ev.value(b) === b.name ? b.name : `${b.name} (=${ev.value(b)})`);
        const span = `${bound(r.prop.range![0])}..${bound(r.prop.range![1])}`;
        const rule = ev.clampsUserRange()
          ? `its range is ${span} (${r.prop.loc.file}:${r.prop.loc.line}) and this tree's kconfig clamps an out-of-range value to the nearest bound`
          : `its range is ${span} (${r.prop.loc.file}:${r.prop.loc.line}) and this tree's kconfig (conf_read before 6.12) drops an out-of-range value, so ${dflt()} applies`;
        return res("range", gotText, rule, [`use a value in ${span}`], [], {});
      }
    }
    // 3. The symbol cannot be set: no prompt, or its prompt is hidden.
    const wantTri = asked === "y" ? 2 : asked === "m" ? 1 : 0;
    if (s.choice) {
      const choice = s.choice;
      const title = choice.prompt?.text ? `"${choice.prompt.text}"` : "its choice";
      const cvis = Math.max(0, ...prompts.map((p) => ev.expr(p.visible)));
      if (cvis === 0) {
        const acts = this.actions(prompts.map((p) => p.visible));
        return res("dependency", gotText, `it is an entry of ${title}, which is hidden: it depends on ${this.failingWhere(prompts.map((p) => p.visible), where)}`, acts, this.blockerNames(prompts.map((p) => p.visible)));
      }
      const sel = ev.choiceSelection(choice);
      if (wantTri === 2 && sel && sel !== s) {
        const w = where(sel.name);
        const why = w ? `CONFIG_${sel.name}=y, requested at ${w}, took precedence (the last entry requested y wins)` : `its selected entry is CONFIG_${sel.name}`;
        return res("choice", gotText, `it is an entry of the choice ${title} and ${why}`, [w ? `drop CONFIG_${sel.name}=y at ${w}` : `check the choice's other entries`], [sel.name], { [sel.name]: "n" });
      }
      if (wantTri === 0 && sel === s) {
        const how = ev.choiceDefault(choice) === s ? "its default" : "the first visible entry not set to n";
        return res("choice", gotText, `${title} is a choice that always has one entry selected, and CONFIG_${bare} is ${how}: no other entry is set to y`, [`request another entry of ${title} =y instead`], []);
      }
    }
    if (s.type === "bool" || s.type === "tristate") {
      const tri = ev.tri(s);
      const selectors = this.reverse(s, "select");
      const active = selectors.filter((x) => x.tri > 0);
      if (tri > wantTri) {
        if (active.length && ev.revDep(s) > wantTri) {
          const named = active.map((x) => `CONFIG_${x.by.name} (=${ev.value(x.by)}, ${set(x.by)})`);
          const acts = active.map((x) => {
            const w = where(x.by.name);
            if (w) return `drop CONFIG_${x.by.name}=${ev.value(x.by)} at ${w}`;
            if (!x.by.props.some((p) => p.kind === "prompt")) {
              // A selector users cannot set: what selects it, one step up.
              const up = this.reverse(x.by, "select").filter((y) => y.tri > 0);
              if (up.length) return up.map((y) => (where(y.by.name) ? `drop CONFIG_${y.by.name}=${ev.value(y.by)} at ${where(y.by.name)} (it selects CONFIG_${x.by.name})` : `disable CONFIG_${y.by.name} (it selects CONFIG_${x.by.name})`)).join("; ");
            }
            return `disable CONFIG_${x.by.name}`;
          });
          const floor = wantTri === 1 ? " and a select raises a module to the selector's value" : "";
          return res("select", gotText, `${named.join(", ")} select${active.length > 1 ? "" : "s"} it${floor}`, acts, active.map((x) => x.by.name), Object.fromEntries(active.map((x) => [x.by.name, "n"])));
        }
        if (wantTri === 1 && tri === 2 && s.type === "tristate" && ev.effectiveType(s) === "bool") {
          const mod = ev.model.modules;
          return res("modules", gotText, `${mod ? `CONFIG_${mod.name}=n (${set(mod)})` : "module support is off"}, so every tristate is a bool and m becomes y`, mod ? [`enable CONFIG_${mod.name}`] : [], mod ? [mod.name] : [], mod ? { [mod.name]: "y" } : {});
        }
        if (prompts.length === 0 || vis === 0) {
          const hid = prompts.length === 0 ? "it has no prompt, so a fragment cannot set it" : `its prompt is hidden (it depends on ${this.failingWhere(prompts.map((p) => p.visible), where)})`;
          return res("default", gotText, `${hid}, and ${dflt()} applies`, [], this.blockerNames(prompts.map((p) => p.visible)));
        }
      }
      if (tri < wantTri) {
        if (prompts.length === 0) {
          const sel = [...new Set(selectors.map((x) => x.by.name))];
          const shown = sel.slice(0, 6).map((n) => `CONFIG_${n}`).join(" | ") + (sel.length > 6 ? ` | ... (${sel.length - 6} more)` : "");
          if (!sel.length) {
            const d = s.props.find((p) => p.kind === "default");
            // The default is off because its condition fails, or its value is n, or both.
            const conds = d ? [d.visible, ...(d.expr && ev.expr(d.expr) === 0 ? [d.expr] : [])] : [];
            const names = this.blockerNames(conds);
            const text = d
              ? `it has no prompt and nothing selects it, so only its default can set it, and that default (${this.exprText(d.expr)}, ${d.loc.file}:${d.loc.line}) is off: it needs ${this.failingWhere(conds, where)}`
              : "it has no prompt, no default, and nothing selects it";
            const acts = names.length ? this.actions(conds) : [`drop the line`];
            // A symbol with no prompt takes its default's value (capped by its condition), so an
            // m is kept only when the default's tristate terms are m themselves: `def_tristate
            // PHYLIB` is y with PHYLIB=y. For a constant default (`default y`), the tristate terms
            // of the condition must be m instead.
            const tristates = (ns: string[]): string[] => ns.filter((n) => ev.model.symbols.get(n)?.type === "tristate" && ev.model.symbols.get(n)!.props.some((p) => p.kind === "prompt"));
            const mTerms = wantTri === 1 && d && s.type === "tristate" ? (tristates(this.symbolsOf(d.expr)).length ? tristates(this.symbolsOf(d.expr)) : tristates(names)) : [];
            if (d && mTerms.length) {
              const need = mTerms.map((n) => `CONFIG_${n}=m`);
              const flips = { ...Object.fromEntries(names.map((n) => [n, this.wantOf(n)])), ...Object.fromEntries(mTerms.map((n) => [n, "m"])) };
              const mActs = [...acts.filter((a) => !mTerms.some((n) => a === `enable CONFIG_${n}`)), ...need.map((x) => `set ${x}`)];
              return res("no-prompt", gotText, `${text}; it takes the value of ${this.exprText(d.expr)}${this.symbolsOf(d.expr).length ? "" : ` capped by ${mTerms.join(" && ")}`}, so m needs ${need.join(" and ")}`, mActs, [...new Set([...names, ...mTerms])], flips);
            }
            return res("no-prompt", gotText, text, acts, names);
          }
          // A select whose condition names a symbol this arch does not define (`select X if ARM`
          // on arm64) can never fire here: such selectors are not a way to turn it on.
          // Likewise a selector that itself needs such a symbol (`depends on X86`, `if ARCH_TEGRA`).
          const undefinedIn = (x: (typeof selectors)[number]): string[] => [
            ...new Set([
              ...this.symbolsOf(x.prop.cond).filter((n) => !ev.model.symbols.get(n)?.nodes.length),
              ...this.requiredUndefined(x.by.dirDep),
              ...x.by.props.filter((p) => p.kind === "prompt").flatMap((p) => this.requiredUndefined(p.visible)),
            ]),
          ];
          const usable = selectors.filter((x) => undefinedIn(x).length === 0 && x.by.nodes.length > 0);
          if (!usable.length) {
            const shownSel = selectors.slice(0, 3).map((x) => `CONFIG_${x.by.name} needs ${undefinedIn(x).map((n) => `${n} (not defined for this arch)`).join(", ")}`);
            const missing = [...new Set(selectors.flatMap(undefinedIn))];
            const because = `it has no prompt, and every symbol that selects it does so only on other arches: ${shownSel.join("; ")}${selectors.length > 3 ? `; and ${selectors.length - 3} more` : ""}`;
            return res("no-prompt", gotText, because, ["drop the line: nothing can set it on this arch"], missing, Object.fromEntries(missing.map((n) => [n, "y"])));
          }
          const because = `it has no prompt: only a symbol that selects it can turn it on, and none of its ${sel.length} selector${sel.length > 1 ? "s is" : " is"} on`;
          const r = res("no-prompt", gotText, because, [`enable one of ${shown} (they select CONFIG_${bare})`], sel, {});
          r.alternatives = usable.map((x) => ({ [x.by.name]: asked === "m" ? "m" : "y", ...Object.fromEntries(this.blockerNames([x.prop.visible]).filter((n) => n !== x.by.name).map((n) => [n, this.wantOf(n)])) }));
          return r;
        }
        if (vis < wantTri && wantTri === 2 && prompts.some((p) => this.needsConstM(p.visible))) {
          // `depends on m` ("loadable module only"): y is never possible, whatever else is on.
          const conds = prompts.map((p) => p.visible);
          const others = this.blockerNames(conds).filter((n) => n !== "m");
          const rest = vis === 0 && others.length ? `; it is also off now because it depends on ${this.failingWhere(conds, where)}` : "";
          return res("capped", gotText, `it depends on m (a loadable module only), so kconfig never gives it y${rest}`, [`request CONFIG_${bare}=m instead${others.length ? ` (with ${others.map((n) => `CONFIG_${n}`).join(", ")} on)` : ""}`], [], {});
        }
        if (vis < wantTri) {
          const conds = prompts.map((p) => p.visible);
          const acts = vis === 0 ? this.actions(conds) : this.raise(conds);
          const blockers = this.blockerNames(conds, vis === 0 ? 1 : 2);
          const limit = vis === 0 ? `it depends on ${this.failingWhere(conds, where)}` : `it depends on ${this.failingWhere(conds, where, 2)}, which limits it to m`;
          return res(vis === 0 ? "dependency" : "capped", gotText, limit, acts, blockers);
        }
      }
    } else if (vis === 0) {
      const conds = prompts.length ? prompts.map((p) => p.visible) : [];
      const hid = prompts.length === 0 ? "it has no prompt, so a fragment cannot set it" : `it depends on ${this.failingWhere(conds, where)}`;
      const then = !ev.written(s) && s.dirDep && ev.dirDep(s) === 0 ? "so kconfig does not write it" : `and ${dflt()} applies`;
      return res(prompts.length ? "dependency" : "no-prompt", gotText, `${hid}, ${then}`, this.actions(conds), this.blockerNames(conds));
    }
    if (got === asked || (s.type === "hex" && /^0x/i.test(asked) && /^0x/i.test(got) && BigInt(asked) === BigInt(got))) {
      return res("kept", gotText, "kiln's prediction keeps it: kconfig's result disagrees with the Kconfig reader, please report this with the fragment");
    }
    return res("default", gotText, `kconfig computed ${gotText} (${dflt()})`);
  }

  /** Where a symbol's current value comes from, for the reason text. */
  private origin(x: Sym, where: (symbol: string) => string | undefined): string {
    const w = where(x.name);
    if (w && this.ev.userValue(x) !== undefined) return `set at ${w}`;
    if (!this.ev.input.user.has(x.name) && this.ev.input.allDefault && this.ev.tri(x) === 0 && x.props.some((p) => p.kind === "prompt")) return "not requested";
    if (this.ev.isPinned(x)) return "from a toolchain check";
    const sel = this.reverse(x, "select").filter((r) => r.tri > 0);
    if (sel.length && this.ev.revDep(x) === this.ev.tri(x)) return `selected by ${sel.map((r) => `CONFIG_${r.by.name}`).join(", ")}`;
    if (this.ev.userValue(x) !== undefined) return "from the base config";
    const d = this.ev.activeDefault(x);
    if (this.ev.tri(x) === 0 && (!d || this.ev.expr(d.expr) === 0)) return x.props.some((p) => p.kind === "prompt") ? "not requested" : "no default applies";
    return d ? `its default, ${d.loc.file}:${d.loc.line}` : "not requested";
  }

  /** The failing parts of conditions, each with where its value comes from. */
  private failingWhere(es: (Expr | undefined)[], where: (symbol: string) => string | undefined, want: Tri = 1): string {
    const t = this.failing(es, want);
    const shown = new Set(this.failing(es, want).match(/[A-Za-z0-9_]+(?= \(=)/g) ?? []);
    const named = this.blockerNames(es, want)
      .filter((n) => shown.has(n))
      .map((n) => this.ev.model.symbols.get(n))
      .filter((x): x is Sym => !!x && x.nodes.length > 0);
    const notes = named.map((x) => ({ x, o: this.origin(x, where) })).filter((n) => n.o.startsWith("set at") || n.o.startsWith("selected by") || n.o.startsWith("from "));
    // Only terms something sets are annotated; a bare "(=n)" means nothing requested it.
    const tail = notes.map((n) => `CONFIG_${n.x.name} is ${n.o}`);
    return tail.length ? `${t}; ${tail.join(", ")}` : t;
  }

  /** Whether a condition is an AND with the constant m as one of its terms (`depends on X && m`). */
  private needsConstM(e: Expr | undefined): boolean {
    if (!e) return false;
    if (e.t === "sym") return e.sym.isConst && e.sym.name === "m";
    if (e.t === "and") return this.needsConstM(e.a) || this.needsConstM(e.b);
    return false;
  }

  /** Symbols a condition requires (its AND terms) that this arch does not define. */
  private requiredUndefined(e: Expr | undefined): string[] {
    if (!e) return [];
    if (e.t === "sym") return !e.sym.isConst && !this.ev.model.symbols.get(e.sym.name)?.nodes.length ? [e.sym.name] : [];
    if (e.t === "and") return [...this.requiredUndefined(e.a), ...this.requiredUndefined(e.b)];
    return [];
  }

  /** Every non-constant symbol a condition names. */
  private symbolsOf(e: Expr | undefined): string[] {
    const out = new Set<string>();
    const walk = (x: Expr | undefined): void => {
      if (!x) return;
      switch (x.t) {
        case "sym":
          if (!x.sym.isConst) out.add(x.sym.name);
          return;
        case "and":
        case "or":
          walk(x.a);
          walk(x.b);
          return;
        case "not":
          walk(x.e);
          return;
        case "cmp":
          for (const y of [x.a, x.b]) if (!y.isConst) out.add(y.name);
      }
    };
    walk(e);
    return [...out];
  }

  /** Blockers named in `X=m`-style comparisons: the value they must take. */
  private readonly wanted = new Map<string, string>();

  /** The value a named blocker must take for the condition to hold. */
  private wantOf(n: string): string {
    return this.wanted.get(n) ?? (this.negated.has(n) ? "n" : "y");
  }

  /** Blockers named through a negation (`!FOO`): they must be off, not on. */
  private readonly negated = new Set<string>();

  /** Names of the symbols in the failing parts. */
  private blockerNames(es: (Expr | undefined)[], want: Tri = 1): string[] {
    const out = new Set<string>();
    const walk = (e: Expr | undefined): void => {
      if (!e || this.ev.expr(e) >= want) return;
      switch (e.t) {
        case "sym":
          if (!e.sym.isConst && !e.sym.unknown) out.add(e.sym.name);
          return;
        case "and":
        case "or":
          walk(e.a);
          walk(e.b);
          return;
        case "not":
          if (e.e.t === "sym" && !e.e.sym.isConst) {
            out.add(e.e.sym.name);
            this.negated.add(e.e.sym.name);
          }
          return;
        case "cmp":
          // `X=m` needs X at m, not y.
          if (e.op === "=" && !e.a.isConst && e.b.isConst && /^[ymn]$/.test(e.b.name)) this.wanted.set(e.a.name, e.b.name);
          // `S != ""` needs any non-empty string (the flip writes it quoted), `S = "v"` needs v.
          else if (!e.a.isConst && e.a.type === "string" && e.b.isConst && (e.op === "=" || e.op === "!=")) this.wanted.set(e.a.name, e.op === "=" ? e.b.name : e.b.name === "" ? "x" : "");
          for (const x of [e.a, e.b]) if (!x.isConst) out.add(x.name);
      }
    };
    for (const e of es) walk(e);
    return [...out];
  }

  /** Actions that raise an m-limited condition to y. */
  private raise(es: (Expr | undefined)[]): string[] {
    return this.blockerNames(es, 2).map((n) => `set CONFIG_${n}=y`);
  }

  /** An expression as text, with repeated terms of an && / || chain shown once. */
  exprText(e: Expr | undefined): string {
    if (!e) return "y";
    const chain = (x: Expr, op: "and" | "or", acc: Expr[]): Expr[] => {
      if (x.t === op) {
        chain(x.a, op, acc);
        chain(x.b, op, acc);
      } else acc.push(x);
      return acc;
    };
    if (e.t === "and" || e.t === "or") {
      const parts = [...new Set(chain(e, e.t, []).map((x) => this.exprText(x)))];
      const joined = parts.join(e.t === "and" ? " && " : " || ");
      return parts.length > 1 ? joined : (parts[0] ?? "y");
    }
    if (e.t === "not") return "!" + (e.e.t === "sym" ? this.exprText(e.e) : `(${this.exprText(e.e)})`);
    return exprToString(e);
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
    return shown.length ? shown.map((x) => x.text).join(" && ") : [...new Set(es.map((e) => this.exprText(e)))].join(" || ");
  }

  private leaves(e: Expr | undefined, want: Tri): { text: string; derived: boolean }[] {
    if (!e) return [];
    const ev = this.ev;
    if (ev.expr(e) >= want) return [];
    switch (e.t) {
      case "sym":
        return e.sym.isConst ? [] : [{ text: this.symValueText(e.sym), derived: this.derived(e) }];
      case "and":
        return [...this.leaves(e.a, want), ...this.leaves(e.b, want)];
      case "not":
        if (e.e.t === "sym" && !e.e.sym.isConst) return [{ text: `!${this.symValueText(e.e.sym)}`, derived: this.derived(e) }];
        return [{ text: `!(${this.exprText(e.e)}) (=${triName(ev.expr(e))})`, derived: this.derived(e) }];
      case "or": {
        const t = this.exprText(e);
        const vals = this.blockerNames([e], want).map((n) => ev.model.symbols.get(n)).filter((x): x is Sym => !!x).map((x) => this.symValueText(x));
        return [{ text: `(${t})${vals.length ? ` [${vals.join(", ")}]` : ` (=${triName(ev.expr(e))})`}`, derived: this.derived(e) }];
      }
      case "cmp":
        return [{ text: `${exprToString(e, 3)} (=${triName(ev.expr(e))}; ${e.a.isConst ? "" : `${e.a.name} is ${this.shownValue(e.a)}`})`, derived: this.derived(e) }];
    }
  }

  /** A symbol's value as a .config shows it: a string quoted (`""` rather than nothing). */
  private shownValue(x: Sym): string {
    return x.type === "string" ? `"${this.ev.value(x)}"` : this.ev.value(x);
  }

  /** "FOO (=m)", or "SPARC (not defined for this arch)" for a name no Kconfig file defines. */
  private symValueText(x: Sym): string {
    if (x.unknown) return "<toolchain check> (=n)";
    if (x.nodes.length === 0 || x.type === "unknown") return `${x.name} (not defined for this arch)`;
    return `${x.name} (=${this.ev.value(x)})`;
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
        // Nested alternatives read as one list.
        const flat = [...this.fix(e.a, depth), ...this.fix(e.b, depth)].flatMap((a) => (a.startsWith("one of: ") ? a.slice(8).split(" | ") : [a]));
        // An alternative that does not exist for this arch is no alternative.
        const real = flat.filter((a) => !a.endsWith("does not exist for this arch"));
        const alts = [...new Set(real.length ? real : flat)];
        return alts.length > 1 ? [`one of: ${alts.join(" | ")}`] : alts;
      }
      case "cmp":
        if (!e.a.isConst && e.a.type === "string" && e.b.isConst && e.op === "!=" && e.b.name === "") return [`set CONFIG_${e.a.name} to a non-empty string (it is "")`];
        if (!e.a.isConst && e.a.type === "string" && e.b.isConst && e.op === "=") return [`set CONFIG_${e.a.name}="${e.b.name}"`];
        return [`make ${exprToString(e)} hold (${e.a.name} is ${this.shownValue(e.a)})`];
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

// ---------------------------------------------------------------------------------------------
// Explaining a request that lost, from kiln's own prediction with the requests as the input.

/** One request as the user wrote it. */
export interface RequestedValue {
  symbol: string; // no CONFIG_ prefix
  /** As written in the fragment (strings quoted). */
  value: string;
  /** "file:line" of the request. */
  where?: string;
}

export interface RequestExplanation {
  symbol: string;
  requested: string;
  /** The predicted value ("n" when not written). */
  got: string;
  /** Which rule decided it. */
  rule: "invalid" | "range" | "dependency" | "no-prompt" | "select" | "modules" | "capped" | "choice" | "default" | "unknown-symbol" | "kept";
  /** First line: "CONFIG_X: requested A -> got B, because ...". */
  text: string;
  /** The reason alone (what follows "because"). */
  because: string;
  /** What would let the request survive. */
  actions: string[];
  /** Symbols the reason names (the blockers, selectors or the winning choice entry). */
  blockers: string[];
  /** The values those symbols would need for the request to survive (what the reason claims). */
  flips: Record<string, string>;
  /** Or any one of these (a selector on, with its select condition). */
  alternatives?: Record<string, string>[];
  /**
   * When the request as written can never survive (an out-of-range number behind a dependency),
   * the value the flips lead to instead; the reason says so.
   */
  afterFlips?: string;
}

/**
 * Why a request did not survive. `ev` must be the evaluation with the requests as the user
 * input (what kconfig was given), not the final .config. `where(name)` gives the file:line of the
 * request that set a symbol, to say where a blocker's value comes from.
 */
export function explainRequest(ev: Evaluation, req: RequestedValue, where: (symbol: string) => string | undefined = () => undefined): RequestExplanation {
  return new Explainer(ev).request(req, where);
}

function unquote(v: string): string {
  return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
}

