/**
 * The report page: one self-contained HTML document (inline CSS, inline SVG charts, two small
 * inline scripts; a Content-Security-Policy that forbids every fetch) from a ReportData.
 * Pure: data in, string out. Everything that comes from inputs is escaped with esc().
 *
 * The page checks itself when it loads: a first script records any script error or
 * console.error into #kiln-page-errors, a last one measures every section and chart and writes
 * what rendered into <body data-kiln-rendered="..."> (the Chromium test reads both).
 */
import type { Manifest } from "../core/manifest.js";
import { formatEntry } from "../config/diff.js";
import { PATCH_STATUS_TEXT, PATCH_STATUSES, type BumpView } from "./bump.js";
import { SECTIONS, type BootRecord, type ConfigDiffView, type ReportData, type SectionId } from "./model.js";
import { binCounts, verbCounts } from "./timeline.js";
import { cumulative, esc, gantt, stacked, type GanttRow } from "./svg.js";
import { fmtBytes } from "../ui/log.js";

const TITLES: Record<SectionId, string> = {
  summary: "Build",
  steps: "Step timeline",
  compile: "Compile timeline",
  warnings: "Warnings by file",
  audit: "Config audit",
  diff: "Config diff",
  sizes: "Image and module sizes",
  boot: "Boot timings per arch",
  bump: "Version bump",
};

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, "0")} s`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[], cls = ""): string {
  return `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

function section(id: SectionId, body: string, lead = ""): string {
  return `<section id="${id}" data-section="${id}"><h2>${esc(TITLES[id])}</h2>${lead ? `<p class="lead">${lead}</p>` : ""}${body}</section>`;
}

const none = (text: string) => `<p class="none">${esc(text)}</p>`;

// ---------------------------------------------------------------- sections

function summary(d: ReportData): string {
  const m = d.build;
  const src = m.inputs.source;
  const rows: [string, string][] = [
    ["release (uname -r)", `<code>${esc(m.uts_release ?? "(none: the build stopped before the identity)")}</code>`],
    ["target / arch", esc(`${m.target} / ${m.arch}`)],
    ["status", `<span class="badge ${m.status === "ok" ? "ok" : "bad"}">${esc(m.status === "ok" ? "✓ ok" : m.status === "failed" ? "✗ failed" : "… running")}</span>${m.error ? ` <span class="err">${esc(m.error)}</span>` : ""}`],
    ["reuse", esc(m.reuse ? `${m.reuse.status}${m.reuse.from ? ` from ${m.reuse.from}` : ""}` : "(no reuse check ran)")],
    ["source", esc(`${src.name}: ${src.package ?? src.url ?? src.kind}${src.version ? ` ${src.version}` : ""}${src.commit ? ` @ ${src.commit.slice(0, 12)}` : ""}`)],
    ["patch series", esc(m.inputs.series.length ? m.inputs.series.map((p) => p.name).join(", ") : "(none)")],
    ["config", esc(`${m.inputs.config_method}${m.inputs.config_base ? ` over ${m.inputs.config_base}` : ""}${m.inputs.preset ? ` preset ${m.inputs.preset}` : ""}, ${m.inputs.fragments.length} fragment(s)`)],
    ["toolchain", esc(m.identity?.toolchain.find((t) => t.name === "gcc" || t.name === "clang")?.version ?? m.inputs.toolchain)],
    ["started / finished", esc(`${m.started_at} / ${m.finished_at ?? "-"}`)],
    ["reproduce", `<code>${esc(m.reproduce)}</code>`],
  ];
  return section("summary", `<table class="facts"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("")}</tbody></table>`);
}

type FlowRow = NonNullable<Manifest["flow"]>[number];

function flowOf(m: Manifest): FlowRow[] {
  return m.flow ?? Object.entries(m.steps).map(([step, ms]) => ({ step, status: "ran" as const, ms }));
}

