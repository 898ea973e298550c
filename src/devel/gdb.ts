/**
 * The gdb command line `kiln run --gdb` prints (pure). QEMU waits at the first instruction
 * (-S) with its gdb stub on 127.0.0.1:<port>; gdb loads the build's vmlinux (its symbol table
 * is enough for `linux_banner` and breakpoints; source lines need CONFIG_DEBUG_INFO) and
 * attaches. With debug info it also trusts the devel layer's folder for auto-loading and
 * sources its self-contained vmlinux-gdb.py (the lx-* commands); without, the helpers cannot
 * load (their constants are read from debug info), so the line leaves them out and says why.
 *
 * Python auto-load is off for the vmlinux gdb loads: in the build folder `make scripts_gdb`
 * leaves a vmlinux-gdb.py link into the warm source tree, which moves on with the next build.
 *
 * The host arch uses Debian's `gdb`; other arches `gdb-multiarch` (it reads the arch from vmlinux).
 */
import { join } from "node:path";
import { hostArch } from "../tables/arches.js";
import { readElfSections } from "../core/elf.js";

export interface GdbLine {
  /** The gdb binary for the guest arch. */
  gdb: string;
  /** The Debian package that has it. */
  gdbPackage: string;
  argv: string[];
  /** Why vmlinux-gdb.py is not sourced, when it is not. */
  note?: string;
}

export function gdbFor(arch: string): { gdb: string; gdbPackage: string } {
  return arch === hostArch() ? { gdb: "gdb", gdbPackage: "gdb" } : { gdb: "gdb-multiarch", gdbPackage: "gdb-multiarch" };
}

/** Whether an ELF file's bytes carry DWARF (.debug_info). */
export function hasDebugInfo(elf: Buffer): boolean {
  return readElfSections(elf).some((s) => s.name === ".debug_info" && s.size > 0);
}

export function gdbCommandLine(o: { arch: string; vmlinux: string; scriptsDir?: string; port: number; debugInfo: boolean }): GdbLine {
  const g = gdbFor(o.arch);
  const dir = o.scriptsDir;
  const helpers = o.debugInfo && dir ? ["-ex", `add-auto-load-safe-path ${dir}`, "-ex", `source ${join(dir, "vmlinux-gdb.py")}`] : [];
  const note = !dir
    ? "the build has no devel layer here (its warm tree does not hold it), so the lx-* helpers are left out; symbols and breakpoints work"
    : !o.debugInfo
      ? `vmlinux has no debug info (CONFIG_DEBUG_INFO is off), so the lx-* helpers of ${join(dir, "vmlinux-gdb.py")} cannot load; symbols and breakpoints work`
      : undefined;
  return {
    ...g,
    argv: [g.gdb, "-iex", "set auto-load python-scripts off", o.vmlinux, ...helpers, "-ex", `target remote 127.0.0.1:${o.port}`],
    ...(note ? { note } : {}),
  };
}
