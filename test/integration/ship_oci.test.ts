/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Push to and pull from a real registry: Debian's docker-registry (distribution 2.8) started on
 * loopback, once without auth and once with htpasswd auth (apt-get install docker-registry
 * apache2-utils). A loopback proxy in front of it answers 500 in the middle of a push.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { tmpdir } from "node:os";
import { fakeInstallTree, RELEASE } from "../fixtures/ship/support.js";
import { generateKeyPair } from "../../src/ship/minisign.js";
import { RegistryClient, pushKernelOci, pullKernelOci, registryCredentials, parseRegistryRef, KERNEL_ARTIFACT_TYPE } from "../../src/ship/oci.js";
import { safeUnpack } from "../../src/ship/unpack.js";
import { InfraError, SourceError } from "../../src/errors.js";
import { startRegistry, type Registry } from "./ship_cli_support.js";

const hasRegistry = spawnSync("docker-registry", ["--version"]).status === 0;
const hasHtpasswd = spawnSync("htpasswd", ["-h"]).status !== null && spawnSync("which", ["htpasswd"]).status === 0;

let base: string;
let tree: string;
const regs: Registry[] = [];
const key = generateKeyPair();

before(() => {
  base = mkdtempSync(join(tmpdir(), "kiln-ship-oci-"));
  tree = fakeInstallTree(join(base, "entry"));
});
after(() => {
  for (const r of regs) r.proc.kill();
  rmSync(base, { recursive: true, force: true });
});

async function roundTrip(client: RegistryClient, tag: string) {
  const pushed = await pushKernelOci({ client, entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1_700_000_000, key, identity: "0123456789ab", workDir: join(base, `work-${tag}`) });
  assert.deepEqual(pushed.tags, ["6.12.0", RELEASE]);
  assert.equal(pushed.manifest.artifactType, KERNEL_ARTIFACT_TYPE);
  assert.deepEqual(
    pushed.manifest.layers.map((l) => l.annotations!["org.opencontainers.image.title"]),
    [`vmlinuz-${RELEASE}`, `modules-${RELEASE}.tar.zst`, `config-${RELEASE}`, `System.map-${RELEASE}`, "manifest.json", "SHA256SUMS", "SHA256SUMS.minisig"],
  );
  for (const ref of ["6.12.0", RELEASE, pushed.digest]) {
    const dest = join(base, `pull-${tag}-${ref.replace(/:/g, "_")}`);
    const got = await pullKernelOci({ client, reference: ref, dest, trustedKeys: [key] });
    assert.equal(got.digest, pushed.digest);
    assert.equal(got.release, RELEASE);
    assert.match(got.trustedComment!, /kiln-identity:0123456789ab/);
    assert.ok(readFileSync(join(dest, `vmlinuz-${RELEASE}`)).equals(readFileSync(join(tree, "boot", `vmlinuz-${RELEASE}`))));
    const mods = join(base, `mods-${tag}-${ref.replace(/:/g, "_")}`);
    await safeUnpack({ archive: join(dest, `modules-${RELEASE}.tar.zst`), dest: mods });
    assert.ok(existsSync(join(mods, "lib", "modules", RELEASE, "modules.dep")));
  }
  // pushing again is idempotent: same manifest digest, blobs skipped
  const again = await pushKernelOci({ client, entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1_700_000_000, key, identity: "0123456789ab", workDir: join(base, `work2-${tag}`) });
  assert.deepEqual(again.manifest.layers.slice(0, 5), pushed.manifest.layers.slice(0, 5));
  // a key we do not trust is refused, and nothing is left
  const dest = join(base, `untrusted-${tag}`);
  await assert.rejects(pullKernelOci({ client, reference: "6.12.0", dest, trustedKeys: [generateKeyPair()] }), /not among the trusted keys/);
  assert.ok(!existsSync(dest));
  await assert.rejects(pullKernelOci({ client, reference: "9.9.9", dest, trustedKeys: [key] }), (e: unknown) => e instanceof SourceError && /404/.test(e.message));
}

test("OCI: push and pull against docker-registry without auth", { skip: !hasRegistry && "docker-registry is not installed" }, async () => {
  const reg = await startRegistry(join(base, "reg-open"));
  regs.push(reg);
  await roundTrip(new RegistryClient(reg.addr, "kernels/demo"), "open");
});

