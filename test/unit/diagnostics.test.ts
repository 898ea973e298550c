import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import {
  DiagnosticCollector,
  formatDiagnostic,
  parseDiagnostics,
  type Diagnostic,
} from "../../src/core/diagnostics.js";

// Every fixture is verbatim output of gcc 12, clang 14, GNU ld/as, ld.lld, GNU make or kbuild of
// Debian's linux-source-6.12, captured on a Debian 12 host (see test/fixtures/diagnostics/README.md).
const FIX = new URL("../../../test/fixtures/diagnostics/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, FIX), "utf8");
const TREE = "/var/tmp/kiln-test-cache/trees/linux-source-6.12";
const OUT = "/var/tmp/kiln-diag";

function collect(name: string, stripPrefixes: string[] = []): DiagnosticCollector {
  const c = new DiagnosticCollector({ stripPrefixes });
  c.write(read(name));
  c.end();
  return c;
}
const where = (d: Diagnostic | undefined): string =>
  d ? [d.file, d.line, d.column].filter((x) => x !== undefined).join(":") : "none";

test("gcc: errors, warnings, flags, context, notes; caret and source lines ignored", () => {
  const c = collect("gcc-compile.txt");
  assert.deepEqual(c.counts, { errors: 3, warnings: 7 });
  const [first, second, third] = c.firstErrors(3);
  assert.equal(where(first), "util.h:4:20");
  assert.equal(first!.message, "'undeclared_in_header' undeclared (first use in this function)");
  assert.equal(first!.tool, "cc");
  assert.deepEqual(first!.context, ["In file included from broken.c:2", "In function 'helper'"]);
  assert.equal(first!.notes?.length, 1);
  assert.equal(where(first!.notes![0]), "util.h:4:20");
  assert.equal(where(second), "broken.c:10:21");
  assert.deepEqual(second!.context, ["In function 'compute'"]);
  assert.equal(where(third), "broken.c:15:18");
  const unused = c.diagnostics.find((d) => d.message === "unused variable 'p'")!;
  assert.equal(unused.flag, "-Wunused-variable");
  assert.equal(where(unused), "broken.c:9:15");
  assert.equal(c.diagnostics.find((d) => d.flag === "-Wformat=")?.line, 20);
  // "At top level" clears the function context.
  assert.equal(c.diagnostics.at(-1)!.context, undefined);
  assert.ok(c.diagnostics.every((d) => !d.message.includes("|") && d.severity !== "note"));
  assert.deepEqual(c.failedTargets, []);
});

test("gcc in a UTF-8 locale and with colours parses like the C locale", () => {
  const utf = collect("gcc-utf8-compile.txt");
  assert.deepEqual(utf.counts, { errors: 3, warnings: 7 });
  assert.equal(utf.firstErrors(1)[0]!.message, "‘undeclared_in_header’ undeclared (first use in this function)");
  assert.deepEqual(
    utf.diagnostics.map(where),
    collect("gcc-compile.txt").diagnostics.map(where),
  );
  assert.deepEqual(collect("gcc-color.txt").diagnostics, collect("gcc-warnings-utf8.txt").diagnostics);
  const color = collect("gcc-color.txt");
  assert.deepEqual(color.counts, { errors: 0, warnings: 4 });
  assert.equal(color.diagnostics[0]!.flag, "-Wparentheses");
  assert.equal(color.diagnostics[0]!.message, "suggest parentheses around assignment used as truth value");
});

test("gcc -Werror and fatal errors", () => {
  const w = collect("gcc-werror.txt");
  assert.deepEqual(w.counts, { errors: 4, warnings: 0 }); // "cc1: all warnings being treated as errors" adds none
  assert.equal(w.firstErrors(1)[0]!.flag, "-Werror=parentheses");
  assert.equal(where(w.firstErrors(1)[0]), "warn.c:6:13");
  const f = collect("gcc-fatal.txt");
  assert.deepEqual(f.counts, { errors: 1, warnings: 0 });
  assert.equal(where(f.diagnostics[0]), "fatal.c:1:10");
  assert.equal(f.diagnostics[0]!.message, "missing_header.h: No such file or directory");
});

test("clang: compile errors, -Werror flags, notes, fatal error, ./ paths", () => {
  const c = collect("clang-compile.txt");
  assert.deepEqual(c.counts, { errors: 3, warnings: 2 });
  assert.equal(where(c.firstErrors(1)[0]), "util.h:4:13");
  assert.deepEqual(c.firstErrors(1)[0]!.context, ["In file included from broken.c:2"]);
  assert.deepEqual(c.firstErrors(5).map(where), ["util.h:4:13", "broken.c:10:14", "broken.c:15:13"]);
  const w = collect("clang-werror.txt");
  assert.deepEqual(w.counts, { errors: 3, warnings: 0 });
  assert.equal(w.diagnostics[0]!.flag, "-Werror,-Wparentheses");
  assert.equal(w.diagnostics[0]!.notes?.length, 2);
  assert.deepEqual(collect("clang-fatal.txt").counts, { errors: 1, warnings: 0 });
  const as = collect("clang-as.txt");
  assert.deepEqual(as.counts, { errors: 2, warnings: 1 });
  assert.equal(as.diagnostics[0]!.tool, "as");
  assert.equal(where(as.diagnostics[1]), "asm.S:6:11");
});

test("GNU as: Error/Warning lines with file:line", () => {
  const c = collect("gas.txt");
  assert.deepEqual(c.counts, { errors: 2, warnings: 1 });
  assert.deepEqual(
    c.diagnostics.map((d) => [d.tool, d.severity, where(d)]),
    [
      ["as", "error", "asm.S:5"],
      ["as", "error", "asm.S:6"],
      ["as", "warning", "asm.S:7"],
    ],
  );
  assert.equal(c.diagnostics[0]!.message, "no such instruction: `bogusinsn %rax'");
});

test("GNU ld: undefined references and multiple definitions count; collect2 does not add one", () => {
  const c = collect("ld-bfd-undefined-utf8.txt");
  assert.deepEqual(c.counts, { errors: 3, warnings: 2 });
  const [dup, undef1, undef2] = c.firstErrors(3);
  assert.equal(dup!.tool, "ld");
  assert.equal(dup!.file, "dup.o");
  assert.match(dup!.message, /^multiple definition of `dup_sym'/);
  assert.equal(undef1!.file, "main.c");
  assert.equal(undef1!.message, "undefined reference to `also_missing'");
  assert.deepEqual(undef1!.context, ["main.o: in function `main'"]);
  assert.equal(undef2!.message, "undefined reference to `missing_fn'");
  assert.ok(c.diagnostics.every((d) => !d.message.includes("ld returned")));

  const g = collect("ld-bfd-undefined-debug.txt", [`${OUT}/c`]);
  assert.deepEqual(g.firstErrors(5).map(where), ["main.c:4", "main.c:4"]);
  assert.deepEqual(g.counts, { errors: 2, warnings: 2 });

  const lib = collect("ld-bfd-missing-lib.txt");
  assert.deepEqual(lib.counts, { errors: 1, warnings: 0 });
  assert.equal(lib.diagnostics[0]!.message, "cannot find -lkilnmissing: No such file or directory");
  const full = collect("ld-bfd-final-link.txt");
  assert.deepEqual(full.counts, { errors: 1, warnings: 0 });
  assert.equal(formatDiagnostic(full.diagnostics[0]!), "ld: error: final link failed: No space left on device");
});

test("ld.lld: undefined and duplicate symbols keep their >>> lines", () => {
  const u = collect("lld-undefined.txt");
  assert.deepEqual(u.counts, { errors: 2, warnings: 0 }); // "clang: error: linker command failed" adds none
  assert.equal(u.diagnostics[0]!.message, "undefined symbol: also_missing");
  assert.deepEqual(u.diagnostics[0]!.detail, [">>> referenced by main.c", ">>>               main.o:(main)"]);
  assert.deepEqual(collect("lld-direct.txt").diagnostics, u.diagnostics);
  const d = collect("lld-duplicate.txt");
  assert.deepEqual(d.counts, { errors: 1, warnings: 0 });
  assert.equal(d.diagnostics[0]!.detail?.length, 4);
});

test("a linker summary counts when no linker error preceded it", () => {
  const c = new DiagnosticCollector();
  c.push("collect2: error: ld returned 1 exit status");
  c.end();
  assert.deepEqual(c.counts, { errors: 1, warnings: 0 });
  assert.equal(c.diagnostics[0]!.tool, "ld");
});

test("make -k over gcc and ld: make's failure lines are targets, not extra errors", () => {
  const c = collect("make-k-gcc-ld.txt");
  assert.deepEqual(c.counts, { errors: 6, warnings: 9 });
  assert.ok(c.diagnostics.every((d) => d.tool !== "make"));
  assert.deepEqual(
    c.failedTargets.map((f) => [f.target, f.makefile, f.makefileLine, f.reason]),
    [
      ["broken.o", "<builtin>", undefined, "Error 1"],
      ["prog", "Makefile", 4, "Error 1"],
    ],
  );
});

test("a make failure nothing explains counts once per target and keeps the lines before it", () => {
  const c = collect("make-missing-tool.txt");
  assert.deepEqual(c.counts, { errors: 2, warnings: 0 });
  const [a, b] = c.firstErrors(2);
  assert.equal(a!.tool, "make");
  assert.equal(a!.message, "target 'direct' failed: Error 127");
  assert.deepEqual(a!.detail, ["kiln-no-such-tool --version", "make: kiln-no-such-tool: No such file or directory"]);
  assert.deepEqual(b!.detail, ["echo 1+1 | kiln-no-such-bc > out.txt", "/bin/sh: 1: kiln-no-such-bc: not found"]);
});

test("kbuild external module: first errors, header warning with its macro notes, cascade ignored", () => {
  const c = collect("kbuild-module-compile.txt", [TREE, OUT]);
  assert.deepEqual(c.counts, { errors: 2, warnings: 5 });
  const [e1, e2] = c.firstErrors(10);
  assert.equal(where(e1), "mod/kilnbad.c:11:16");
  assert.equal(e1!.message, "'undeclared_thing' undeclared (first use in this function)");
  assert.deepEqual(e1!.context, ["In function 'kilnbad_init'"]);
  assert.equal(where(e2), "mod/kilnbad.c:12:1");
  assert.equal(e2!.flag, "-Werror=return-type");
  const fmt = c.diagnostics.find((d) => d.file === "include/linux/kern_levels.h")!;
  assert.equal(where(fmt), "include/linux/kern_levels.h:5:25");
  assert.equal(fmt.context?.[0], "In file included from include/asm-generic/bug.h:22");
  assert.equal(fmt.context?.at(-1), "from mod/kilnbad.c:1");
  assert.deepEqual(fmt.notes?.map(where), [
    "include/linux/printk.h:466:25",
    "include/linux/printk.h:567:9",
    "include/linux/kern_levels.h:14:25",
    "include/linux/printk.h:567:16",
    "mod/kilnbad.c:10:9",
  ]);
  assert.deepEqual(c.failedTargets, [
    { target: "mod/kilnbad.o", makefile: "scripts/Makefile.build", makefileLine: 234, reason: "Error 1", level: 2 },
  ]);
  // Without prefixes the paths are as kbuild printed them.
  assert.equal(collect("kbuild-module-compile.txt").firstErrors(1)[0]!.file, `${OUT}/mod/kilnbad.c`);
});

test("kbuild modpost and objtool", () => {
  const c = collect("kbuild-modpost-objtool.txt", [TREE, OUT]);
  assert.deepEqual(c.counts, { errors: 1, warnings: 4 });
  const obj = c.diagnostics.find((d) => d.tool === "objtool")!;
  assert.equal(obj.file, "mod2/kilnobj.o");
  assert.equal(obj.severity, "warning");
  assert.equal(obj.message, "kilnobj_unbalanced+0x4: return with modified stack frame");
  assert.equal(formatDiagnostic(obj), "mod2/kilnobj.o: warning: objtool: kilnobj_unbalanced+0x4: return with modified stack frame");
  const err = c.firstErrors(1)[0]!;
  assert.equal(err.tool, "modpost");
  assert.equal(err.message, '"kiln_missing_symbol" [mod2/kilnund.ko] undefined!');
  assert.equal(formatDiagnostic(err), 'modpost: error: "kiln_missing_symbol" [mod2/kilnund.ko] undefined!');
  const symvers = c.diagnostics.find((d) => d.message === "Module.symvers is missing.")!;
  assert.equal(symvers.tool, "kbuild");
  assert.equal(symvers.detail?.length, 4);
  assert.equal(c.failedTargets[0]!.target, "mod2/Module.symvers");

  const w = collect("kbuild-modpost-warn.txt", [TREE, OUT]);
  assert.deepEqual(w.counts, { errors: 0, warnings: 2 });
  assert.equal(w.diagnostics[1]!.tool, "modpost");
});

test("kbuild in-tree object: <command-line> errors, notes into init/main.c, warning without column", () => {
  const c = collect("kbuild-intree-main.txt", [TREE]);
  assert.deepEqual(c.counts, { errors: 1, warnings: 2 });
  const err = c.firstErrors(1)[0]!;
  assert.equal(err.file, "<command-line>");
  assert.equal(err.message, "expected identifier or '(' before numeric constant");
  assert.deepEqual(err.notes?.map(where), ["init/main.c:231:19"]);
  const macro = c.diagnostics.find((d) => d.flag === "-Wunused-macros")!;
  assert.equal(where(macro), "init/main.c:157");
  assert.deepEqual(c.failedTargets.map((f) => f.target), ["init/main.o"]);
  assert.equal(
    formatDiagnostic(err, { withContext: true }),
    [
      "<command-line>: error: expected identifier or '(' before numeric constant",
      "init/main.c:231:19: note: in expansion of macro 'debug_kernel'",
    ].join("\n"),
  );

  const cmd = collect("kbuild-cmdline.txt", [TREE]);
  assert.deepEqual(cmd.counts, { errors: 1, warnings: 0 });
  assert.deepEqual(cmd.failedTargets.map((f) => [f.target, f.level]), [["scripts/mod/devicetable-offsets.s", 3]]);
});

test("kbuild: make's own 'No rule to make target' is the error", () => {
  const c = collect("kbuild-norule.txt", [TREE]);
  assert.deepEqual(c.counts, { errors: 1, warnings: 0 });
  assert.equal(formatDiagnostic(c.diagnostics[0]!), "make: error: No rule to make target 'init/nonexist.o'.");
});

test("successful kbuild output has no diagnostics", () => {
  for (const f of ["kbuild-modules-prepare.txt", "kbuild-allnoconfig.txt"]) {
    assert.deepEqual(collect(f).diagnostics, [], f);
  }
});

test("de-duplication keeps the first of repeated diagnostics", () => {
  const once = collect("kbuild-module-compile.txt", [TREE, OUT]);
  const c = new DiagnosticCollector({ stripPrefixes: [TREE, OUT] });
  c.write(read("kbuild-module-compile.txt"));
  c.write(read("kbuild-module-compile.txt"));
  c.end();
  assert.deepEqual(c.counts, once.counts);
  assert.deepEqual(c.diagnostics, once.diagnostics);
  // A real repeat inside one run: each kernel link pass reports the same lld symbol.
  const twice = parseDiagnostics(read("lld-undefined.txt") + read("lld-direct.txt"));
  assert.equal(twice.length, 2);
});

test("streaming: any chunking gives the same result as whole text; parseDiagnostics agrees", () => {
  for (const f of readdirSync(FIX).filter((n) => n.endsWith(".txt"))) {
    const text = read(f);
    const whole = parseDiagnostics(text, { stripPrefixes: [TREE, OUT] });
    const c = new DiagnosticCollector({ stripPrefixes: [TREE, OUT] });
    for (let i = 0, n = 1; i < text.length; i += n, n = (n * 7 + 3) % 61 + 1) c.write(text.slice(i, i + n));
    c.end();
    assert.deepEqual(c.diagnostics, whole, f);
    const byLine = new DiagnosticCollector({ stripPrefixes: [TREE, OUT] });
    for (const l of text.split("\n")) byLine.push(l);
    byLine.end();
    assert.deepEqual(byLine.diagnostics, whole, f);
  }
});

test("stripPrefixes handles build-relative ../src/ paths too", () => {
  const d = parseDiagnostics("../src/init/main.c:157: warning: macro \"x\" is not used [-Wunused-macros]", {
    stripPrefixes: ["../src"],
  });
  assert.equal(where(d[0]), "init/main.c:157");
});

test("formatDiagnostic is gcc-like", () => {
  const c = collect("gcc-compile.txt");
  assert.equal(
    formatDiagnostic(c.diagnostics[1]!),
    "util.h:3:13: warning: unused variable 'unused' [-Wunused-variable]",
  );
  assert.equal(
    formatDiagnostic(c.firstErrors(1)[0]!, { withContext: true }),
    [
      "In file included from broken.c:2:",
      "util.h: In function 'helper':",
      "util.h:4:20: error: 'undeclared_in_header' undeclared (first use in this function)",
      "util.h:4:20: note: each undeclared identifier is reported only once for each function it appears in",
    ].join("\n"),
  );
  const lld = collect("lld-undefined.txt").diagnostics[0]!;
  assert.equal(
    formatDiagnostic(lld, { withContext: true }),
    "ld: error: undefined symbol: also_missing\n  >>> referenced by main.c\n  >>>               main.o:(main)",
  );
});
