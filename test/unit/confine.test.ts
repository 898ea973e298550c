/**
 * The project folder as a confinement boundary (issue 9): layers, fragments, series folders,
 * series files and series entries that resolve outside it, symlinks included, are refused with
 * file:line, unless kiln.toml opts the folder in with outside_paths. Small temp folders only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { loadProject } from "../../src/project/load.js";
import { layerFiles } from "../../src/pipeline/configure.js";
import { readSeries } from "../../src/pipeline/apply_patches.js";
import { ProjectError } from "../../src/errors.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");

function project(layers: string, extra = "") {
  const base = mkdtempSync(join(tmpdir(), "kiln-confine-"));
  const dir = join(base, "proj");
  mkdirSync(join(dir, "config", "common"), { recursive: true });
  mkdirSync(join(base, "outside"), { recursive: true });
  writeFileSync(join(base, "outside", "secret.config"), "CONFIG_SECRET=y\n");
  const text = extra + EXAMPLE.replace('layers = ["config/common", "config/{arch}"]', `layers = ${layers}`);
  assert.notEqual(text, extra + EXAMPLE, "the example's layers line was found");
  writeFileSync(join(dir, "kiln.toml"), text);
  const line = text.split("\n").findIndex((l) => l.startsWith("layers")) + 1;
  return { base, dir, line, p: loadProject(dir) };
}

function refused(f: () => unknown, want: RegExp): ProjectError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ProjectError, String(e));
    assert.match(e.render(), want);
    return e;
  }
  assert.fail("expected a ProjectError");
}

test("a layer that escapes the project is refused with kiln.toml:line; outside_paths opts it in", () => {
  const { base, dir, line, p } = project('["../outside"]');
  try {
    const t = p.targets.base!;
    refused(() => layerFiles(p, "base", t, "x86_64"), new RegExp(`${dir}/kiln.toml:${line}: config layer "../outside" resolves outside the project folder[^]*outside_paths = \\["`));
    const ok = project('["../outside"]', 'outside_paths = ["../outside"]\n');
    try {
      assert.deepEqual(layerFiles(ok.p, "base", ok.p.targets.base!, "x86_64").map((f) => f.rel), ["../outside/secret.config"]);
    } finally {
      rmSync(ok.base, { recursive: true, force: true });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a fragment symlinked to a file outside is refused before it is read", () => {
  const { base, dir, line, p } = project('["config/common"]');
  try {
    symlinkSync(join(base, "outside", "secret.config"), join(dir, "config", "common", "10-leak.config"));
    refused(() => layerFiles(p, "base", p.targets.base!, "x86_64"), new RegExp(`kiln.toml:${line}: fragment "config/common/10-leak.config" resolves outside the project folder \\(to ${base}/outside/secret.config\\)`));
    // a symlinked layer folder too
    symlinkSync(join(base, "outside"), join(dir, "config", "linked"));
    const q = project('["config/linked"]');
    rmSync(join(q.dir, "config"), { recursive: true });
    mkdirSync(join(q.dir, "config"));
    symlinkSync(join(base, "outside"), join(q.dir, "config", "linked"));
    refused(() => layerFiles(q.p, "base", q.p.targets.base!, "x86_64"), /config layer "config\/linked" resolves outside the project folder/);
    rmSync(q.base, { recursive: true, force: true });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("series folders, series files and series entries that escape are refused", () => {
  const base = mkdtempSync(join(tmpdir(), "kiln-confine-series-"));
  try {
    const dir = join(base, "proj");
    mkdirSync(join(dir, "patches"), { recursive: true });
    mkdirSync(join(base, "outside"), { recursive: true });
    writeFileSync(join(base, "outside", "0001-x.patch"), "Subject: [PATCH] x\n");
    refused(() => readSeries(dir, { dir: "../outside" }), /kiln.toml: series folder "..\/outside" resolves outside the project folder/);
    refused(() => readSeries(dir, { file: "../outside/series" }), /series file "..\/outside\/series" resolves outside the project folder/);
    writeFileSync(join(dir, "patches", "series"), "0001-ok.patch\n../../outside/0001-x.patch\n");
    writeFileSync(join(dir, "patches", "0001-ok.patch"), "Subject: [PATCH] ok\n");
    refused(() => readSeries(dir, { dir: "patches" }), new RegExp(`${dir}/patches/series:2: patch "../../outside/0001-x.patch" resolves outside the project folder`));
    assert.equal(readSeries(dir, { dir: "patches" }, ["../outside"]).patches.length, 2);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a fragment line is quoted in findings only after it parsed as a Kconfig line", async () => {
  const { parseFragment } = await import("../../src/core/fragment.js");
  const { issues } = parseFragment("CONFIG_A=y\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "leak.config");
  assert.deepEqual(issues.map((i) => [i.kind, i.origin.line]), [["malformed", 2], ["malformed", 3]]);
  for (const i of issues) assert.doesNotMatch(i.message, /PRIVATE|b3Blbn/);
});
