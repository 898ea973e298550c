/**
 * Evaluates a parsed Kconfig against user values, with the semantics of kconfig's
 * scripts/kconfig/symbol.c (sym_calc_value, sym_calc_visibility, choices, ranges) so that the
 * result equals what `make olddefconfig` (or defconfig / all*config) writes.
 *
 * Pure: no files, no processes.
 */
import type { Expr, KconfigModel, MenuNode, Prop, Sym, Tri } from "./ast.js";

export interface EvalInput {
  /**
   * User values by symbol name (no CONFIG_ prefix), in input order: "y"/"m"/"n" for
   * bool/tristate, the unquoted text for strings, the number for int/hex. When a symbol is
   * given twice, the later one must be the one kept, at the later position (see parseDotConfig).
   */
  user: Map<string, string>;
  /** all{no,yes,mod}config: prompted bool/tristate symbols without a user value get this. */
  allDefault?: "n" | "m" | "y";
  /**
   * Values (from a .config written by kconfig) for symbols whose definitions use toolchain
   * checks or environment kiln did not evaluate. A symbol missing here is taken as not written.
   */
  pinned?: Map<string, string>;
  /**
   * Results of the toolchain checks kiln did not run, by marker (the name of the unknown constant
   * symbol each `$(shell,...)` became). With `pinned` and no `checks`, they are inferred from the
   * pinned .config (inferChecks), so visibility, defaults and choices of toolchain-derived symbols
   * are what kconfig computed; writeDefconfig needs that.
   */
  checks?: Map<string, string>;
  /** Toolchain-derived symbols computed by the rules instead of taken from `pinned` (inferChecks). */
  unpinned?: Set<Sym>;
  /**
   * How the user values were read. "conf_read" is `make olddefconfig` reading a .config
   * (confdata.c conf_read); "allconfig" is KCONFIG_ALLCONFIG read by all*config, which is what
   * merge_config.sh runs (conf_read_simple only). It decides the fate of an out-of-range int/hex
   * value on trees whose conf_read resets such values (6.1): see KconfigModel.rangeRule.
   * Default: "allconfig" when allDefault is given, else "conf_read".
   */
  read?: "conf_read" | "allconfig";
  /**
   * Counterfactuals: symbols whose value is fixed whatever their dependencies say ("if FOO were
   * y"). Not a kconfig feature; used to check that an explanation names the real cause.
   */
  force?: Map<string, string>;
}

/**
 * How kconfig reads a value as written in a .config or fragment for a symbol of this type
 * (confdata.c conf_set_sym_val): undefined when it takes it, else why it ignores the line.
 * A string must be quoted (an unquoted one is skipped without a word); a number must not be.
 */
export function invalidValueReason(type: Sym["type"], raw: string): string | undefined {
  if (type === "string") return raw.startsWith('"') ? undefined : `a string value must be quoted ("${raw}"); kconfig skips an unquoted one`;
  if (raw.startsWith('"')) return `a ${type} value is not quoted; kconfig rejects ${raw}`;
  if (validUserValue(type, raw)) return undefined;
  if (type === "bool" && raw === "m") return "m is not a value of a bool (only y or n); kconfig ignores the line";
  if (type === "int" && /^-?0[0-9]+$/.test(raw)) return `kconfig rejects an int with a leading zero (${raw}); write ${raw.replace(/^(-?)0+(?=[0-9])/, "$1")}`;
  if (type === "int") return `${raw} is not a decimal int; kconfig ignores the line`;
  if (type === "hex") return `${raw} is not a hex number (digits 0-9a-f, optionally after 0x); kconfig ignores the line`;
  if (type === "tristate") return `${raw} is not y, m or n; kconfig ignores the line`;
  if (type === "bool") return `${raw} is not y or n; kconfig ignores the line`;
  return undefined;
}

/**
 * Whether kconfig accepts a user value for a symbol of this type (confdata.c conf_set_sym_val
 * and symbol.c sym_string_valid): bool y/n, tristate y/m/n, int a decimal without leading
 * zeros ("0" and "-0" are fine), hex digits with an optional 0x/0X, any string. A value it does
 * not accept is ignored with "symbol value 'x' invalid for X", as if it was not given.
 */
