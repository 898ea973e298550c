/**
 * `kiln report` in a real browser: the test store's x86_64 build (a store hit) is booted once so
 * its manifest holds boot timings, then the page is written with a config diff and a bump view,
 * and Debian's headless Chromium loads it from the file: a screenshot, and --dump-dom, whose DOM
 * must show every section measured as rendered by the page's own check, no error recorded by the
 * page, and no console message in Chromium's log. Well under a minute.
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
