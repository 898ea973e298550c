/**
 * Kconfig lexer and parser (the language of scripts/kconfig/{lexer.l,parser.y}), followed by
 * kconfig's menu_finalize: dependency propagation into every property, select/imply reverse
 * dependencies, choice membership and the menu tree users see.
 *
 * Pure: files come from a reader function, macros from a MacroHost.
 */
import { ProjectError } from "../errors.js";
import type { CmpOp, Expr, KconfigModel, Loc, MenuNode, Prop, Sym, SymType } from "./ast.js";
import { isUnknown, matchParen, Macros, type MacroHost } from "./macro.js";

/** Reads a file of the tree by its path relative to the tree root; undefined when absent. */
export type FileReader = (path: string) => string | undefined;

export interface ParseOptions {
  /** The top file, "Kconfig" by default. */
  top?: string;
  host: MacroHost;
  /** Choice semantics; "v6.11" for kconfig from 6.11 on. Default: detected by the caller. */
  choiceModel?: "legacy" | "v6.11";
  /** See KconfigModel.rangeRule; loadKconfig reads it from the tree's scripts/kconfig/confdata.c (default: reset, the 6.1 rule). */
  rangeRule?: "reset" | "clamp";
}

type Tok =
  | { k: "word"; v: string; lit: boolean }
  | { k: "str"; v: string }
  | { k: "op"; v: string };

interface Stmt {
  line: number;
  toks: Tok[];
}

/** [A-Za-z0-9_-]: the characters of a Kconfig word. */
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45;
}
const OPS = ["&&", "||", "!=", "<=", ">=", ":=", "+=", "=", "<", ">", "!", "(", ")"];

/** Splits one file into statements; help texts and assignments are handled as they come. */
class FileLexer {
  private readonly lines: string[];
  private i = 0;
  constructor(
    text: string,
    readonly file: string,
    private readonly macros: Macros,
    private readonly warn: (m: string) => void,
  ) {
    this.lines = text.split("\n");
  }

  /** Next statement, or undefined at the end of the file. Assignments are applied here. */
  next(): Stmt | undefined {
    for (;;) {
      if (this.i >= this.lines.length) return undefined;
      const line = this.i + 1;
      let s = stripCR(this.lines[this.i++] ?? "");
      while (s.endsWith("\\") && this.i < this.lines.length) {
        s = s.slice(0, -1) + stripCR(this.lines[this.i++] ?? "");
      }
      const assign = s.includes("=") ? /^\s*([A-Za-z0-9_$()-]+)\s*(:=|\+=|=)(.*)$/.exec(s) : null;
      if (assign) {
        const [, name, op, rest] = assign;
        if (name && !KEYWORDS.has(name)) {
          this.macros.assign(name, op as ":=" | "=" | "+=", (rest ?? "").replace(/^[ \t]+/, ""), this.file, line);
          continue;
        }
      }
      const toks = this.tokenize(s, line);
      if (toks.length === 0) continue;
      return { line, toks };
    }
  }

  /** Reads a help text that starts on the next line (indentation rules of kconfig's lexer). */
  help(): string {
    const out: string[] = [];
    let first = -1;
    while (this.i < this.lines.length) {
      const raw = stripCR(this.lines[this.i] ?? "");
      if (raw.trim() === "") {
        if (first >= 0) out.push("");
        this.i++;
        continue;
      }
      const ind = indentWidth(raw);
      if (ind === 0 || (first >= 0 && ind < first)) break;
      if (first < 0) first = ind;
      out.push(" ".repeat(ind - first) + raw.trim());
      this.i++;
    }
    while (out.length && out[out.length - 1] === "") out.pop();
    return out.join("\n");
  }

