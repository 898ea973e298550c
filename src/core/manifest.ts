/**
 * The build manifest (manifest.json), one document merged from the step results. Every field
 * can be traced to the step that produced it. The JSON Schema in schemas/manifest.schema.json
 * is generated from this definition (npm run schema) and a test keeps the two in step.
 */
import { z } from "zod";
import { KilnError } from "../errors.js";
import { firstIssue } from "./schema_issue.js";

const Duration = z.number().nonnegative().describe("milliseconds");

export const DiagnosticSchema = z.object({
  file: z.string().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  severity: z.enum(["error", "warning", "note"]),
  message: z.string(),
  flag: z.string().optional(),
  tool: z.string(),
});

export const ManifestSchema = z
  .object({
    schema: z.literal("kiln.manifest/v1"),
    status: z.enum(["running", "ok", "failed"]),
    started_at: z.string(),
    finished_at: z.string().optional(),
    kiln_version: z.string(),
    project: z.object({ name: z.string(), dir: z.string(), kiln_toml_sha256: z.string() }),
    target: z.string(),
    arch: z.string(),
    inputs: z.object({
      source: z.object({
        name: z.string(),
        kind: z.enum(["url", "debian", "file", "git"]),
        package: z.string().optional(),
        version: z.string().optional(),
        url: z.string().optional(),
        tarball_sha256: z.string().optional(),
        deb_sha256: z.string().optional(),
        commit: z.string().optional(),
        tree: z.string(),
        timestamp: z.number().int(),
      }),
      series: z.array(z.object({ name: z.string(), sha256: z.string() })),
      mailed_series: z
        .object({
          kind: z.enum(["mbox", "b4"]),
          origin: z.string().describe("the mbox file, or the thread's URL under the lore base"),
          message_id: z.string().optional(),
          revision: z.number().int(),
          cover: z.string().optional().describe("the cover letter's subject"),
          subjects: z.array(z.string()),
          mbox_sha256: z.string(),
          base_commit: z.string().optional().describe("the series' base-commit: trailer"),
          ref: z.string().optional().describe("the review branch in kiln's git store: refs/heads/b4/<slug>"),
          commits: z.array(z.string()).optional(),
        })
        .optional()
        .describe("a mailed series ([series] mbox or b4), applied with git am semantics"),
      config_method: z.enum(["preset", "make", "fragments"]),
      config_base: z.string().optional(),
      preset: z.string().optional(),
      goals: z.array(z.string()).optional(),
      fragments: z.array(z.object({ layer: z.string(), file: z.string() })),
      toolchain: z.string(),
      make_vars: z.record(z.string(), z.string()),
      label: z.string(),
    }),
    commit: z.string().optional().describe("the source commit (git pins)"),
    source_tree: z.string().describe("content hash of the prepared (patched) source tree"),
    kernel_version: z.string().optional(),
    identity: z
      .object({
        digest: z.string(),
        label: z.string(),
        toolchain: z.array(z.object({ name: z.string(), version: z.string(), sha256: z.string() })),
        make_flags: z.array(z.string()).describe("identity make flags with host paths blanked"),
      })
      .optional(),
    uts_release: z.string().optional(),
    provenance: z
      .object({
        linux_compiler: z.string().optional(),
        linux_compile_by: z.string().optional(),
        linux_compile_host: z.string().optional(),
        uts_version: z.string().optional(),
        uts_machine: z.string().optional(),
      })
      .optional(),
    config: z.object({
      requested: z.number().int(),
      dropped: z.array(z.object({ symbol: z.string(), requested: z.string(), actual: z.string(), file: z.string(), line: z.number().int(), allowed: z.string().optional().describe("the opt-out reason") })),
      redefined: z.array(z.object({ symbol: z.string(), from: z.string(), to: z.string(), file: z.string(), line: z.number().int(), override: z.boolean() })),
      findings: z
        .array(
          z.object({
            kind: z.enum(["mismatch", "unknown", "redefined", "malformed", "invalid value", "merge deleted"]),
            symbol: z.string().optional(),
            requested: z.string().optional(),
            actual: z.string().optional(),
            layer: z.string().optional(),
            file: z.string(),
            line: z.number().int(),
            why: z.string(),
            fix: z.array(z.string()).optional().describe("what would let the request survive"),
            allowed: z.string().optional(),
          }),
        )
        .optional()
        .describe("the config audit"),
      invariants: z.array(z.object({ kind: z.enum(["required", "forbidden"]), symbol: z.string(), message: z.string(), origin: z.string() })).optional(),
    }).optional(),
    farm: z
      .object({
        worker: z.string().describe("the farm worker that built (or reused) it"),
        job: z.string().describe("the BullMQ job id: the cell's input digest"),
        build: z.enum(["compiled", "reused", "at-remote"]).describe("what the worker did; at-remote: the remote had it, no job ran"),
        build_ms: z.number().int().describe("the worker's build time"),
        wall_ms: z.number().int().describe("the submitter's wall time for the cell, queue and fetch included"),
      })
      .optional()
      .describe("built on the build farm (kiln build --farm)"),
    reuse: z.object({
      status: z.enum(["built", "reused", "waited-reused"]),
      from: z.string().optional().describe("where a reused build came from"),
    }).optional(),
    compile: z
      .object({
        steps: z.number().int(),
        jobs: z.number().int(),
        warnings: z.number().int(),
        errors: z.number().int(),
        diagnostics: z.array(DiagnosticSchema),
        ccache: z
          .object({
            hits: z.number().int(),
            misses: z.number().int(),
            uncacheable: z.number().int(),
            remote: z.string().optional().describe("the remote storage URL, credentials redacted"),
            local_hits: z.number().int().optional().describe("hits from the local cache directory (with remote storage)"),
            remote_hits: z.number().int().optional().describe("hits from the remote storage"),
            remote_errors: z.number().int().optional().describe("remote storage errors and timeouts"),
          })
          .optional(),
        distcc: z
          .object({
            from: z.string().describe("where the host list came from: kiln.toml, KILN_DISTCC_HOSTS or DISTCC_HOSTS"),
            hosts: z.array(z.object({ host: z.string(), compiles: z.number().int() })).describe("the hosts that passed the probe, with the compiles each ran"),
            dropped: z.array(z.object({ host: z.string(), reason: z.string() })).describe("unreachable hosts left out of the compile"),
            remote: z.number().int(),
            local: z.number().int().describe("compiles distcc ran here (fallbacks, -fplugin= refusals)"),
            fallbacks: z.number().int(),
          })
          .optional()
          .describe("distcc: not an identity input"),
        log: z.string(),
      })
      .optional(),
    artifacts: z
      .object({
        store_entry: z.string(),
        image: z.string(),
        system_map: z.string(),
        config: z.string(),
        vmlinux: z.string().optional(),
        modules: z.string().optional(),
        dtbs: z.string().optional().describe("the dtbs_install folder, boot/dtbs/<release> in the store entry"),
      })
      .optional(),
    dtbs: z.array(z.string()).optional().describe("device tree blobs dtbs_install laid out, relative to artifacts.dtbs"),
    modules: z
      .object({
        count: z.number().int(),
        bytes: z.number().int(),
        files: z.array(z.object({ path: z.string(), bytes: z.number().int() })),
      })
      .optional()
      .describe("loadable modules installed by modules_install (stripped), paths under lib/modules/<release>/"),
    build_dir: z.string().optional(),
    boot: z
      .array(
        z.object({
          ok: z.boolean(),
          accel: z.string(),
          memory_mib: z.number(),
          release: z.string(),
          stage: z.string(),
          banner_sec: z.number().optional(),
          init_sec: z.number().optional(),
          marker_sec: z.number().optional(),
          total_sec: z.number(),
          console_log: z.string(),
          reason: z.string().optional(),
        }),
      )
      .optional()
      .describe("boot smokes of this build (kiln boot, kiln check boots)"),
    steps: z.record(z.string(), Duration).describe("per-step durations (the steps that ran)"),
    flow: z
      .array(
        z.object({
          step: z.string(),
          status: z.enum(["ran", "skipped", "failed"]),
          reason: z.string().optional().describe("why the step was skipped"),
          ms: Duration,
        }),
      )
      .optional()
      .describe("every step of the build flow in order: ran, skipped (and why) or failed"),
    reproduce: z.string().describe("a command line that reproduces this build"),
    error: z.string().optional(),
  })
  .describe("kiln build manifest");

export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * A manifest read back (from the store, a warm tree's state, or a peer): parsed and validated.
 * `where` names the file or URL in the error. Pure.
 */
export function parseManifest(text: string, where: { file?: string; url?: string }): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new KilnError(`the manifest is not JSON: ${(e as Error).message}`, where, "the file is damaged; rebuild (kiln build) or remove it");
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) {
    throw new KilnError(
      `not a valid kiln manifest: ${firstIssue(r.error)}`,
      where,
      "it was written by another kiln version or damaged; rebuild (kiln build), or print the schema with `kiln manifest --schema`",
    );
  }
  return r.data;
}

export function manifestJsonSchema(): unknown {
  return z.toJSONSchema(ManifestSchema, { target: "draft-2020-12" });
}

/** Read the provenance fields from the kernel's generated headers . Pure. */
export function parseGeneratedHeaders(texts: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of texts)
    for (const m of t.matchAll(/^#define\s+([A-Z_]+)\s+"((?:[^"\\]|\\.)*)"/gm)) out[m[1]!] = m[2]!.replace(/\\(.)/g, "$1");
  return out;
}
