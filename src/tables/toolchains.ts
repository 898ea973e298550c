/**
 * The toolchain table. Each row names the make variables, the binaries whose exact
 * versions and digests enter the build identity, and the Debian packages that provide them.
 * "{prefix}" is the cross prefix for a non-host arch, empty for the host arch.
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
}

export const TOOLCHAINS: Readonly<Record<string, ToolchainSpec>> = {
  gcc: {
    name: "gcc",
    makeVars: [],
    cc: "{prefix}gcc",
    identityTools: ["{prefix}gcc", "{prefix}ld", "{prefix}as", "{prefix}objcopy", "{prefix}nm", "{prefix}ar"],
    usesCrossPrefix: true,
    debianPackages: ["gcc", "binutils"],
  },
  clang: {
    name: "clang",
    makeVars: ["LLVM=1"],
    cc: "clang",
    identityTools: ["clang", "ld.lld", "llvm-objcopy", "llvm-nm", "llvm-ar", "llvm-strip"],
    usesCrossPrefix: false,
    debianPackages: ["clang", "lld", "llvm"],
  },
};

/** Tools that change output bytes whatever the compiler: their versions enter the identity when present. */
export const AUX_IDENTITY_TOOLS = ["pahole"] as const;
