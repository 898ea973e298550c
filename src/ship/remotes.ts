/**
 * The remote helpers `kiln publish`, `kiln fetch` and peer reuse share: opening a remote by
 * kiln.toml name or by address, the trusted keys, the signing key.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve, isAbsolute } from "node:path";
import type { Project } from "../project/load.js";
import type { RemoteDecl } from "../project/schema.js";
import { openTransport, type Transport } from "./transport.js";
import { RegistryClient, registryCredentials, parseRegistryRef } from "./oci.js";
import { loadTrustedKeys, parseSecretKey, type MinisignKeyPair, type MinisignPublicKey } from "./minisign.js";
import { redactUrl } from "../effects/http.js";
import { ProjectError } from "../errors.js";

export type OpenedRemote =
  | { name: string; kind: "mirror"; where: string; transport: Transport }
  | { name: string; kind: "oci"; where: string; client: RegistryClient };

/** Opens a remote declared in kiln.toml. Mirror folders are relative to the project. */
export function openDeclaredRemote(project: Project, name: string): OpenedRemote {
  const decl: RemoteDecl | undefined = project.decl.remote[name];
  if (!decl) {
    const known = Object.keys(project.decl.remote);
    throw new ProjectError(`no remote "${name}" in kiln.toml`, { file: project.file }, known.length ? `remotes: ${known.join(", ")}` : `declare it: [remote.${name}] url = "…" or oci = "host/repo"`);
  }
  if (decl.oci) return openOci(name, decl.oci, decl.insecure);
  const url = decl.url!;
  const addr = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : isAbsolute(url) ? url : resolve(project.dir, url);
  return { name, kind: "mirror", where: redactUrl(addr), transport: openTransport(addr) };
}

/** A remote by kiln.toml name when there is one, else by address: a folder, http(s)://…, or oci://host/repo. */
export function openRemote(project: Project | undefined, nameOrAddr: string): OpenedRemote {
  if (project && project.decl.remote[nameOrAddr]) return openDeclaredRemote(project, nameOrAddr);
  if (nameOrAddr.startsWith("oci://")) return openOci(nameOrAddr, nameOrAddr.slice("oci://".length), false);
  if (/^[A-Za-z0-9_-]+$/.test(nameOrAddr) && project && !existsSync(nameOrAddr)) return openDeclaredRemote(project, nameOrAddr);
  const addr = /^https?:\/\//.test(nameOrAddr) ? nameOrAddr : resolve(nameOrAddr);
  return { name: redactUrl(nameOrAddr), kind: "mirror", where: redactUrl(addr), transport: openTransport(addr) };
}

function openOci(name: string, ref: string, insecure: boolean): OpenedRemote {
  const r = parseRegistryRef(ref);
  const client = new RegistryClient(r.registry, r.repository, registryCredentials(r.registry), insecure ? { insecure: true } : {});
  return { name, kind: "oci", where: `${r.registry}/${r.repository}`, client };
}

/** `[ship].trusted_keys` (paths relative to the project, or base64 keys) plus extra items. */
export function trustedKeys(project: Project | undefined, extra: string[] = []): MinisignPublicKey[] {
  const items = [...(project?.decl.ship.trusted_keys ?? []).map((k) => (isBase64Key(k) || isAbsolute(k) ? k : resolve(project!.dir, k))), ...extra.map((k) => (isBase64Key(k) ? k : resolve(k)))];
  return loadTrustedKeys(items);
}

function isBase64Key(k: string): boolean {
  return /^RW[A-Za-z0-9+/]{54}$/.test(k.trim());
}

/** The signing key: `given` (publish --signing-key), else `[ship].signing_key` (relative to the project), else $KILN_SIGNING_KEY. */
export function signingKey(project: Project, given?: string): { key: MinisignKeyPair; file: string } {
  const decl = project.decl.ship.signing_key;
  const file = given ?? (decl ? (isAbsolute(decl) ? decl : resolve(project.dir, decl)) : process.env.KILN_SIGNING_KEY);
  if (!file) {
    throw new ProjectError(
      "no signing key: kiln publishes only signed releases",
      { file: project.file },
      'create one with `kiln keygen`, then set signing_key = "<path>" under [ship] or KILN_SIGNING_KEY=<path>',
    );
  }
  if (!existsSync(file)) throw new ProjectError("the signing key file does not exist", { file }, "create one with `kiln keygen --out <dir>`");
  return { key: parseSecretKey(readFileSync(file, "utf8"), file), file };
}

