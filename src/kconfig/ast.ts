/**
 * The Kconfig model: symbols, expressions, properties and the menu tree, as kconfig itself
 * builds them (scripts/kconfig/{expr,menu}.c). Pure data, no effects.
 */

/** Tristate value: 0 = n, 1 = m, 2 = y. */
export type Tri = 0 | 1 | 2;

export type SymType = "bool" | "tristate" | "string" | "int" | "hex" | "unknown";

/** Where something was written in the tree (path relative to the tree root). */
export interface Loc {
  file: string;
  line: number;
}

export type CmpOp = "=" | "!=" | "<" | "<=" | ">" | ">=";

export type Expr =
  | { t: "sym"; sym: Sym }
  | { t: "not"; e: Expr }
  | { t: "and"; a: Expr; b: Expr }
  | { t: "or"; a: Expr; b: Expr }
  | { t: "cmp"; op: CmpOp; a: Sym; b: Sym };

export type PropKind = "prompt" | "default" | "select" | "imply" | "range";

export interface Prop {
  kind: PropKind;
  /** The menu entry (definition site) the property was written in. */
  node: MenuNode;
  loc: Loc;
  /** prompt text. */
  text?: string;
  /** default value expression. */
  expr?: Expr;
  /** select/imply target. */
  target?: Sym;
  /** range bounds. */
  range?: [Sym, Sym];
  /** The `if` condition as written. */
  cond?: Expr;
  /** Condition after finalize: cond && the entry's full dependency (&& enclosing `visible if` for prompts). */
  visible?: Expr;
}

export interface Sym {
  /** Name without CONFIG_; for constants the literal text; for choices "<choice>". */
  name: string;
  type: SymType;
  /** A quoted string or y/m/n: never a config symbol. */
  isConst: boolean;
  /** Its text came from a macro kiln could not evaluate ($(shell,...) or an unknown environment variable). */
  unknown: boolean;
  isChoice: boolean;
  /** Declared with the `modules` keyword (MODULES). */
  isModules: boolean;
  /** Choice with the `optional` keyword (older trees). */
  optional: boolean;
  props: Prop[];
  /** Every menu entry that defines it. */
  nodes: MenuNode[];
  /** Filled by finalize: OR of the full dependencies of its definitions. */
  dirDep?: Expr;
  /** Filled by finalize: OR of `selector && cond && dep` over everything selecting it. */
  revDep?: Expr;
  /** Filled by finalize: as revDep, for imply. */
  implied?: Expr;
  /** The choice menu entry it is a member of, if any. */
  choice?: MenuNode;
  /** For choices: members in the order written. */
  members?: Sym[];
  /** Declared `transitional` (newer trees): kept for reading old configs; see docs/kconfig.md. */
  transitional: boolean;
  /** Set when any of its definitions uses an unknown macro result. */
  envDerived: boolean;
  /** Stable index (definition order) for arrays in the evaluator. */
  id: number;
}

export type NodeKind = "root" | "config" | "menuconfig" | "menu" | "choice" | "comment" | "if";

export interface MenuNode {
  kind: NodeKind;
  loc: Loc;
  sym?: Sym;
  /** The prompt property of this entry (menu/comment titles are prompts too). */
  prompt?: Prop;
  parent?: MenuNode;
  children: MenuNode[];
  /** `depends on` as written (and-ed); for `if` blocks the condition. */
  ownDep?: Expr;
  /** After finalize: parent's dep && ownDep (with `m` rewritten to `m && MODULES`). */
  dep?: Expr;
  /** `visible if` of a menu. */
  visibility?: Expr;
  help?: string;
  /** The menu entry shown as this entry's parent in menuconfig (implicit submenus included). */
  menuParent?: MenuNode;
}

export interface KconfigModel {
  root: MenuNode;
  /** Every named, non-constant symbol, by name. */
  symbols: Map<string, Sym>;
  /** All symbols including choices and constants, by id. */
  all: Sym[];
  modules?: Sym;
  /** Files read, in order, relative to the tree root. */
  files: string[];
  /** Choice semantics: kconfig rewrote choices in 6.11 (member priority, no tristate choices). */
  choiceModel: "legacy" | "v6.11";
  /**
   * What `make olddefconfig` (conf_read) does with an int/hex user value outside its range:
   * "reset" (6.1: the value is dropped and the default applies) or "clamp" (6.12: kept, then
   * clamped to the nearest bound by sym_validate_range). KCONFIG_ALLCONFIG always clamps.
   */
  rangeRule?: "reset" | "clamp";
  warnings: string[];
  mainmenu?: string;
}

export function triName(t: Tri): "n" | "m" | "y" {
  return t === 2 ? "y" : t === 1 ? "m" : "n";
}

/** Prints an expression the way kconfig does in its messages. */
export function exprToString(e: Expr | undefined, parentPrec = 0): string {
  if (!e) return "y";
  switch (e.t) {
    case "sym":
      return symText(e.sym);
    case "not":
      return "!" + exprToString(e.e, 3);
    case "cmp":
      return `${symText(e.a)}${e.op}${symText(e.b)}`;
    case "and": {
      const s = `${exprToString(e.a, 2)} && ${exprToString(e.b, 2)}`;
      return parentPrec > 2 ? `(${s})` : s;
    }
    case "or": {
      const s = `${exprToString(e.a, 1)} || ${exprToString(e.b, 1)}`;
      return parentPrec > 1 ? `(${s})` : s;
    }
  }
}

function symText(s: Sym): string {
  if (s.unknown) return "<toolchain check>";
  if (s.isConst && !["y", "m", "n"].includes(s.name)) return JSON.stringify(s.name);
  return s.name;
}
