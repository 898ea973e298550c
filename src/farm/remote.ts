/** Does the farm's remote hold a release already? (a mirror's signed index, or an OCI tag) */
import type { Project } from "../project/load.js";
import { openDeclaredRemote } from "../ship/remotes.js";
import { lookupRelease } from "../ship/fetch.js";
import { artifactName } from "../pipeline/outputs.js";

export async function remoteHas(project: Project, remote: string, release: string, arch: string): Promise<boolean> {
  const r = openDeclaredRemote(project, remote);
  if (r.kind === "mirror") return !!(await lookupRelease(r.transport, artifactName(project), release, arch));
  const head = await r.client.request("HEAD", `/v2/${r.client.repository}/manifests/${release}`, { accept: "application/vnd.oci.image.manifest.v1+json" });
  head.stream.resume();
  return head.status === 200;
}
