/**
 * kiln's command line: assembles the command groups of src/commands/ around one context (global
 * options, ui, the project opened on first use) and maps errors to exit codes:
 * 0 ok, 2 the kernel build or a gate failed, 1 kiln itself or the infrastructure failed.
 * User errors print a clear message, no stack trace.
 *
 * Command modules load lazily (docs/adr/0090): UNITS says which module registers which top-level
 * commands; the command line picks the units it needs (`kiln build ...` loads commands/build.js
 * and nothing else of src/commands/), `kiln --version` loads none, and anything that lists or
 * suggests commands (`--help`, `help`, no command, an unknown one) loads them all, so help is
 * always printed from the real registrations. Command modules load their own libraries when their
 * action runs.
 */
import { Command, CommanderError } from "commander";
import { KilnError } from "./errors.js";
import { makeUi } from "./ui/log.js";
import { KILN_VERSION } from "./version.js";
import { makeContext, type Context } from "./commands/context.js";

/** The `check` group when it is registered, else a detached stand-in (its gates are not asked for). */
interface Groups {
  check: Command;
}

export interface Unit {
  /** The module under src/commands/ that registers these commands. */
  module: string;
  /** The top-level commands it registers. */
  commands: readonly string[];
  /** Subcommands it adds to the `check` group. */
  checkGates: readonly string[];
  /** Import the module (all units of a line are imported at once, then registered in order). */
  load(): Promise<unknown>;
  register(m: unknown, prog: Command, ctx: Context, g: Groups): void;
}

function unit<M>(module: string, commands: string[], load: () => Promise<M>, register: (m: M, prog: Command, ctx: Context, g: Groups) => void, checkGates: string[] = []): Unit {
  return { module, commands, checkGates, load, register: (m, p, c, g) => register(m as M, p, c, g) };
}

/** In help order. Every top-level command is in exactly one unit (test/unit/cli_lazy.test.ts). */
export const UNITS: readonly Unit[] = [
  unit("init", ["init"], () => import("./commands/init.js"), (m, p, c) => m.registerInitCommand(p, c)),
  unit("build", ["build"], () => import("./commands/build.js"), (m, p, c) => m.registerBuildCommand(p, c)),
  unit("lock", ["lock"], () => import("./commands/lock.js"), (m, p, c) => m.registerLockCommand(p, c)),
  unit("check", ["check"], () => import("./commands/check.js"), (m, p, c, g) => void (g.check = m.registerCheckCommands(p, c)), ["patches", "configured"]),
  unit("manifest", ["manifest"], () => import("./commands/manifest.js"), (m, p, c) => m.registerManifestCommand(p, c)),
  unit("doctor", ["doctor"], () => import("./commands/doctor.js"), (m, p, c) => m.registerDoctorCommand(p, c)),
  unit("store", ["store"], () => import("./commands/store.js"), (m, p, c) => m.registerStoreCommands(p, c)),
  unit("boot", ["boot", "run"], () => import("./commands/boot.js"), (m, p, c, g) => {
    m.registerBootCommands(p, c);
    m.registerBootGate(g.check, c);
  }, ["boots"]),
  unit("ship", ["keygen", "bundle", "publish", "fetch"], () => import("./commands/ship.js"), (m, p, c, g) => m.registerShipCommands(p, g.check, c), ["repro"]),
  unit("config", ["config"], () => import("./commands/config.js"), (m, p, c) => void m.registerConfigCommands(p, c)),
  unit("report", ["report"], () => import("./commands/report.js"), (m, p, c) => m.registerReportCommand(p, c)),
  unit("patches", ["patches"], () => import("./commands/patches.js"), (m, p, c) => m.registerPatchesCommand(p, c)),
  unit("bump", ["bump"], () => import("./commands/bump.js"), (m, p, c) => m.registerBumpCommand(p, c)),
  unit("dev", ["dev"], () => import("./commands/dev.js"), (m, p, c) => m.registerDevCommands(p, c)),
  unit("farm", ["farm"], () => import("./commands/farm.js"), (m, p, c) => m.registerFarmCommands(p, c)),
  unit("image", ["image"], () => import("./commands/image.js"), (m, p, c) => m.registerImageCommands(p, c)),
  unit("bisect", ["bisect"], () => import("./commands/bisect.js"), (m, p, c) => m.registerBisectCommand(p, c)),
];

/** Global options that take a value (the next word is not the command). */
const VALUE_OPTIONS = new Set(["-C", "--project"]);

/**
 * The units a command line needs (user arguments, without node and the script):
 * - the unit of its command, plus every unit with a `check` gate when the command is `check`;
 * - none for `--version` / `-V` alone;
 * - all of them when the line may list or suggest commands: no command, `help`, `--help`/`-h`
 *   before the command, an unknown command, or an argument list this scan does not follow (`--`).
 */
export function unitsFor(args: readonly string[]): readonly Unit[] {
  let name: string | undefined;
  let help = false;
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return UNITS;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) {
      if (a === "-h" || a === "--help") help = true;
      if (a === "-V" || a === "--version") version = true;
      continue;
    }
    name = a;
    break;
  }
  if (name === undefined) return version && !help ? [] : UNITS;
  if (help || name === "help") return UNITS;
  if (name === "check") return UNITS.filter((u) => u.checkGates.length > 0);
  const unit = UNITS.find((u) => u.commands.includes(name));
  return unit ? [unit] : UNITS;
}

/** The command line for `args` (user arguments): only the command units it needs are loaded. */
export async function program(args: readonly string[] = []): Promise<Command> {
  const prog = new Command("kiln")
    .description("Build Linux kernels from a pinned source to an identified, reproducible, reusable build.")
    .version(KILN_VERSION)
    .option("-C, --project <dir>", "the project folder (default: the nearest folder with kiln.toml)")
    .option("--json", "print machine-readable JSON on stdout")
    .option("-v, --verbose", "show more detail")
    .showHelpAfterError()
    .exitOverride();
  const ctx = makeContext(prog);
  const groups: Groups = { check: new Command("check") };
  const units = unitsFor(args);
  const mods = await Promise.all(units.map((u) => u.load()));
  units.forEach((u, i) => u.register(mods[i], prog, ctx, groups));
  return prog;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const args = argv.slice(2);
    const prog = await program(args);
    await prog.parseAsync(args, { from: "user" });
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
