/**
 * `kiln report` in a real browser: the test store's x86_64 build (a store hit) is booted once so
 * its manifest holds boot timings, then the page is written with a config diff and a bump view,
 * and Debian's headless Chromium loads it from the file: a screenshot, and --dump-dom, whose DOM
 * must show every section measured as rendered by the page's own check, no error recorded by the
 * page, and no console message in Chromium's log. Then a real bump's report.json
 * (test/fixtures/report/bump-report.json): on the build's page through `kiln report --bump`, and
 * as the bump's own page (what `kiln bump` writes as report.html). Well under a minute.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { kiln } from "../support/kiln.js";
import { exampleKernel } from "../support/store.js";
import { TEST_CACHE } from "../support/trees.js";
import { haveCommand, needs, needSource } from "../support/needs.js";
import { SECTIONS } from "../../src/report/model.js";
import { renderBumpReport } from "../../src/report/render.js";
import { BumpReportSchema, bumpDiffs, bumpView } from "../../src/bump/view.js";

const skip = needs(!haveCommand("chromium") && "chromium is not installed (apt-get install chromium)") || needSource("6.12");

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"];

function chromium(args: string[], profile: string): { stdout: string; stderr: string } {
  const r = spawnSync("chromium", [...FLAGS, `--user-data-dir=${profile}`, ...args], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `chromium ${args.join(" ")} exited with ${r.status}${r.signal ? ` (${r.signal})` : ""}:\n${(r.stderr ?? "").split("\n").slice(-20).join("\n")}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

test("kiln report renders every section in headless Chromium with no console errors", { skip, timeout: 5 * 60_000 }, async () => {
  const k = exampleKernel("x86_64");
  const work = mkdtempSync(join(tmpdir(), "kiln-report-"));
  try {
    // boot timings into the cell's manifest
    const b = await kiln(["-C", k.project, "boot", "--arch", "x86_64"]);
    assert.equal(b.code, 0, b.stderr.split("\n").slice(-20).join("\n"));
    // an earlier config to diff against: the build's own, with the serial console off and one symbol gone
    const config = readFileSync(k.built.artifacts!.config, "utf8");
    const earlier = config.replace("CONFIG_SERIAL_8250_CONSOLE=y", "# CONFIG_SERIAL_8250_CONSOLE is not set").replace(/^CONFIG_VIRTIO_MENU=y\n/m, "");
    assert.notEqual(earlier, config);
    writeFileSync(join(work, "earlier.config"), earlier);
    const bump = fileURLToPath(new URL("../../../test/fixtures/report/bump-view.json", import.meta.url));
    const page = join(work, "report.html");
    const r = await kiln(["-C", k.project, "--json", "report", "--arch", "x86_64", "--diff", join(work, "earlier.config"), "--bump", bump, "--out", page]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { out: string; release: string; sections: string[] };
    assert.equal(out.out, page);
    assert.equal(out.release, k.release);
    assert.deepEqual(out.sections, [...SECTIONS]);
    const html = readFileSync(page, "utf8");
    // self-contained: nothing is fetched, and the policy forbids it
    assert.doesNotMatch(html, /\b(src|href)="(https?:)?\/\//);
    assert.match(html, /default-src 'none'/);

    const shot = join(work, "report.png");
    const t0 = Date.now();
    chromium([`--screenshot=${shot}`, "--window-size=1100,5200", `file://${page}`], join(work, "profile-shot"));
    const dump = chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", "--window-size=1100,900", `file://${page}`], join(work, "profile-dom"));
    console.log(`chromium: screenshot and DOM in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const png = readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1100, 5200]);
    assert.ok(statSync(shot).size > 100_000, "the screenshot holds a drawn page, not a blank one");
    const keep = join(TEST_CACHE, "report-screenshot.png");
    copyFileSync(shot, keep);
    console.log(`screenshot: ${keep}`);

    const dom = dump.stdout;
    // the page's own check ran and measured every section (height, width, charts with drawn content)
    const rendered = /<body[^>]*\bdata-kiln-rendered="([^"]*)"/.exec(dom)?.[1];
    assert.ok(rendered !== undefined, "the page's render check ran (data-kiln-rendered on <body>)");
    assert.deepEqual(rendered.split(" ").sort(), [...SECTIONS].sort(), `rendered: ${rendered}`);
    assert.match(dom, /<html[^>]*\bdata-kiln-errors="0"/, "the page recorded no script error, console.error or blocked fetch");
    assert.match(dom, /<ol id="kiln-page-errors"><\/ol>/);
    const charts = Number(/data-kiln-charts="(\d+)"/.exec(dom)?.[1]);
    assert.ok(charts >= 5, `${charts} charts`);
    // Chromium's own log: no console message, no uncaught error
    const consoleLines = dump.stderr.split("\n").filter((l) => /:CONSOLE|Uncaught|Refused to/.test(l));
    assert.deepEqual(consoleLines, []);
    // what the sections say, as the browser parsed it
    for (const s of SECTIONS) assert.match(dom, new RegExp(`<section id="${s}" data-section="${s}">`));
    assert.ok(dom.includes(k.release));
    assert.match(dom, /✓ booted/);
    assert.match(dom, /SERIAL_8250_CONSOLE<\/code><\/td><td>n<\/td><td>y<\/td>/);
    assert.match(dom, /\+VIRTIO_MENU y/);
    // a name with markup in it arrives as text, not as an element
    assert.ok(dom.includes("0002-virtio-blk-&lt;hint&gt;&amp;-queue-depth.patch"));
    assert.doesNotMatch(dom, /<hint>/);
    assert.match(dom, /units of work/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

/** The page's own verdict as Chromium rendered it: sections measured, errors recorded, console lines. */
function rendered(page: string, profile: string): { sections: string[]; rendered: string[]; dom: string } {
  const dump = chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", "--window-size=1100,900", `file://${page}`], profile);
  const dom = dump.stdout;
  assert.match(dom, /<html[^>]*\bdata-kiln-errors="0"/, "the page recorded no script error, console.error or blocked fetch");
  assert.deepEqual(dump.stderr.split("\n").filter((l) => /:CONSOLE|Uncaught|Refused to/.test(l)), []);
  return {
    sections: (/<body[^>]*\bdata-kiln-sections="([^"]*)"/.exec(dom)?.[1] ?? "").split(" "),
    rendered: (/<body[^>]*\bdata-kiln-rendered="([^"]*)"/.exec(dom)?.[1] ?? "").split(" ").sort(),
    dom,
  };
}

