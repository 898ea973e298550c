/**
 * The toolchain table. Each row names the make variables, the binaries whose exact
 * versions and digests enter the build identity, and the Debian packages that provide them.
 * "{prefix}" is the cross prefix for a non-host arch, empty for the host arch; "{triple}" is the
 * target's GNU triple (aarch64-linux-gnu). Adding a toolchain is adding a row (docs/adr/0011).
 */
export interface ToolchainSpec {
  name: string;
  /** Make variables that select this toolchain. */
  makeVars: readonly string[];
  /** The C compiler command (before any ccache wrapper). */
  cc: string;
  /** Tools whose bytes/versions change the output: identity inputs. */
  identityTools: readonly string[];
  /** Whether the cross prefix is passed (gcc needs CROSS_COMPILE; LLVM uses --target from ARCH). */
  usesCrossPrefix: boolean;
  debianPackages: readonly string[];
  /**
   * The driver hides the compiler proper (gcc runs cc1): when set, kiln asks the driver
   * `-print-prog-name=<name>` and hashes that binary into the identity too.
   */
  compilerProper?: string;
  /**
   * The tool variables top-level make exports with this toolchain (what kconfig's `$(shell,...)`
   * macros see): CC, LD, AR, NM, OBJCOPY, OBJDUMP, READELF, STRIP, HOSTCC, HOSTCXX.
   */
  makeTools: Readonly<Record<"CC" | "LD" | "AR" | "NM" | "OBJCOPY" | "OBJDUMP" | "READELF" | "STRIP" | "HOSTCC" | "HOSTCXX", string>>;
  /** How kiln compiles its static guest init for a target: the compiler argv prefix. */
  initCc: readonly string[];
  /** Whether the init links libgcc (gcc's helpers that nolibc relies on; clang's builtins need none). */
  initLibgcc: boolean;
}

export const TOOLCHAINS: Readonly<Record<string, ToolchainSpec>> = {
  gcc: {
    name: "gcc",
    makeVars: [],
    cc: "{prefix}gcc",
    identityTools: ["{prefix}gcc", "{prefix}ld", "{prefix}as", "{prefix}objcopy", "{prefix}nm", "{prefix}ar"],
    usesCrossPrefix: true,
    debianPackages: ["gcc", "binutils"],
    compilerProper: "cc1",
    makeTools: {
      CC: "{prefix}gcc",
      LD: "{prefix}ld",
      AR: "{prefix}ar",
      NM: "{prefix}nm",
      OBJCOPY: "{prefix}objcopy",
      OBJDUMP: "{prefix}objdump",
      READELF: "{prefix}readelf",
      STRIP: "{prefix}strip",
      HOSTCC: "gcc",
      HOSTCXX: "g++",
    },
    initCc: ["{prefix}gcc"],
    initLibgcc: true,
  },
  clang: {
    name: "clang",
    makeVars: ["LLVM=1"],
    cc: "clang",
    identityTools: ["clang", "ld.lld", "llvm-objcopy", "llvm-nm", "llvm-ar", "llvm-strip"],
    usesCrossPrefix: false,
    debianPackages: ["clang", "lld", "llvm"],
    makeTools: {
      CC: "clang",
      LD: "ld.lld",
      AR: "llvm-ar",
      NM: "llvm-nm",
      OBJCOPY: "llvm-objcopy",
      OBJDUMP: "llvm-objdump",
      READELF: "llvm-readelf",
      STRIP: "llvm-strip",
      HOSTCC: "clang",
      HOSTCXX: "clang++",
    },
    initCc: ["clang", "--target={triple}"],
    initLibgcc: false,
  },
};

/** Tools that change output bytes whatever the compiler: their versions enter the identity when present. */
export const AUX_IDENTITY_TOOLS = ["pahole"] as const;

/** A row's command with its placeholders filled in (pure). */
export function fillToolchainWord(word: string, o: { prefix: string; triple: string }): string {
  return word.replaceAll("{prefix}", o.prefix).replaceAll("{triple}", o.triple);
}
