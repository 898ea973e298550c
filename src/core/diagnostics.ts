/**
 * Compiler and linker diagnostics from a kernel build's output.
 *
 * `kiln build` feeds every line of make's stdout and stderr to a DiagnosticCollector. It turns
 * gcc, clang, GNU as, GNU ld, ld.lld, make, kbuild, modpost and objtool messages into
 * Diagnostics with file:line:col, severity and message, de-duplicates them, counts errors and
 * warnings, and keeps the first errors so a failing build can show them instead of a wall of
 * make output.
 *
 * Pure and streaming: push() one line at a time (or write() raw chunks); nothing here does I/O.
 *
 * Decisions:
 * - De-duplication key: file, line, column, severity and message (after path normalisation).
 *   The same header warning reported for every file that includes it, or the same undefined
 *   symbol reported by each of the kernel's link passes, is kept once, at its first position.
 * - Notes (`note:` lines, e.g. "in expansion of macro", "each undeclared identifier is
 *   reported only once") belong to the error or warning before them: they are attached to it
 *   as `notes` and are not listed on their own. A note with nothing before it is listed with
 *   severity "note". Notes never count.
 * - Source echo and caret lines (`   4 |  return x;`, `      |  ^~~`, clang's raw echo) and
 *   summaries ("cc1: some warnings being treated as errors", "3 errors generated.",
 *   "compilation terminated.") are ignored.
 * - make's `*** [target] Error N` lines are the failing-target info, not diagnostics of their
 *   own: they are collected in `failedTargets`. They add an error to the list and the count
 *   only when no error was seen since the previous make failure line, i.e. the build failed
 *   for a reason none of the tools explained in a form we parse (a crashed or killed compiler,
 *   a missing host tool, a script error). That error carries the unparsed lines just before
 *   it as `detail`. The cascade of parent makes (`make[1]: *** [...] Error 2` after
 *   `make[2]: *** [...] Error 1`) is recognised by its lower make level and never counts.
 * - Linker errors count: each undefined reference, multiple definition, `final link failed`,
 *   `cannot find -lx`, ld.lld `error:` is an error. The driver summaries
 *   "collect2: error: ld returned 1 exit status" and "clang: error: linker command failed"
 *   count only when no linker error preceded them in the same command's output.
 * - make's own errors ("No rule to make target ...  Stop.", "Makefile:12: *** missing
 *   separator.  Stop.") and modpost's `ERROR:`/`FATAL:` lines are real errors and count.
 */
import { classifyKbuildLine } from "./kbuild_lines.js";

export type Severity = "error" | "warning" | "note";
export type DiagnosticTool = "cc" | "ld" | "make" | "kbuild" | "modpost" | "objtool" | "as";

export interface Diagnostic {
  file?: string;
  line?: number;
  column?: number;
  severity: Severity;
  message: string;
  /** The warning option gcc or clang names, e.g. -Wunused-variable, -Werror=return-type, -Werror,-Wformat. */
  flag?: string;
  tool: DiagnosticTool;
  /** Where the compiler was, e.g. "In function 'foo'", "In file included from init/main.c:17". */
  context?: string[];
  /** Notes the compiler attached to this diagnostic. */
  notes?: Diagnostic[];
  /** Continuation lines: ld.lld's ">>> referenced by" block, modpost's indented text, the
   *  unparsed output before an unexplained make failure. */
  detail?: string[];
}

/** A target make reports as failed (`make[N]: *** [makefile:line: target] Error N`). */
export interface MakeFailure {
  target: string;
  makefile?: string;
  makefileLine?: number;
  /** "Error 1", "Killed", ... */
  reason: string;
  /** make's recursion level, N in make[N]; 0 for the top make. */
  level: number;
}

export interface DiagnosticOptions {
  /**
   * Path prefixes to remove so files read relative to the source tree: an out-of-tree build
   * prints source files as absolute paths (`/src/linux/init/main.c`) or relative to the build
   * folder (`../src/init/main.c`). A trailing "/" is implied. Longest prefix wins.
   */
  stripPrefixes?: string[];
}