function stepChart(id: string, m: Manifest): string {
  const flow = flowOf(m);
  const total = flow.reduce((a, s) => a + s.ms, 0);
  const useS = total >= 2000;
  let at = 0;
  const rows: GanttRow[] = flow.map((s) => {
    const r: GanttRow = {
      label: s.step,
      start: at,
      length: s.status === "skipped" ? 0 : s.ms,
      fill: s.status === "failed" ? 3 : 0,
      note: s.status === "skipped" ? "skipped" : `${s.status === "failed" ? "FAILED after " : ""}${fmtMs(s.ms)}`,
    };
    at += s.ms;
    return r;
  });
  const chart = gantt(id, rows, { unit: useS ? "s" : "ms", scale: useS ? 1000 : 1, legend: [{ label: "ran", fill: 0 }, { label: "failed", fill: 3 }] });
  const t = table(
    ["step", "status", "time", "why skipped"],
    flow.map((s) => [esc(s.step), esc(s.status === "ran" ? "✓ ran" : s.status === "failed" ? "✗ failed" : "– skipped"), esc(s.status === "skipped" ? "" : fmtMs(s.ms)), esc(s.reason ?? "")]),
    "steps",
  );
  return `<figure>${chart}<figcaption>${esc(`${flow.filter((s) => s.status === "ran").length} step(s) ran in ${fmtMs(total)}; skipped steps have no bar`)}</figcaption></figure><details><summary>every step</summary>${t}</details>`;
}

function steps(d: ReportData): string {
  let body = `<h3>${esc(`This run (${d.build.reuse?.status ?? d.build.status})`)}</h3>${stepChart("chart-steps", d.build)}`;
  if (d.compiledBy) body += `<h3>${esc(`The build that compiled ${d.compiledBy.uts_release ?? ""} (${d.compiledBy.started_at})`)}</h3>${stepChart("chart-steps-built", d.compiledBy)}`;
  return section("steps", body, "Each step of the build flow in order; a bar's length is the step's time from the manifest.");
}

function compile(d: ReportData): string {
  if ("none" in d.compile) return section("compile", none(d.compile.none));
  const { timeline: t, log } = d.compile;
  const timed = t.source !== "log order";
  const xs = timed ? t.events.filter((e) => e.ms !== undefined).map((e) => e.ms! / 1000) : t.events.map((_, i) => i + 1);
  const xMax = timed ? (t.totalMs ?? 0) / 1000 : t.events.length;
  const bins = timed ? binCounts(t.events, t.totalMs ?? 1, 60) : [];
  const binS = timed ? (t.totalMs ?? 0) / 1000 / 60 : 0;
  const chart = cumulative("chart-compile", xs, {
    xLabel: timed ? "seconds since the compile started" : "position in the build log (no times recorded)",
    yLabel: "units of work done",
    xMax,
    bins,
    binLabel: timed ? `units per ${binS.toFixed(1)} s` : "no per-interval counts without times",
  });
  const verbs = verbCounts(t.events);
  const modules = t.events.filter((e) => e.module).length;
  const facts = `${t.events.length} units of work (compile, assemble, link, archive) in ${log}${modules ? `, ${modules} of them for modules` : ""}${t.totalMs !== undefined ? `, over ${fmtMs(t.totalMs)}` : ""}`;
  const undated = t.undated ? ` ${t.undated} unit(s) have no usable date and are left out of the chart.` : "";
  return section(
    "compile",
    `<figure>${chart}<figcaption>${esc(facts)}. Times: <strong>${esc(t.source)}</strong>, ${esc(t.note)}.${esc(undated)}</figcaption></figure>` +
      table(["verb", "units"], verbs.slice(0, 10).map(([v, n]) => [`<code>${esc(v)}</code>`, esc(n)]), "narrow"),
    "Objects over time, parsed from kbuild's quiet output (one CC, AS, LD, AR, ... line per unit).",
  );
}

