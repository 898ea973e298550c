/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Publish to and fetch from a plain mirror: a folder, and a real HTTP server on loopback
 * (node:http) that accepts PUT. Hostile cases: tampered artifact, sums and signature,
 * a truncated download, a server error, a missing signature or checksum.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fakeInstallTree, RELEASE, startServer, type TestServer } from "../fixtures/ship/support.js";
import { writeArtifact } from "../../src/ship/artifact.js";
import { generateKeyPair, type MinisignKeyPair } from "../../src/ship/minisign.js";
import { publishToMirror, parseIndex } from "../../src/ship/mirror.js";
import { fetchKernel, markerPath, fetchVerifiedArtifact, lookupRelease } from "../../src/ship/fetch.js";
import { HttpTransport, DirTransport, openTransport, type Progress } from "../../src/ship/transport.js";
import { SourceError, InfraError } from "../../src/errors.js";

let base: string;
let artifact: string;
let key: MinisignKeyPair;
let srv: TestServer;
const ART = `demo-kernel-${RELEASE}-x86_64.tar.zst`;
const DIR = `/mirror/demo/${RELEASE}`;

before(async () => {
  base = mkdtempSync(join(tmpdir(), "kiln-ship-mirror-"));
  const tree = fakeInstallTree(join(base, "entry"));
  artifact = (await writeArtifact({ entryDir: tree, name: "demo", release: RELEASE, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(base, "out") })).path;
  key = generateKeyPair();
  srv = await startServer();
});
after(async () => {
  await srv.close();
  rmSync(base, { recursive: true, force: true });
});

let n = 0;
function consumer() {
  const d = join(base, `consumer-${n++}`);
  return { bootDir: join(d, "boot"), root: join(d, "root"), cacheDir: join(d, "cache") };
}

function assertNothingUnpacked(c: { bootDir: string; root: string; cacheDir: string }) {
  const list = (p: string) => (existsSync(p) ? readdirSync(p, { recursive: true }) : []);
  assert.deepEqual(list(c.bootDir), [], "boot dir untouched");
  assert.deepEqual(list(c.root), [], "root untouched");
  assert.ok(!list(c.cacheDir).some((f) => String(f).endsWith(".tar.zst")), "nothing cached");
}

test("publish to an HTTP mirror, fetch, second fetch is a no-op", async () => {
  const t = new HttpTransport(srv.url);
  const r = await publishToMirror({ transport: t, name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: artifact, key, identity: "0123456789ab", timestamp: 1_700_000_100 });
  assert.deepEqual(srv.puts, [`${DIR}/${ART}`, `${DIR}/${ART}.sha256`, `${DIR}/SHA256SUMS`, `${DIR}/SHA256SUMS.minisig`, "/mirror/meta/index-1.json", "/mirror/meta/index-1.json.minisig", "/mirror/index.json"]);
  assert.equal(r.entry.tag, "v6.12.0");
  const idx = parseIndex(srv.files.get("/mirror/index.json")!.toString(), "index");
  assert.equal(idx.kernels.length, 1);
  const c = consumer();
  const progress: Progress[] = [];
  const f = await fetchKernel({ ref: `demo@6.12.0`, arch: "x86_64", transport: t, ...c, trustedKeys: [key], onProgress: (p) => progress.push(p) });
  assert.equal(f.noop, false);
  assert.equal(f.marker.release, RELEASE);
  assert.match(f.marker.trusted_comment!, /kiln-release:6\.12\.0-demo-0123456789ab\tkiln-identity:0123456789ab/);
  assert.ok(progress.length > 0 && progress.at(-1)!.received === progress.at(-1)!.total);
  assert.deepEqual(readdirSync(c.bootDir).sort(), [`.kiln-kernel-demo.json`, `System.map-${RELEASE}`, `config-${RELEASE}`, `vmlinuz-${RELEASE}`]);
  assert.ok(readFileSync(join(c.bootDir, `vmlinuz-${RELEASE}`)).equals(Buffer.alloc(300_000, 0x5a)));
  assert.ok(existsSync(join(c.root, "lib", "modules", RELEASE, "modules.dep")));
  assert.deepEqual(readdirSync(c.root), ["lib"], "no staging left");
  assert.ok(existsSync(join(c.cacheDir, "demo", RELEASE, ART)));
  // second run: no-op, even with the mirror down
  srv.faults.set("/mirror/index.json", "500");
  const again = await fetchKernel({ ref: `demo@6.12.0`, arch: "x86_64", transport: t, ...c, trustedKeys: [key] });
  assert.equal(again.noop, true);
  srv.faults.clear();
  // lost files: fetched again from the cache
  rmSync(join(c.bootDir, `vmlinuz-${RELEASE}`));
  const third = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, ...c, trustedKeys: [key] });
  assert.equal(third.noop, false);
  assert.equal(third.cached, true);
  assert.ok(existsSync(join(c.bootDir, `vmlinuz-${RELEASE}`)));
  assert.deepEqual(readdirSync(c.root), ["lib"]);
  assert.deepEqual(readdirSync(c.bootDir).filter((x) => x.startsWith(".kiln-old")), []);
  // a re-release of the same kernel version gets -r1
  const second = join(base, "out2");
  mkdirSync(second);
  const other = `6.12.0-demo-ba9876543210`;
  const a2 = await writeArtifact({ entryDir: fakeInstallTree(join(base, "entry2"), other), name: "demo", release: other, arch: "x86_64", timestamp: 1_700_000_000, outDir: second });
  const r2 = await publishToMirror({ transport: t, name: "demo", release: other, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: a2.path, key });
  assert.equal(r2.entry.tag, "v6.12.0-r1");
  // replaying the other release's validly signed sums is refused
  const otherDir = `/mirror/demo/${other}`;
  const saved = [srv.files.get(`${DIR}/SHA256SUMS`)!, srv.files.get(`${DIR}/SHA256SUMS.minisig`)!];
  srv.files.set(`${DIR}/SHA256SUMS`, srv.files.get(`${otherDir}/SHA256SUMS`)!);
  srv.files.set(`${DIR}/SHA256SUMS.minisig`, srv.files.get(`${otherDir}/SHA256SUMS.minisig`)!);
  await assert.rejects(fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, ...consumer(), trustedKeys: [key] }), /signature is for release 6\.12\.0-demo-ba9876543210, not 6\.12\.0-demo-0123456789ab/);
  srv.files.set(`${DIR}/SHA256SUMS`, saved[0]!);
  srv.files.set(`${DIR}/SHA256SUMS.minisig`, saved[1]!);
  // reuse before compiling: look the release up, then take the verified artifact
  assert.equal((await lookupRelease(t, "demo", other, "x86_64"))?.tag, "v6.12.0-r1");
  assert.equal(await lookupRelease(t, "demo", "6.12.0-demo-000000000000", "x86_64"), undefined);
  const reuse = await fetchVerifiedArtifact({ ref: `demo@${other}`, arch: "x86_64", transport: t, cacheDir: join(base, "reuse-cache"), trustedKeys: [key] });
  assert.equal(reuse.sha256, a2.sha256);
  assert.ok(readFileSync(reuse.path).equals(readFileSync(a2.path)));
  const viaTag = await fetchKernel({ ref: "demo@v6.12.0", arch: "x86_64", transport: t, ...consumer(), trustedKeys: [key] });
  assert.equal(viaTag.marker.release, RELEASE);
  const latest = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, ...consumer(), trustedKeys: [key] });
  assert.equal(latest.marker.release, other);
});