export function formatDiagnostic(d: Diagnostic, opts: { withContext?: boolean } = {}): string {
  const where = location(d) ?? (d.tool === "cc" ? undefined : d.tool);
  const toolTag = (d.tool === "objtool" || d.tool === "modpost") && where !== d.tool ? `${d.tool}: ` : "";
  const head = `${where ? `${where}: ` : ""}${d.severity}: ${toolTag}${d.message}${d.flag ? ` [${d.flag}]` : ""}`;
  if (!opts.withContext) return head;
  const out: string[] = [];
  const ctx = d.context ?? [];
  ctx.forEach((c, i) => {
    if (c.startsWith("from ")) {
      // gcc's layout: "In file included from a.h:1," then "                 from b.c:2:".
      out.push(`                 ${c}${ctx[i + 1]?.startsWith("from ") ? "," : ":"}`);
    } else if (c.startsWith("In file included from ")) {
      out.push(`${c}${ctx[i + 1]?.startsWith("from ") ? "," : ":"}`);
    } else {
      // gcc prints "file: In function 'f':"; ld's context carries its own path.
      out.push(d.file && /^(?:In |At )/.test(c) ? `${d.file}: ${c}:` : `${c}:`);
    }
  });
  out.push(head);
  for (const n of d.notes ?? []) out.push(formatDiagnostic(n));
  for (const l of d.detail ?? []) out.push(`  ${l}`);
  return out.join("\n");
}

function location(d: Diagnostic): string | undefined {
  if (d.file === undefined) return undefined;
  let s = d.file;
  if (d.line !== undefined) s += `:${d.line}`;
  if (d.line !== undefined && d.column !== undefined) s += `:${d.column}`;
  return s;
}

export function parseDiagnostics(text: string, opts: DiagnosticOptions = {}): Diagnostic[] {
  const c = new DiagnosticCollector(opts);
  c.write(text);
  c.end();
  return c.diagnostics;
}

// ---------------------------------------------------------------------------------------------

// Colour (SGR, erase-line) and OSC 8 hyperlinks that gcc and clang add with -fdiagnostics-color.
// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\]8;[^\x07\x1b]*(?:\x07|\x1b\\)/g;

const SEVERITY = "fatal error|error|warning|note|remark";
const CC_RE = new RegExp(`^([^\\s:][^:]*?):(\\d+):(?:(\\d+):)? (${SEVERITY}): (.*)$`);
const CC_NOLINE_RE = new RegExp(`^([^\\s:][^:]*?): (${SEVERITY}): (.*)$`);
const AS_RE = /^(.+?):(\d+): (Error|Warning|Fatal error|Info): (.*)$/;
const AS_HEADER_RE = /^.+: Assembler messages:$/;
const FUNC_CTX_RE =
  /^([^\s:][^:]*?): (In (?:function|member function|static member function|constructor|destructor|lambda function|instantiation of|substitution of)\b.*|At top level|At global scope):$/;
const INCLUDED_RE = /^In file included from (.+?)[,:]$/;
const INCLUDED_MORE_RE = /^\s+from (.+?)[,:]$/;
const FLAG_RE = / \[(-W[^\]\s]*)\]$/;

const MAKE_RE = /^(?:\S*\/)?g?make(?:\[(\d+)\])?: (.*)$/;
const MAKE_FAIL_RE = /^\*\*\* \[(.+)\] (.+)$/;
const MAKE_STOP_RE = /^\*\*\* (.*?)\.?\s+Stop\.$/;
const MAKEFILE_STOP_RE = /^(\S+):(\d+): \*\*\* (.*?)\.?(?:\s+Stop\.)?$/;
const MAKEFILE_NAME_RE = /(?:^|\/)(?:GNUmakefile|[Mm]akefile(?:\.[\w.-]+)?|Kbuild(?:\.[\w.-]+)?|[\w.-]+\.mk)$/;

const KBUILD_RE = /^(ERROR|WARNING|FATAL): (?:(modpost): )?(.*)$/;

