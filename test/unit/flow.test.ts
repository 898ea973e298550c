/**
 * The build flow as data: the manifest is a pure function of the step results, and the skip
 * conditions beside the step list say when a step does not run. Real inputs: the bundled
 * example's kiln.toml, its arch row, build flags from the real flag builder.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProject } from "../../src/project/load.js";
import { ARCHES } from "../../src/tables/arches.js";
import { paths as kilnPaths, warmTree } from "../../src/store/paths.js";
import { GitStore } from "../../src/effects/git.js";
import { Sources } from "../../src/pipeline/sources.js";
import { buildFlags } from "../../src/pipeline/build_flags.js";
import { cellManifest } from "../../src/pipeline/manifest.js";
import { FLOW, SKIPS } from "../../src/pipeline/build.js";
import { ManifestSchema, parseManifest, type Manifest } from "../../src/core/manifest.js";
import type { FlowResults, FlowOptions } from "../../src/pipeline/steps.js";
import type { LockEntry } from "../../src/project/lock.js";
import { KilnError } from "../../src/errors.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TOML = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");
const RELEASE = "6.12.57-microvm-0123456789ab";
const RUN = { startedAt: "2026-12-01T00:00:00.000Z", kilnVersion: "0.1.0" };

function prepared(toml = TOML): FlowResults {
  const project = parseProject(toml, "/p/microvm/kiln.toml");
  const source: LockEntry = { declared: "d", kind: "debian", package: "linux-source-6.12", version: "6.12.57-1", tree: "base-tree", timestamp: 1764547200, kernel_version: "6.12.57" };
  const p = kilnPaths("/home/k/.cache/kiln");
  return {
    prepared: {
      project, tname: "base", target: project.targets.base!, arch: ARCHES.x86_64!, source, sources: new Sources({ linux: source }),
      series: { patches: [{ name: "0001-x.patch", path: "/p/microvm/patches/0001-x.patch", text: "", sha256: "aa" }] }, label: "microvm",
      paths: p, warm: warmTree(p, "microvm-1234", "base", "x86_64"), git: new GitStore(p.git),
    },
    records: [],
  };
}

/** Results of a cold build through install, as the steps return them. */
function built(): FlowResults {
  const r = prepared();
  const wt = { src: "/w/src", build: "/w/build", mode: "fresh" as const, changedFiles: 0 };
  const flags = buildFlags({ arch: ARCHES.x86_64!, toolchain: "gcc", src: wt.src, build: wt.build, timestamp: 1764547200, makeVars: {} });
  const entry = `/home/k/.cache/kiln/store/${RELEASE}`;
  return {
    ...r,
    patched: { tree: "patched-tree", applied: [{ name: "0001-x.patch", sha256: "aa", files: 1 }], reused: false },
    worktree: wt,
    flags: { flags, toolchain: { toolchain: "gcc", tools: [{ name: "gcc", path: "/usr/bin/gcc", version: "gcc 12.2.0", sha256: "cc" }], canonical: "gcc" }, statsLog: "/w/state/ccache-stats.log", make: { src: wt.src, build: wt.build, makeVars: flags.makeVars, env: {} } },
    configured: {
      cfg: {
        method: "fragments", fragments: [{ layer: "config/common", file: "/p/microvm/config/common/00-base.config", rel: "config/common/00-base.config", override: false }],
        requested: 40, redefinitions: [], issues: [], configText: "",
        dropped: [{ symbol: "UBSAN_BOUNDS", requested: "y", actual: "n", present: false, origin: { file: "config/common/90-debug.config", line: 2 } }],
      },
      findings: [], violations: [], digest: "0123456789ab", fitted: "microvm", baked: { release: RELEASE, configText: "CONFIG_X=y\n" }, kernelVersion: "6.12.57", how: "ran", key: "c".repeat(64),
    },
    identified: { release: RELEASE },
    built: { compile: { steps: 1200, work: 900, durationMs: 100_000, warnings: 0, errors: 0, diagnostics: [], argv: [] }, jobs: 2, log: "/w/state/build.log" },
    installed: { entry, files: { image: `boot/vmlinuz-${RELEASE}`, system_map: `boot/System.map-${RELEASE}`, config: `boot/config-${RELEASE}` }, provenance: { linux_compile_by: "kiln" } },
    records: [
      { step: "apply_patches", status: "ran", ms: 5 },
      { step: "configure", status: "ran", ms: 9000 },
      { step: "reuse_check", status: "ran", ms: 1 },
      { step: "fetch_identity", status: "skipped", reason: "no [ship] reuse remotes", ms: 0 },
      { step: "compile", status: "ran", ms: 100_000 },
      { step: "install", status: "ran", ms: 2000 },
    ],
  };
}

