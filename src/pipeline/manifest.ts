/**
 * The manifest of one cell as a pure function of the flow's step results: the same results give
 * the same document. The flow (build.ts) writes it early (status running), after each step, and
 * at the end, each time atomically; nothing mutates a manifest along the way.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { quoteArg } from "../core/shell.js";
import { blankHostPaths } from "../core/identity.js";
import type { Manifest } from "../core/manifest.js";
import type { FlowResults } from "./steps.js";
import type { CompileResult } from "./compile.js";
import { moduleSummary } from "../core/modules.js";
import type { CcacheRemote } from "../distcc/config.js";

/** What the manifest records besides the step results: when, which kiln, how the run ended. */
export interface ManifestRun {
  startedAt: string;
  kilnVersion: string;
  status: Manifest["status"];
  finishedAt?: string;
  error?: string;
}

export function cellManifest(r: FlowResults, run: ManifestRun): Manifest {
  const { project, tname, target, arch, source, series, label } = r.prepared;
  const cfg = r.configured;
  const id = r.identified;
  const stored = r.reused?.stored;
  const steps: Record<string, number> = {};
  for (const s of r.records) if (s.status !== "skipped") steps[s.step] = (steps[s.step] ?? 0) + s.ms;
  return {
    schema: "kiln.manifest/v1",
    status: run.status,
    started_at: run.startedAt,
    ...(run.finishedAt ? { finished_at: run.finishedAt } : {}),
    kiln_version: run.kilnVersion,
    project: { name: project.decl.name, dir: project.dir, kiln_toml_sha256: createHash("sha256").update(project.text).digest("hex") },
    target: tname,
    arch: arch.name,
    inputs: {
      source: {
        name: target.source,
        kind: source.kind,
        ...(source.package ? { package: source.package } : {}),
        ...(source.version ? { version: source.version } : {}),
        ...(source.url ? { url: source.url } : {}),
        ...(source.tarball_sha256 ? { tarball_sha256: source.tarball_sha256 } : {}),
        ...(source.deb_sha256 ? { deb_sha256: source.deb_sha256 } : {}),
        ...(source.commit ? { commit: source.commit } : {}),
        tree: source.tree,
        timestamp: source.timestamp,
      },
      series: series.patches.map((x) => ({ name: x.name, sha256: x.sha256 })),
      ...(series.mailed
        ? {
            mailed_series: {
              kind: series.mailed.kind,
              origin: series.mailed.origin,
              ...(series.mailed.messageId ? { message_id: series.mailed.messageId } : {}),
              revision: series.mailed.revision,
              ...(series.mailed.cover ? { cover: series.mailed.cover } : {}),
              subjects: series.mailed.patches.map((m) => m.subject),
              mbox_sha256: series.mailed.mboxSha256,
              ...(series.mailed.baseCommit ? { base_commit: series.mailed.baseCommit } : {}),
              ...(r.patched?.mailed ? { ref: r.patched.mailed.ref, commits: r.patched.mailed.commits } : {}),
            },
          }
        : {}),
      config_method: target.config.method,
      ...(target.config.method === "fragments" ? { config_base: target.config.base } : {}),
      ...(cfg?.cfg.preset ? { preset: cfg.cfg.preset } : {}),
      ...(cfg?.cfg.goals ? { goals: cfg.cfg.goals } : {}),
      fragments: cfg ? cfg.cfg.fragments.map((f) => ({ layer: f.layer, file: f.rel })) : [],
      toolchain: target.toolchain,
      make_vars: target.make_vars,
      label,
    },
    ...(source.commit ? { commit: source.commit } : {}),
    source_tree: r.patched?.tree ?? source.tree,
    ...(id && cfg ? { kernel_version: cfg.kernelVersion } : {}),
    ...(id && cfg && r.flags
      ? {
          identity: {
            digest: cfg.digest,
            label: cfg.fitted,
            toolchain: r.flags.toolchain.tools.map((t) => ({ name: t.name, version: t.version, sha256: t.sha256 })),
            make_flags: r.flags.flags.identityVars.map(blankHostPaths),
          },
        }
      : {}),
    ...(id ? { uts_release: id.release } : {}),
    ...(r.installed ? { provenance: r.installed.provenance } : stored?.provenance ? { provenance: stored.provenance } : {}),
    ...(cfg
      ? {
          config: {
            requested: cfg.cfg.requested,
            dropped: cfg.cfg.dropped.map((d) => ({ symbol: d.symbol, requested: d.requested, actual: d.actual, file: d.origin.file, line: d.origin.line, ...(d.allow ? { allowed: d.allow } : {}) })),
            redefined: cfg.cfg.redefinitions.map((x) => ({ symbol: x.symbol, from: x.from.value, to: x.to.value, file: x.to.origin.file, line: x.to.origin.line, override: x.override })),
            findings: cfg.findings,
            invariants: cfg.violations.map((v) => ({ kind: v.kind, symbol: v.symbol, message: v.message, origin: v.origin })),
          },
        }
      : {}),
    ...(r.reused ? { reuse: { status: r.reused.kind, from: r.reused.from } } : r.installed ? { reuse: { status: "built" as const } } : {}),
    ...(r.built
      ? {
          compile: {
            steps: r.built.compile.steps,
            jobs: r.built.jobs,
            warnings: r.built.compile.warnings,
            errors: r.built.compile.errors,
            diagnostics: r.built.compile.diagnostics.map((d) => ({ ...d, tool: d.tool })) as NonNullable<Manifest["compile"]>["diagnostics"],
            ...(r.built.compile.ccache ? { ccache: ccacheManifestRecord(r.built.compile, r.flags?.ccacheRemote) } : {}),
            ...(r.built.distcc ? { distcc: r.built.distcc } : {}),
            log: r.built.log,
          },
        }
      : stored?.compile
        ? { compile: stored.compile }
        : {}),
    ...(r.installed
      ? {
          artifacts: {
            store_entry: r.installed.entry,
            image: join(r.installed.entry, r.installed.files.image),
            system_map: join(r.installed.entry, r.installed.files.system_map),
            config: join(r.installed.entry, r.installed.files.config),
            ...(r.installed.files.vmlinux ? { vmlinux: join(r.installed.entry, r.installed.files.vmlinux) } : {}),
            ...(r.installed.files.modules ? { modules: join(r.installed.entry, r.installed.files.modules) } : {}),
            ...(r.installed.files.dtbs ? { dtbs: join(r.installed.entry, r.installed.files.dtbs) } : {}),
          },
        }
      : stored?.artifacts
        ? { artifacts: stored.artifacts }
        : {}),
    ...(r.installed?.files.module_files
      ? { modules: moduleSummary(r.installed.files.module_files) }
      : !r.installed && stored?.modules
        ? { modules: stored.modules }
        : {}),
    ...(r.installed?.files.dtb_files
      ? { dtbs: r.installed.files.dtb_files }
      : !r.installed && stored?.dtbs
        ? { dtbs: stored.dtbs }
        : {}),
    ...(id && r.worktree ? { build_dir: r.worktree.build } : {}),
    steps,
    flow: r.records.map((s) => ({ step: s.step, status: s.status, ...(s.reason ? { reason: s.reason } : {}), ms: s.ms })),
    reproduce: `cd ${quoteArg(project.dir)} && kiln build ${tname} --arch ${arch.name} --locked`,
    ...(run.error ? { error: run.error } : {}),
  };
}

/** The ccache counts, with where the hits came from when remote storage was on (its URL redacted). Pure. */
export function ccacheManifestRecord(c: Pick<CompileResult, "ccache" | "ccacheStorage">, remote: CcacheRemote | undefined): NonNullable<NonNullable<Manifest["compile"]>["ccache"]> {
  const st = c.ccacheStorage;
  return {
    ...(c.ccache ?? { hits: 0, misses: 0, uncacheable: 0 }),
    ...(remote ? { remote: remote.shown } : {}),
    ...(st ? { local_hits: st.local_hits, remote_hits: st.remote_hits, remote_errors: st.remote_errors } : {}),
  };
}
