/**
 * Reading and writing .config text the way kconfig does (confdata.c): `CONFIG_X=value`,
 * `# CONFIG_X is not set` (= n), other comments and blank lines ignored.
 */
import { ProjectError } from "../errors.js";
import type { MenuNode } from "./ast.js";
import type { Evaluation } from "./eval.js";

export interface ConfigLine {
  name: string;
  /** The value as kconfig stores it: strings unquoted and unescaped. */
  value: string;
  /** The value as written in the file: strings keep their quotes and escapes. */
  raw: string;
  line: number;
}

/**
 * The one .config line reader (fragments, merged files and kconfig's output all go through it).
 * The quote rule: `raw` is the text after `=` exactly as written, which is what a fragment's
 * request is compared with (a request `"abc"` matches a final `"abc"`); `value` is what kconfig
 * stores (confdata.c: the quotes removed, `\"` and `\\` unescaped), which is what the evaluator
 * takes. `lenient` skips lines that are neither an assignment nor a comment instead of failing.
 */
export interface ReadOptions {
  lenient?: boolean;
}

/**
 * Parses .config text into name -> value (no CONFIG_ prefix; strings unquoted and unescaped).
 * A symbol given twice keeps the later value at the later position, as kconfig does.
 */
export function parseDotConfig(text: string, file = ".config", opts: ReadOptions & { raw?: boolean } = {}): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of dotConfigLines(text, file, opts)) {
    out.delete(l.name);
    out.set(l.name, opts.raw ? l.raw : l.value);
  }
  return out;
}

/** Every assignment with its line number, for callers that report file:line. */
export function dotConfigLines(text: string, file = ".config", opts: ReadOptions = {}): ConfigLine[] {
  const out: ConfigLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? "").replace(/\r$/, "");
    const line = raw.trim() === "" ? "" : raw;
    if (!line) continue;
    if (line.startsWith("#")) {
      const m = /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(line);
      if (m) out.push({ name: m[1] as string, value: "n", raw: "n", line: i + 1 });
      continue;
    }
    const m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (!m) {
      if (opts.lenient) continue;
      throw new ProjectError(`unexpected data: ${line}`, { file, line: i + 1 });
    }
    const asWritten = m[2] as string;
    let v = asWritten;
    if (v.startsWith('"')) {
      if (!v.endsWith('"') || v.length < 2) {
        if (opts.lenient) continue;
        throw new ProjectError(`unterminated string: ${line}`, { file, line: i + 1 });
      }
      v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    out.push({ name: m[1] as string, value: v, raw: asWritten, line: i + 1 });
  }
  return out;
}

/** One .config line for a symbol of the given type. */
export function formatConfigLine(name: string, type: string, value: string): string {
  if ((type === "bool" || type === "tristate") && value === "n") return `# CONFIG_${name} is not set`;
  if (type === "string") return `CONFIG_${name}="${value.replace(/(["\\])/g, "\\$1")}"`;
  return `CONFIG_${name}=${value}`;
}

/**
 * The .config text kconfig's conf_write produces for an evaluation: heading, menu and comment
 * blocks, every written symbol once in menu order.
 */
export function writeDotConfig(ev: Evaluation): string {
  const { model } = ev;
  let out = `#\n# Automatically generated file; DO NOT EDIT.\n# ${model.mainmenu ?? "Linux Kernel Configuration"}\n#\n`;
  const written = new Set<string>();
  let needNewline = false;
  const visible = (n: MenuNode): boolean => {
    if (!n.prompt) return false;
    if (n.visibility && ev.expr(n.visibility) === 0) return false;
    if (n.sym) {
      if (ev.expr(n.prompt.visible) !== 0) return true;
      if (ev.tri(n.sym) === 0) return false;
      return n.children.some(visible);
    }
    return ev.expr(n.prompt.visible) !== 0;
  };
  const walk = (n: MenuNode): void => {
    const s = n.sym;
    if (!s) {
      if (visible(n)) {
        out += `\n#\n# ${n.prompt?.text ?? ""}\n#\n`;
        needNewline = false;
      }
    } else if (!s.isChoice && !written.has(s.name)) {
      if (ev.written(s)) {
        if (needNewline) {
          out += "\n";
          needNewline = false;
        }
        written.add(s.name);
        out += formatConfigLine(s.name, s.type, ev.value(s)) + "\n";
      }
    }
    for (const c of n.children) walk(c);
    if (!s && n.kind === "menu" && visible(n)) {
      out += `# end of ${n.prompt?.text ?? ""}\n`;
      needNewline = true;
    }
  };
  for (const c of model.root.children) walk(c);
  return out;
}