test("a running manifest before any step: the inputs, the unpatched tree, no identity; it validates", () => {
  const m = cellManifest(prepared(), { ...RUN, status: "running" });
  assert.equal(ManifestSchema.safeParse(m).success, true);
  assert.equal(m.status, "running");
  assert.equal(m.finished_at, undefined);
  assert.equal(m.source_tree, "base-tree");
  assert.equal(m.uts_release, undefined);
  assert.equal(m.identity, undefined);
  assert.equal(m.config, undefined);
  assert.deepEqual(m.inputs.series, [{ name: "0001-x.patch", sha256: "aa" }]);
  assert.equal(m.inputs.source.version, "6.12.57-1");
  assert.equal(m.reproduce, "cd /p/microvm && kiln build base --arch x86_64 --locked");
  assert.deepEqual(m.flow, []);
});

test("a built cell: identity, config, compile, artifacts in the store entry; steps hold only what ran", () => {
  const m = cellManifest(built(), { ...RUN, status: "ok", finishedAt: "2026-12-01T00:02:00.000Z" });
  assert.equal(ManifestSchema.safeParse(m).success, true);
  assert.equal(m.uts_release, RELEASE);
  assert.equal(m.kernel_version, "6.12.57");
  assert.equal(m.source_tree, "patched-tree");
  assert.equal(m.identity!.digest, "0123456789ab");
  assert.ok(m.identity!.make_flags.every((f) => !f.includes("/w/src")), "host paths are blanked in the identity flags");
  assert.deepEqual(m.reuse, { status: "built" });
  assert.equal(m.artifacts!.image, `/home/k/.cache/kiln/store/${RELEASE}/boot/vmlinuz-${RELEASE}`);
  assert.equal(m.compile!.steps, 1200);
  assert.deepEqual(m.config!.dropped, [{ symbol: "UBSAN_BOUNDS", requested: "y", actual: "n", file: "config/common/90-debug.config", line: 2 }]);
  assert.deepEqual(m.inputs.fragments, [{ layer: "config/common", file: "config/common/00-base.config" }]);
  assert.deepEqual(m.steps, { apply_patches: 5, configure: 9000, reuse_check: 1, compile: 100_000, install: 2000 });
  assert.deepEqual(m.flow![3], { step: "fetch_identity", status: "skipped", reason: "no [ship] reuse remotes", ms: 0 });
  assert.equal(m.build_dir, "/w/build");
});

test("the manifest is a function of the results: the same results give the same document", () => {
  const run = { ...RUN, status: "ok" as const, finishedAt: "2026-12-01T00:02:00.000Z" };
  assert.deepEqual(cellManifest(built(), run), cellManifest(built(), run));
  assert.notDeepEqual(cellManifest(built(), run), cellManifest({ ...built(), identified: { release: "other" } }, run));
});

test("a reused cell takes compile, artifacts and provenance from the stored build's manifest", () => {
  const stored: Manifest = cellManifest(built(), { ...RUN, status: "ok", finishedAt: "2026-11-30T00:00:00.000Z" });
  const r = built();
  delete r.built;
  delete r.installed;
  r.reused = { kind: "waited-reused", from: `/home/k/.cache/kiln/store/${RELEASE}`, stored };
  r.records = [{ step: "compile", status: "skipped", reason: "waited-reused", ms: 0 }];
  const m = cellManifest(r, { ...RUN, status: "ok", finishedAt: "2026-12-01T00:00:01.000Z" });
  assert.deepEqual(m.reuse, { status: "waited-reused", from: `/home/k/.cache/kiln/store/${RELEASE}` });
  assert.deepEqual(m.artifacts, stored.artifacts);
  assert.deepEqual(m.compile, stored.compile);
  assert.deepEqual(m.provenance, { linux_compile_by: "kiln" });
  assert.equal(m.steps.compile, undefined, "no compile step ran");
});

test("a failed run records the error and the step that failed", () => {
  const r = prepared();
  r.records.push({ step: "apply_patches", status: "failed", ms: 3 });
  const m = cellManifest(r, { ...RUN, status: "failed", finishedAt: "2026-12-01T00:00:01.000Z", error: "patch does not apply" });
  assert.equal(m.status, "failed");
  assert.equal(m.error, "patch does not apply");
  assert.deepEqual(m.steps, { apply_patches: 3 });
});

