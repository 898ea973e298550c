/**
 * The gdb command line `kiln run --gdb` prints (pure). QEMU waits at the first instruction
 * (-S) with its gdb stub on 127.0.0.1:<port>; gdb loads the build's vmlinux (its symbol table
 * is enough for `linux_banner` and breakpoints; source lines need CONFIG_DEBUG_INFO), trusts
 * the devel layer's folder for auto-loading, sources its vmlinux-gdb.py (the lx-* commands)
 * and attaches.
 *
 * The host arch uses Debian's `gdb`; other arches `gdb-multiarch` (it reads the arch from vmlinux).
 */
import { join } from "node:path";
import { hostArch } from "../tables/arches.js";

export interface GdbLine {
  /** The gdb binary for the guest arch. */
  gdb: string;
  /** The Debian package that has it. */
  gdbPackage: string;
  argv: string[];
}

export function gdbFor(arch: string): { gdb: string; gdbPackage: string } {
  return arch === hostArch() ? { gdb: "gdb", gdbPackage: "gdb" } : { gdb: "gdb-multiarch", gdbPackage: "gdb-multiarch" };
}

export function gdbCommandLine(o: { arch: string; vmlinux: string; scriptsDir: string; port: number }): GdbLine {
  const g = gdbFor(o.arch);
  return {
    ...g,
    argv: [
      g.gdb,
      o.vmlinux,
      "-ex",
      `add-auto-load-safe-path ${o.scriptsDir}`,
      "-ex",
      `source ${join(o.scriptsDir, "vmlinux-gdb.py")}`,
      "-ex",
      `target remote 127.0.0.1:${o.port}`,
    ],
  };
}
