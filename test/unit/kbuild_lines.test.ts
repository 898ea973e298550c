import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { classifyKbuildLine, isCompileStep } from "../../src/core/kbuild_lines.js";

const FIX = new URL("../../../test/fixtures/diagnostics/", import.meta.url);
const lines = (name: string): string[] => readFileSync(new URL(name, FIX), "utf8").split("\n");

test("classifies real kbuild steps from a modules_prepare run", () => {
  const steps = lines("kbuild-modules-prepare.txt")
    .map(classifyKbuildLine)
    .filter((c) => c.kind === "step");
  assert.equal(steps.length, 101); // grep -cE "^  [A-Z]"
  assert.deepEqual(classifyKbuildLine("  CC      scripts/mod/empty.o"), {
    kind: "step",
    verb: "CC",
    target: "scripts/mod/empty.o",
    module: false,
  });
  const verbs = new Set(steps.map((s) => (s.kind === "step" ? s.verb : "")));
  for (const v of ["CC", "HOSTCC", "HOSTLD", "LD", "AR", "GEN", "WRAP", "SYSHDR", "UPD", "LDS", "LINK", "DESCEND"]) {
    assert.ok(verbs.has(v), v);
  }
  const units = steps.filter((s) => s.kind === "step" && isCompileStep(s.verb)).length;
  assert.equal(units, 44); // grep -E "^  (CC|HOSTCC|LD|HOSTLD|AR|LDS|LINK) "
});

test("module steps carry [M]; modpost's indented text and diagnostics are not steps", () => {
  const all = lines("kbuild-modpost-warn.txt").map(classifyKbuildLine);
  const steps = all.filter((c) => c.kind === "step");
  assert.deepEqual(steps[0], { kind: "step", verb: "MODPOST", target: "/var/tmp/kiln-diag/mod2/Module.symvers", module: false });
  assert.deepEqual(
    steps.filter((s) => s.kind === "step" && s.module).map((s) => (s.kind === "step" ? `${s.verb} ${s.target}` : "")),
    [
      "CC /var/tmp/kiln-diag/mod2/kilnund.mod.o",
      "CC /var/tmp/kiln-diag/mod2/.module-common.o",
      "CC /var/tmp/kiln-diag/mod2/kilnobj.mod.o",
      "LD /var/tmp/kiln-diag/mod2/kilnund.ko",
      "LD /var/tmp/kiln-diag/mod2/kilnobj.ko",
    ],
  );
  assert.equal(classifyKbuildLine("         Modules may not have dependencies or modversions.").kind, "other");
  assert.equal(classifyKbuildLine('WARNING: modpost: "kiln_missing_symbol" [/x/kilnund.ko] undefined!').kind, "other");
  for (const l of lines("kbuild-module-compile.txt")) {
    const c = classifyKbuildLine(l);
    if (c.kind === "step") assert.ok(l.startsWith("  CC [M]  "), l);
  }
});

test("the image-ready line, sync and other forms", () => {
  // arch/x86/boot/Makefile: $(kecho) 'Kernel: $@ is ready' ' (#'...')'
  assert.deepEqual(classifyKbuildLine("Kernel: arch/x86/boot/bzImage is ready  (#1)"), {
    kind: "step",
    verb: "Kernel",
    target: "arch/x86/boot/bzImage",
    module: false,
  });
  assert.equal(classifyKbuildLine("  Kernel: arch/x86/boot/bzImage is ready  (#1)").kind, "step");
  assert.deepEqual(classifyKbuildLine("  SYNC    include/config/auto.conf"), {
    kind: "step",
    verb: "SYNC",
    target: "include/config/auto.conf",
    module: false,
  });
  assert.deepEqual(classifyKbuildLine("  AR      lib/lib.a\r"), { kind: "step", verb: "AR", target: "lib/lib.a", module: false });
  assert.deepEqual(classifyKbuildLine("  CC [M]  fs/foo.o"), { kind: "step", verb: "CC", target: "fs/foo.o", module: true });
  assert.equal(classifyKbuildLine("make[1]: Entering directory '/o'").kind, "other");
  assert.equal(classifyKbuildLine("#").kind, "other");
  assert.equal(classifyKbuildLine("init/main.c:157: warning: macro").kind, "other");
  assert.equal(classifyKbuildLine("").kind, "other");
});

test("isCompileStep counts compile, assemble, link and archive steps only", () => {
  for (const v of ["CC", "AS", "LD", "AR", "HOSTCC", "HOSTLD", "LDS", "CC [M]"]) assert.ok(isCompileStep(v), v);
  for (const v of ["GEN", "WRAP", "SYNC", "UPD", "CALL", "INSTALL", "MODPOST", "OBJCOPY", "Kernel", "DESCEND"]) {
    assert.ok(!isCompileStep(v), v);
  }
});