export function validUserValue(type: Sym["type"], v: string): boolean {
  switch (type) {
    case "bool":
      return v === "y" || v === "n";
    case "tristate":
      return v === "y" || v === "m" || v === "n";
    case "int":
      return /^-?(0|[1-9][0-9]*)$/.test(v);
    case "hex":
      return /^(0[xX])?[0-9a-fA-F]+$/.test(v);
    case "string":
      return true;
    default:
      return false;
  }
}

const enum St {
  None = 0,
  Busy = 1,
  Done = 2,
}

export class Evaluation {
  private readonly st: Uint8Array;
  private readonly triV: Uint8Array;
  private readonly strV: (string | undefined)[];
  private readonly visV: Uint8Array;
  private readonly writeV: Uint8Array;
  private readonly dirV: Uint8Array;
  private readonly revV: Uint8Array;
  private readonly impV: Uint8Array;
  private readonly visDone: Uint8Array;
  private readonly choiceSel = new Map<MenuNode, Sym | null>();
  private readonly choiceBusy = new Set<MenuNode>();
  private modulesVal: Tri = 0;
  /** Position of each user value (for choice priority). */
  private readonly userPos = new Map<string, number>();
  private readonly legacy: boolean;
  /** Values of the unknown check markers (see EvalInput.checks). */
  readonly checks: Map<string, string> | undefined;

  constructor(
    readonly model: KconfigModel,
    readonly input: EvalInput,
  ) {
    const n = model.all.length;
    this.st = new Uint8Array(n);
    this.triV = new Uint8Array(n);
    this.strV = new Array(n);
    this.visV = new Uint8Array(n);
    this.writeV = new Uint8Array(n);
    this.dirV = new Uint8Array(n);
    this.revV = new Uint8Array(n);
    this.impV = new Uint8Array(n);
    this.visDone = new Uint8Array(n);
    this.legacy = model.choiceModel === "legacy";
    this.checks = input.checks ?? (input.pinned ? inferChecks(model, input.pinned) : undefined);
    let i = 0;
    for (const k of input.user.keys()) this.userPos.set(k, i++);
    if (model.modules) {
      this.calc(model.modules);
      this.modulesVal = this.triV[model.modules.id] as Tri;
      // Everything computed so far assumed MODULES=n; start again with the real value.
      if (this.modulesVal !== 0) this.reset();
      this.calc(model.modules);
    }
  }

  private reset(): void {
    this.st.fill(0);
    this.visDone.fill(0);
    this.choiceSel.clear();
  }

  // ------------------------------------------------------------------ public queries

  /** Tristate value (0 for non-bool symbols). */
  tri(s: Sym): Tri {
    this.calc(s);
    return this.triV[s.id] as Tri;
  }

  /** The value as kconfig writes it: y/m/n, or the string/number. */
  value(s: Sym): string {
    this.calc(s);
    return this.strOf(s);
  }

  /** Whether kconfig writes the symbol to .config (as a value or "is not set"). */
  written(s: Sym): boolean {
    this.calc(s);
    return this.writeV[s.id] === 1;
  }

  /** Visibility of the symbol's prompts (0 = no prompt visible). */
  visibility(s: Sym): Tri {
    this.calc(s);
    this.visibilityOf(s);
    return this.visV[s.id] as Tri;
  }

  dirDep(s: Sym): Tri {
    this.visibility(s);
    return this.dirV[s.id] as Tri;
  }
  revDep(s: Sym): Tri {
    this.visibility(s);
    return this.revV[s.id] as Tri;
  }
  impliedBy(s: Sym): Tri {
    this.visibility(s);
    return this.impV[s.id] as Tri;
  }

  /** The effective type: tristate reads as bool when MODULES=n. */
  effectiveType(s: Sym): Sym["type"] {
    if (s.type === "tristate") {
      if (this.modulesVal === 0) return "bool";
      if (this.legacy && s.choice && this.visV[s.id] === 2) return "bool";
    }
    return s.type;
  }

  /** Evaluates an expression. */
  expr(e: Expr | undefined): Tri {
    return e ? this.exprTri(e) : 2;
  }

  /** The member a choice selects, or undefined when the choice is off. */
  choiceSelection(choice: MenuNode): Sym | undefined {
    if (this.legacy) {
      const cs = choice.sym as Sym;
      if (this.tri(cs) !== 2) return undefined;
      return this.legacyChoice(choice) ?? undefined;
    }
    return this.calcChoice(choice) ?? undefined;
  }

