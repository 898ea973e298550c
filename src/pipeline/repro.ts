/**
 * The reproducibility gate: two clean builds of one cell from the pin, in two folders, the second
 * with a cold compiler cache; then the artifacts (and vmlinux) are compared byte for byte.
 * See docs/adr/0037-repro-comparison.md.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import type { Project } from "../project/load.js";
import { paths as kilnPaths, projectId, type Paths } from "../store/paths.js";
import { entryDir } from "../store/store.js";
import type { Ui } from "../ui/log.js";
import { sha256File, writeArtifact } from "../ship/artifact.js";
import { compareArtifacts, type Difference } from "../ship/compare.js";
import { firstDifferingSection } from "../core/elf.js";
import { artifactName } from "./outputs.js";
import { withSources } from "./sources.js";
import { buildCell } from "./build.js";

export interface ReproResult {
  target: string;
  arch: string;
  release: string;
  root: string;
  a: string;
  b: string;
  sha256: string;
  differences: Difference[];
}

/** Two clean builds of one cell in two folders, the second with a cold compiler cache. */
export async function reproGate(project: Project, t: string, arch: string, ui: Ui, o: { jobs?: number; keep?: boolean; paths?: Paths }): Promise<ReproResult> {
  const base = o.paths ?? kilnPaths();
  const root = join(base.home, "repro", `${projectId(project.decl.name, project.dir)}-${t}-${arch}`);
  rmSync(root, { recursive: true, force: true });
  const side = (s: string, ccache: string): Paths => ({ ...base, work: join(root, s, "work"), store: join(root, s, "store"), storeTmp: join(root, s, "store", ".tmp"), ccache });
  const pa = side("a", base.ccache);
  const pb = side("b", join(root, "b", "ccache-cold"));
  mkdirSync(pb.ccache, { recursive: true });
  const built: { release: string; entry: string; artifact: string; timestamp: number }[] = [];
  try {
    await withSources(project, [project.targets[t]!.source], { paths: base, ui }, async (sources) => {
      for (const [name, p] of [["first", pa], ["second (cold compiler cache)", pb]] as const) {
        ui.step("repro", `${name} build of ${t}/${arch} in ${p.work}`);
        const r = await buildCell(project, t, arch, sources, { ui, paths: p, reuse: false, wipe: true, outputs: false, ...(o.jobs ? { jobs: o.jobs } : {}) });
        const release = r.manifest.uts_release!;
        const entry = entryDir(p, release);
        const art = await writeArtifact({ entryDir: entry, name: artifactName(project), release, arch, timestamp: r.manifest.inputs.source.timestamp, outDir: join(p.work, "..", "out") });
        built.push({ release, entry, artifact: art.path, timestamp: r.manifest.inputs.source.timestamp });
      }
    });
  } finally {
    rmSync(pb.ccache, { recursive: true, force: true });
  }
  const [x, y] = [built[0]!, built[1]!];
  const differences: Difference[] = [];
  if (x.release !== y.release) differences.push({ path: "(release)", what: `${x.release} vs ${y.release}: the identities differ` });
  const sa = await sha256File(x.artifact);
  const sb = await sha256File(y.artifact);
  if (sa !== sb) {
    const d = await compareArtifacts(x.artifact, y.artifact);
    differences.push(...(d.length ? d : [{ path: basename(x.artifact), what: "the compressed bytes differ although every entry is the same (zstd version?)" }]));
  }
  const va = join(x.entry, "vmlinux");
  const vb = join(y.entry, "vmlinux");
  if (existsSync(va) && existsSync(vb) && (await sha256File(va)) !== (await sha256File(vb))) {
    differences.push({ path: "vmlinux", what: `content differs; ELF ${firstDifferingSection(readFileSync(va), readFileSync(vb))}` });
  }
  if (differences.length === 0 && !o.keep) rmSync(root, { recursive: true, force: true });
  return { target: t, arch, release: x.release, root, a: x.artifact, b: y.artifact, sha256: sa, differences };
}
