/**
 * The join of kiln bump and kiln report on a real bump's report.json
 * (test/fixtures/report/bump-report.json: the example moved from Debian's linux-source-6.1 to
 * linux-source-6.12 for x86_64 with the four patches of test/support/bump_patches.ts, as
 * test/full/bump_real_trees.test.ts runs it): the mapping onto the page's bump view, the reader
 * that takes either shape, and the page of a bump without a build manifest.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BumpReportSchema, bumpDiffs, bumpView, sideText, viewStatus, type BumpReportInput } from "../../src/bump/view.js";
import { BumpViewSchema, parseBumpView, readBumpFile } from "../../src/report/bump.js";
import { renderBumpReport } from "../../src/report/render.js";
import { KilnError } from "../../src/errors.js";

const FIX = new URL("../../../test/fixtures/report/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, FIX), "utf8");
const text = read("bump-report.json");
const report = (): BumpReportInput => BumpReportSchema.parse(JSON.parse(text));

test("bumpView: the real 6.1 -> 6.12 report maps onto a valid view, patch by patch", () => {
  const v = bumpView(report());
  assert.deepEqual(BumpViewSchema.parse(v), v, "the mapping's output passes the view's own schema");
  assert.equal(v.source, "linux");
  assert.equal(v.from.version, "6.1.192 (linux-source-6.1 6.1.192-3)");
  assert.equal(v.to.version, "6.12.117 (linux-source-6.12 6.12.117-1~deb12u1)");
  assert.equal(v.to.tree, "23481b65e33b461f4934938716acfba8fe6d61dd");
  assert.deepEqual(v.patches.map((p) => [p.name, p.status]), [
    ["0001-upstream-hunk.patch", "upstream"],
    ["0002-offset-comment.patch", "offset"],
    ["0003-conflict.patch", "conflict"],
    ["0004-clean-comment.patch", "clean"],
  ]);
  assert.ok(v.patches.every((p) => p.target === undefined), "one target: no target column");
  const [up, off, con, clean] = v.patches;
  assert.equal(up!.upstream, "upstream in 6.12 (line 4: Patch-mainline: v6.12)");
  assert.match(up!.detail!, /^reverse-applies cleanly to the new tree; flagged: its header says upstream in 6\.12 .*; action: already upstream: --drop-upstream drops it$/);
  assert.match(up!.reproduce!, /patch -p1 -F0 --dry-run -R /);
  assert.equal(off!.detail, "kernel/panic.c hunk #1 at offset 2; refreshed copy in refreshed/0002-offset-comment.patch; action: refresh (rewritten with zero offset on --apply)");
  assert.equal(off!.upstream, "pending (line 4: Forwarded: no)");
  assert.equal(con!.detail, "rejected hunks in rejects/0003-conflict.patch.rej; action: rebase by hand: see the rejected hunks");
  assert.equal(clean!.detail, "action: keep");
  assert.equal(clean!.upstream, "inappropriate (kiln test fixture) (line 4: Upstream-Status: Inappropriate [kiln test fixture])");
});

test("bumpView: new symbols per arch with their menu from the config diff; gates, passed, applied", () => {
  const r = report();
  const v = bumpView(r);
  assert.equal(v.new_symbols.length, r.cells[0]!.newSymbols.length);
  assert.ok(v.new_symbols.length > 10);
  assert.ok(v.new_symbols.every((s) => s.arch === "x86_64" && s.target === undefined));
  assert.deepEqual(v.new_symbols.find((s) => s.symbol === "BPF_JIT"), { arch: "x86_64", symbol: "BPF_JIT", value: "n", menu: "General setup › BPF subsystem" });
  assert.ok(v.new_symbols.every((s) => s.menu), "each new symbol is in the cell's config diff, under a menu");
  // the report was written before gates carried kind/target/arch: read from the gate's name
  assert.deepEqual(v.gates, [
    { target: "base", gate: "patches", ok: false, detail: "base: 0001-upstream-hunk.patch is already upstream (pass --drop-upstream); base: 0003-conflict.patch conflicts with the new tree" },
    { target: "base", arch: "x86_64", gate: "audit", ok: true },
    { target: "base", arch: "x86_64", gate: "invariants", ok: true },
  ]);
  // a gate that carries them is taken as it is
  const withFields = bumpView({ ...r, gates: [{ name: "audit x86_64/base", kind: "audit", target: "base", arch: "x86_64", ok: false, problems: ["x86_64/base: mismatch UBSAN at a.config:3: off"] }] });
  assert.deepEqual(withFields.gates, [{ target: "base", arch: "x86_64", gate: "audit", ok: false, detail: "x86_64/base: mismatch UBSAN at a.config:3: off" }]);
  assert.equal(v.passed, false);
  assert.equal(v.applied, false);
  assert.equal(v.forced, undefined);
  const forced = bumpView({ ...r, applied: true, overridden: ["base: 0003-conflict.patch conflicts with the new tree"] });
  assert.deepEqual(forced.forced, ["base: 0003-conflict.patch conflicts with the new tree"]);
});

test("bumpView: two targets put the target on patches and symbols; fuzz is told from offset", () => {
  const r = report();
  const other = { ...r.targets[0]!, target: "debug" };
  const v = bumpView({ ...r, targets: [r.targets[0]!, other], cells: [...r.cells, { ...r.cells[0]!, target: "debug" }] });
  assert.equal(v.patches.length, 8);
  assert.deepEqual([...new Set(v.patches.map((p) => p.target))], ["base", "debug"]);
  assert.deepEqual([...new Set(v.new_symbols.map((s) => `${s.arch}/${s.target}`))], ["x86_64/base", "x86_64/debug"]);
  assert.equal(viewStatus({ class: "offset", moved: [{ file: "a.c", hunk: 1, offset: 0, fuzz: 1 }] }), "fuzz");
  assert.equal(viewStatus({ class: "offset", moved: [{ file: "a.c", hunk: 1, offset: 3, fuzz: 0 }] }), "offset");
  assert.equal(viewStatus({ class: "blocked", moved: [] }), "blocked");
  assert.equal(sideText({ kernel_version: "6.12", tree: "t", url: "https://example.org/linux-6.12.tar.xz" }), "6.12 (https://example.org/linux-6.12.tar.xz)");
  assert.equal(sideText({ kernel_version: "6.13.0", tree: "t", commit: "0123456789abcdef0123" }), "6.13.0 (0123456789ab)");
});

test("readBumpFile: a bump's report.json and a view both read; a wrong field is named with its path", () => {
  assert.deepEqual(readBumpFile(text, { file: "report.json" }), bumpView(report()));
  const view = read("bump-view.json");
  assert.deepEqual(readBumpFile(view, { file: "bump-view.json" }), parseBumpView(view, { file: "bump-view.json" }));
  const bad = text.replace('"class": "conflict"', '"class": "sort of"');
  assert.notEqual(bad, text);
  assert.throws(() => readBumpFile(bad, { file: "r.json" }), (e: unknown) => e instanceof KilnError && /^not a kiln bump report: targets\.0\.patches\.2\.class: /.test(e.message) && e.where.file === "r.json" && /report\.json that kiln bump wrote/.test(e.hint ?? ""));
  const noCells = JSON.stringify({ ...JSON.parse(text), cells: undefined });
  assert.throws(() => readBumpFile(noCells, { file: "r.json" }), /not a kiln bump report: cells: /);
  // neither shape: read as a view, and the view's first problem named
  assert.throws(() => readBumpFile('{"patches": []}', { file: "x.json" }), /not a kiln bump view: schema: /);
  assert.throws(() => readBumpFile("[1]", { file: "x.json" }), /not a kiln bump view/);
  assert.throws(() => readBumpFile("{", { file: "x.json" }), /not JSON/);
});

test("the page of a bump (no build manifest): the bump section, then the config diffs, escaped", () => {
  const r = report();
  const v = bumpView(r);
  v.patches[3]!.name = `<b>0004</b>`;
  const html = renderBumpReport({ bump: v, diffs: bumpDiffs(r), from: "/p/bump-report/report.json", generatedAt: "2026-12-02T02:00:00.000Z", kilnVersion: "0.1.0" });
  assert.match(html, /<body data-kiln-sections="bump diff">/);
  assert.match(html, /<title>kiln bump linux: 6\.1\.192 \(linux-source-6\.1 6\.1\.192-3\) → 6\.12\.117 \(linux-source-6\.12 6\.12\.117-1~deb12u1\)<\/title>/);
  assert.ok(html.includes("↑ already upstream (reverse-applies)") && html.includes("✗ conflicts") && html.includes("~ applies only with an offset") && html.includes("✓ applies clean"));
  assert.ok(html.includes("&lt;b&gt;0004&lt;/b&gt;") && !html.includes("<b>0004"));
  assert.ok(html.includes(`New symbols on x86_64: ${v.new_symbols.length}`));
  // the report has no type or prompt for a new symbol: those columns are left out
  assert.ok(html.includes("<th>symbol</th><th>value</th><th>menu</th></tr>") && !html.includes("<th>prompt</th>"));
  assert.ok(html.includes("Gates on the new tree: gates failed"));
  assert.ok(html.includes("<td>(every arch)</td>"));
  const c = r.cells[0]!;
  assert.ok(html.includes(`x86_64/base now (${c.current.release}) → on 6.12.117 (${c.next.release}): ${c.diff.counts.removed} removed, ${c.diff.counts.changed} changed, ${c.diff.counts.added} added`));
  assert.ok(html.includes("<h3>General setup › BPF subsystem</h3>"));
  assert.ok(html.includes('<svg id="chart-bump"'));
  assert.ok(html.includes("kiln 0.1.0 · from /p/bump-report/report.json"));
  assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//);
  assert.equal(html.match(/<script>/g)?.length, 2);
});
