/**
 * kiln-test-lane: side (configures, never compiles; it shares the test kiln home only through
 * kiln's own locks, as two users' kiln runs would; test/run.sh runs it beside the main lane)
 * The config audit and explain on the real Debian 6.12 tree, through the CLI.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME } from "../support/kiln.js";
import { debianTarball } from "../support/trees.js";
import { projectId } from "../../src/store/paths.js";

const skip = !debianTarball("6.12") && "linux-source-6.12 is not installed";
const dir = skip ? "" : exampleCopy("audit");
after(() => {
  if (!dir) return;
  rmSync(join(TEST_HOME, "work", projectId("microvm", dir)), { recursive: true, force: true });
  removeProject(dir);
});

test("kiln config audit classifies and explains every finding, then fails with exit 2", { skip, timeout: 20 * 60_000 }, async () => {
  writeFileSync(join(dir, "config", "common", "90-debug.config"), "CONFIG_UBSAN_BOUNDS=y\nCONFIG_NOT_A_REAL_SYMBOL=y\n# kiln-allow: only the debug variant turns UBSAN on\nCONFIG_UBSAN_SHIFT=y\nnot a config line\n");
  mkdirSync(join(dir, "config", "late"), { recursive: true });
  writeFileSync(join(dir, "config", "late", "10-late.config"), "# CONFIG_VIRTIO_NET is not set\n");
  const toml = join(dir, "kiln.toml");
  const { readFileSync } = await import("node:fs");
  writeFileSync(toml, readFileSync(toml, "utf8").replace('layers = ["config/common", "config/{arch}"]', 'layers = ["config/common", "config/{arch}", "config/late"]'));
  const r = await kiln(["-C", dir, "--json", "config", "audit"]);
  assert.equal(r.code, 2, r.stderr);
  const [cell] = JSON.parse(r.stdout) as { config: { findings: { kind: string; symbol?: string; why: string; file: string; line: number; allowed?: string }[]; invariants: { message: string }[] } }[];
  const f = cell!.config.findings;
  const by = (k: string, s?: string) => f.find((x) => x.kind === k && (s === undefined || x.symbol === s));
  assert.match(by("mismatch", "UBSAN_BOUNDS")!.why, /CONFIG_UBSAN_BOUNDS=n because it depends on UBSAN \(=n\): enable CONFIG_UBSAN/);
  assert.equal(by("mismatch", "UBSAN_BOUNDS")!.line, 1);
  assert.ok(by("unknown", "NOT_A_REAL_SYMBOL"));
  assert.equal(by("mismatch", "UBSAN_SHIFT")?.allowed, "only the debug variant turns UBSAN on", JSON.stringify(f));
  assert.equal(by("malformed")!.line, 5);
  assert.equal(by("redefined", "VIRTIO_NET")!.file, "config/late/10-late.config");
  // VIRTIO_NET off also breaks the example's invariants, listed with the formats.md message
  assert.ok(cell!.config.invariants.some((v) => v.message === "required CONFIG_VIRTIO_NET=y but got CONFIG_VIRTIO_NET=UNSET"));
  assert.match(r.stderr, /90-debug\.config:1: mismatch CONFIG_UBSAN_BOUNDS requested y, got n/);
  // --report-only downgrades the findings; the invariant violation still fails
  const ro = await kiln(["-C", dir, "config", "audit", "--report-only"]);
  assert.equal(ro.code, 2);
  assert.match(ro.stderr, /invariants violated/);
  assert.doesNotMatch(ro.stderr, /audit finding\(s\)/);
});

test("kiln config explain says why a symbol has its value", { skip, timeout: 10 * 60_000 }, async () => {
  const r = await kiln(["-C", dir, "config", "explain", "CONFIG_NR_CPUS"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /CONFIG_NR_CPUS=1, not requested by any layer: default NR_CPUS_DEFAULT/);
  assert.match(r.stdout, /not visible: its prompt depends on SMP \(=n\)/);
  const j = await kiln(["-C", dir, "--json", "config", "explain", "UBSAN_BOUNDS"]);
  assert.equal(j.code, 0, j.stderr);
  const x = JSON.parse(j.stdout.slice(j.stdout.indexOf("{"))) as { reason: string; actions: string[] };
  assert.equal(x.reason, "dependency");
  assert.deepEqual(x.actions, ["enable CONFIG_UBSAN"]);
});
