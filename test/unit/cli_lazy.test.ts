/**
 * Lazy command modules (docs/adr/0090): which units a command line loads, and that the units
 * together register exactly the commands the full command line has, in help order. Real
 * registrations: each unit's own module registers into a real commander program.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { UNITS, program, unitsFor } from "../../src/cli.js";

const names = (args: string[]) => unitsFor(args).map((u) => u.module);
const all = UNITS.map((u) => u.module);

test("a command line loads the unit of its command only", () => {
  assert.deepEqual(names(["build", "--arch", "x86_64"]), ["build"]);
  assert.deepEqual(names(["-C", "examples/microvm", "--json", "boot", "--arch", "riscv64"]), ["boot"]);
  assert.deepEqual(names(["--project", "build", "fetch", "k@1"]), ["ship"], "-C/--project take the next word as their value");
  assert.deepEqual(names(["-v", "--project=x", "store", "ls"]), ["store"]);
  assert.deepEqual(names(["run", "--exec", "uname -r"]), ["boot"]);
  assert.deepEqual(names(["config", "explain", "PCI"]), ["config"]);
  assert.deepEqual(names(["build", "--help"]), ["build"], "a command's own help needs its unit only");
});

test("check loads every unit that adds a gate to it", () => {
  assert.deepEqual(names(["check", "boots"]), ["check", "boot", "ship"]);
  assert.deepEqual(names(["check", "repro", "--help"]), ["check", "boot", "ship"]);
});

test("--version alone loads no unit; anything that lists or suggests commands loads them all", () => {
  assert.deepEqual(names(["--version"]), []);
  assert.deepEqual(names(["-V"]), []);
  for (const args of [[], ["--help"], ["-h"], ["-h", "build"], ["help"], ["help", "build"], ["bogus"], ["--json"], ["--", "build"], ["--version", "--help"]]) {
    assert.deepEqual(names(args), all, `kiln ${args.join(" ")}`);
  }
});

test("the units register exactly the commands they declare, in help order, and the check gates", async () => {
  const full = await program([]);
  const top = full.commands.map((c) => c.name());
  assert.deepEqual(top, UNITS.flatMap((u) => u.commands), "the full program is the units' commands in order");
  assert.equal(new Set(top).size, top.length, "no command is registered twice");
  for (const u of UNITS) {
    for (const n of u.commands) {
      const p = await program([n]);
      assert.deepEqual(p.commands.map((c) => c.name()), unitsFor([n]).flatMap((x) => x.commands), `kiln ${n} registers the commands of the units it names`);
    }
  }
  const check = (await program(["check"])).commands.find((c) => c.name() === "check")!;
  assert.deepEqual(check.commands.map((c) => c.name()), UNITS.flatMap((u) => u.checkGates));
  const fullCheck = full.commands.find((c) => c.name() === "check")!;
  assert.deepEqual(fullCheck.commands.map((c) => c.name()), UNITS.flatMap((u) => u.checkGates));
});

test("a command's help is the same whether its unit loads alone or with all the others", async () => {
  for (const u of UNITS) {
    for (const n of u.commands) {
      const alone = (await program([n])).commands.find((c) => c.name() === n)!;
      const inFull = (await program([])).commands.find((c) => c.name() === n)!;
      assert.equal(alone.helpInformation(), inFull.helpInformation(), `kiln ${n} --help`);
    }
  }
});
