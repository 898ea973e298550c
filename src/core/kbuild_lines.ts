/**
 * Classifies kbuild's quiet output (the default `make` output of a kernel build) for the
 * progress display.
 *
 * kbuild prints one line per command as `printf '  %-7s %s'`: two spaces, the verb padded to
 * seven columns, a space and the target, e.g. `  CC      init/main.o` or, for a module object,
 * `  CC [M]  fs/foo.o`. The final image is announced as `Kernel: arch/x86/boot/bzImage is ready  (#1)`.
 *
 * Pure: no I/O, no state.
 */

export type KbuildLine =
  | { kind: "step"; verb: string; target: string; module: boolean }
  | { kind: "other" };

// Exactly two leading spaces: continuation lines of kbuild messages (e.g. modpost's
// "WARNING: Module.symvers is missing." block) are indented further and must not match.
// Verbs are upper case and may hold digits, '_', '-', '.' (VDSO2C, ASN.1, LD32).
const STEP_RE = /^ {2}([A-Z][A-Z0-9_.-]*)( \[M\])?\s+(\S.*?)\s*$/;
const READY_RE = /^\s*Kernel: (\S+) is ready\b/;

/**
 * Classify one line of kbuild output. ANSI colour codes and a trailing CR are ignored.
 * The "Kernel: <image> is ready" line is reported as a step with verb "Kernel" and the image
 * as target; it is not a unit of work (see isCompileStep).
 */
export function classifyKbuildLine(line: string): KbuildLine {
  const clean = line.replace(/\r$/, "");
  const ready = READY_RE.exec(clean);
  if (ready) return { kind: "step", verb: "Kernel", target: ready[1]!, module: false };
  const m = STEP_RE.exec(clean);
  if (!m) return { kind: "other" };
  return { kind: "step", verb: m[1]!, target: m[3]!, module: m[2] !== undefined };
}

/**
 * Verbs that count as units of work for the progress estimate.
 *
 * Decision: a unit is one object compiled, assembled, preprocessed into a linker script,
 * linked or archived, for the target or the host. Their number scales with the configuration
 * (one CC per enabled .c file, one AR per built-in.a, ...) and is stable from one build of a
 * target to the next, so an earlier build's count, or a count derived from the config, is a
 * good total. Everything else is left out: generated headers (GEN, WRAP, SYSHDR, SYSTBL, UPD),
 * bookkeeping (CALL, DESCEND, INSTALL, SYNC, CHK, MKELF) and the few final-image steps
 * (OBJCOPY, MODPOST, BTF, KSYMS, SORTTAB, ...), whose number depends on what was already up to
 * date rather than on the amount of work.
 */
export const COMPILE_VERBS: ReadonlySet<string> = new Set([
  "CC",
  "CC32",
  "CXX",
  "AS",
  "AS32",
  "CPP",
  "LDS",
  "LD",
  "LD32",
  "AR",
  "HOSTCC",
  "HOSTCXX",
  "HOSTLD",
  "LINK", // tools/ (objtool, resolve_btfids) link their binaries with this verb
  "HOSTRUSTC",
  "RUSTC",
  "BINDGEN",
  "BOOTCC",
  "BOOTAS",
  "BOOTAR",
]);

/** Whether a step verb (without the " [M]" tag) counts as a unit of work for progress. */
export function isCompileStep(verb: string): boolean {
  return COMPILE_VERBS.has(verb.replace(/ \[M\]$/, "").trim());
}