function warnings(d: ReportData): string {
  const c = d.build.compile ?? d.compiledBy?.compile;
  if (!c) return section("warnings", none("this build did not compile here, and no compiling build's manifest was found"));
  const diags = c.diagnostics;
  if (!diags.length) return section("warnings", none(`the compiler, linker and kbuild printed no warnings or errors (${c.warnings} warning(s), ${c.errors} error(s))`));
  const byFile = new Map<string, typeof diags>();
  for (const x of diags) {
    const k = x.file ?? "(no file)";
    byFile.set(k, [...(byFile.get(k) ?? []), x]);
  }
  const groups = [...byFile.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  const sev = (s: string) => (s === "error" ? "✗ error" : s === "warning" ? "! warning" : "· note");
  const body = groups
    .map(
      ([file, ds]) =>
        `<details open class="file"><summary><code>${esc(file)}</code> <span class="count">${esc(`${ds.filter((x) => x.severity === "warning").length} warning(s), ${ds.filter((x) => x.severity === "error").length} error(s)`)}</span></summary>` +
        table(
          ["line", "severity", "message", "flag", "tool"],
          ds.map((x) => [esc([x.line, x.column].filter((v) => v !== undefined).join(":")), `<span class="sev ${esc(x.severity)}">${esc(sev(x.severity))}</span>`, esc(x.message), x.flag ? `<code>${esc(x.flag)}</code>` : "", esc(x.tool)]),
        ) +
        `</details>`,
    )
    .join("");
  return section("warnings", body, esc(`${c.warnings} warning(s) and ${c.errors} error(s) in ${groups.length} file(s)`));
}

function audit(d: ReportData): string {
  const cfg = d.build.config;
  if (!cfg) return section("audit", none("the build stopped before the config was audited"));
  const f = cfg.findings ?? [];
  const inv = cfg.invariants ?? [];
  const parts: string[] = [];
  if (f.length) {
    parts.push(
      table(
        ["finding", "symbol", "requested → got", "where", "why", "what would fix it"],
        f.map((x) => [
          `<span class="kind">${esc(x.allowed ? `${x.kind} (allowed)` : x.kind)}</span>`,
          x.symbol ? `<code>CONFIG_${esc(x.symbol)}</code>` : "",
          esc(x.requested !== undefined || x.actual !== undefined ? `${x.requested ?? "-"} → ${x.actual ?? "-"}` : ""),
          `<code>${esc(`${x.file}:${x.line}`)}</code>${x.layer ? `<br><small>${esc(`layer ${x.layer}`)}</small>` : ""}`,
          esc(x.why) + (x.allowed ? `<br><small>${esc(`opted out: ${x.allowed}`)}</small>` : ""),
          x.fix?.length ? `<ul>${x.fix.map((s) => `<li>${esc(s)}</li>`).join("")}</ul>` : "",
        ]),
        "audit",
      ),
    );
  }
  if (cfg.dropped.length) parts.push(`<h3>Dropped requests</h3>` + table(["symbol", "requested", "got", "where", "opt-out"], cfg.dropped.map((x) => [`<code>${esc(x.symbol)}</code>`, esc(x.requested), esc(x.actual), `<code>${esc(`${x.file}:${x.line}`)}</code>`, esc(x.allowed ?? "")])));
  if (cfg.redefined.length) parts.push(`<h3>Redefined by a later layer</h3>` + table(["symbol", "from", "to", "where", "override layer"], cfg.redefined.map((x) => [`<code>${esc(x.symbol)}</code>`, esc(x.from), esc(x.to), `<code>${esc(`${x.file}:${x.line}`)}</code>`, esc(x.override ? "yes" : "no")])));
  if (inv.length) parts.push(`<h3>Invariants violated</h3><ul class="inv">${inv.map((v) => `<li>${esc(`✗ ${v.message}`)} <small>${esc(v.origin)}</small></li>`).join("")}</ul>`);
  const clean = !f.length && !cfg.dropped.length && !cfg.redefined.length && !inv.length;
  const lead = `${cfg.requested} symbol(s) requested by the layers; ${f.length} finding(s), ${cfg.redefined.length} redefinition(s), ${inv.length} invariant violation(s).`;
  return section("audit", clean ? none(`every requested symbol has the value its layer asked for, and every invariant holds`) : parts.join(""), esc(lead));
}

const diffLead = (v: ConfigDiffView) => `${v.from} → ${v.to}: ${v.counts.removed} removed, ${v.counts.changed} changed, ${v.counts.added} added (menus: ${v.menus})`;

function diffBody(v: ConfigDiffView, level: 3 | 4): string {
  const word = { removed: "− removed", changed: "~ changed", added: "+ added" } as const;
  return v.groups.length
    ? v.groups
        .map((g) => `<h${level}>${esc(g.menu.length ? g.menu.join(" › ") : "(top level)")}</h${level}>` + table(["", "symbol", "from", "to", "diffconfig"], g.entries.map((e) => [`<span class="dk ${e.kind}">${esc(word[e.kind])}</span>`, `<code>${esc(e.symbol)}</code>`, esc(e.old ?? ""), esc(e.new ?? ""), `<code>${esc(formatEntry(e))}</code>`]), "diff"))
        .join("")
    : none("the two configs are the same");
}

/** One config diff, or several (a bump's cells), each under its own heading. */
function diff(vs: readonly ConfigDiffView[]): string {
  if (!vs.length) return "";
  if (vs.length === 1) return section("diff", diffBody(vs[0]!, 3), esc(diffLead(vs[0]!)));
  return section("diff", vs.map((v) => `<h3>${esc(diffLead(v))}</h3>${diffBody(v, 4)}`).join(""), esc(`${vs.length} configs`));
}

function sizes(d: ReportData): string {
  const s = d.sizes;
  const parts: string[] = [];
  const files = [s.image, s.vmlinux, s.systemMap].filter((x): x is NonNullable<typeof x> => !!x);
  if (files.length) parts.push(table(["file", "size", "bytes"], files.map((f) => [`<code>${esc(f.name)}</code>`, esc(fmtBytes(f.bytes)), esc(f.bytes.toLocaleString("en-US"))]), "narrow"));
  if (s.vmlinux?.sections.length) {
    const top = s.vmlinux.sections.slice(0, 10);
    const [unit, div] = (top[0]?.bytes ?? 0) >= 2 * 1024 * 1024 ? ["MiB", 1024 * 1024] : ["KiB", 1024];
    parts.push(
      `<h3>vmlinux by section</h3><figure>` +
        stacked(
          "chart-sections",
          top.map((x) => ({ label: x.name, segments: [x.bytes / div], note: fmtBytes(x.bytes) })),
          { unit: ` ${unit}`, legend: ["bytes in the section"], format: (v) => `${Number(v.toFixed(2))}` },
        ) +
        `<figcaption>${esc(`the ${top.length} largest loaded sections of vmlinux (debug sections left out)`)}</figcaption></figure>`,
    );
  }
  if (s.modules.length) {
    const total = s.modules.reduce((a, m) => a + m.bytes, 0);
    parts.push(`<h3>${esc(`Modules: ${s.modules.length}, ${fmtBytes(total)} in all`)}</h3>` + table(["module", "size"], s.modules.slice(0, 25).map((m) => [`<code>${esc(m.name)}</code>`, esc(fmtBytes(m.bytes))]), "narrow"));
  } else parts.push(none("no loadable modules: the kernel has everything built in"));
  for (const n of s.notes) parts.push(none(n));
  return section("sizes", parts.join(""));
}

function bootRows(arch: string, release: string, r: BootRecord): { label: string; segments: number[]; note: string } {
  const banner = r.banner_sec ?? 0;
  const init = r.init_sec ?? banner;
  const marker = r.marker_sec ?? init;
  return {
    label: `${arch} ${r.memory_mib} MiB ${r.accel}`,
    segments: [banner, Math.max(0, init - banner), Math.max(0, marker - init), Math.max(0, r.total_sec - marker)],
    note: `${r.ok ? "✓ booted" : `✗ ${r.stage}`} ${r.total_sec.toFixed(2)} s`,
  };
}

function boot(d: ReportData): string {
  const all = d.boots.flatMap((b) => b.records.map((r) => ({ ...b, r })));
  const missing = d.boots.filter((b) => !b.records.length).map((b) => b.arch);
  if (!all.length) return section("boot", none(`no boot recorded for ${d.boots.map((b) => b.arch).join(", ") || d.build.arch}: run kiln boot (or kiln check boots), then the report again`));
  const chart = stacked("chart-boot", all.map((x) => bootRows(x.arch, x.release, x.r)), {
    unit: " s",
    legend: ["to the kernel banner", "banner to init", "init to the check", "to the end"],
    format: (v) => `${Number(v.toFixed(2))}`,
  });
  const t = table(
    ["arch", "release", "memory", "accel", "result", "banner", "init", "check", "total", "console log"],
    all.map(({ arch, release, r }) => [
      esc(arch), `<code>${esc(release)}</code>`, esc(`${r.memory_mib} MiB`), esc(r.accel), esc(r.ok ? "✓ booted" : `✗ ${r.stage}${r.reason ? `: ${r.reason}` : ""}`),
      esc(r.banner_sec?.toFixed(2) ?? "-"), esc(r.init_sec?.toFixed(2) ?? "-"), esc(r.marker_sec?.toFixed(2) ?? "-"), esc(r.total_sec.toFixed(2)), `<code>${esc(r.console_log)}</code>`,
    ]),
  );
  return section("boot", `<figure>${chart}<figcaption>seconds from QEMU's start, per phase of the boot smoke</figcaption></figure>${t}${missing.length ? none(`no boot recorded for ${missing.join(", ")}`) : ""}`);
}

const STATUS_MARK: Record<(typeof PATCH_STATUSES)[number], string> = { clean: "✓", offset: "~", fuzz: "≈", conflict: "✗", upstream: "↑", blocked: "…" };
/** Fills (svg.ts FILLS) per status: green dots, orange hatch, grey stripes, red bars, blue, purple cross. */
const STATUS_FILL: Record<(typeof PATCH_STATUSES)[number], number> = { clean: 2, offset: 1, fuzz: 4, conflict: 5, upstream: 0, blocked: 3 };

function bump(b: BumpView | undefined): string {
  if (!b) return "";
  const counts = PATCH_STATUSES.map((s) => [s, b.patches.filter((p) => p.status === s).length] as const).filter(([, n]) => n > 0);
  const chart = counts.length
    ? stacked("chart-bump", [{ label: `${b.patches.length} patch(es)`, segments: PATCH_STATUSES.map((s) => b.patches.filter((p) => p.status === s).length), note: "" }], {
        unit: "",
        legend: PATCH_STATUSES.map((s) => `${STATUS_MARK[s]} ${s}`),
        fills: PATCH_STATUSES.map((s) => STATUS_FILL[s]),
        segmentText: (k, n) => `${n} ${PATCH_STATUSES[k]}`,
      })
    : "";
  const byTarget = b.patches.some((p) => p.target);
  const patches = b.patches.length
    ? table(
        [...(byTarget ? ["target"] : []), "patch", "status", "detail", "upstream (header)", "reproduce"],
        b.patches.map((p) => [...(byTarget ? [esc(p.target ?? "")] : []), `<code>${esc(p.name)}</code>`, `<span class="ps ${esc(p.status)}">${esc(`${STATUS_MARK[p.status]} ${PATCH_STATUS_TEXT[p.status]}`)}</span>`, esc(p.detail ?? ""), esc(p.upstream ?? ""), p.reproduce ? `<code>${esc(p.reproduce)}</code>` : ""]),
        "bump",
      )
    : none("the series is empty");
  const cellOf = (s: BumpView["new_symbols"][number]) => (s.target ? `${s.arch}/${s.target}` : s.arch);
  const cells = [...new Set(b.new_symbols.map(cellOf))];
  const syms = b.new_symbols.length
    ? cells
        .map((a) => {
          const list = b.new_symbols.filter((s) => cellOf(s) === a);
          // a column no symbol fills (a bump's report holds no type or prompt) is left out
          const cols = (["type", "value", "menu", "prompt"] as const).filter((k) => list.some((s) => s[k] !== undefined));
          return `<h3>${esc(`New symbols on ${a}: ${list.length}`)}</h3>` + table(["symbol", ...cols], list.map((s) => [`<code>CONFIG_${esc(s.symbol)}</code>`, ...cols.map((k) => esc(s[k] ?? ""))]));
        })
        .join("")
    : none("the new tree adds no symbols these configs see");
  const gates = b.gates?.length
    ? `<h3>${esc(`Gates on the new tree${b.passed === undefined ? "" : b.passed ? ": every gate passed" : ": gates failed"}`)}</h3>` + table(["target", "arch", "gate", "result", "detail"], b.gates.map((g) => [esc(g.target), esc(g.arch ?? "(every arch)"), esc(g.gate), esc(g.ok ? "✓ passed" : "✗ failed"), esc(g.detail ?? "")]))
    : "";
  const applied = b.applied === undefined ? "" : none(b.applied ? `applied: kiln.lock and the series were updated${b.forced?.length ? `; forced past: ${b.forced.join(", ")}` : ""}` : "not applied: kiln.lock and the series are unchanged");
  return section("bump", (chart ? `<figure>${chart}</figure>` : "") + patches + syms + gates + applied, esc(`${b.source}: ${b.from.version} → ${b.to.version}`));
}

// ---------------------------------------------------------------- page

const CSS = `
:root{--ink:#1c232b;--muted:#5b6670;--line:#d8dde2;--bg:#f6f7f8;--card:#fff;--accent:#1d3f66}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 "DejaVu Sans",Verdana,sans-serif}
header{background:var(--accent);color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px;font-weight:600}
header p{margin:4px 0 0;color:#d6e2ef;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:6px 28px;z-index:1}
nav a{color:var(--accent);text-decoration:none;margin-right:14px;font-size:13px}
main{max-width:1020px;margin:0 auto;padding:10px 20px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:6px;margin:16px 0;padding:14px 18px}
h2{margin:0 0 6px;font-size:17px;color:var(--accent)}
h3{margin:14px 0 6px;font-size:14px}
p.lead{margin:0 0 10px;color:var(--muted)}
p.none{margin:6px 0;color:var(--muted);font-style:italic}
table{border-collapse:collapse;width:100%;margin:6px 0;font-size:12.5px}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
thead th{background:#eef1f4;font-weight:600}
table.facts th{width:170px;color:var(--muted);font-weight:normal}
table.narrow{width:auto;min-width:320px}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;word-break:break-all}
figure{margin:6px 0 10px;overflow-x:auto}
figcaption{color:var(--muted);font-size:12px;margin-top:2px}
svg.chart{max-width:100%;height:auto;display:block}
.badge{padding:1px 8px;border-radius:10px;border:1px solid}
.badge.ok{color:#1f6130;border-color:#1f6130}
.badge.bad{color:#8c1d1d;border-color:#8c1d1d}
.sev.error,.ps.conflict,.dk.removed{color:#8c1d1d;font-weight:600}
.sev.warning,.ps.offset,.ps.fuzz,.dk.changed{color:#7a4d00;font-weight:600}
.ps.clean,.dk.added{color:#1f6130;font-weight:600}
.ps.upstream{color:#1d3f66;font-weight:600}
details summary{cursor:pointer;margin:4px 0}
footer{max-width:1020px;margin:0 auto;padding:0 20px 30px;color:var(--muted);font-size:12px}
#kiln-page-errors:empty{display:none}
#kiln-page-errors{background:#fde8e8;border:1px solid #8c1d1d;padding:8px 28px}
@media print{nav{display:none}section{break-inside:avoid}}
`;

/** Records script errors and console.error calls into the page, before anything else runs. */
const ERROR_RECORDER = `(function(){var all=window.kilnErrors=[];var l=function(m){all.push(String(m));var e=document.getElementById("kiln-page-errors");if(e&&window.kilnShown){var li=document.createElement("li");li.textContent=String(m);e.appendChild(li);}document.documentElement.setAttribute("data-kiln-errors",String(all.length));};window.addEventListener("error",function(ev){l("error: "+(ev.message||ev.type)+(ev.filename?" at "+ev.filename+":"+ev.lineno:""));},true);window.addEventListener("unhandledrejection",function(ev){l("unhandled rejection: "+ev.reason);});var ce=console.error;console.error=function(){l("console.error: "+Array.prototype.join.call(arguments," "));return ce.apply(console,arguments);};document.addEventListener("securitypolicyviolation",function(ev){l("blocked by the page's policy: "+ev.blockedURI);});})();`;

/** Measures what rendered: sections with a height, charts with drawn content. */
const RENDER_CHECK = `(function(){var ok=[];document.querySelectorAll("section[data-section]").forEach(function(s){var r=s.getBoundingClientRect();var charts=s.querySelectorAll("svg.chart");var drawn=true;charts.forEach(function(c){var b=c.getBBox();if(!(b.width>0&&b.height>0))drawn=false;});if(r.height>20&&r.width>100&&drawn)ok.push(s.getAttribute("data-section"));});document.body.setAttribute("data-kiln-rendered",ok.join(" "));document.body.setAttribute("data-kiln-charts",String(document.querySelectorAll("svg.chart").length));var all=window.kilnErrors||[],e=document.getElementById("kiln-page-errors");all.forEach(function(m){var li=document.createElement("li");li.textContent=m;e.appendChild(li);});window.kilnShown=true;document.documentElement.setAttribute("data-kiln-errors",String(all.length));})();`;

interface Shell {
  title: string;
  kilnVersion: string;
  /** The line under the title. */
  byline: string;
  footer: string;
  bodies: Partial<Record<SectionId, string>>;
  /** The sections' order (default SECTIONS). */
  order?: readonly SectionId[];
}

function page(p: Shell): string {
  const present = (p.order ?? SECTIONS).filter((s) => (p.bodies[s] ?? "") !== "");
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<meta name="generator" content="${esc(`kiln ${p.kilnVersion}`)}">`,
    `<title>${esc(p.title)}</title>`,
    `<script>${ERROR_RECORDER}</script>`,
    `<style>${CSS}</style></head>`,
    `<body data-kiln-sections="${present.join(" ")}">`,
    `<ol id="kiln-page-errors"></ol>`,
    `<header><h1>${esc(p.title)}</h1><p>${esc(p.byline)}</p></header>`,
    `<nav>${present.map((s) => `<a href="#${s}">${esc(TITLES[s])}</a>`).join("")}</nav>`,
    `<main>${present.map((s) => p.bodies[s]).join("\n")}</main>`,
    `<footer>${esc(p.footer)}</footer>`,
    `<script>${RENDER_CHECK}</script>`,
    `</body></html>`,
    "",
  ].join("\n");
}

/** The whole page. Pure. */
export function renderReport(d: ReportData): string {
  const m = d.build;
  return page({
    title: `kiln report: ${m.uts_release ?? `${m.target}/${m.arch}`}`,
    kilnVersion: d.kilnVersion,
    byline: `${m.project.name} · target ${m.target} · ${m.arch} · ${m.status}${m.reuse ? ` (${m.reuse.status})` : ""} · made ${d.generatedAt}`,
    footer: `kiln ${d.kilnVersion} · from ${d.manifestFile}`,
    bodies: {
      summary: summary(d),
      steps: steps(d),
      compile: compile(d),
      warnings: warnings(d),
      audit: audit(d),
      diff: diff(d.configDiff ? [d.configDiff] : []),
      sizes: sizes(d),
      boot: boot(d),
      bump: bump(d.bump),
    },
  });
}

export interface BumpPage {
  bump: BumpView;
  /** Each cell's config diff, current -> new (src/bump/view.ts bumpDiffs). */
  diffs: ConfigDiffView[];
  /** The file the page is made from (the bump's report.json), for the footer. */
  from: string;
  generatedAt: string;
  kilnVersion: string;
}

/**
 * The page of a version bump, which has no build manifest (`kiln bump` writes it as
 * bump-report/report.html): the bump section, then the cells' config diffs, in the same page
 * shell, styles and self-check as a build's page. Pure.
 */
export function renderBumpReport(d: BumpPage): string {
  const b = d.bump;
  return page({
    title: `kiln bump ${b.source}: ${b.from.version} → ${b.to.version}`,
    kilnVersion: d.kilnVersion,
    byline: `${b.patches.length} patch(es), ${b.new_symbols.length} new symbol(s)${b.passed === undefined ? "" : b.passed ? " · every gate passed" : " · gates failed"}${b.applied ? " · applied" : ""} · made ${d.generatedAt}`,
    footer: `kiln ${d.kilnVersion} · from ${d.from}`,
    bodies: { bump: bump(b), diff: diff(d.diffs) },
    order: ["bump", "diff"],
  });
}
