import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { loadProject } from "../../src/project/load.js";
import { preflight, preflightProblems } from "../../src/project/preflight.js";
import { ProjectError } from "../../src/errors.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** A copy of the bundled example in a scratch folder, with kiln.toml edited by `edit`. */
function example(edit: (toml: string) => string = (t) => t): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-preflight-"));
  cpSync(join(REPO, "examples/microvm"), dir, { recursive: true });
  writeFileSync(join(dir, "kiln.toml"), edit(readFileSync(join(dir, "kiln.toml"), "utf8")));
  return dir;
}

function lineOf(dir: string, needle: string): number {
  return readFileSync(join(dir, "kiln.toml"), "utf8").split("\n").findIndex((l) => l.includes(needle)) + 1;
}

test("the bundled example passes preflight for every cell", () => {
  const dir = example();
  try {
    const p = loadProject(dir);
    assert.deepEqual(preflightProblems(p, p.targets.base!.arches.map((arch) => ({ target: "base", arch }))), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a missing layer folder is named with the arch and the kiln.toml line of its layers", () => {
  const dir = example();
  try {
    rmSync(join(dir, "config", "aarch64"), { recursive: true, force: true });
    const p = loadProject(dir);
    const problems = preflightProblems(p, [{ target: "base", arch: "x86_64" }, { target: "base", arch: "aarch64" }]);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]!.line, lineOf(dir, "layers = "));
    assert.match(problems[0]!.message, /config layer "config\/aarch64" of target "base" \(aarch64\) is not a folder/);
    assert.throws(() => preflight(p, [{ target: "base", arch: "aarch64" }]), (e: unknown) => {
      assert.ok(e instanceof ProjectError);
      assert.equal(e.where.file, join(dir, "kiln.toml"));
      assert.equal(e.where.line, lineOf(dir, "layers = "));
      assert.match(e.render(), /kiln\.toml:\d+: config layer "config\/aarch64"/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an optional layer may be missing", () => {
  const dir = example((t) => t.replace('layers = ["config/common", "config/{arch}"]', 'layers = ["config/common", { path = "config/extra-{arch}", optional = true }]'));
  try {
    const p = loadProject(dir);
    assert.deepEqual(preflightProblems(p, [{ target: "base", arch: "x86_64" }]), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a missing series folder, a missing preset and an undeclared source are all listed at once", () => {
  const dir = example((t) =>
    t.replace('dir = "patches"', 'dir = "no-such-patches"')
      .replace('[target.base.config]\nmethod = "fragments"\nbase = "allnoconfig"', '[target.base.config]\nmethod = "preset"\npreset = "missing.config"'),
  );
  try {
    mkdirSync(join(dir, "presets"), { recursive: true });
    const p = loadProject(dir);
    const problems = preflightProblems(p, [{ target: "base", arch: "x86_64" }], ["next"]);
    assert.deepEqual(problems.map((x) => x.message), [
      'source "next" is not declared (declared: linux)',
      `preset missing.config of target "base" does not exist in ${p.decl.presets_dir}/`,
      "patch folder no-such-patches does not exist: create it, or remove the series",
    ]);
    assert.equal(problems[1]!.line, lineOf(dir, "preset = "));
    assert.equal(problems[2]!.line, lineOf(dir, 'dir = "no-such-patches"'));
    assert.throws(() => preflight(p, [{ target: "base", arch: "x86_64" }], ["next"]), /kiln\.toml has 3 problem\(s\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the patch gate's preflight checks the series only", () => {
  const dir = example();
  try {
    rmSync(join(dir, "config", "x86_64"), { recursive: true, force: true });
    const p = loadProject(dir);
    assert.equal(preflightProblems(p, [{ target: "base", arch: "x86_64" }]).length, 1);
    assert.deepEqual(preflightProblems(p, [{ target: "base", arch: "x86_64" }], [], { config: false }), []);
    rmSync(join(dir, "patches"), { recursive: true, force: true });
    assert.match(preflightProblems(p, [{ target: "base", arch: "x86_64" }], [], { config: false })[0]!.message, /patch folder patches does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
