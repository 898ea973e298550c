/**
 * compile_commands.json, as the kernel's own scripts/clang-tools/gen_compile_commands.py writes
 * it from a build folder's .cmd files, made portable for the devel layer and laid out again for
 * a worktree (pure: no I/O).
 *
 * In the store the database names no host path: the warm tree's source folder becomes
 * SRC_PLACEHOLDER and its build folder BUILD_PLACEHOLDER. `kiln dev worktree` puts real paths
 * back (layOut). The compiler wrapper (ccache) is dropped from each command: clangd and
 * `clang -fsyntax-only` want the compiler as the first word.
 */
import { ProjectError } from "../errors.js";

export const SRC_PLACEHOLDER = "@KILN_SRC@";
export const BUILD_PLACEHOLDER = "@KILN_BUILD@";

export interface CompileCommand {
  directory: string;
  file: string;
  command: string;
}

/** Reads a compile_commands.json text; a ProjectError naming `where` and the entry when it is not one. */
export function parseCompileCommands(text: string, where: string): CompileCommand[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProjectError(`${where} is not JSON: ${(e as Error).message}`, { file: where }, "remake it: kiln dev layer");
  }
  if (!Array.isArray(raw)) throw new ProjectError(`${where} is not a JSON array of compile commands`, { file: where }, "remake it: kiln dev layer");
  return raw.map((e: unknown, i) => {
    const o = e as Partial<CompileCommand> | null;
    if (!o || typeof o.directory !== "string" || typeof o.file !== "string" || typeof o.command !== "string") {
      throw new ProjectError(`${where}: entry ${i} lacks a string directory, file or command`, { file: where }, "remake it: kiln dev layer");
    }
    return { directory: o.directory, file: o.file, command: o.command };
  });
}

/** Replaces every occurrence of each `from` (longest first) by its `to`. */
function replaceAll(text: string, pairs: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of [...pairs].sort((a, b) => b[0].length - a[0].length)) {
    if (from) out = out.split(from).join(to);
  }
  return out;
}

/** Drops a compiler wrapper (ccache, sccache, distcc) in front of the compiler. */
export function stripWrapper(command: string): string {
  return command.replace(/^\s*(?:\S*\/)?(?:ccache|sccache|distcc)\s+/, "");
}

function trimSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, "") : p;
}

/** The database with host paths turned into placeholders and the wrapper dropped. */
export function toPlaceholders(entries: readonly CompileCommand[], o: { src: string; build: string }): CompileCommand[] {
  const pairs = [
    [trimSlash(o.src), SRC_PLACEHOLDER],
    [trimSlash(o.build), BUILD_PLACEHOLDER],
  ] as const;
  if (pairs[0][0] === pairs[1][0]) throw new ProjectError(`the source and build folders are the same (${o.src}): kiln builds out of tree`);
  return entries.map((e) => ({
    directory: replaceAll(e.directory, pairs),
    file: replaceAll(e.file, pairs),
    command: stripWrapper(replaceAll(e.command, pairs)),
  }));
}

/** The database with the placeholders pointing at a laid-out source tree and build folder. */
export function layOut(entries: readonly CompileCommand[], o: { src: string; build: string }): CompileCommand[] {
  const pairs = [
    [SRC_PLACEHOLDER, trimSlash(o.src)],
    [BUILD_PLACEHOLDER, trimSlash(o.build)],
  ] as const;
  return entries.map((e) => ({ directory: replaceAll(e.directory, pairs), file: replaceAll(e.file, pairs), command: replaceAll(e.command, pairs) }));
}

/** Host paths still in a database that should hold none (for the layer's own check). */
export function leftoverPaths(entries: readonly CompileCommand[], hostPaths: readonly string[]): string[] {
  const found = new Set<string>();
  for (const e of entries) for (const p of hostPaths) if (p && (e.command.includes(p) || e.file.includes(p) || e.directory.includes(p))) found.add(p);
  return [...found];
}

/** The entry for a source file, by its path relative to the source tree (e.g. "init/calibrate.c"). */
export function entryFor(entries: readonly CompileCommand[], srcRoot: string, rel: string): CompileCommand | undefined {
  const want = `${trimSlash(srcRoot)}/${rel}`;
  return entries.find((e) => e.file === want);
}

/**
 * gcc-only options clang refuses, filtered the way clangd users do (a `.clangd`
 * `CompileFlags: Remove:` list for kernel trees). Options that take no value only.
 */
const GCC_ONLY = [
  /^-fconserve-stack$/,
  /^-fno-allow-store-data-races$/,
  /^-mskip-rax-setup$/,
  /^-mpreferred-stack-boundary=/,
  /^-mindirect-branch=/,
  /^-mindirect-branch-register$/,
  /^-mfunction-return=/,
  /^-mrecord-mcount$/,
  /^-mno-fp-ret-in-387$/,
  /^-fno-var-tracking-assignments$/,
  /^-fmin-function-alignment=/,
  /^-fzero-call-used-regs=/,
  /^-fsanitize=bounds-strict$/,
  /^-falign-jumps=/,
  /^-falign-loops=/,
  /^-fno-ipa-/,
  /^-fno-tree-loop-im$/,
  /^-Wno-(?:dangling-pointer|packed-not-aligned|format-overflow|format-truncation|stringop-truncation|stringop-overflow|alloc-size-larger-than|maybe-uninitialized|unused-but-set-variable|restrict|array-bounds)$/,
  /^-Wimplicit-fallthrough=\d$/,
  /^-Werror=designated-init$/,
  /^-Wenum-conversion$/,
  /^-Wcast-function-type$/,
  /^-Wframe-larger-than=/,
  /^-Wpacked-not-aligned$/,
  /^-ftrivial-auto-var-init=/,
  /^-fno-stack-clash-protection$/,
];

/** Splits a kbuild command line into words (it quotes with '...' only, as in -DKBUILD_MODNAME='"x"'). */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < command.length) cur += command[++i]!;
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < command.length) {
      cur += command[++i]!;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new ProjectError(`unbalanced ${quote} in a compile command: ${command.slice(0, 120)}`);
  if (inWord) words.push(cur);
  return words;
}

/**
 * The argv for a syntax-only check of one entry: the database's own command with the output
 * (-o X, -c) dropped, -fsyntax-only added and, for clang, the gcc-only options filtered.
 * `compiler` replaces the first word (e.g. "clang" for a gcc build).
 */
export function syntaxOnlyArgv(e: CompileCommand, o: { compiler?: string; clangFilter?: boolean } = {}): string[] {
  const words = splitCommand(e.command);
  const out: string[] = [o.compiler ?? words[0]!];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === "-o") {
      i++;
      continue;
    }
    if (w === "-c" || /^-Wp,-M{1,2}D,/.test(w)) continue; // no object, no dependency file
    if (o.clangFilter && GCC_ONLY.some((re) => re.test(w))) continue;
    out.push(w);
  }
  out.push("-fsyntax-only");
  return out;
}
