/**
 * kiln's command line: assembles the command groups of src/commands/ around one context (global
 * options, ui, the project opened on first use) and maps errors to exit codes:
 * 0 ok, 2 the kernel build or a gate failed, 1 kiln itself or the infrastructure failed.
 * User errors print a clear message, no stack trace. Command modules load their libraries
 * when they run, so `kiln --version` and `kiln --help` stay fast.
 */
import { Command, CommanderError } from "commander";
import { KilnError } from "./errors.js";
import { makeUi } from "./ui/log.js";
import { KILN_VERSION } from "./version.js";
import { makeContext } from "./commands/context.js";
import { registerInitCommand } from "./commands/init.js";
import { registerBuildCommand } from "./commands/build.js";
import { registerLockCommand } from "./commands/lock.js";
import { registerCheckCommands } from "./commands/check.js";
import { registerManifestCommand } from "./commands/manifest.js";
import { registerDoctorCommand } from "./commands/doctor.js";
import { registerStoreCommands } from "./commands/store.js";
import { registerBootCommands, registerBootGate } from "./commands/boot.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerShipCommands } from "./commands/ship.js";
import { registerReportCommand } from "./commands/report.js";
import { registerBumpCommand } from "./commands/bump.js";
import { registerPatchesCommand } from "./commands/patches.js";
import { registerDevCommands } from "./commands/dev.js";
import { registerFarmCommands } from "./commands/farm.js";
import { registerImageCommands } from "./commands/image.js";
import { registerBisectCommand } from "./commands/bisect.js";

export { examplesDir } from "./commands/init.js";

export function program(): Command {
  const prog = new Command("kiln")
    .description("Build Linux kernels from a pinned source to an identified, reproducible, reusable build.")
    .version(KILN_VERSION)
    .option("-C, --project <dir>", "the project folder (default: the nearest folder with kiln.toml)")
    .option("--json", "print machine-readable JSON on stdout")
    .option("-v, --verbose", "show more detail")
    .showHelpAfterError()
    .exitOverride();
  const ctx = makeContext(prog);
  registerInitCommand(prog, ctx);
  registerBuildCommand(prog, ctx);
  registerLockCommand(prog, ctx);
  const check = registerCheckCommands(prog, ctx);
  registerManifestCommand(prog, ctx);
  registerDoctorCommand(prog, ctx);
  registerStoreCommands(prog, ctx);
  registerBootCommands(prog, ctx);
  registerBootGate(check, ctx);
  registerShipCommands(prog, check, ctx);
  registerConfigCommands(prog, ctx);
  registerReportCommand(prog, ctx);
  registerPatchesCommand(prog, ctx);
  registerBumpCommand(prog, ctx);
  registerDevCommands(prog, ctx);
  registerFarmCommands(prog, ctx);
  registerImageCommands(prog, ctx);
  registerBisectCommand(prog, ctx);
  return prog;
}

export async function main(argv: string[]): Promise<void> {
  const prog = program();
  try {
    await prog.parseAsync(argv);
    // a command may have set its own exit status (run --exec passes the guest's through)
    process.exitCode ??= 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    const ui = makeUi({});
    if (e instanceof KilnError) {
      ui.error(e.render());
      process.exitCode = e.exitCode;
    } else {
      ui.error(`internal error: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
  }
}