const LD_RE = /^(?:\S*\/)?(?:[\w.+-]+-)?(?:ld(?:\.bfd|\.gold|\.lld)?|lld|mold): (.*)$/;
const LD_LOC = String.raw`[^\s:]+(?::\([^)]*\)|:\d+)?`;
const LD_SEV_RE = /^(error|warning|note|NOTE|Warning|Error): (.*)$/;
const LD_FUNC_RE = new RegExp(`^(${LD_LOC}): (in function .*|in .* section .*):$`);
const LD_LOC_RE = new RegExp(`^(${LD_LOC}): (?:(error|warning|note): )?(.+)$`);
const LD_BARE_RE = new RegExp(
  String.raw`^([^\s:]+(?::\([^)]*\)|:\d+)): ((?:undefined reference to|multiple definition of|more undefined references to|relocation truncated to fit|first defined here|additional relocation overflows omitted|dangerous relocation).*)$`,
);

const DRIVER_RE =
  /^(?:\S*\/)?(?:[\w.+-]+-)?(cc1(?:plus)?|gcc|g\+\+|cc|c\+\+|clang(?:\+\+)?|collect2|lto1|lto-wrapper)(?:-\d+(?:\.\d+)*)?$/;

const MAX_UNPARSED = 8;

export class DiagnosticCollector {
  private readonly prefixes: string[];
  private readonly list: Diagnostic[] = [];
  private readonly keys = new Set<string>();
  private readonly failures: MakeFailure[] = [];
  private readonly failureKeys = new Set<string>();
  private partial = "";

  /** The diagnostic later notes and continuation lines belong to (may be a discarded duplicate). */
  private current: Diagnostic | undefined;
  private detailMode: "lld" | "indent" | undefined;
  private include: { chain: string[]; file?: string; open: boolean } | undefined;
  private fn: { file: string; text: string } | undefined;
  private ldContext: string | undefined;
  private linkErrors = 0;
  private errorSinceMakeFailure = false;
  private lastMakeFailureLevel: number | undefined;
  private unparsed: string[] = [];

  constructor(opts: DiagnosticOptions = {}) {
    this.prefixes = (opts.stripPrefixes ?? [])
      .filter((p) => p.length > 0)
      .map((p) => (p.endsWith("/") ? p : `${p}/`))
      .sort((a, b) => b.length - a.length);
  }

  /** De-duplicated diagnostics, in the order first seen. */
  get diagnostics(): Diagnostic[] {
    return [...this.list];
  }

  get counts(): { errors: number; warnings: number } {
    let errors = 0;
    let warnings = 0;
    for (const d of this.list) {
      if (d.severity === "error") errors++;
      else if (d.severity === "warning") warnings++;
    }
    return { errors, warnings };
  }

  /** The first n errors, in order. */
  firstErrors(n: number): Diagnostic[] {
    return this.list.filter((d) => d.severity === "error").slice(0, Math.max(0, n));
  }

  /** Targets make reported as failed, innermost first; parents' cascading failures are left out. */
  get failedTargets(): MakeFailure[] {
    return [...this.failures];
  }

  /** Feed a raw chunk of output; complete lines are parsed, a trailing partial line waits. */
  write(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    for (const l of lines) this.push(l);
  }

  /** Feed one line (without its newline; embedded newlines are split). */
  push(line: string): void {
    if (line.includes("\n")) {
      for (const l of line.split("\n")) this.pushLine(l);
      return;
    }
    this.pushLine(line);
  }

  /** End of output: parses a pending partial line and closes the open diagnostic. */
  end(): void {
    if (this.partial !== "") {
      const rest = this.partial;
      this.partial = "";
      this.pushLine(rest);
    }
    this.boundary();
  }

  // -------------------------------------------------------------------------------------------

  private pushLine(raw: string): void {
    const line = raw.replace(ANSI_RE, "").replace(/\r$/, "");
    if (line.trim() === "") {
      this.detailMode = undefined;
      return;
    }
    if (this.detailMode === "lld" && line.startsWith(">>>")) {
      this.addDetail(line);
      return;
    }
    if (this.detailMode === "indent" && /^\s/.test(line) && classifyKbuildLine(line).kind === "other") {
      this.addDetail(line.trim());
      return;
    }
    this.detailMode = undefined;

    if (classifyKbuildLine(line).kind === "step") {
      this.boundary();
      return;
    }
    if (this.parseMake(line)) return;
    if (this.parseContext(line)) return;
    if (this.parseLinker(line)) return;
    if (this.parseKbuild(line)) return;
    if (this.parseAssembler(line)) return;
    if (this.parseCompiler(line)) return;
    this.noteUnparsed(line);
  }

