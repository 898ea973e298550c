/**
 * The bump report for people (report.md), pure: a function of the JSON report. Every finding
 * carries the command that reproduces it.
 */
import type { BumpReport } from "./bump.js";
import type { DiffGroup } from "../config/diff.js";

const CLASS_TEXT: Record<string, string> = {
  clean: "applies clean",
  offset: "offset or fuzz",
  upstream: "already upstream",
  conflict: "conflicts",
  blocked: "blocked",
};

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderMarkdown(r: BumpReport, formatGrouped: (g: readonly DiffGroup[]) => string): string {
  const L: string[] = [];
  const ver = (s: BumpReport["from"]) => `${s.kernel_version}${s.package ? ` (${s.package}${s.version ? ` ${s.version}` : ""})` : ""}${s.url ? ` (${s.url})` : ""}${s.commit ? ` (${s.commit.slice(0, 12)})` : ""}`;
  L.push(`# kiln bump ${r.source}: ${ver(r.from)} -> ${ver(r.to)}`, "");
  L.push(`Asked as \`${r.asked}\`. Reproduce the whole report: \`${r.command}\`.`, "");
  L.push(`Result: ${r.passed ? "every gate passed" : "gates failed"}; ${r.applied ? `applied${r.overridden.length ? " with --force" : ""}` : "nothing changed (kiln.toml, kiln.lock and the series change only with --apply)"}.`, "");
  if (r.overridden.length) {
    L.push("## Overridden by --force", "");
    for (const o of r.overridden) L.push(`- ${o}`);
    L.push("");
  }
  if (r.changed.length) {
    L.push("## Changed by --apply", "");
    for (const c of r.changed) L.push(`- ${c}`);
    L.push("");
  }
  L.push("## Gates", "");
  for (const g of r.gates) {
    L.push(`- ${g.ok ? "ok" : "FAILED"}: ${g.name}`);
    for (const p of g.problems) L.push(`  - ${p}`);
  }
  L.push("");
  for (const t of r.targets) {
    L.push(`## Patches of ${t.target}${t.series ? ` (${t.series})` : ""}`, "");
    if (!t.patches.length) L.push("No patches.", "");
    else {
      L.push("| patch | on the new tree | provenance | action |", "|---|---|---|---|");
      for (const p of t.patches) {
        const how = `${CLASS_TEXT[p.class]}${p.moved.length ? `: ${p.moved.map((m) => `${m.file} hunk #${m.hunk} ${m.offset ? `offset ${m.offset}` : ""}${m.fuzz ? ` fuzz ${m.fuzz}` : ""}`.trim()).join(", ")}` : ""}`;
        L.push(`| ${cell(p.name)} | ${cell(how)} | ${cell(p.status)}${p.flagged ? " (flagged)" : ""} | ${cell(p.action)} |`);
      }
      L.push("");
      for (const p of t.patches) {
        L.push(`### ${p.name}`, "");
        if (p.subject) L.push(`- subject: ${p.subject}`);
        L.push(`- file: ${p.file}; touches ${p.files.join(", ")}`);
        L.push(`- on the new tree: ${CLASS_TEXT[p.class]}`);
        for (const g of p.gate) L.push(`  - ${g}`);
        L.push(`- provenance: ${p.status}${p.statusLine ? ` (line ${p.statusLine})` : ""}${p.origin ? `; origin ${p.origin}` : ""}${p.upstreamCommit ? `; upstream commit ${p.upstreamCommit}` : ""}${p.bugs.length ? `; bugs ${p.bugs.join(", ")}` : ""}`);
        if (p.flagged) L.push(`- flagged: ${p.flagged}`);
        if (p.blockedBy) L.push(`- blocked by ${p.blockedBy}`);
        if (p.rejects) L.push(`- rejected hunks: [${p.rejects}](${p.rejects})`);
        if (p.refreshed) L.push(`- refreshed (zero offset on the new tree): [${p.refreshed}](${p.refreshed})`);
        if (p.refreshError) L.push(`- cannot refresh: ${p.refreshError}`);
        L.push(`- action: ${p.action}`);
        L.push(`- reproduce: \`${p.reproduce}\``, "");
      }
    }
    L.push(`The new tree was configured with ${t.configuredWith.length ? t.configuredWith.join(", ") : "no patches"}.`, "");
  }
  for (const c of r.cells) {
    L.push(`## ${c.arch}/${c.target}`, "");
    L.push(`- current: ${c.current.release ?? "?"} (${c.current.config})`);
    L.push(`- new: ${c.next.release ?? "?"} (${c.next.config})`, "");
    L.push(`### New symbols (${c.newSymbols.length})`, "");
    L.push(`Reproduce: \`${c.newSymbols.length ? c.reproduce.newSymbols : c.reproduce.newSymbols}\``, "");
    for (const s of c.newSymbols) L.push(`- CONFIG_${s.symbol}=${s.value}${c.pendingWritten.includes(`CONFIG_${s.symbol}`) ? ` -> ${c.pendingDir}/` : ""}`);
    if (c.newSymbols.length) L.push("");
    L.push(`### Audit and invariants`, "");
    if (!c.findings.length && !c.invariants.length) L.push("Every requested value survived; the invariants hold.");
    for (const f of c.findings) L.push(`- ${f.allowed ? "allowed" : "finding"}: ${f.kind}${f.symbol ? ` CONFIG_${f.symbol}` : ""} at ${f.file}:${f.line}: ${f.why}`);
    for (const v of c.invariants) L.push(`- invariant: ${v.message}`);
    L.push("", `Reproduce: \`${c.reproduce.configure}\``, "");
    L.push(`### Config diff (current -> new): -${c.diff.counts.removed} ~${c.diff.counts.changed} +${c.diff.counts.added}`, "");
    L.push(`Reproduce: \`${c.reproduce.diff}\` (menus: ${c.diff.menus})`, "");
    const text = formatGrouped(c.diff.groups).trimEnd();
    if (text) L.push("```", text, "```", "");
  }
  return L.join("\n") + "\n";
}