test("OCI: the devel artifact rides as one more signed layer; a pull takes it only when asked", { skip: !hasRegistry && "docker-registry is not installed" }, async () => {
  const reg = regs[0] ?? (await startRegistry(join(base, "reg-devel")));
  if (!regs.includes(reg)) regs.push(reg);
  const client = new RegistryClient(reg.addr, "kernels/devel");
  // a small stand-in for the devel tar.zst: its bytes only have to travel and verify
  const devel = join(base, `demo-devel-${RELEASE}-x86_64.tar.zst`);
  writeFileSync(devel, Buffer.from(`devel layer of ${RELEASE}\n`.repeat(4096)));
  const pushed = await pushKernelOci({ client, entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1_700_000_000, key, workDir: join(base, "work-devel"), devel });
  const layer = pushed.manifest.layers.find((l) => l.annotations!["org.opencontainers.image.title"] === basename(devel))!;
  assert.equal(layer.mediaType, "application/vnd.kiln.kernel.devel.v1.tar+zstd");
  const run = await pullKernelOci({ client, reference: RELEASE, dest: join(base, "pull-run-only"), trustedKeys: [key] });
  assert.ok(!(basename(devel) in run.files), "a consumer's pull leaves the devel layer at the registry");
  assert.ok(!existsSync(join(base, "pull-run-only", basename(devel))));
  const dev = await pullKernelOci({ client, reference: RELEASE, dest: join(base, "pull-devel"), trustedKeys: [key], devel: true });
  assert.ok(readFileSync(join(base, "pull-devel", basename(devel))).equals(readFileSync(devel)), "the devel layer arrives whole, checked against the signed SHA256SUMS");
  assert.equal(dev.digest, run.digest);
  // an artifact pushed without one: asking for it is refused, nothing is left
  await pushKernelOci({ client: new RegistryClient(reg.addr, "kernels/nodevel"), entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1_700_000_000, key, workDir: join(base, "work-nodevel") });
  await assert.rejects(pullKernelOci({ client: new RegistryClient(reg.addr, "kernels/nodevel"), reference: RELEASE, dest: join(base, "pull-nodevel"), trustedKeys: [key], devel: true }), (e: unknown) => e instanceof SourceError && /has no devel layer/.test(e.message));
  assert.ok(!existsSync(join(base, "pull-nodevel")));
});

test("OCI: push and pull with htpasswd auth; credentials from env or docker config", { skip: (!hasRegistry || !hasHtpasswd) && "docker-registry or htpasswd is not installed" }, async () => {
  const pw = join(base, "htpasswd");
  writeFileSync(pw, execFileSync("htpasswd", ["-Bbn", "kiln", "s3cret"]));
  const reg = await startRegistry(join(base, "reg-auth"), pw);
  regs.push(reg);
  // no credentials: refused with a hint
  await assert.rejects(pushKernelOci({ client: new RegistryClient(reg.addr, "kernels/demo"), entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1, key, workDir: join(base, "w0") }), (e: unknown) => e instanceof InfraError && /user name and password/.test(e.message));
  // wrong password
  await assert.rejects(
    pushKernelOci({ client: new RegistryClient(reg.addr, "kernels/demo", { username: "kiln", password: "nope" }), entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1, key, workDir: join(base, "w1") }),
    /refused \(401\)/,
  );
  // env
  const envCreds = registryCredentials(reg.addr, { KILN_REGISTRY_USER: "kiln", KILN_REGISTRY_PASSWORD: "s3cret" });
  await roundTrip(new RegistryClient(reg.addr, "kernels/demo", envCreds), "auth");
  // docker-style config file
  const dc = join(base, "docker");
  mkdirSync(dc);
  writeFileSync(join(dc, "config.json"), JSON.stringify({ auths: { [reg.addr]: { auth: Buffer.from("kiln:s3cret").toString("base64") } } }));
  const fileCreds = registryCredentials(reg.addr, { DOCKER_CONFIG: dc });
  assert.deepEqual(fileCreds, { username: "kiln", password: "s3cret" });
  const got = await pullKernelOci({ client: new RegistryClient(reg.addr, "kernels/demo", fileCreds), reference: RELEASE, dest: join(base, "via-config"), trustedKeys: [key] });
  assert.equal(got.release, RELEASE);
  assert.equal(registryCredentials("other.example:5000", { DOCKER_CONFIG: dc }), undefined);
});

test("OCI: a registry that answers 500 mid-push fails cleanly and no tag appears", { skip: !hasRegistry && "docker-registry is not installed" }, async () => {
  const reg = regs[0] ?? (await startRegistry(join(base, "reg-open2")));
  if (!regs.includes(reg)) regs.push(reg);
  let puts = 0;
  const proxy = http.createServer((req, res) => {
    if (req.method === "PUT" && ++puts === 3) {
      req.resume();
      res.writeHead(500, { "content-type": "text/plain" }).end("injected failure");
      return;
    }
    const up = http.request(`http://${reg.addr}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      const h = { ...r.headers };
      if (h.location) h.location = h.location.replace(reg.addr, `127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      res.writeHead(r.statusCode ?? 502, h);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  try {
    const addr = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const client = new RegistryClient(addr, "kernels/broken");
    await assert.rejects(
      pushKernelOci({ client, entryDir: tree, release: RELEASE, kernelVersion: "6.12.0", timestamp: 1, key, workDir: join(base, "w500") }),
      (e: unknown) => e instanceof InfraError && /registry answered 500: injected failure/.test(e.message) && e.hint === "the registry failed; run the command again",
    );
    await assert.rejects(client.getManifest("6.12.0"), /404/);
  } finally {
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

test("registry references", () => {
  assert.deepEqual(parseRegistryRef("127.0.0.1:5000/kernels/demo:6.12.0"), { registry: "127.0.0.1:5000", repository: "kernels/demo", tag: "6.12.0" });
  assert.throws(() => parseRegistryRef("Kernels"), /bad registry reference/);
});