  /** The user value kiln applied (after validation), if any. */
  userValue(s: Sym): string | undefined {
    return this.hasUser(s) ? this.userRaw(s) : undefined;
  }

  /** True when the value was taken from the pinned .config (toolchain-derived symbol). */
  isPinned(s: Sym): boolean {
    return s.envDerived && !!this.input.pinned;
  }

  /** First default whose condition holds, as kconfig picks it. */
  activeDefault(s: Sym): Prop | undefined {
    for (const p of s.props) {
      if (p.kind === "default" && this.expr(p.visible) !== 0) return p;
    }
    return undefined;
  }

  /** The resulting .config as name -> value ("n" for "is not set"), for written symbols only. */
  config(): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of this.model.symbols.values()) {
      if (s.type === "unknown" || s.isChoice || s.nodes.length === 0) continue;
      if (this.written(s)) out.set(s.name, this.value(s));
    }
    return out;
  }

  // ------------------------------------------------------------------ kconfig semantics

  private strOf(s: Sym): string {
    if (s.type === "bool" || s.type === "tristate") {
      const t = this.triV[s.id];
      return t === 2 ? "y" : t === 1 ? "m" : "n";
    }
    // Constants and undefined symbols read as their own name (kconfig's S_UNKNOWN); a check kiln
    // did not run reads as its inferred result.
    if (s.isConst && s.unknown) return this.checks?.get(s.name) ?? s.name;
    if (s.isConst || s.type === "unknown") return s.name;
    return this.strV[s.id] ?? "";
  }

  /** Whether the user gave this symbol a value kconfig accepts (out-of-range numbers included). */
  explicitUser(s: Sym): boolean {
    const u = this.input.user.get(s.name);
    return u !== undefined && validUserValue(s.type, u);
  }

  /** Out-of-range int/hex user values are clamped (true) or ignored so the default applies. */
  clampsUserRange(): boolean {
    const read = this.input.read ?? (this.input.allDefault ? "allconfig" : "conf_read");
    return read === "allconfig" || this.model.rangeRule !== "reset";
  }

  private userRaw(s: Sym): string | undefined {
    const u = this.input.user.get(s.name);
    // An invalid value is ignored, as kconfig does; all*config then treats the symbol as new.
    if (u !== undefined && validUserValue(s.type, u)) return u;
    if (
      this.input.allDefault &&
      (s.type === "bool" || s.type === "tristate") &&
      (this.legacy || (!s.choice && !s.isChoice)) &&
      s.nodes.some((n) => n.prompt)
    ) {
      return this.input.allDefault;
    }
    if (this.legacy && s.isChoice && s.optional) {
      // kconfig ORs the members' user values into an optional choice.
      let any: string | undefined;
      for (const m of s.members ?? []) {
        const v = this.input.user.get(m.name);
        if (v === "y") return "y";
        if (v !== undefined) any = "n";
      }
      return any;
    }
    return undefined;
  }

  private hasUser(s: Sym): boolean {
    const u = this.userRaw(s);
    if (u === undefined) return false;
    switch (s.type) {
      case "bool":
        // all*config sets the tristate directly, so allmodconfig gives bool symbols m (-> y).
        return u === "y" || u === "n" || (u === "m" && !this.explicitUser(s));
      case "tristate":
        return u === "y" || u === "m" || u === "n";
      case "int":
      case "hex":
        return validUserValue(s.type, u) && (this.clampsUserRange() || this.withinRange(s, u));
      case "string":
        return true;
      default:
        return false;
    }
  }

  private userTri(s: Sym): Tri {
    const u = this.userRaw(s);
    return u === "y" ? 2 : u === "m" ? 1 : 0;
  }

  private userStr(s: Sym): string {
    // kconfig keeps a hex value as written (a bare "0" stays "0").
    return this.userRaw(s) ?? "";
  }

  private propVisible(p: Prop): Tri {
    return p.visible ? this.exprTri(p.visible) : 2;
  }

  private visibilityOf(s: Sym): void {
    if (this.visDone[s.id]) return;
    this.visDone[s.id] = 1;
    let vis: Tri = 0;
    const choiceSym = this.legacy && s.choice ? s.choice.sym : undefined;
    for (const p of s.props) {
      if (p.kind !== "prompt") continue;
      let t = this.propVisible(p);
      if (choiceSym && s.type === "tristate" && t === 1 && this.tri(choiceSym) === 2) t = 0;
      if (t > vis) vis = t;
    }
    if (vis === 1 && (s.type !== "tristate" || this.modulesVal === 0)) vis = 2;
    this.visV[s.id] = vis;
    if (s.choice) return;
    const boolish = this.effectiveType(s) === "bool";
    let t: Tri = s.dirDep ? this.exprTri(s.dirDep) : 2;
    if (t === 1 && boolish) t = 2;
    this.dirV[s.id] = t;
    t = s.revDep ? this.exprTri(s.revDep) : 0;
    if (t === 1 && boolish) t = 2;
    this.revV[s.id] = t;
    t = s.implied ? this.exprTri(s.implied) : 0;
    if (t === 1 && boolish) t = 2;
    this.impV[s.id] = t;
  }

  private calc(s: Sym): void {
    if (this.st[s.id] !== St.None) return;
    this.st[s.id] = St.Busy;
    const id = s.id;
    if (s.isConst) {
      const name = s.unknown ? (this.checks?.get(s.name) ?? "n") : s.name;
      this.triV[id] = name === "y" ? 2 : name === "m" ? 1 : 0;
      this.st[id] = St.Done;
      return;
    }
    if (s.type === "unknown") {
      this.triV[id] = 0;
      this.st[id] = St.Done;
      return;
    }
    const forced = this.input.force?.get(s.name);
    if (forced !== undefined && !s.isChoice) {
      this.visibilityOf(s);
      this.writeV[id] = 1;
      if (s.type === "bool" || s.type === "tristate") this.triV[id] = forced === "y" ? 2 : forced === "m" ? 1 : 0;
      else this.strV[id] = forced;
      this.st[id] = St.Done;
      return;
    }
    if (s.envDerived && this.input.pinned && !s.isChoice && !this.input.unpinned?.has(s)) {
      const v = this.input.pinned.get(s.name);
      this.visibilityOf(s);
      this.writeV[id] = v === undefined ? 0 : 1;
      if (s.type === "bool" || s.type === "tristate") this.triV[id] = v === "y" ? 2 : v === "m" ? 1 : 0;
      else this.strV[id] = v ?? "";
      this.st[id] = St.Done;
      return;
    }
    const isBool = s.type === "bool" || s.type === "tristate";
    // Value seen by a recursive reference while this symbol is being computed.
    this.triV[id] = 0;
    this.strV[id] = s.type === "int" ? (this.legacy ? "" : "0") : s.type === "hex" ? (this.legacy ? "" : "0x0") : isBool ? undefined : "";
    const initialStr = this.strV[id];
    let write = false;
    this.visDone[id] = 0;
    this.visibilityOf(s);
    const vis = this.visV[id] as Tri;
    if (vis !== 0) write = true;

    let tri: Tri = 0;
    let str = initialStr;
    if (isBool) {
      if (s.choice && !this.legacy) {
        const sel = this.calcChoice(s.choice);
        tri = vis !== 0 && sel === s ? 2 : 0;
        if (vis !== 0) write = true;
      } else if (s.choice && this.legacy && vis === 2) {
        const cs = s.choice.sym as Sym;
        tri = this.tri(cs) === 2 && this.legacyChoice(s.choice) === s ? 2 : 0;
      } else {
        let done = false;
        if (vis !== 0 && this.hasUser(s)) {
          tri = Math.min(this.userTri(s), vis) as Tri;
          done = true;
        }
        if (!done) {
          const rev = this.revV[id] as Tri;
          if (rev !== 0) write = true;
          if (!s.isChoice) {
            const p = this.firstDefault(s);
            if (p) {
              tri = Math.min(this.exprTri(p.expr as Expr), this.propVisible(p)) as Tri;
              if (tri !== 0) write = true;
            }
            const imp = this.impV[id] as Tri;
            if (imp !== 0) {
              write = true;
              tri = Math.max(tri, imp) as Tri;
              tri = Math.min(tri, this.dirV[id] as Tri) as Tri;
            }
          }
        }
        tri = Math.max(tri, this.revV[id] as Tri) as Tri;
      }
      if (tri === 1 && this.effectiveType(s) === "bool") tri = 2;
    } else {
      if (vis !== 0 && this.hasUser(s)) {
        str = this.userStr(s);
      } else {
        const p = this.firstDefault(s);
        if (p && p.expr && p.expr.t === "sym") {
          write = true;
          str = this.value(p.expr.sym);
        }
      }
    }
    this.triV[id] = tri;
    this.strV[id] = str;
    if (s.type === "int" || s.type === "hex") this.strV[id] = this.validateRange(s, str ?? "");
    this.writeV[id] = write && !s.isChoice ? 1 : 0;
    this.st[id] = St.Done;
  }

  private firstDefault(s: Sym): Prop | undefined {
    for (const p of s.props) {
      if (p.kind === "default" && this.propVisible(p) !== 0) return p;
    }
    return undefined;
  }

  private rangeProp(s: Sym): Prop | undefined {
    for (const p of s.props) {
      if (p.kind === "range" && this.propVisible(p) !== 0) return p;
    }
    return undefined;
  }

  private rangeVal(b: Sym, base: number): bigint {
    const s = this.value(b);
    const bb = b.type === "int" ? 10 : b.type === "hex" ? 16 : base;
    return strtoll(s, bb);
  }

  /** The active range as [low, high] values, when the symbol has one. */
  activeRange(s: Sym): { prop: Prop; lo: bigint; hi: bigint } | undefined {
    const p = this.rangeProp(s);
    if (!p || !p.range) return undefined;
    const base = s.type === "hex" ? 16 : 10;
    return { prop: p, lo: this.rangeVal(p.range[0], base), hi: this.rangeVal(p.range[1], base) };
  }

  withinRange(s: Sym, v: string): boolean {
    const p = this.rangeProp(s);
    if (!p || !p.range) return true;
    const base = s.type === "hex" ? 16 : 10;
    const x = strtoll(v, base);
    return x >= this.rangeVal(p.range[0], base) && x <= this.rangeVal(p.range[1], base);
  }

  private validateRange(s: Sym, v: string): string {
    const p = this.rangeProp(s);
    if (!p || !p.range) return v;
    const base = s.type === "hex" ? 16 : 10;
    const x = strtoll(v, base);
    const lo = this.rangeVal(p.range[0], base);
    let bound = lo;
    if (x >= lo) {
      const hi = this.rangeVal(p.range[1], base);
      if (x <= hi) return v;
      bound = hi;
    }
    return base === 16 ? "0x" + (bound < 0n ? (bound & 0xffffffffffffffffn) : bound).toString(16) : bound.toString(10);
  }

  /** Choice default: the first `default` whose condition holds and whose target is visible. */
  choiceDefault(choice: MenuNode): Sym | undefined {
    const cs = choice.sym as Sym;
    for (const p of cs.props) {
      if (p.kind !== "default" || this.propVisible(p) === 0) continue;
      const e = p.expr;
      if (e && e.t === "sym" && this.vis(e.sym) !== 0) return e.sym;
    }
    for (const m of cs.members ?? []) if (this.vis(m) !== 0) return m;
    return undefined;
  }

  private vis(s: Sym): Tri {
    this.visibilityOf(s);
    return this.visV[s.id] as Tri;
  }

  /** kconfig 6.11+: sym_calc_choice. */
  private calcChoice(choice: MenuNode): Sym | null {
    const hit = this.choiceSel.get(choice);
    if (hit !== undefined) return hit;
    if (this.choiceBusy.has(choice)) return null;
    this.choiceBusy.add(choice);
    const members = (choice.sym as Sym).members ?? [];
    const user = this.input.user;
    const specified = members.filter((m) => user.has(m.name) && this.hasUser(m));
    specified.sort((a, b) => (this.userPos.get(b.name) ?? 0) - (this.userPos.get(a.name) ?? 0));
    const priority = [...specified, ...members.filter((m) => !specified.includes(m))];
    let res: Sym | undefined;
    for (const m of priority) {
      if (this.vis(m) === 0) continue;
      if (this.hasUser(m) && this.userTri(m) === 2) {
        res = m;
        break;
      }
    }
    if (!res) {
      res = this.choiceDefault(choice);
      if (res && this.hasUser(res) && this.userTri(res) === 0) res = undefined;
    }
    if (!res) res = members.find((m) => this.vis(m) !== 0 && !this.hasUser(m));
    if (!res) res = [...priority].reverse().find((m) => this.vis(m) !== 0);
    this.choiceSel.set(choice, res ?? null);
    this.choiceBusy.delete(choice);
    return res ?? null;
  }

  /** kconfig before 6.11: the last member set to y if visible, else the default. */
  private legacyChoice(choice: MenuNode): Sym | null {
    const hit = this.choiceSel.get(choice);
    if (hit !== undefined) return hit;
    const members = (choice.sym as Sym).members ?? [];
    let userChoice: Sym | undefined;
    let pos = -1;
    for (const m of members) {
      if (this.input.user.get(m.name) === "y") {
        const p = this.userPos.get(m.name) ?? 0;
        if (p > pos) {
          pos = p;
          userChoice = m;
        }
      }
    }
    let res: Sym | undefined;
    if (userChoice && this.vis(userChoice) !== 0) res = userChoice;
    else res = this.choiceDefault(choice);
    this.choiceSel.set(choice, res ?? null);
    return res ?? null;
  }

  private exprTri(e: Expr): Tri {
    switch (e.t) {
      case "sym":
        return this.tri(e.sym);
      case "not":
        return (2 - this.exprTri(e.e)) as Tri;
      case "and": {
        const a = this.exprTri(e.a);
        if (a === 0) return 0;
        const b = this.exprTri(e.b);
        return (a < b ? a : b) as Tri;
      }
      case "or": {
        const a = this.exprTri(e.a);
        if (a === 2) return 2;
        const b = this.exprTri(e.b);
        return (a > b ? a : b) as Tri;
      }
      case "cmp": {
        const r = this.compare(e.a, e.b);
        switch (e.op) {
          case "=":
            return r === 0 ? 2 : 0;
          case "!=":
            return r !== 0 ? 2 : 0;
          case "<":
            return r < 0 ? 2 : 0;
          case "<=":
            return r <= 0 ? 2 : 0;
          case ">":
            return r > 0 ? 2 : 0;
          case ">=":
            return r >= 0 ? 2 : 0;
        }
      }
    }
  }

  /** kconfig's comparison: numeric when both sides parse as numbers of their type, else strcmp. */
  private compare(a: Sym, b: Sym): number {
    const sa = this.value(a);
    const sb = this.value(b);
    if (a.type === "string" && b.type === "string") return strcmp(sa, sb);
    const ka = parseKind(sa, a.type);
    const kb = parseKind(sb, b.type);
    if (!ka || !kb) return strcmp(sa, sb);
    if (ka.unsigned || kb.unsigned) {
      const x = BigInt.asUintN(64, ka.v);
      const y = BigInt.asUintN(64, kb.v);
      return x > y ? 1 : x < y ? -1 : 0;
    }
    return ka.v > kb.v ? 1 : ka.v < kb.v ? -1 : 0;
  }
}