async function refuses(name: string, setup: () => void, want: RegExp, opts: { keys?: MinisignKeyPair[]; cls?: Function; allowUnsigned?: boolean } = {}) {
  setup();
  const c = consumer();
  try {
    await assert.rejects(
      fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: new HttpTransport(srv.url), ...c, trustedKeys: opts.keys ?? [key], allowUnsigned: opts.allowUnsigned }),
      (e: unknown) => {
        assert.ok(e instanceof (opts.cls ?? SourceError), `${name}: ${String(e)}`);
        assert.match((e as Error).message, want, name);
        return true;
      },
    );
    assertNothingUnpacked(c);
  } finally {
    srv.faults.clear();
  }
}

test("hostile mirror: tampering, truncation, server errors, missing files", async () => {
  await refuses("tampered artifact", () => srv.faults.set(`${DIR}/${ART}`, "tamper"), /checksum mismatch: .* has sha256 [0-9a-f]{64}, the signed SHA256SUMS says/);
  await refuses("tampered sums", () => srv.faults.set(`${DIR}/SHA256SUMS`, "tamper"), /signature does not match the data|malformed checksum/);
  await refuses("tampered signature", () => srv.faults.set(`${DIR}/SHA256SUMS.minisig`, "tamper"), /signature|base64|trusted comment/);
  await refuses("truncated download", () => srv.faults.set(`${DIR}/${ART}`, "truncate"), /download (truncated|failed|cut)/);
  await refuses("server error", () => srv.faults.set(`${DIR}/${ART}`, "500"), /GET answered 500/, { cls: InfraError });
  await refuses("untrusted key", () => undefined, /not among the trusted keys/, { keys: [generateKeyPair()] });
  await refuses("no trusted key", () => undefined, /no trusted public key/, { keys: [] });
  const sig = srv.files.get(`${DIR}/SHA256SUMS.minisig`)!;
  const sha = srv.files.get(`${DIR}/${ART}.sha256`)!;
  try {
    await refuses("missing signature", () => srv.files.delete(`${DIR}/SHA256SUMS.minisig`), /signature SHA256SUMS\.minisig is missing/);
    // allowed loudly
    const warnings: string[] = [];
    const c = consumer();
    const f = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: new HttpTransport(srv.url), ...c, trustedKeys: [key], allowUnsigned: true, onWarning: (w) => warnings.push(w) });
    assert.equal(f.marker.signed_by, undefined);
    assert.match(warnings.join("\n"), /WARNING: .* signature check is DISABLED/);
    srv.files.set(`${DIR}/SHA256SUMS.minisig`, sig);
    await refuses("missing .sha256", () => srv.files.delete(`${DIR}/${ART}.sha256`), /\.sha256 is missing/);
    srv.files.set(`${DIR}/${ART}.sha256`, Buffer.from("0".repeat(64) + "\n"));
    await refuses("disagreeing .sha256", () => undefined, /disagrees with SHA256SUMS/);
  } finally {
    srv.files.set(`${DIR}/SHA256SUMS.minisig`, sig);
    srv.files.set(`${DIR}/${ART}.sha256`, sha);
  }
  await assert.rejects(
    fetchKernel({ ref: "demo@9.9", arch: "x86_64", transport: new HttpTransport(srv.url), ...consumer(), trustedKeys: [key] }),
    (e: unknown) => e instanceof SourceError && /demo@9\.9 for x86_64 is not on the mirror/.test(e.message) && /^available: 6\.12\.0-demo-/.test(e.hint ?? ""),
  );
  // a corrupted cache is replaced by a verified download
  const c = consumer();
  await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: new HttpTransport(srv.url), ...c, trustedKeys: [key] });
  const cached = join(c.cacheDir, "demo", RELEASE, ART);
  const bytes = readFileSync(cached);
  bytes[100] = bytes[100]! ^ 1;
  writeFileSync(cached, bytes);
  rmSync(markerPath(c.bootDir, "demo"));
  const warnings: string[] = [];
  const f = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: new HttpTransport(srv.url), ...c, trustedKeys: [key], onWarning: (w) => warnings.push(w) });
  assert.equal(f.cached, false);
  assert.match(warnings.join(), /does not match the signed checksum/);
});

