/**
 * Kconfig's preprocessor (Documentation/kbuild/kconfig-macro-language.rst):
 * `$(VAR)`, `$(fn,arg,...)`, `VAR := value` (simple), `VAR = value` (recursive), `VAR += value`,
 * and the built-ins shell, info, warning-if, error-if, filename, lineno.
 *
 * Pure: the environment and `$(shell,...)` come from a MacroHost. When the host cannot answer
 * (no shell runner, unset environment variable), the result is the UNKNOWN marker; any text
 * built from it stays unknown, and symbols whose definitions use it take their value from a
 * .config produced by kconfig itself (see evaluate()).
 */
import { ProjectError } from "../errors.js";

/** Marker for a value kiln could not compute. Never valid in a real Kconfig name or string. */
export const UNKNOWN = "\u0001?\u0001";

/**
 * The marker of one particular unknown result: each distinct `$(shell,...)` command text (and
 * each unknown environment variable) gets its own, so the pinned view can infer each check's
 * result separately (inferChecks in eval.ts). Every marker contains \u0001, like UNKNOWN.
 */
export function unknownMarker(id: number): string {
  return `\u0001?${id}\u0001`;
}

export function isUnknown(s: string): boolean {
  return s.includes("\u0001");
}

export interface MacroHost {
  /** An environment variable as top-level make exports it; undefined when kiln does not know it. */
  env(name: string): string | undefined;
  /** Runs `$(shell,cmd)`; undefined (or absent) when commands are not run. */
  shell?(cmd: string): string | undefined;
  /** `$(info,...)` and `$(warning-if,...)` output. */
  message?(text: string): void;
}

interface Variable {
  flavor: "simple" | "recursive";
  value: string;
}

export class Macros {
  private readonly vars = new Map<string, Variable>();
  private readonly expanding = new Set<string>();
  /** Environment variables the tree read, with the value used (kconfig records these too). */
  readonly envUsed = new Map<string, string | undefined>();
  /** Shell commands run (or left unknown), in order of first use. */
  readonly shellCalls = new Map<string, string | undefined>();
  /** One marker per unknown command text or environment variable, numbered in order of first use. */
  private readonly unknownIds = new Map<string, string>();

  private marker(key: string): string {
    let m = this.unknownIds.get(key);
    if (m === undefined) {
      m = unknownMarker(this.unknownIds.size);
      this.unknownIds.set(key, m);
    }
    return m;
  }

  constructor(private readonly host: MacroHost) {}

  assign(name: string, op: "=" | ":=" | "+=", raw: string, file: string, line: number): void {
    const n = this.expand(name, file, line).trim();
    if (!n || /\s/.test(n)) throw new ProjectError(`invalid variable name '${n}'`, { file, line });
    const old = this.vars.get(n);
    if (op === "+=" && old) {
      const add = old.flavor === "simple" ? this.expand(raw, file, line) : raw;
      old.value = old.value ? `${old.value} ${add}` : add;
      return;
    }
    if (op === ":=") this.vars.set(n, { flavor: "simple", value: this.expand(raw, file, line) });
    else this.vars.set(n, { flavor: "recursive", value: raw });
  }

  /** Expands every `$(...)` in text. */
  expand(text: string, file: string, line: number, args: string[] = []): string {
    if (!text.includes("$")) return text;
    let out = "";
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "$" && text[i + 1] === "(") {
        const end = matchParen(text, i + 1);
        if (end < 0) throw new ProjectError("unterminated reference to '$('", { file, line });
        out += this.evalRef(text.slice(i + 2, end), file, line, args);
        i = end + 1;
      } else {
        out += c;
        i++;
      }
    }
    return out;
  }

  private evalRef(inner: string, file: string, line: number, args: string[]): string {
    const parts = splitTopLevel(inner);
    const name = this.expand(parts[0] ?? "", file, line, args);
    const argv = parts.slice(1).map((p) => this.expand(p, file, line, args));
    if (/^[0-9]+$/.test(name)) {
      const n = Number(name);
      return n >= 1 && n <= args.length ? (args[n - 1] ?? "") : "";
    }
    const v = this.vars.get(name);
    if (v) {
      if (v.flavor === "simple") return v.value;
      if (this.expanding.has(name)) {
        throw new ProjectError(`Recursive variable '${name}' references itself (eventually)`, { file, line });
      }
      this.expanding.add(name);
      try {
        return this.expand(v.value, file, line, argv);
      } finally {
        this.expanding.delete(name);
      }
    }
    switch (name) {
      case "shell": {
        const cmd = argv.join(",");
        if (isUnknown(cmd)) return this.marker(`shell:${cmd}`);
        if (this.shellCalls.has(cmd)) return this.shellCalls.get(cmd) ?? this.marker(`shell:${cmd}`);
        const r = this.host.shell ? this.host.shell(cmd) : undefined;
        this.shellCalls.set(cmd, r);
        return r ?? this.marker(`shell:${cmd}`);
      }
      case "info":
        this.host.message?.(argv.join(","));
        return "";
      case "warning-if":
        if (argv[0] === "y") this.host.message?.(`${file}:${line}: ${argv.slice(1).join(",")}`);
        return "";
      case "error-if":
        if (argv[0] === "y") {
          throw new ProjectError(argv.slice(1).join(","), { file, line });
        }
        return "";
      case "filename":
        return file;
      case "lineno":
        return String(line);
    }
    if (argv.length === 0) {
      if (!this.envUsed.has(name)) this.envUsed.set(name, this.host.env(name));
      const e = this.envUsed.get(name);
      return e === undefined ? this.marker(`env:${name}`) : e;
    }
    throw new ProjectError(`unknown function '${name}'`, { file, line });
  }
}

/** Index of the ')' matching the '(' at open, or -1. */
export function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const c of s) {
    if (c === "(") depth++;
    else if (c === ")") depth--;
    if (c === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}