function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function parseKind(s: string, type: Sym["type"]): { v: bigint; unsigned: boolean } | undefined {
  switch (type) {
    case "bool":
    case "tristate": {
      const v = s === "n" ? 0n : s === "m" ? 1n : s === "y" ? 2n : -1n;
      return { v, unsigned: false };
    }
    case "int":
      return /^\s*[-+]?[0-9]+$/.test(s) ? { v: BigInt(s.trim()), unsigned: false } : undefined;
    case "hex":
      return /^\s*(0[xX])?[0-9a-fA-F]+$/.test(s) ? { v: BigInt("0x" + s.trim().replace(/^0[xX]/, "")), unsigned: true } : undefined;
    default: {
      // strtoll(s, 0): decimal, 0x hex or 0 octal
      const t = s.trim();
      if (/^[-+]?0[xX][0-9a-fA-F]+$/.test(t)) {
        const neg = t.startsWith("-");
        const v = BigInt(t.replace(/^[-+]/, ""));
        return { v: neg ? -v : v, unsigned: false };
      }
      if (/^[-+]?0[0-7]*$/.test(t)) {
        const neg = t.startsWith("-");
        const digits = t.replace(/^[-+]/, "");
        const v = digits.length > 1 ? BigInt("0o" + digits.slice(1)) : 0n;
        return { v: neg ? -v : v, unsigned: false };
      }
      if (/^[-+]?[1-9][0-9]*$/.test(t)) return { v: BigInt(t), unsigned: false };
      return undefined;
    }
  }
}