  /** A new command's output starts: forget per-command context. */
  private boundary(): void {
    this.current = undefined;
    this.detailMode = undefined;
    this.include = undefined;
    this.fn = undefined;
    this.ldContext = undefined;
    this.linkErrors = 0;
    this.unparsed = [];
  }

  private noteUnparsed(line: string): void {
    // Source echo and caret lines carry nothing for an unexplained failure.
    if (/^\s*\d*\s*\|/.test(line) || /^\s*[~^][~^\s]*$/.test(line)) return;
    // clang echoes source lines raw after a diagnostic; keep only "program: message" lines then.
    if (this.current && !/^\S+: \S/.test(line)) return;
    this.unparsed.push(line);
    if (this.unparsed.length > MAX_UNPARSED) this.unparsed.shift();
  }

  private addDetail(line: string): void {
    if (!this.current) return;
    (this.current.detail ??= []).push(this.stripIn(line));
  }

  private normPath(p: string): string {
    let s = p;
    for (const pre of this.prefixes) {
      if (s.startsWith(pre)) {
        s = s.slice(pre.length);
        break;
      }
    }
    while (s.startsWith("./")) s = s.slice(2);
    return s;
  }

  /** Strip prefixes from paths embedded in free text (make targets, modpost messages). */
  private stripIn(text: string): string {
    let s = text;
    for (const pre of this.prefixes) {
      let out = "";
      let i = 0;
      for (;;) {
        const j = s.indexOf(pre, i);
        if (j < 0) break;
        const before = j === 0 ? "" : s[j - 1]!;
        if (j === 0 || /[\s[('"`‘,=]/.test(before)) {
          out += s.slice(i, j);
          i = j + pre.length;
        } else {
          out += s.slice(i, j + pre.length);
          i = j + pre.length;
        }
      }
      s = out + s.slice(i);
    }
    return s;
  }

  private record(d: Diagnostic): Diagnostic {
    if (d.severity === "error") this.errorSinceMakeFailure = true;
    if (d.file !== undefined) d.file = this.normPath(d.file);
    const key = JSON.stringify([d.file ?? null, d.line ?? null, d.column ?? null, d.severity, d.message]);
    this.unparsed = [];
    if (this.keys.has(key)) {
      this.current = d; // later notes go to a copy nobody keeps
      return d;
    }
    this.keys.add(key);
    this.list.push(d);
    this.current = d;
    return d;
  }

  // ---- make --------------------------------------------------------------------------------

  private parseMake(line: string): boolean {
    const m = MAKE_RE.exec(line);
    if (m) {
      const level = m[1] === undefined ? 0 : Number(m[1]);
      const rest = m[2]!;
      if (/^(?:Entering|Leaving) directory /.test(rest)) {
        this.boundary();
        return true;
      }
      const fail = MAKE_FAIL_RE.exec(rest);
      if (fail) {
        this.makeFailure(level, fail[1]!, fail[2]!);
        return true;
      }
      if (/^\*\*\* (?:Waiting for unfinished jobs|Deleting (?:intermediate )?file)/.test(rest)) return true;
      const stop = MAKE_STOP_RE.exec(rest);
      if (stop) {
        this.boundary();
        this.record({ severity: "error", tool: "make", message: `${this.stripIn(stop[1]!)}.` });
        this.current = undefined;
        return true;
      }
      const warn = /^warning: (.*)$/.exec(rest);
      if (warn) {
        this.record({ severity: "warning", tool: "make", message: warn[1]! });
        this.current = undefined;
        return true;
      }
      // Keep make's own messages ("make: foo: No such file or directory") for an unexplained
      // failure; its chatter ("Nothing to be done", "not remade because of errors") is dropped.
      if (!/^(?:Nothing to be done|Target .* not remade|.* is up to date\.)/.test(rest)) this.noteUnparsed(line);
      return true;
    }
    const mk = MAKEFILE_STOP_RE.exec(line);
    if (mk && MAKEFILE_NAME_RE.test(mk[1]!)) {
      this.record({ file: mk[1]!, line: Number(mk[2]), severity: "error", tool: "make", message: `${mk[3]!}.` });
      this.current = undefined;
      return true;
    }
    return false;
  }

  private makeFailure(level: number, inner: string, reason: string): void {
    const m = /^(?:([^:]+?)(?::(\d+))?: )?(.+)$/.exec(inner)!;
    const failure: MakeFailure = { target: this.normPath(m[3]!), reason, level };
    if (m[1] !== undefined) failure.makefile = this.normPath(m[1]);
    if (m[2] !== undefined) failure.makefileLine = Number(m[2]);

    const explained = this.errorSinceMakeFailure;
    const cascade = !explained && this.lastMakeFailureLevel !== undefined && level < this.lastMakeFailureLevel;
    if (!cascade) {
      const key = `${failure.target}\0${reason}`;
      if (!this.failureKeys.has(key)) {
        this.failureKeys.add(key);
        this.failures.push(failure);
      }
      if (!explained) {
        const unparsed = this.unparsed;
        const d: Diagnostic = { severity: "error", tool: "make", message: `target '${failure.target}' failed: ${reason}` };
        if (unparsed.length > 0) d.detail = unparsed.map((l) => this.stripIn(l));
        this.record(d);
      }
    }
    this.errorSinceMakeFailure = false;
    this.lastMakeFailureLevel = level;
    this.boundary();
  }

  // ---- compiler context --------------------------------------------------------------------

  private parseContext(line: string): boolean {
    const inc = INCLUDED_RE.exec(line);
    if (inc) {
      const loc = this.stripIn(inc[1]!);
      if (this.include?.open) this.include.chain.push(`In file included from ${loc}`);
      else this.include = { chain: [`In file included from ${loc}`], open: true };
      this.current = undefined;
      return true;
    }
    const more = INCLUDED_MORE_RE.exec(line);
    if (more && this.include?.open) {
      this.include.chain.push(`from ${this.stripIn(more[1]!)}`);
      return true;
    }
    const fn = FUNC_CTX_RE.exec(line);
    if (fn) {
      const file = this.normPath(fn[1]!);
      this.claimInclude(file);
      this.fn = fn[2]!.startsWith("At ") ? undefined : { file, text: fn[2]! };
      this.current = undefined;
      return true;
    }
    if (AS_HEADER_RE.test(line)) {
      this.current = undefined;
      return true;
    }
    return false;
  }

  /** An include chain belongs to the first file named after it. */
  private claimInclude(file: string): void {
    if (this.include?.open) {
      this.include.open = false;
      this.include.file = file;
    }
  }

  private contextFor(file: string | undefined): string[] | undefined {
    if (file === undefined) return undefined;
    const ctx: string[] = [];
    if (this.include && this.include.file === file) ctx.push(...this.include.chain);
    if (this.fn && this.fn.file === file) ctx.push(this.fn.text);
    return ctx.length > 0 ? ctx : undefined;
  }

  // ---- gcc / clang -------------------------------------------------------------------------

  private parseCompiler(line: string): boolean {
    const m = CC_RE.exec(line);
    if (m) {
      const file = this.normPath(m[1]!);
      this.claimInclude(file);
      const d: Diagnostic = {
        file,
        line: Number(m[2]),
        severity: severityOf(m[4]!),
        message: m[5]!,
        tool: MAKEFILE_NAME_RE.test(file) ? "make" : /\.[sS]$/.test(file) ? "as" : "cc",
      };
      if (m[3] !== undefined) d.column = Number(m[3]);
      this.emitCompiler(d);
      return true;
    }
    const n = CC_NOLINE_RE.exec(line);
    if (!n) return false;
    const who = n[1]!;
    const severity = severityOf(n[2]!);
    const message = n[3]!;
    const driver = DRIVER_RE.exec(who);
    if (driver) {
      const name = driver[1]!;
      if (name === "collect2" || /^clang/.test(name)) {
        if (/^ld returned \d+ exit status$|^linker command failed/.test(message)) {
          if (this.linkErrors === 0) this.record({ severity: "error", tool: "ld", message });
          this.current = undefined;
          return true;
        }
        if (/^assembler command failed/.test(message)) {
          if (!this.errorSinceMakeFailure) this.record({ severity: "error", tool: "as", message });
          this.current = undefined;
          return true;
        }
      }
      this.emitCompiler({ severity, message, tool: "cc" });
      return true;
    }
    if (message.startsWith("objtool: ")) {
      this.record({ file: who, severity, message: message.slice("objtool: ".length), tool: "objtool" });
      return true;
    }
    const file = this.normPath(who);
    this.claimInclude(file);
    this.emitCompiler({ file, severity, message, tool: "cc" });
    return true;
  }

  private emitCompiler(d: Diagnostic): void {
    const flag = FLAG_RE.exec(d.message);
    if (flag) {
      d.flag = flag[1]!;
      d.message = d.message.slice(0, flag.index);
    }
    if (d.severity === "note" && this.current && this.current.severity !== "note") {
      (this.current.notes ??= []).push(d);
      return;
    }
    const ctx = this.contextFor(d.file);
    if (ctx) d.context = ctx;
    this.record(d);
  }

  // ---- GNU as ------------------------------------------------------------------------------

  private parseAssembler(line: string): boolean {
    const m = AS_RE.exec(line);
    if (!m) return false;
    const sev = m[3]!;
    const d: Diagnostic = {
      file: m[1]!,
      line: Number(m[2]),
      severity: sev === "Warning" ? "warning" : sev === "Info" ? "note" : "error",
      message: m[4]!,
      tool: "as",
    };
    if (d.severity === "note" && this.current && this.current.severity !== "note") {
      (this.current.notes ??= []).push(d);
      return true;
    }
    this.record(d);
    return true;
  }

  // ---- ld ----------------------------------------------------------------------------------

  private parseLinker(line: string): boolean {
    const m = LD_RE.exec(line);
    if (m) {
      this.linker(m[1]!);
      return true;
    }
    const bare = LD_BARE_RE.exec(line);
    if (bare) {
      this.linker(line);
      return true;
    }
    return false;
  }

  private linker(rest: string): void {
    const fn = LD_FUNC_RE.exec(rest);
    if (fn) {
      this.ldContext = `${this.normPath(fn[1]!)}: ${fn[2]!}`;
      this.current = undefined;
      return;
    }
    let d: Diagnostic;
    const sev = LD_SEV_RE.exec(rest);
    const loc = sev ? undefined : LD_LOC_RE.exec(rest);
    if (sev) {
      const word = sev[1]!.toLowerCase();
      d = { severity: word === "warning" ? "warning" : word === "note" ? "note" : "error", message: sev[2]!, tool: "ld" };
    } else if (loc) {
      d = { severity: loc[2] === "warning" ? "warning" : loc[2] === "note" ? "note" : "error", message: loc[3]!, tool: "ld" };
      const where = /^(.+?)(?::(\d+)|:\([^)]*\))?$/.exec(loc[1]!)!;
      d.file = where[1]!;
      if (where[2] !== undefined) d.line = Number(where[2]);
    } else {
      d = { severity: "error", message: rest, tool: "ld" };
    }
    if (d.severity === "note") {
      if (this.current && this.current.severity !== "note") (this.current.notes ??= []).push(d);
      else this.record(d);
      return;
    }
    if (this.ldContext && d.file !== undefined) d.context = [this.ldContext];
    if (d.severity === "error") this.linkErrors++;
    this.record(d);
    this.detailMode = "lld";
  }

  // ---- kbuild / modpost --------------------------------------------------------------------

  private parseKbuild(line: string): boolean {
    const m = KBUILD_RE.exec(line);
    if (!m) return false;
    this.record({
      severity: m[1] === "WARNING" ? "warning" : "error",
      message: this.stripIn(m[3]!),
      tool: m[2] === "modpost" ? "modpost" : "kbuild",
    });
    this.detailMode = "indent";
    return true;
  }
}

function severityOf(word: string): Severity {
  if (word === "warning") return "warning";
  if (word === "note" || word === "remark") return "note";
  return "error";
}