  private tokenize(s: string, line: number): Tok[] {
    const toks: Tok[] = [];
    let i = 0;
    while (i < s.length) {
      const c = s[i] as string;
      if (c === " " || c === "\t") {
        i++;
        continue;
      }
      if (c === "#") break;
      if (c === '"' || c === "'") {
        let v = "";
        i++;
        let closed = false;
        while (i < s.length) {
          const d = s[i] as string;
          if (d === c) {
            closed = true;
            i++;
            break;
          }
          if (d === "\\") {
            v += s[i + 1] ?? "";
            i += 2;
            continue;
          }
          if (d === "$" && s[i + 1] === "(") {
            const end = matchParen(s, i + 1);
            if (end < 0) throw new ProjectError("unterminated '$(' in string", { file: this.file, line });
            v += this.macros.expand(s.slice(i, end + 1), this.file, line);
            i = end + 1;
            continue;
          }
          let j = i + 1;
          while (j < s.length) {
            const e = s[j];
            if (e === c || e === "\\" || e === "$") break;
            j++;
          }
          v += s.slice(i, j);
          i = j;
        }
        if (!closed) this.warn(`${this.file}:${line}: multi-line strings not supported`);
        toks.push({ k: "str", v });
        continue;
      }
      if (isWordChar(s.charCodeAt(i)) || (c === "$" && s[i + 1] === "(")) {
        const start = i;
        while (i < s.length) {
          const d = s.charCodeAt(i);
          if (isWordChar(d)) {
            i++;
          } else if (d === 36 /* $ */ && s[i + 1] === "(") {
            const end = matchParen(s, i + 1);
            if (end < 0) throw new ProjectError("unterminated '$('", { file: this.file, line });
            i = end + 1;
          } else break;
        }
        const raw = s.slice(start, i);
        if (raw.includes("$")) {
          const v = this.macros.expand(raw, this.file, line);
          if (v.length) toks.push({ k: "word", v, lit: false });
        } else toks.push({ k: "word", v: raw, lit: true });
        continue;
      }
      const op = OPS.find((o) => s.startsWith(o, i));
      if (op) {
        toks.push({ k: "op", v: op });
        i += op.length;
        continue;
      }
      this.warn(`${this.file}:${line}: ignoring unsupported character '${c}'`);
      i++;
    }
    return toks;
  }
}

const KEYWORDS = new Set([
  "bool", "boolean", "choice", "comment", "config", "def_bool", "def_tristate", "default", "depends",
  "endchoice", "endif", "endmenu", "help", "hex", "if", "imply", "int", "mainmenu", "menu", "menuconfig",
  "modules", "on", "optional", "prompt", "range", "select", "source", "string", "tristate", "visible",
]);

function stripCR(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}

function indentWidth(s: string): number {
  let ts = 0;
  for (const c of s) {
    if (c === "\t") ts = (ts & ~7) + 8;
    else if (c === " ") ts++;
    else break;
  }
  return ts;
}

interface Block {
  kind: "menu" | "if" | "choice";
  node: MenuNode;
  loc: Loc;
}

/** Parses the whole tree for one arch (the host's SRCARCH) and finalizes it. */
export function parseKconfig(read: FileReader, opts: ParseOptions): KconfigModel {
  const p = new Parser(read, opts);
  return p.run(opts.top ?? "Kconfig");
}

class Parser {
  private readonly macros: Macros;
  private readonly symbols = new Map<string, Sym>();
  private readonly consts = new Map<string, Sym>();
  private readonly all: Sym[] = [];
  private readonly warnings: string[] = [];
  private readonly files: string[] = [];
  private readonly root: MenuNode;
  private readonly stack: Block[] = [];
  private cur: MenuNode | undefined;
  private modules: Sym | undefined;
  private mainmenu: string | undefined;
  private choiceCount = 0;
  private readonly yes: Sym;
  private readonly mod: Sym;
  private readonly no: Sym;

  constructor(
    private readonly read: FileReader,
    private readonly opts: ParseOptions,
  ) {
    this.macros = new Macros(opts.host);
    this.root = { kind: "root", loc: { file: opts.top ?? "Kconfig", line: 0 }, children: [] };
    this.yes = this.constSym("y");
    this.mod = this.constSym("m");
    this.no = this.constSym("n");
    this.yes.type = "tristate";
    this.mod.type = "tristate";
    this.no.type = "tristate";
  }

  run(top: string): KconfigModel {
    this.parseFile(top, undefined);
    const open = this.stack[this.stack.length - 1];
    if (open) throw new ProjectError(`'${open.kind}' is never closed`, open.loc);
    const model: KconfigModel = {
      root: this.root,
      symbols: this.symbols,
      all: this.all,
      modules: this.modules,
      files: this.files,
      choiceModel: this.opts.choiceModel ?? "v6.11",
      rangeRule: this.opts.rangeRule ?? "reset",
      warnings: this.warnings,
      mainmenu: this.mainmenu,
    };
    finalize(model, this.mod);
    return model;
  }

