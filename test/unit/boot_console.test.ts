import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ARCHES } from "../../src/tables/arches.js";
import {
  ConsoleTracker,
  LAST_LINES,
  analyzeConsole,
  cleanLine,
  failureReason,
  parseMarker,
  renderDiagnosis,
  type ConsoleState,
} from "../../src/boot/console.js";
import { extractExecOutput } from "../../src/boot/run.js";

// Compiled to dist/test/unit; fixtures stay in the source tree.
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures/boot");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const x86 = ARCHES.x86_64!;
const arm = ARCHES.aarch64!;
const rv = ARCHES.riscv64!;
const RELEASE = "6.12.117-kilnboottest";

test("a good x86_64 boot reaches the marker, with banner and init, no panic", () => {
  const s = analyzeConsole(fixture("x86_64-ok.log"), x86);
  assert.equal(s.stage, "marker");
  assert.match(s.banner ?? "", /^Linux version 6\.12\.117-kilnboottest /);
  assert.equal(s.marker?.release, RELEASE);
  assert.equal(s.marker?.machine, "x86_64");
  assert.equal(s.marker?.cpus, 1);
  assert.ok((s.marker?.memKiB ?? 0) > 400_000);
  assert.equal(s.marker?.mountsOk, true);
  assert.match(s.marker?.cmdline ?? "", /console=ttyS0/);
  assert.deepEqual(s.panic, []);
  assert.equal(s.poweredOff, true);
  assert.equal(s.lastLines.length, LAST_LINES);
  assert.equal(failureReason({ arch: x86, state: s, end: { kind: "stopped" }, expectedRelease: RELEASE }), undefined);
});

test("aarch64 and riscv64 boots reach the marker; OpenSBI counts as firmware", () => {
  const a = analyzeConsole(fixture("aarch64-ok.log"), arm);
  assert.equal(a.stage, "marker");
  assert.equal(a.marker?.machine, "aarch64");
  const r = analyzeConsole(fixture("riscv64-ok.log"), rv);
  assert.equal(r.stage, "marker");
  assert.equal(r.marker?.machine, "riscv64");
  assert.equal(r.times.firmware, 0);
  assert.ok(r.lastLines.every((l) => !l.includes("\r")));
});

test("another identity fails the identity check and names both releases", () => {
  const s = analyzeConsole(fixture("x86_64-identity-mismatch.log"), x86);
  const reason = failureReason({ arch: x86, state: s, end: { kind: "stopped" }, expectedRelease: "6.12.117-other" });
  assert.match(reason ?? "", /identity mismatch: the guest runs "6\.12\.117-kilnboottest", expected "6\.12\.117-other"/);
});