test("the skip conditions beside the step list", () => {
  const names = FLOW.map((s) => s.name);
  assert.deepEqual(names, ["apply_patches", "build_flags", "configure_record", "prepare_worktree", "configure", "config_gate", "identity", "reuse_check", "waited_reuse", "fetch_identity", "checkout", "compile", "install", "outputs"]);
  for (const k of Object.keys(SKIPS)) assert.ok(names.includes(k as never), `${k} is a step`);
  const o: FlowOptions = { ui: undefined as never };
  const fresh = built();
  delete fresh.built;
  delete fresh.installed;
  assert.equal(SKIPS.reuse_check!(fresh, o), undefined);
  assert.equal(SKIPS.reuse_check!(fresh, { ...o, reuse: false }), "--no-reuse");
  assert.equal(SKIPS.fetch_identity!(fresh, o), "no [ship] reuse remotes", "the example declares no reuse remote");
  assert.equal(SKIPS.compile!(fresh, o), undefined);
  assert.equal(SKIPS.config_gate!(fresh, { ...o, configureOnly: true })?.startsWith("configure only"), true);
  const reused = { ...fresh, reused: { kind: "reused" as const, from: "/store/x", stored: cellManifest(built(), { ...RUN, status: "ok" }) } };
  assert.equal(SKIPS.compile!(reused, o), "reused from /store/x");
  assert.equal(SKIPS.install!(reused, o), "reused from /store/x");
  assert.equal(SKIPS.waited_reuse!(reused, o), "reused from /store/x");
  assert.equal(SKIPS.outputs!(fresh, o), "the target declares no outputs beyond install");
  const withArtifact = prepared(TOML.replace('outputs = ["install"]', 'outputs = ["install", "artifact"]'));
  assert.equal(SKIPS.outputs!(withArtifact, o), undefined);
  assert.equal(SKIPS.outputs!(withArtifact, { ...o, outputs: false })?.startsWith("not asked"), true);
});

test("a configure record hit skips the tree and configure; checkout runs only when something compiles or the tree is read", () => {
  const o: FlowOptions = { ui: undefined as never };
  const early = prepared();
  assert.equal(SKIPS.configure_record!(early, o), undefined);
  assert.equal(SKIPS.configure_record!(early, { ...o, configureOnly: true })?.startsWith("configure only"), true, "the config tools need a tree");
  assert.equal(SKIPS.prepare_worktree!(early, o), undefined, "a record miss checks the tree out for configure");
  assert.equal(SKIPS.configure!(early, o), undefined);
  const hit = built();
  delete hit.worktree;
  delete hit.built;
  delete hit.installed;
  assert.equal(SKIPS.prepare_worktree!(hit, o)?.startsWith("configured from its content record"), true);
  assert.equal(SKIPS.configure!(hit, o), `the content record ${"c".repeat(12)} holds this configure's result`);
  assert.equal(SKIPS.checkout!(hit, o), undefined, "no store hit: the compile needs the tree");
  const reused = { ...hit, reused: { kind: "reused" as const, from: "/store/x", stored: cellManifest(built(), { ...RUN, status: "ok" }) } };
  assert.equal(SKIPS.checkout!(reused, o), "nothing compiles: reused from /store/x");
  assert.equal(SKIPS.checkout!(reused, { ...o, tree: true }), undefined, "boot reads the tree's nolibc");
  assert.equal(SKIPS.checkout!({ ...reused, prepared: prepared(TOML.replace('outputs = ["install"]', 'outputs = ["install", "deb"]')).prepared }, o), undefined, "Debian packages are made in the warm tree");
  assert.equal(SKIPS.checkout!(built(), o), "the tree was checked out for configure");
});

test("a manifest read back is validated: a bad one names the file and the first schema issue", () => {
  const good = JSON.stringify(cellManifest(built(), { ...RUN, status: "ok" }));
  assert.equal(parseManifest(good, { file: "/s/manifest.json" }).uts_release, RELEASE);
  assert.throws(() => parseManifest(good.replace('"status":"ok"', '"status":"maybe"'), { file: "/s/manifest.json" }), (e: unknown) => {
    assert.ok(e instanceof KilnError);
    assert.match(e.render(), /^\/s\/manifest\.json: not a valid kiln manifest: status: /);
    assert.equal(e.where.file, "/s/manifest.json");
    return true;
  });
  assert.throws(() => parseManifest("{", { url: "https://m/x/manifest.json" }), (e: unknown) => e instanceof KilnError && e.where.url === "https://m/x/manifest.json" && /the manifest is not JSON/.test(e.message));
});

test("a re-bake instead of a configure only when Kconfig cannot see any changed path", async () => {
  const { kconfigUnaffected } = await import("../../src/pipeline/steps.js");
  assert.equal(kconfigUnaffected(["init/main.c"]), true, "the example's one-file patch");
  assert.equal(kconfigUnaffected(["drivers/virtio/virtio.c", "include/linux/virtio.h", "arch/x86/kernel/head_64.S", "Documentation/admin-guide/README.rst"]), true);
  assert.equal(kconfigUnaffected([]), true);
  for (const f of ["init/Kconfig", "arch/x86/Kconfig.debug", "Makefile", "drivers/Makefile", "fs/Kbuild", "arch/x86/configs/x86_64_defconfig", "kernel/configs/kvm_guest.config", "scripts/kconfig/confdata.c", "scripts/Kconfig.include", "tools/objtool/check.c", "Documentation/Kconfig", "init/main.c.orig", "README"]) {
    assert.equal(kconfigUnaffected(["init/main.c", f]), false, f);
  }
});
