/**
 * Loading a real tree: wires the pure parser to the tree's files and the arch's environment.
 */
import { join } from "node:path";
import { kernelVersionFromMakefile } from "../core/kernel_version.js";
import type { KconfigModel } from "./ast.js";
import { parseKconfig } from "./parser.js";
import { ccVersionText, kconfigArch, kconfigEnv, realShell, treeReader } from "./run.js";

export interface LoadOptions {
  /** kiln arch name or kernel ARCH: x86_64, arm64, riscv. */
  arch: string;
  /**
   * Run `$(shell,...)` macros (compiler checks) with the target toolchain. Off by default:
   * symbols computed by such checks then take their values from a kconfig-written .config
   * (EvalInput.pinned).
   */
  runShell?: boolean;
  /** Extra or overriding environment variables (CC, LD, ...). */
  env?: Record<string, string>;
}

export function loadKconfig(tree: string, opts: LoadOptions): KconfigModel {
  const a = kconfigArch(opts.arch);
  const env: Record<string, string> = { ...kconfigEnv(tree, a), ...(opts.env ?? {}) };
  if (opts.runShell && env.CC_VERSION_TEXT === undefined) env.CC_VERSION_TEXT = ccVersionText(env.CC ?? "gcc");
  const read = treeReader(tree);
  const symbolC = read(join("scripts", "kconfig", "symbol.c")) ?? "";
  // kconfig rewrote choices in 6.11; read it from the tree's own kconfig, else from the version.
  const version = kernelVersionFromMakefile(read("Makefile") ?? "");
  const [maj, min] = (version ?? "0.0").split(".").map((x) => parseInt(x, 10));
  const newChoices = symbolC ? symbolC.includes("choice_members") : (maj ?? 0) > 6 || ((maj ?? 0) === 6 && (min ?? 0) >= 11);
  const choiceModel = newChoices ? "v6.11" : "legacy";
  // Before 6.12's rewrite, conf_read reset an out-of-range int/hex value ("Reset a string value
  // if it's out of range"); since then the value is kept and clamped. Read the tree's own rule.
  const confdataC = read(join("scripts", "kconfig", "confdata.c")) ?? "";
  const rangeRule = confdataC.includes("Reset a string value if it's out of range") ? "reset" : "clamp";
  if (env.KERNELVERSION === undefined && version) env.KERNELVERSION = version;
  const known = new Set(["SRCARCH", "ARCH", "srctree", "KERNELVERSION"]);
  return parseKconfig(read, {
    choiceModel,
    rangeRule,
    host: {
      // Like kconfig, an unset variable reads as empty once commands are run for real;
      // otherwise kiln does not claim to know the environment make would have exported.
      env: (name) => (known.has(name) || opts.env?.[name] !== undefined ? env[name] : opts.runShell ? env[name] ?? "" : undefined),
      shell: opts.runShell ? realShell(tree, env) : undefined,
    },
  });
}