  private newSym(name: string, isConst: boolean): Sym {
    const s: Sym = {
      name,
      type: "unknown",
      isConst,
      unknown: isUnknown(name),
      isChoice: false,
      isModules: false,
      optional: false,
      transitional: false,
      props: [],
      nodes: [],
      envDerived: false,
      id: this.all.length,
    };
    this.all.push(s);
    return s;
  }

  private constSym(text: string): Sym {
    let s = this.consts.get(text);
    if (!s) {
      s = this.newSym(text, true);
      this.consts.set(text, s);
    }
    return s;
  }

  /** kconfig's sym_lookup for a word: y/m/n are the constants, anything else a config symbol. */
  private wordSym(name: string): Sym {
    if (name === "y" || name === "m" || name === "n") return this.constSym(name);
    if (isUnknown(name)) return this.constSym(name);
    let s = this.symbols.get(name);
    if (!s) {
      s = this.newSym(name, false);
      this.symbols.set(name, s);
    }
    return s;
  }

  private parseFile(path: string, from: Loc | undefined): void {
    const text = this.read(path);
    if (text === undefined) {
      throw new ProjectError(`can't open file "${path}"`, from ?? { file: path });
    }
    this.files.push(path);
    const lex = new FileLexer(text, path, this.macros, (m) => this.warnings.push(m));
    for (let st = lex.next(); st; st = lex.next()) {
      this.statement(st, lex);
    }
  }

  private parent(): MenuNode {
    return this.stack[this.stack.length - 1]?.node ?? this.root;
  }

  private addNode(n: MenuNode): MenuNode {
    const parent = this.parent();
    n.parent = parent;
    parent.children.push(n);
    return n;
  }