/** strtoll without the end pointer: the longest valid prefix, 0 when none. */
function strtoll(s: string, base: number): bigint {
  const t = s.trim();
  if (base === 16) {
    const m = /^([-+]?)(?:0[xX])?([0-9a-fA-F]+)/.exec(t);
    if (!m) return 0n;
    const v = BigInt("0x" + m[2]);
    return m[1] === "-" ? -v : v;
  }
  const m = /^([-+]?[0-9]+)/.exec(t);
  return m ? BigInt(m[1] as string) : 0n;
}

/** The unknown check markers an expression uses. */
function unknownsOf(e: Expr | undefined, out: Set<Sym>): void {
  if (!e) return;
  switch (e.t) {
    case "sym":
      if (e.sym.unknown) out.add(e.sym);
      return;
    case "not":
      unknownsOf(e.e, out);
      return;
    case "and":
    case "or":
      unknownsOf(e.a, out);
      unknownsOf(e.b, out);
      return;
    case "cmp":
      if (e.a.unknown) out.add(e.a);
      if (e.b.unknown) out.add(e.b);
  }
}

const inferred = new WeakMap<KconfigModel, WeakMap<Map<string, string>, Map<string, string>>>();

/**
 * Infers the result of every toolchain check kiln did not run from a .config kconfig wrote with
 * them: for each check, the value (y, n, or the text a symbol defaults to) under which kconfig's
 * rules, with that .config as input, give every toolchain-derived symbol using the check the
 * value and written-ness the .config has. Checks are tried one at a time over two passes (a
 * symbol can use several); a tie keeps the first candidate: the value a symbol defaulting to the
 * check was written with, then y, then n. Memoised per model and .config map. Pure.
 */