test("a guest without init shows the kernel panic, at the banner stage", () => {
  const s = analyzeConsole(fixture("x86_64-no-init-panic.log"), x86);
  assert.equal(s.stage, "banner");
  assert.equal(s.marker, undefined);
  assert.ok(s.panic.some((l) => /Kernel panic - not syncing: VFS: Unable to mount root fs/.test(l)));
  assert.ok(s.panic.some((l) => /No filesystem could mount root/.test(l)));
  const reason = failureReason({ arch: x86, state: s, end: { kind: "exited", code: 0 }, expectedRelease: RELEASE });
  assert.match(reason ?? "", /^kernel panic at stage kernel banner: Kernel panic - not syncing: VFS: Unable to mount root fs .* \(no runnable init: /);
  const text = renderDiagnosis({ arch: x86, state: s, end: { kind: "exited", code: 0 }, reason: reason!, consoleLog: "/x/boot.log" });
  assert.match(text, /stage reached: kernel banner/);
  assert.match(text, /\n {2}panic:\n( {4}[^|\n].*\n)* {4}Kernel panic - not syncing/);
  assert.match(text, /last 40 console lines:/);
  assert.match(text, /full console log: \/x\/boot\.log/);
});

test("no kernel output is diagnosed as no console, naming the console and its config symbol", () => {
  const s = analyzeConsole(fixture("x86_64-no-console.log"), x86);
  assert.equal(s.stage, "none");
  const reason = failureReason({ arch: x86, state: s, end: { kind: "silent", afterSec: 10 }, expectedRelease: RELEASE });
  assert.match(reason ?? "", /^no console output from the kernel within 10 s: it has no console on ttyS0 \(is CONFIG_SERIAL_8250_CONSOLE=y/);
  // Firmware alone (a riscv64 kernel that died before its console came up) is still
  // "no console output from the kernel".
  const fwOnly = analyzeConsole(fixture("riscv64-dies-before-console.log"), rv);
  assert.equal(fwOnly.stage, "firmware");
  const r2 = failureReason({ arch: rv, state: fwOnly, end: { kind: "timeout", afterSec: 120 } });
  assert.match(r2 ?? "", /^no console output from the kernel after firmware within 120 s/);
});

test("decompression is its own stage: an image that never starts is told apart from one that never unpacks", () => {
  const s = analyzeConsole("SeaBIOS (version 1.16.2)\nBooting from ROM..\nDecompressing Linux... Parsing ELF... done.\nBooting the kernel.\n", x86);
  assert.equal(s.stage, "decompression");
  assert.ok(s.times.firmware !== undefined && s.times.decompression !== undefined);
  const reason = failureReason({ arch: x86, state: s, end: { kind: "silent", afterSec: 30 } });
  assert.match(reason ?? "", /^no console output from the kernel after kernel decompression within 30 s/);
});

test("a timeout names the stage and what was last seen", () => {
  const tr = new ConsoleTracker(x86);
  tr.push("Linux version 6.12.0 (x@y) #1\nRun /init as init process\n", 500);
  tr.push("kiln-init: started\nsomething slow", 900);
  const s = tr.end(900);
  const end = { kind: "timeout", afterSec: 60 } as const;
  const reason = failureReason({ arch: x86, state: s, end });
  assert.equal(reason, "timed out after 60 s at stage init, before the init marker");
  const text = renderDiagnosis({ arch: x86, state: s, end, reason: reason!, nowMs: 60_000 });
  assert.match(text, /last seen: "something slow" \(at 0\.90 s, output stopped 59\.10 s before the end\)/);
  assert.match(text, /stage reached: init \(kernel banner at 0\.50 s, init at 0\.50 s\)/);
});

test("chunk boundaries do not matter; times are when a line completes", () => {
  const text = fixture("aarch64-ok.log");
  const whole = analyzeConsole(text, arm);
  const tr = new ConsoleTracker(arm);
  for (let i = 0; i < text.length; i += 7) tr.push(text.slice(i, i + 7), i);
  const pieces: ConsoleState = tr.end(text.length);
  assert.equal(pieces.stage, whole.stage);
  assert.deepEqual(pieces.marker, whole.marker);
  assert.deepEqual(pieces.lastLines, whole.lastLines);
  assert.equal(pieces.lineCount, whole.lineCount);
  assert.ok(pieces.times.banner! < pieces.times.marker!);
});

test("console lines lose CR, escape sequences and printk timestamps before matching", () => {
  assert.equal(cleanLine("\x1b[0mhello\r"), "hello");
  const s = analyzeConsole("[    0.000000] Linux version 6.1.0 (a@b) #1\r\n[    1.5] Run /init as init process\r\n");
  assert.equal(s.stage, "init");
  const m = parseMarker("junk KILN-MARKER v1 release=6.1.0-x machine=riscv64 cpus=2 mem_kib=1000 mounts=failed cmdline=a b  c");
  assert.deepEqual(
    { ...m, line: undefined },
    { release: "6.1.0-x", machine: "riscv64", cpus: 2, memKiB: 1000, mountsOk: false, cmdline: "a b  c", line: undefined },
  );
  assert.equal(parseMarker("KILN-MARKER v2 release=x"), undefined);
});

test("a marker with failed mounts fails the smoke", () => {
  const s = analyzeConsole("Linux version 6.1 (a) #1\nKILN-MARKER v1 release=r machine=x86_64 cpus=1 mem_kib=1 mounts=failed cmdline=\n", x86);
  assert.match(failureReason({ arch: x86, state: s, end: { kind: "stopped" }, expectedRelease: "r" }) ?? "", /could not mount/);
});

test("exec output is what lies between the init's BEGIN and END lines", () => {
  const raw = "Linux version x\r\nKILN-MARKER v1 release=r machine=m cpus=1 mem_kib=1 mounts=ok cmdline=\r\nKILN-EXEC-BEGIN\r\nhello\r\nworld\r\n\r\nKILN-EXEC-END status=3\r\nreboot: Power down\r\n";
  assert.deepEqual(extractExecOutput(raw), { output: "hello\nworld\n", status: 3 });
  assert.deepEqual(extractExecOutput("KILN-EXEC-BEGIN\n\nKILN-EXEC-END status=0\n"), { output: "", status: 0 });
  assert.deepEqual(extractExecOutput("KILN-EXEC-BEGIN\nno newline\nKILN-EXEC-END status=1\n"), { output: "no newline", status: 1 });
  assert.equal(extractExecOutput("KILN-EXEC-BEGIN\nhang"), undefined);
  const s = analyzeConsole(raw, x86);
  assert.equal(s.execStatus, 3);
});