  private statement(st: Stmt, lex: FileLexer): void {
    const loc: Loc = { file: lex.file, line: st.line };
    const t0 = st.toks[0] as Tok;
    const err = (msg: string): never => {
      throw new ProjectError(msg, loc);
    };
    if (t0.k !== "word" || !t0.lit) {
      err(`syntax error: unexpected ${t0.k === "str" ? "string" : `'${t0.v}'`} at the start of a statement`);
    }
    const kw = t0.v;
    const ts = new TokStream(st.toks, 1, loc, this);
    switch (kw) {
      case "mainmenu":
        this.mainmenu = ts.str();
        ts.end();
        return;
      case "config":
      case "menuconfig": {
        const name = ts.word();
        ts.end();
        const sym = this.wordSym(name);
        if (sym.isConst) err(`invalid symbol name '${name}'`);
        const node = this.addNode({ kind: kw, loc, sym, children: [] });
        sym.nodes.push(node);
        this.cur = node;
        return;
      }
      case "choice": {
        let sym: Sym;
        if (ts.more()) {
          sym = this.wordSym(ts.word());
        } else {
          sym = this.newSym("<choice>", false);
          this.choiceCount++;
        }
        ts.end();
        sym.isChoice = true;
        sym.members = [];
        const node = this.addNode({ kind: "choice", loc, sym, children: [] });
        sym.nodes.push(node);
        this.stack.push({ kind: "choice", node, loc });
        this.cur = node;
        return;
      }
      case "endchoice":
      case "endmenu":
      case "endif": {
        ts.end();
        const want = kw.slice(3) as Block["kind"];
        const top = this.stack.pop();
        if (!top) err(`unexpected '${kw}' statement`);
        else if (top.kind !== want) {
          err(`'${kw}' in different file or block than '${top.kind}' (opened at ${top.loc.file}:${top.loc.line})`);
        }
        this.cur = undefined;
        return;
      }
      case "menu": {
        const text = ts.str();
        ts.end();
        const node = this.addNode({ kind: "menu", loc, children: [] });
        node.prompt = this.promptProp(node, text, undefined, loc);
        this.stack.push({ kind: "menu", node, loc });
        this.cur = node;
        return;
      }
      case "comment": {
        const text = ts.str();
        ts.end();
        const node = this.addNode({ kind: "comment", loc, children: [] });
        node.prompt = this.promptProp(node, text, undefined, loc);
        this.cur = node;
        return;
      }
      case "if": {
        const e = ts.expr();
        ts.end();
        const node = this.addNode({ kind: "if", loc, children: [], ownDep: e });
        this.stack.push({ kind: "if", node, loc });
        this.cur = undefined;
        return;
      }
      case "source":
      case "rsource":
      case "osource":
      case "orsource": {
        let path = ts.str();
        ts.end();
        if (isUnknown(path)) err(`source path uses a macro kiln cannot evaluate: ${path}`);
        if (kw.startsWith("r") || kw === "orsource") {
          const dir = lex.file.includes("/") ? lex.file.slice(0, lex.file.lastIndexOf("/") + 1) : "";
          path = dir + path;
        }
        if (kw.startsWith("o") && this.read(path) === undefined) return;
        this.parseFile(path, loc);
        return;
      }
    }
    // Attributes of the current entry.
    const cur = this.cur;
    if (!cur) err(`'${kw}' outside a config, menu, choice or comment entry`);
    const node = cur as MenuNode;
    const sym = node.sym;
    const needSym = (): Sym => {
      if (!sym) err(`'${kw}' is only valid in a config or choice entry`);
      return sym as Sym;
    };
    switch (kw) {
      case "bool":
      case "boolean":
      case "tristate":
      case "string":
      case "int":
      case "hex": {
        const s = needSym();
        this.setType(s, kw === "boolean" ? "bool" : kw, loc);
        if (ts.more()) {
          const text = ts.str();
          const cond = ts.ifExpr();
          this.setPrompt(node, text, cond, loc);
        }
        ts.end();
        return;
      }
      case "def_bool":
      case "def_tristate": {
        const s = needSym();
        this.setType(s, kw === "def_bool" ? "bool" : "tristate", loc);
        const e = ts.expr();
        const cond = ts.ifExpr();
        ts.end();
        s.props.push({ kind: "default", node, loc, expr: e, cond });
        return;
      }
      case "prompt": {
        const text = ts.str();
        const cond = ts.ifExpr();
        ts.end();
        this.setPrompt(node, text, cond, loc);
        return;
      }
      case "default": {
        const s = needSym();
        const e = ts.expr();
        const cond = ts.ifExpr();
        ts.end();
        s.props.push({ kind: "default", node, loc, expr: e, cond });
        return;
      }
      case "depends": {
        ts.keyword("on");
        const e = ts.expr();
        ts.end();
        node.ownDep = node.ownDep ? { t: "and", a: node.ownDep, b: e } : e;
        return;
      }
      case "visible": {
        ts.keyword("if");
        const e = ts.expr();
        ts.end();
        if (node.kind !== "menu") err("'visible if' is only valid in a menu");
        node.visibility = node.visibility ? { t: "and", a: node.visibility, b: e } : e;
        return;
      }
      case "select":
      case "imply": {
        const s = needSym();
        const target = this.wordSym(ts.word());
        const cond = ts.ifExpr();
        ts.end();
        s.props.push({ kind: kw, node, loc, target, cond });
        return;
      }
      case "range": {
        const s = needSym();
        const a = ts.symbol();
        const b = ts.symbol();
        const cond = ts.ifExpr();
        ts.end();
        s.props.push({ kind: "range", node, loc, range: [a, b], cond });
        return;
      }
      case "modules": {
        ts.end();
        const s = needSym();
        s.isModules = true;
        this.modules = s;
        return;
      }
      case "optional": {
        ts.end();
        needSym().optional = true;
        return;
      }
      case "option": {
        // Older trees: `option modules`, `option defconfig_list`, `option env=...`, ...
        const what = ts.word();
        if (what === "modules") {
          const s = needSym();
          s.isModules = true;
          this.modules = s;
        }
        return;
      }
      case "transitional":
        ts.end();
        needSym().transitional = true;
        return;
      case "help":
      case "---help---":
        ts.end();
        node.help = lex.help();
        return;
    }
    err(`unknown statement '${kw}'`);
  }

  private setType(s: Sym, t: SymType, loc: Loc): void {
    if (s.type === "unknown") s.type = t;
    else if (s.type !== t) this.warnings.push(`${loc.file}:${loc.line}: ignoring type redefinition of '${s.name}' from '${s.type}' to '${t}'`);
  }

