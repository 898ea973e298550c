/**
 * kiln report's pure parts on real inputs (test/fixtures/report/README.md): the x86_64 example
 * build's manifests, its build log and its targets' file dates, a real config audit with
 * findings, gcc's real diagnostics, and the bump view of docs/report.md.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { parseManifest, type Manifest } from "../../src/core/manifest.js";
import { DiagnosticCollector } from "../../src/core/diagnostics.js";
import { compileWindow, gatherReport } from "../../src/report/gather.js";
import { binCounts, compileEvents, parseLogTimes, timelineFromDates, timelineFromOrder, timelineFromRecorded, verbCounts, TIMES_MAGIC } from "../../src/report/timeline.js";
import { parseBumpView } from "../../src/report/bump.js";
import { renderReport } from "../../src/report/render.js";
import { SECTIONS, type ReportData, type Sizes } from "../../src/report/model.js";
import { esc, ticks } from "../../src/report/svg.js";
import { LOG_TIMES_HEADER } from "../../src/pipeline/compile.js";
import { KilnError } from "../../src/errors.js";

const FIX = new URL("../../../test/fixtures/report/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, FIX), "utf8");
const manifest = (name: string): Manifest => parseManifest(read(name), { file: name });
const built = manifest("manifest-built.json");
const booted = manifest("manifest-booted.json");
const audited = manifest("manifest-audited.json");
const log = read("build.log");
const dates = new Map(
  read("file-dates.tsv")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split("\t") as [string, string])
    .map(([t, ms]) => [t, Number(ms)] as const),
);
const sizes = JSON.parse(read("sizes.json")) as Sizes;

function gccDiagnostics() {
  const c = new DiagnosticCollector({});
  c.write(readFileSync(new URL("../diagnostics/gcc-compile.txt", FIX), "utf8"));
  c.end();
  return c.diagnostics;
}

function data(over: Partial<ReportData> = {}): ReportData {
  const window = compileWindow(built)!;
  return {
    generatedAt: "2026-12-02T02:00:00.000Z",
    kilnVersion: "0.1.0",
    build: booted,
    manifestFile: "/x/state/manifest.json",
    compiledBy: built,
    compile: { timeline: timelineFromDates(log, dates, window)!, log: built.compile!.log },
    sizes,
    boots: [{ arch: "x86_64", release: booted.uts_release!, records: booted.boot ?? [] }, { arch: "aarch64", release: "6.12.117-microvm-0538182773be", records: [] }],
    ...over,
  };
}

test("the build log's units of work are the ones kiln's compile step counted", () => {
  const ev = compileEvents(log);
  assert.equal(ev.length, built.compile!.steps);
  assert.deepEqual(ev[0], { verb: "HOSTCC", target: "arch/x86/tools/relocs_32.o", module: false, line: 22 });
  assert.deepEqual(verbCounts(ev).slice(0, 3), [["CC", 831], ["AR", 402], ["AS", 38]]);
});

test("compile timeline from file dates: inside the compile window, in order of the work", () => {
  const w = compileWindow(built)!;
  assert.equal(w.durationMs, built.steps.compile);
  // the compile starts after prepare_worktree and configure: their times from the manifest
  assert.equal(w.startMs, Date.parse(built.started_at) + [7, 4, 4, 70502, 7590, 0, 1, 0, 0, 0, 0].reduce((a, b) => a + b, 0));
  const t = timelineFromDates(log, dates, w)!;
  assert.equal(t.source, "file dates");
  // every unit has a date, objtool's too (it names its targets by absolute path)
  assert.equal(dates.size, built.compile!.steps);
  assert.equal(t.undated, 0);
  assert.ok(t.events.some((e) => e.target.endsWith("/tools/objtool/objtool") && e.ms !== undefined));
  const timed = t.events.filter((e) => e.ms !== undefined);
  assert.ok(timed.every((e) => e.ms! >= 0 && e.ms! <= w.durationMs));
  // the host tools come first, the final link last
  assert.ok(timed[0]!.ms! < 5000, `first unit at ${timed[0]!.ms} ms`);
  const vmlinuxLd = timed.find((e) => e.verb === "LD" && e.target === "vmlinux.o")!;
  assert.ok(vmlinuxLd.ms! > 0.8 * w.durationMs, `vmlinux.o linked at ${vmlinuxLd.ms} of ${w.durationMs} ms`);
  const bins = binCounts(t.events, w.durationMs, 60);
  assert.equal(bins.length, 60);
  assert.equal(bins.reduce((a, b) => a + b, 0), timed.length);
  // a window from another day: no date fits, so no timeline from dates
  assert.equal(timelineFromDates(log, dates, { startMs: w.startMs - 86_400_000, durationMs: w.durationMs }), undefined);
});

test("compile timeline from recorded times: the compile step's header, one line per log line", () => {
  assert.ok(LOG_TIMES_HEADER.startsWith(TIMES_MAGIC));
  const lines = log.split("\n").length - 1;
  const times = `${LOG_TIMES_HEADER} 2026-12-02T00:43:11.000Z\n` + Array.from({ length: lines }, (_, i) => `${i * 10}`).join("\n") + "\n";
  const t = timelineFromRecorded(log, times)!;
  assert.equal(t.source, "recorded");
  assert.equal(t.events[0]!.ms, 210); // its log line 22: (22 - 1) x 10 ms
  assert.equal(t.totalMs, (lines - 1) * 10);
  assert.equal(parseLogTimes(times)!.started, "2026-12-02T00:43:11.000Z");
  // a times file of another compile (line counts differ) or not one at all is not used
  assert.equal(timelineFromRecorded(log, times.split("\n").slice(0, -3).join("\n")), undefined);
  assert.equal(timelineFromRecorded(log, "12\n13\n"), undefined);
  assert.equal(parseLogTimes(`${TIMES_MAGIC}\n5\nx\n`), undefined);
  assert.equal(timelineFromOrder(log).source, "log order");
});

test("the page: every section, from the real manifests, audit, diagnostics and sizes", () => {
  const diags = gccDiagnostics();
  const build: Manifest = { ...booted, config: audited.config!, compile: { ...booted.compile!, warnings: 7, errors: 3, diagnostics: diags } };
  const html = renderReport(
    data({
      build,
      configDiff: { from: "earlier.config", to: booted.uts_release!, counts: { removed: 0, changed: 1, added: 1 }, menus: "tree (x86_64)", groups: [{ menu: ["Device Drivers", "Serial drivers"], entries: [{ symbol: "SERIAL_8250_CONSOLE", kind: "changed", old: "n", new: "y" }, { symbol: "SERIAL_EARLYCON", kind: "added", new: "y" }] }] },
      bump: parseBumpView(read("bump-view.json"), { file: "bump-view.json" }),
    }),
  );
  assert.match(html, new RegExp(`<body data-kiln-sections="${SECTIONS.join(" ")}">`));
  for (const s of SECTIONS) assert.ok(html.includes(`<section id="${s}" data-section="${s}">`), s);
  // self-contained: no fetch of anything
  assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//);
  assert.doesNotMatch(html, /@import|url\((?!#)/);
  // steps: this run and the build that compiled it, with the compile's real duration
  assert.ok(html.includes(`The build that compiled ${built.uts_release}`));
  assert.ok(html.includes("4 min 28 s"));
  assert.ok(html.includes("reused from /var/tmp/kiln-test-cache/kiln-home/store/6.12.117-microvm-48be8eab6c49"));
  // compile: 1305 units, times from file dates
  assert.match(html, /1305 units of work/);
  assert.match(html, /Times: <strong>file dates<\/strong>/);
  // warnings grouped by file: one group per file, most first
  const files = new Set(diags.map((d) => d.file ?? "(no file)"));
  assert.equal(html.match(/<details open class="file">/g)?.length, files.size);
  assert.ok(html.includes("7 warning(s) and 3 error(s)"));
  // the audit with its explanations and fixes, the opt-out reason beside its finding
  for (const f of audited.config!.findings!) assert.ok(html.includes(esc(f.why)), f.why);
  assert.ok(html.includes("<li>enable CONFIG_NETFILTER_ADVANCED</li>"));
  assert.ok(html.includes("opted out: only the debug variant turns UBSAN on"));
  assert.ok(html.includes("mismatch (allowed)"));
  // diff, sizes, boots, bump
  assert.ok(html.includes("~ changed") && html.includes("+ added"));
  assert.ok(html.includes("<code>vmlinux</code></td><td>13.6 MiB</td><td>14,243,816</td>"));
  assert.ok(html.includes("no loadable modules"));
  const b = booted.boot![0]!;
  assert.ok(html.includes(`<td>${b.total_sec.toFixed(2)}</td>`));
  assert.ok(html.includes("no boot recorded for aarch64"));
  assert.ok(html.includes("↑ already upstream (reverse-applies)"));
  assert.ok(html.includes("CONFIG_SCHED_CLASS_EXT"));
  // every chart tells its series apart by pattern as well as colour
  assert.ok((html.match(/<svg id="chart-/g)?.length ?? 0) >= 6);
  assert.ok(html.includes('<pattern id="chart-boot-p1"') && html.includes('<path d="M0,6 L6,0"'));
});

test("everything from inputs is escaped", () => {
  const evil = `<script>alert("x")</script>`;
  const build: Manifest = {
    ...booted,
    project: { ...booted.project, name: `p${evil}` },
    reproduce: `kiln build '${evil}'`,
    compile: { ...booted.compile!, warnings: 1, diagnostics: [{ file: `a${evil}.c`, line: 3, severity: "warning", message: `bad ${evil}`, tool: "cc" }] },
    config: { ...audited.config!, findings: [{ ...audited.config!.findings![0]!, why: `because ${evil}`, fix: [`do ${evil}`] }] },
  };
  const bump = parseBumpView(read("bump-view.json"), { file: "bump-view.json" });
  bump.patches[0]!.name = `"><img src=x onerror=alert(1)>`;
  const html = renderReport(data({ build, bump }));
  assert.doesNotMatch(html, /<script>alert/);
  assert.doesNotMatch(html, /<img/);
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  assert.ok(html.includes("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
  // only kiln's own two scripts
  assert.equal(html.match(/<script>/g)?.length, 2);
});

test("without a diff or a bump, those sections are left out; a log without times is charted by order", () => {
  const html = renderReport(data({ compile: { timeline: timelineFromOrder(log), log: "build.log" } }));
  assert.match(html, /<body data-kiln-sections="summary steps compile warnings audit sizes boot">/);
  assert.ok(html.includes("position in the build log (no times recorded)"));
  const noLog = renderReport(data({ compile: { none: "the build log /x/build.log is gone" }, boots: [{ arch: "x86_64", release: "r", records: [] }] }));
  assert.ok(noLog.includes("the build log /x/build.log is gone"));
  assert.ok(noLog.includes("no boot recorded for x86_64: run kiln boot"));
});

test("bump view: the fixture parses; a wrong status is named with its path", () => {
  const b = parseBumpView(read("bump-view.json"), { file: "bump-view.json" });
  assert.deepEqual(b.patches.map((p) => p.status), ["offset", "upstream", "conflict", "clean"]);
  const bad = read("bump-view.json").replace('"status": "clean"', '"status": "mostly fine"');
  assert.throws(() => parseBumpView(bad, { file: "b.json" }), (e: unknown) => e instanceof KilnError && /patches\.3\.status/.test(e.message) && e.where.file === "b.json");
  assert.throws(() => parseBumpView("{", { file: "b.json" }), /not JSON/);
});

test("axis ticks are round numbers", () => {
  assert.deepEqual(ticks(267), [0, 50, 100, 150, 200, 250]);
  assert.deepEqual(ticks(1.52, 4), [0, 0.5, 1, 1.5]);
  assert.deepEqual(ticks(0), [0]);
});

test("gather: a recorded log is used when it is this build's compile, refused when it is a later one", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-report-gather-"));
  try {
    const entry = join(dir, "store", built.uts_release!);
    mkdirSync(join(entry, "boot"), { recursive: true });
    writeFileSync(join(entry, "boot", `vmlinuz-${built.uts_release}`), Buffer.alloc(4096));
    const logFile = join(dir, "build.log");
    writeFileSync(logFile, log);
    const m: Manifest = { ...built, compile: { ...built.compile!, log: logFile }, build_dir: join(dir, "gone"), artifacts: { ...built.artifacts!, store_entry: entry, image: join(entry, "boot", `vmlinuz-${built.uts_release}`), vmlinux: join(entry, "vmlinux") } };
    const mf = join(dir, "manifest.json");
    writeFileSync(mf, JSON.stringify(m));
    const w = compileWindow(built)!;
    const lines = log.split("\n").length - 1;
    const times = (start: number) => `${LOG_TIMES_HEADER} ${new Date(start).toISOString()}\n` + Array.from({ length: lines }, (_, i) => `${i * 200}`).join("\n") + "\n";
    writeFileSync(`${logFile}.times`, times(w.startMs + 150));
    const d = gatherReport({ manifestFile: mf, kilnVersion: "0.1.0" });
    assert.ok("timeline" in d.compile && d.compile.timeline.source === "recorded");
    assert.deepEqual(d.sizes.image, { name: `boot/vmlinuz-${built.uts_release}`, bytes: 4096 });
    assert.match(d.sizes.notes.join("\n"), /vmlinux is not in the store entry/);
    // the warm tree compiled again later: its log is not this build's
    writeFileSync(`${logFile}.times`, times(w.startMs + 3_600_000));
    const later = gatherReport({ manifestFile: mf, kilnVersion: "0.1.0" });
    assert.ok("none" in later.compile && /is of a later compile/.test(later.compile.none), JSON.stringify(later.compile).slice(0, 200));
    // no times and no build folder: by order
    rmSync(`${logFile}.times`);
    const order = gatherReport({ manifestFile: mf, kilnVersion: "0.1.0" });
    assert.ok("timeline" in order.compile && order.compile.timeline.source === "log order");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
