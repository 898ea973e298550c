/**
 * kiln's boot machinery, for `kiln boot`, `kiln run` and `kiln check boots`.
 * See docs/adr/0020-boot-smoke.md.
 */
export { writeCpio, readCpio, canonicalEntries, type CpioEntry, type CpioOptions } from "./cpio.js";
export { buildInit, initCached, findBusybox, initramfsEntries, modulesTreeEntries, defaultInitToolchain, elfInfo, type InitToolchain } from "./init.js";
export { chooseAccel, probeKvm, type AccelRequest, type AccelChoice } from "./kvm.js";
export { kernelCmdline, qemuArgv, shellQuote, type Accel, type InitMode, type QemuSpec } from "./qemu.js";
export { analyzeConsole, failureReason, renderDiagnosis, ConsoleTracker, STAGES, type Stage, type Marker, type ConsoleState } from "./console.js";
export {
  writeSmokeInitramfs,
  runSmoke,
  assertSmoke,
  checkBoots,
  smokeManifestFields,
  GATE_MEMORIES_MIB,
  type SmokeOptions,
  type SmokeResult,
  type SmokeTimings,
} from "./smoke.js";
export { runInteractive, interactiveArgv, runExec, extractExecOutput, type RunOptions, type ExecResult } from "./run.js";