  private setPrompt(node: MenuNode, text: string, cond: Expr | undefined, loc: Loc): void {
    if (node.prompt) this.warnings.push(`${loc.file}:${loc.line}: prompt redefined`);
    node.prompt = this.promptProp(node, text, cond, loc);
    if (node.sym) node.sym.props.push(node.prompt);
  }

  /**
   * A prompt. For symbol prompts kconfig ANDs the `visible if` of every enclosing menu into the
   * condition; menu titles and comments (P_MENU, P_COMMENT) do not get it.
   */
  private promptProp(node: MenuNode, text: string, cond: Expr | undefined, loc: Loc): Prop {
    let c = cond;
    for (let m = node.parent; m && node.sym; m = m.parent) {
      if (m.visibility) c = c ? { t: "and", a: c, b: m.visibility } : m.visibility;
    }
    return { kind: "prompt", node, loc, text, cond: c };
  }

  /** Used by TokStream. */
  symbolFromTok(t: Tok, loc: Loc): Sym {
    if (t.k === "str") return this.constSym(t.v);
    if (t.k === "word") return this.wordSym(t.v);
    throw new ProjectError(`syntax error: expected a symbol, got '${t.v}'`, loc);
  }
}

class TokStream {
  constructor(
    private readonly toks: Tok[],
    private i: number,
    private readonly loc: Loc,
    private readonly p: Parser,
  ) {}

  more(): boolean {
    return this.i < this.toks.length;
  }
  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private fail(what: string): never {
    const t = this.peek();
    throw new ProjectError(`syntax error: expected ${what}, got ${t ? `'${t.v}'` : "end of line"}`, this.loc);
  }
  end(): void {
    if (this.more()) this.fail("end of line");
  }
  word(): string {
    const t = this.peek();
    if (!t || t.k !== "word") this.fail("a symbol name");
    this.i++;
    return (t as Tok).v;
  }
  str(): string {
    const t = this.peek();
    if (!t || t.k === "op") this.fail("a quoted string");
    this.i++;
    return (t as Tok).v;
  }
  keyword(k: string): void {
    const t = this.peek();
    if (!t || t.k !== "word" || t.v !== k) this.fail(`'${k}'`);
    this.i++;
  }
  ifExpr(): Expr | undefined {
    const t = this.peek();
    if (t && t.k === "word" && t.lit && t.v === "if") {
      this.i++;
      return this.expr();
    }
    return undefined;
  }
  symbol(): Sym {
    const t = this.peek();
    if (!t) this.fail("a symbol");
    this.i++;
    return this.p.symbolFromTok(t as Tok, this.loc);
  }
  expr(): Expr {
    let e = this.andExpr();
    while (this.isOp("||")) {
      this.i++;
      e = { t: "or", a: e, b: this.andExpr() };
    }
    return e;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return !!t && t.k === "op" && t.v === v;
  }
  private andExpr(): Expr {
    let e = this.unary();
    while (this.isOp("&&")) {
      this.i++;
      e = { t: "and", a: e, b: this.unary() };
    }
    return e;
  }
  private unary(): Expr {
    if (this.isOp("!")) {
      this.i++;
      return { t: "not", e: this.unary() };
    }
    if (this.isOp("(")) {
      this.i++;
      const e = this.expr();
      if (!this.isOp(")")) this.fail("')'");
      this.i++;
      return e;
    }
    const t = this.peek();
    if (!t || t.k === "op" || (t.k === "word" && t.lit && t.v === "if")) this.fail("an expression");
    const a = this.symbol();
    const n = this.peek();
    if (n && n.k === "op" && ["=", "!=", "<", "<=", ">", ">="].includes(n.v)) {
      this.i++;
      const b = this.symbol();
      return { t: "cmp", op: n.v as CmpOp, a, b };
    }
    return { t: "sym", sym: a };
  }
}

// ---------------------------------------------------------------------------------------------
// finalize: kconfig's menu_finalize

function and(a: Expr | undefined, b: Expr | undefined): Expr | undefined {
  if (!a) return b;
  if (!b) return a;
  return { t: "and", a, b };
}
function or(a: Expr | undefined, b: Expr): Expr {
  return a ? { t: "or", a, b } : b;
}