test("a real bump's report.json renders its bump section: on a build's page, and as the bump's own page", { skip, timeout: 3 * 60_000 }, async () => {
  const k = exampleKernel("x86_64");
  const work = mkdtempSync(join(tmpdir(), "kiln-report-bump-"));
  try {
    // the report.json of the example's real 6.1 -> 6.12 bump (test/fixtures/report/README.md)
    const file = fileURLToPath(new URL("../../../test/fixtures/report/bump-report.json", import.meta.url));
    const report = BumpReportSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    const names = report.targets[0]!.patches.map((p) => p.name);
    const symbols = report.cells[0]!.newSymbols.length;

    // kiln report --bump takes the bump's report.json as it is
    const page = join(work, "report.html");
    const r = await kiln(["-C", k.project, "--json", "report", "--arch", "x86_64", "--bump", file, "--out", page]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { sections: string[] }).sections.includes("bump"));
    const a = rendered(page, join(work, "profile-a"));
    assert.ok(a.sections.includes("bump"));
    assert.deepEqual(a.rendered, [...a.sections].sort(), "every section measured as rendered, the bump's included");
    const section = /<section id="bump" data-section="bump">[\s\S]*?<\/section>/.exec(a.dom)?.[0] ?? "";
    for (const n of names) assert.ok(section.includes(`<code>${n}</code>`), n);
    assert.ok(section.includes(`New symbols on x86_64: ${symbols}`));
    assert.ok(section.includes("↑ already upstream (reverse-applies)") && section.includes("✗ conflicts"));
    assert.ok(section.includes("6.1.192 (linux-source-6.1 6.1.192-3) → 6.12.117"));

    // the page kiln bump writes beside its report (no build manifest): the bump and its config diff
    const own = join(work, "bump.html");
    writeFileSync(own, renderBumpReport({ bump: bumpView(report), diffs: bumpDiffs(report), from: file, generatedAt: new Date().toISOString(), kilnVersion: "test" }));
    const b = rendered(own, join(work, "profile-b"));
    assert.deepEqual(b.sections, ["bump", "diff"]);
    assert.deepEqual(b.rendered, ["bump", "diff"]);
    assert.match(b.dom, /<svg id="chart-bump"/);
    for (const n of names) assert.ok(b.dom.includes(`<code>${n}</code>`), n);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