test("downloads follow redirects and do not send credentials to another origin", async () => {
  srv.faults.set(`${DIR}/${ART}`, "redirect");
  srv.cdnAuth.length = 0;
  try {
    const c = consumer();
    const t = new HttpTransport(srv.url, { headers: { authorization: "Bearer secret-token" } });
    const f = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, ...c, trustedKeys: [key] });
    assert.equal(f.marker.release, RELEASE);
    assert.deepEqual(srv.cdnAuth, [undefined]);
  } finally {
    srv.faults.clear();
  }
});

test("publish: a server error mid-publish leaves the index untouched", async () => {
  const s = await startServer();
  try {
    s.putFaults.set(`/mirror/demo/${RELEASE}/SHA256SUMS`, 500);
    await assert.rejects(
      publishToMirror({ transport: new HttpTransport(s.url), name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: artifact, key }),
      (e: unknown) => e instanceof InfraError && /PUT answered 500/.test(e.message) && e.where.url!.endsWith("/SHA256SUMS"),
    );
    assert.ok(!s.files.has("/mirror/index.json"));
  } finally {
    await s.close();
  }
});

test("folder mirror: publish and fetch", async () => {
  const root = join(base, "dir-mirror");
  const t = openTransport(root);
  assert.ok(t instanceof DirTransport);
  await publishToMirror({ transport: t, name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: artifact, key });
  assert.deepEqual(readdirSync(join(root, "demo", RELEASE)).sort(), ["SHA256SUMS", "SHA256SUMS.minisig", ART, `${ART}.sha256`]);
  const c = consumer();
  const f = await fetchKernel({ ref: `demo@6.12.0`, arch: "x86_64", transport: t, ...c, trustedKeys: [key] });
  assert.equal(f.marker.release, RELEASE);
  assert.ok(existsSync(join(c.root, "lib", "modules", RELEASE)));
  await assert.rejects(fetchKernel({ ref: `demo@6.12.0`, arch: "aarch64", transport: t, ...consumer(), trustedKeys: [key] }), /not on the mirror/);
});

test("a failure while placing files undoes the moves already made", async () => {
  const tree = fakeInstallTree(join(base, "entry-bad"));
  mkdirSync(join(tree, "boot", "zzz-not-a-file"));
  writeFileSync(join(tree, "boot", "zzz-not-a-file", "x"), "x");
  const out = join(base, "out-bad");
  const art = await writeArtifact({ entryDir: tree, name: "demo", release: RELEASE, arch: "x86_64", timestamp: 1_700_000_000, outDir: out });
  const t = new DirTransport(join(base, "mirror-bad"));
  await publishToMirror({ transport: t, name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art.path, key });
  const c = consumer();
  // an older kernel file already in the boot dir must survive the failed attempt
  mkdirSync(c.bootDir, { recursive: true });
  writeFileSync(join(c.bootDir, `vmlinuz-${RELEASE}`), "previous");
  await assert.rejects(fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, ...c, trustedKeys: [key] }), /boot\/zzz-not-a-file in the artifact is not a regular file/);
  assert.deepEqual(readdirSync(c.bootDir), [`vmlinuz-${RELEASE}`]);
  assert.equal(readFileSync(join(c.bootDir, `vmlinuz-${RELEASE}`), "utf8"), "previous");
  const left = readdirSync(c.root, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory());
  assert.deepEqual(left, [], "no files left in the root");
});