/** Reset per finalize; plain Map (not WeakMap) because ephemeron tables are costly to collect. */
let unknownMemo = new Map<Expr, boolean>();

function exprHasUnknown(e: Expr | undefined): boolean {
  if (!e) return false;
  if (e.t === "sym") return e.sym.unknown;
  let r = unknownMemo.get(e);
  if (r === undefined) {
    r = exprHasUnknownUncached(e);
    unknownMemo.set(e, r);
  }
  return r;
}

function exprHasUnknownUncached(e: Expr): boolean {
  switch (e.t) {
    case "sym":
      return e.sym.unknown;
    case "not":
      return exprHasUnknown(e.e);
    case "and":
    case "or":
      return exprHasUnknown(e.a) || exprHasUnknown(e.b);
    case "cmp":
      return e.a.unknown || e.b.unknown;
  }
}

/** Whether e requires s (s, s!=n, s=y, s=m, or a conjunction containing one). */
function dependsOn(e: Expr | undefined, s: Sym): boolean {
  if (!e) return false;
  switch (e.t) {
    case "sym":
      return e.sym === s;
    case "and":
      return dependsOn(e.a, s) || dependsOn(e.b, s);
    case "cmp":
      if (e.a === s && e.b.isConst) {
        if (e.op === "!=") return e.b.name === "n";
        if (e.op === "=") return e.b.name === "y" || e.b.name === "m";
      }
      return false;
    default:
      return false;
  }
}

function finalize(model: KconfigModel, modSym: Sym): void {
  unknownMemo = new Map();
  const modules = model.modules;
  const rewriteM = (e: Expr | undefined): Expr | undefined => {
    if (!e) return e;
    switch (e.t) {
      case "sym":
        return e.sym === modSym && modules ? { t: "and", a: e, b: { t: "sym", sym: modules } } : e;
      case "not": {
        const x = rewriteM(e.e) as Expr;
        return x === e.e ? e : { t: "not", e: x };
      }
      case "and":
      case "or": {
        const a = rewriteM(e.a) as Expr;
        const b = rewriteM(e.b) as Expr;
        return a === e.a && b === e.b ? e : { t: e.t, a, b };
      }
      default:
        return e;
    }
  };
  const legacy = model.choiceModel === "legacy";
  const anyUnknown = model.all.some((s) => s.unknown);

  const walk = (parent: MenuNode): void => {
    const parentDep: Expr | undefined =
      legacy && parent.kind === "choice" && parent.sym ? { t: "sym", sym: parent.sym } : parent.dep;
    for (const child of parent.children) {
      child.dep = and(parentDep, rewriteM(child.ownDep));
      const props = child.sym ? child.sym.props : child.prompt ? [child.prompt] : [];
      for (const p of props) {
        if (p.node !== child) continue;
        p.visible = and(child.dep, rewriteM(p.cond));
        if (p.kind === "select" && p.target && child.sym) {
          p.target.revDep = or(p.target.revDep, and({ t: "sym", sym: child.sym }, p.visible) as Expr);
        } else if (p.kind === "imply" && p.target && child.sym) {
          p.target.implied = or(p.target.implied, and({ t: "sym", sym: child.sym }, p.visible) as Expr);
        }
      }
      // kconfig's expr_alloc_or drops a missing side, so a definition without dependencies
      // does not widen dir_dep (a known kconfig quirk, reproduced on purpose).
      if (child.sym && child.kind !== "choice" && child.dep) {
        child.sym.dirDep = or(child.sym.dirDep, child.dep);
      }
      walk(child);
    }
  };
  walk(model.root);

  // Choice membership (sym_get_choice_menu): the first definition with a prompt, whose nearest
  // enclosing entry with a symbol is a choice.
  for (const s of model.all) {
    if (s.isConst || s.isChoice || s.nodes.length === 0) continue;
    const withPrompt = s.nodes.find((n) => n.prompt) ?? (legacy ? s.nodes[0] : undefined);
    if (!withPrompt) continue;
    let m = withPrompt.parent;
    while (m && !m.sym) m = m.parent;
    if (m && m.kind === "choice" && m.sym) s.choice = m;
  }
  // Members in menu order (the order kconfig walks them).
  for (const s of model.all) {
    if (!s.isChoice || !s.nodes[0]) continue;
    const members: Sym[] = [];
    const collect = (n: MenuNode): void => {
      for (const c of n.children) {
        if (c.sym && c.sym.choice === s.nodes[0] && !members.includes(c.sym)) members.push(c.sym);
        if (c.kind === "if") collect(c);
      }
    };
    collect(s.nodes[0]);
    s.members = members;
  }
  for (const s of model.all) {
    if (s.isChoice) {
      // Choice type comes from its first member when not declared.
      if (s.type === "unknown") s.type = s.members?.[0]?.type ?? "bool";
      // Non-optional choices are forced on when visible: rev_dep |= prompt visible && m.
      const node = s.nodes[0];
      if (legacy && node?.prompt && !s.optional) {
        s.revDep = or(s.revDep, { t: "and", a: node.prompt.visible ?? yesExpr(model), b: { t: "sym", sym: modSym } });
      }
    }
    // Members of a tristate choice that are bool need the choice at y (legacy kconfig).
    if (legacy && s.choice?.sym?.type === "tristate" && s.type === "bool") {
      const cs = s.choice.sym;
      const yes = yesSym(model);
      for (const p of s.props) {
        if (p.node.parent === s.choice || p.node.parent?.kind === "if") {
          p.visible = and({ t: "cmp", op: "=", a: cs, b: yes }, p.visible);
        }
      }
    }
    if (!s.isConst && anyUnknown) {
      s.envDerived =
        s.props.some(
          (p) =>
            (p.kind === "default" || p.kind === "prompt" || p.kind === "range") &&
            (exprHasUnknown(p.expr) || exprHasUnknown(p.visible) || (p.range ? p.range[0].unknown || p.range[1].unknown : false)),
        ) ||
        exprHasUnknown(s.dirDep) ||
        exprHasUnknown(s.revDep) ||
        exprHasUnknown(s.implied);
    }
  }

  unknownMemo = new Map();
  computeMenuParents(model.root);
}