export function inferChecks(model: KconfigModel, pinned: Map<string, string>): Map<string, string> {
  let byPinned = inferred.get(model);
  const hit = byPinned?.get(pinned);
  if (hit) return hit;
  const users = new Map<Sym, Sym[]>();
  for (const s of model.all) {
    if (!s.envDerived || s.isConst) continue;
    const us = new Set<Sym>();
    for (const p of s.props) {
      unknownsOf(p.expr, us);
      unknownsOf(p.visible, us);
      if (p.range) for (const b of p.range) if (b.unknown) us.add(b);
    }
    unknownsOf(s.dirDep, us);
    unknownsOf(s.revDep, us);
    unknownsOf(s.implied, us);
    for (const u of us) {
      const l = users.get(u);
      if (l) l.push(s);
      else users.set(u, [s]);
    }
  }
  const checks = new Map<string, string>();
  const candidates = new Map<Sym, string[]>();
  for (const [u, syms] of users) {
    const c: string[] = [];
    for (const s of syms) {
      for (const p of s.props) {
        if (p.kind === "default" && p.expr?.t === "sym" && p.expr.sym === u && pinned.has(s.name)) c.push(pinned.get(s.name) as string);
      }
    }
    c.push("y", "n");
    candidates.set(u, [...new Set(c)]);
    checks.set(u.name, c[0] as string);
  }
  const score = (syms: Sym[]): number => {
    const ev = new Evaluation(model, { user: pinned, pinned, checks, unpinned: new Set(syms), read: "conf_read" });
    let ok = 0;
    for (const s of syms) {
      if (s.isChoice) {
        ok++;
        continue;
      }
      const w = pinned.has(s.name);
      if (ev.written(s) === w && (!w || ev.value(s) === pinned.get(s.name))) ok++;
    }
    return ok;
  };
  for (let pass = 0; pass < 2; pass++) {
    for (const [u, syms] of users) {
      const cs = candidates.get(u) as string[];
      let best = checks.get(u.name) as string;
      let bestScore = -1;
      for (const c of cs) {
        checks.set(u.name, c);
        const sc = score(syms);
        if (sc > bestScore) {
          bestScore = sc;
          best = c;
        }
        if (sc === syms.length) break;
      }
      checks.set(u.name, best);
    }
  }
  if (!byPinned) {
    byPinned = new WeakMap();
    inferred.set(model, byPinned);
  }
  byPinned.set(pinned, checks);
  return checks;
}

export function evaluate(model: KconfigModel, input: EvalInput): Evaluation {
  return new Evaluation(model, input);
}
