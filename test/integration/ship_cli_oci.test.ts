/**
 * `kiln publish` to a real OCI registry (Debian's docker-registry on loopback), without auth,
 * with htpasswd auth (credentials from the environment or a docker-style config, never the
 * project file), and through a proxy that answers 500 mid-push; then peer reuse from the
 * registry with fetchIdentity (signed copy used; a copy signed by an untrusted key is not).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln } from "../support/kiln.js";
import { needs } from "../support/needs.js";
import {
  layStoreEntry, writeProject, release, toml, hasRegistry, hasHtpasswd, startRegistry, htpasswdFile, failingProxy, KV, type Registry,
} from "./ship_cli_support.js";
import { RegistryClient, KERNEL_ARTIFACT_TYPE, type OciManifest } from "../../src/ship/oci.js";
import { keygen } from "../../src/ship/minisign.js";
import { loadProject } from "../../src/project/load.js";
import { paths as kilnPaths } from "../../src/store/paths.js";
import { fetchIdentity } from "../../src/pipeline/fetch_identity.js";
import type { Ui } from "../../src/ui/log.js";

let base: string;
let home: string;
const regs: Registry[] = [];
const R = release("0c10c10c10c1");

before(() => {
  base = mkdtempSync("/var/tmp/kiln-ship-cli-oci-");
  home = join(base, "home");
  layStoreEntry(home, R);
  keygen({ publicPath: join(base, "pub.key"), secretPath: join(base, "sign.key") });
  keygen({ publicPath: join(base, "other.pub"), secretPath: join(base, "other.key") });
});
after(() => {
  for (const r of regs) r.proc.kill();
  rmSync(base, { recursive: true, force: true });
});

function project(dir: string, remotes: Record<string, string>, ship: string): string {
  return writeProject(join(base, dir), { remotes, ship: `signing_key = ${toml(join(base, "sign.key"))}\ntrusted_keys = [${toml(join(base, "pub.key"))}]\n${ship}`, outputs: ["install", "artifact"] });
}

function recorder(): Ui & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { json: false, verbose: false, color: false, tty: false, out: process.stderr, info: push, step: (n, m) => push(`${n} ${m}`), warn: (m) => push(`warning: ${m}`), error: push, debug: () => undefined, lines };
}

async function tags(client: RegistryClient, refs: string[]): Promise<string[]> {
  const digests: string[] = [];
  for (const r of refs) digests.push((await client.getManifest(r)).digest);
  return digests;
}

test("publish to docker-registry without auth: tags <kernelversion> and <release>; peers reuse it", { skip: needs(!hasRegistry && "docker-registry is not installed (apt-get install docker-registry)") }, async () => {
  const reg = await startRegistry(join(base, "reg-open"));
  regs.push(reg);
  const proj = project("p-open", { reg: `oci = ${toml(`${reg.addr}/kernels/shipcli`)}\ninsecure = true` }, `publish = ["reg"]`);
  const r = await kiln(["-C", proj, "--json", "publish", "--release", R], { home });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { kind: string; tags: string[]; digest: string }[];
  assert.deepEqual(rep[0]!.tags, [KV, R]);
  const client = new RegistryClient(reg.addr, "kernels/shipcli");
  assert.deepEqual(await tags(client, [KV, R]), [rep[0]!.digest, rep[0]!.digest]);
  const m = JSON.parse((await client.getManifest(R)).bytes.toString()) as OciManifest;
  assert.equal(m.artifactType, KERNEL_ARTIFACT_TYPE);
  assert.deepEqual(m.layers.map((l) => l.annotations!["org.opencontainers.image.title"]), [`vmlinuz-${R}`, `modules-${R}.tar.zst`, `config-${R}`, `System.map-${R}`, "manifest.json", "SHA256SUMS", "SHA256SUMS.minisig"]);

  // a second machine with this registry in [ship].reuse gets the build without compiling
  const peerProj = loadProject(project("p-peer", { reg: `oci = ${toml(`${reg.addr}/kernels/shipcli`)}\ninsecure = true` }, `reuse = ["reg"]`));
  const peerHome = kilnPaths(join(base, "peer-home"));
  const ui = recorder();
  const got = await fetchIdentity(peerProj, R, "x86_64", { paths: peerHome, ui });
  assert.ok(got, ui.lines.join("\n"));
  assert.match(got.from, new RegExp(`^reg \\(${reg.addr.replace(/\./g, "\\.")}/kernels/shipcli:.*@sha256:[0-9a-f]{64}, signed by [0-9A-F]{16}\\)$`));
  const entry = join(peerHome.store, R);
  for (const f of [`boot/vmlinuz-${R}`, `boot/System.map-${R}`, `boot/config-${R}`, `lib/modules/${R}/modules.dep`, "manifest.json"]) assert.ok(existsSync(join(entry, f)), f);
  assert.ok(readFileSync(join(entry, "boot", `vmlinuz-${R}`)).equals(readFileSync(join(home, "store", R, "boot", `vmlinuz-${R}`))));
  const man = JSON.parse(readFileSync(join(entry, "manifest.json"), "utf8")) as { reuse: { status: string; from: string }; artifacts: { store_entry: string }; build_dir?: string };
  assert.deepEqual(man.reuse, { status: "reused", from: got.from });
  assert.equal(man.artifacts.store_entry, entry);
  assert.equal(man.build_dir, undefined);
  assert.deepEqual(readdirNoTmp(peerHome.storeTmp), []);

  // a consumer that trusts only another key never uses it
  const distrust = loadProject(writeProject(join(base, "p-distrust"), { remotes: { reg: `oci = ${toml(`${reg.addr}/kernels/shipcli`)}\ninsecure = true` }, ship: `reuse = ["reg"]\ntrusted_keys = [${toml(join(base, "other.pub"))}]` }));
  const h2 = kilnPaths(join(base, "distrust-home"));
  const ui2 = recorder();
  assert.equal(await fetchIdentity(distrust, R, "x86_64", { paths: h2, ui: ui2 }), undefined);
  assert.match(ui2.lines.join("\n"), /warning: not using reg's copy of .*: .*not among the trusted keys/);
  assert.ok(!existsSync(join(h2.store, R)));
  // an identity the registry does not have: a quiet miss
  const ui3 = recorder();
  assert.equal(await fetchIdentity(peerProj, `${KV}-shipcli-000000000000`, "x86_64", { paths: kilnPaths(join(base, "miss-home")), ui: ui3 }), undefined);
  assert.deepEqual(ui3.lines, []);
});

function readdirNoTmp(d: string): string[] {
  return existsSync(d) ? readdirSync(d) : [];
}

test("publish with htpasswd auth: refused without credentials, accepted from env or a docker config", { skip: needs((!hasRegistry || !hasHtpasswd) && "docker-registry or htpasswd is not installed (apt-get install docker-registry apache2-utils)") }, async () => {
  const reg = await startRegistry(join(base, "reg-auth"), htpasswdFile(join(base, "htpasswd"), "kiln", "s3cret"));
  regs.push(reg);
  const proj = project("p-auth", { reg: `oci = ${toml(`${reg.addr}/kernels/auth`)}\ninsecure = true` }, `publish = ["reg"]`);
  const env = { DOCKER_CONFIG: join(base, "no-docker"), KILN_REGISTRY_USER: "", KILN_REGISTRY_TOKEN: "" };
  const none = await kiln(["-C", proj, "publish", "--release", R], { home, env });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /the registry wants a user name and password\n  hint: set KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD/);
  const wrong = await kiln(["-C", proj, "publish", "--release", R], { home, env: { ...env, KILN_REGISTRY_USER: "kiln", KILN_REGISTRY_PASSWORD: "nope" } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused \(401\) with the configured credentials/);
  const viaEnv = await kiln(["-C", proj, "publish", "--release", R], { home, env: { ...env, KILN_REGISTRY_USER: "kiln", KILN_REGISTRY_PASSWORD: "s3cret" } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, new RegExp(`published .* tags ${KV.replace(/\./g, "\\.")}, ${R}`));
  const dc = join(base, "docker");
  mkdirSync(dc, { recursive: true });
  writeFileSync(join(dc, "config.json"), JSON.stringify({ auths: { [reg.addr]: { auth: Buffer.from("kiln:s3cret").toString("base64") } } }));
  const viaFile = await kiln(["-C", proj, "publish", "--release", R], { home, env: { ...env, DOCKER_CONFIG: dc } });
  assert.equal(viaFile.code, 0, viaFile.stderr);
  const client = new RegistryClient(reg.addr, "kernels/auth", { username: "kiln", password: "s3cret" });
  const [a, b] = await tags(client, [KV, R]);
  assert.equal(a, b);
  assert.ok(!readFileSync(join(proj, "kiln.toml"), "utf8").includes("s3cret"));
});

test("a registry that answers 500 mid-push: exit 1 with the URL, no tag appears", { skip: needs(!hasRegistry && "docker-registry is not installed (apt-get install docker-registry)") }, async () => {
  const reg = regs[0] ?? (await startRegistry(join(base, "reg-open2")));
  if (!regs.includes(reg)) regs.push(reg);
  const proxy = await failingProxy(reg.addr, 3);
  try {
    const proj = project("p-500", { reg: `oci = ${toml(`${proxy.addr}/kernels/broken`)}\ninsecure = true` }, `publish = ["reg"]`);
    const r = await kiln(["-C", proj, "publish", "--release", R], { home });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /error: http:\/\/127\.0\.0\.1:\d+\/v2\/kernels\/broken\/blobs\/uploads\/.*: upload blob sha256:[0-9a-f]{64}: registry answered 500: injected failure\n  hint: the registry failed; run the command again/);
    const client = new RegistryClient(reg.addr, "kernels/broken");
    await assert.rejects(client.getManifest(KV), /404/);
    await assert.rejects(client.getManifest(R), /404/);
  } finally {
    await proxy.close();
  }
});