function yesSym(model: KconfigModel): Sym {
  return model.all.find((s) => s.isConst && s.name === "y") as Sym;
}
function yesExpr(model: KconfigModel): Expr {
  return { t: "sym", sym: yesSym(model) };
}

/**
 * The menu tree users see: block children, plus kconfig's implicit submenus (entries right
 * after a config that depend on it are shown under it).
 */
function computeMenuParents(root: MenuNode): void {
  const layout = (kids: MenuNode[], displayParent: MenuNode, inChoice: boolean): void => {
    let i = 0;
    while (i < kids.length) i = place(kids, i, displayParent, inChoice);
  };
  // Puts kids[i] under displayParent, then the entries right after it that depend on its symbol
  // (kconfig's automatic submenu; the scan stops at the first entry that does not). Entries
  // without a prompt cannot hold a submenu, so theirs show one level up. Returns the next index.
  const place = (kids: MenuNode[], i: number, displayParent: MenuNode, inChoice: boolean): number => {
    const n = kids[i] as MenuNode;
    n.menuParent = displayParent;
    layout(n.children, n.kind === "if" ? displayParent : n, n.kind === "choice" || (inChoice && n.kind === "if"));
    let j = i + 1;
    const s = n.sym;
    if (!s || s.isChoice || inChoice) return j;
    const shown = n.prompt ? n : displayParent;
    while (j < kids.length) {
      const m = kids[j] as MenuNode;
      if (!dependsOn(m.prompt?.visible ?? m.dep, s)) break;
      j = place(kids, j, shown, inChoice);
    }
    return j;
  };
  layout(root.children, root, false);
}

/** Titles from the top menu down to (not including) the entry: for grouping by menu. */
export function menuPath(node: MenuNode): string[] {
  const out: string[] = [];
  for (let m = node.menuParent; m && m.kind !== "root"; m = m.menuParent) {
    const title = m.prompt?.text;
    if (title) out.unshift(title);
  }
  return out;
}

/** Menu path of a symbol by name (its first definition), or undefined when it is not defined. */
export function symbolMenuPath(model: KconfigModel, name: string): string[] | undefined {
  const n = model.symbols.get(name.replace(/^CONFIG_/, ""))?.nodes[0];
  return n ? menuPath(n) : undefined;
}
