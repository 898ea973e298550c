/**
 * The process door, with real processes: streaming lines, stdin input, timeouts, groups,
 * a missing command, PATH lookup.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { run, runSync, start, whichSync } from "../../src/effects/proc.js";
import { HostError } from "../../src/errors.js";

test("start streams lines from stdout and stderr as they come", async () => {
  const lines: string[] = [];
  const p = start(["sh", "-c", "echo one; echo two >&2; printf 'three'"], { onLine: (l, s) => lines.push(`${s}:${l}`) });
  const exit = await p.done;
  assert.equal(exit.exitCode, 0);
  assert.deepEqual([...lines].sort(), ["stderr:two", "stdout:one", "stdout:three"]);
});

test("start writes input to stdin and reports the exit code", async () => {
  let out = "";
  const p = start(["sh", "-c", "cat; exit 3"], { input: "hello\n", onStdout: (c) => (out += c) });
  assert.deepEqual(await p.done, { exitCode: 3, signal: undefined, timedOut: false });
  assert.equal(out, "hello\n");
});

test("a timeout kills the whole process group", async () => {
  const t0 = Date.now();
  const p = start(["sh", "-c", "sleep 30 & sleep 30; wait"], { timeoutMs: 200, group: true });
  const exit = await p.done;
  assert.equal(exit.timedOut, true);
  assert.equal(exit.signal, "SIGKILL");
  assert.ok(Date.now() - t0 < 10_000);
});

test("a missing command is a HostError with the hint given", async () => {
  const p = start(["kiln-no-such-command-here"], { missingHint: "apt-get install nothing" });
  await assert.rejects(p.done, (e: unknown) => e instanceof HostError && /kiln-no-such-command-here is not installed/.test(e.message) && e.hint === "apt-get install nothing");
  await assert.rejects(run(["kiln-no-such-command-here"]), HostError);
  assert.throws(() => runSync(["kiln-no-such-command-here"]), HostError);
});

test("run and runSync collect output; a failure names the command", async () => {
  assert.equal((await run(["sh", "-c", "echo out; echo err >&2"])).stdout, "out\n");
  assert.equal(runSync(["sh", "-c", "echo hi; exit 4"]).exitCode, 4);
  assert.equal(runSync(["sh", "-c", "echo $KILN_T"], { env: { KILN_T: "x" } }).stdout, "x\n");
  await assert.rejects(run(["sh", "-c", "echo bad; exit 5"]), /exit 5.*sh -c/s);
  assert.equal((await run(["sleep", "5"], { timeoutMs: 100, allowFail: true })).timedOut, true);
});

test("which looks PATH up in process", () => {
  assert.match(whichSync("sh") ?? "", /\/sh$/);
  assert.equal(whichSync("kiln-no-such-command-here"), undefined);
  assert.equal(whichSync("sh", "/nonexistent-dir"), undefined);
  assert.equal(whichSync("/bin/sh"), "/bin/sh");
});
