/**
 * Seed 001's fetch_identity / use_peers: before compiling, kiln asks the [ship].reuse remotes for
 * the identity and uses a copy only when its signature verifies against a trusted key.
 *  - fetchIdentity against a real HTTP mirror on loopback: a good copy lands in the store in one
 *    rename with its origin in manifest.json; the outputs made from it equal the publisher's; a
 *    tampered artifact, a tampered or missing signature and an untrusted key are never used.
 *  - `kiln build` end to end (when build.ts calls fetchIdentity): the example is built (or reused)
 *    in the shared test home, published to a mirror folder, and a second KILN_HOME gets it
 *    without compiling.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, REPO, TEST_HOME } from "../support/kiln.js";
import { startServer, type TestServer } from "../fixtures/ship/support.js";
import { layStoreEntry, writeProject, release, toml, listAll, NAME } from "./ship_cli_support.js";
import { keygen } from "../../src/ship/minisign.js";
import { loadProject } from "../../src/project/load.js";
import { paths as kilnPaths } from "../../src/store/paths.js";
import { fetchIdentity } from "../../src/pipeline/fetch_identity.js";
import { produceOutputs } from "../../src/pipeline/outputs.js";
import type { Manifest } from "../../src/core/manifest.js";
import type { Ui } from "../../src/ui/log.js";
import { needSource } from "../support/needs.js";

let base: string;
let home: string;
let srv: TestServer;
const R = release("9e9e9e9e9e9e");
const ART = `${NAME}-kernel-${R}-x86_64.tar.zst`;
const DIR = `/mirror/${NAME}/${R}`;

before(async () => {
  base = mkdtempSync("/var/tmp/kiln-ship-cli-peer-");
  home = join(base, "home");
  layStoreEntry(home, R);
  keygen({ publicPath: join(base, "pub.key"), secretPath: join(base, "sign.key") });
  keygen({ publicPath: join(base, "other.pub"), secretPath: join(base, "other.key") });
  srv = await startServer();
});
after(async () => {
  await srv.close();
  rmSync(base, { recursive: true, force: true });
});

function recorder(): Ui & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { json: false, verbose: false, color: false, tty: false, out: process.stderr, info: push, step: (n, m) => push(`${n} ${m}`), warn: (m) => push(`warning: ${m}`), error: push, debug: () => undefined, lines };
}

let n = 0;
function peer(trusted: string[] = [join(base, "pub.key")]) {
  const proj = loadProject(writeProject(join(base, `peer-${n}`), { remotes: { web: `url = ${toml(srv.url)}` }, ship: `reuse = ["web"]\ntrusted_keys = ${JSON.stringify(trusted)}` }));
  const p = kilnPaths(join(base, `peer-home-${n++}`));
  return { proj, p };
}

test("fetchIdentity from an HTTP mirror: a signed copy lands in the store; its outputs equal the publisher's", async () => {
  const pub = writeProject(join(base, "publisher"), { remotes: { web: `url = ${toml(srv.url)}` }, ship: `publish = ["web"]\nsigning_key = ${toml(join(base, "sign.key"))}` });
  const r = await kiln(["-C", pub, "publish", "--release", R], { home });
  assert.equal(r.code, 0, r.stderr);
  const { proj, p } = peer();
  const ui = recorder();
  const got = await fetchIdentity(proj, R, "x86_64", { paths: p, ui });
  assert.ok(got, ui.lines.join("\n"));
  assert.match(got.from, new RegExp(`^web \\(http://127\\.0\\.0\\.1:\\d+/mirror/${NAME}/${R.replace(/\./g, "\\.")}/${ART.replace(/\./g, "\\.")}, signed by [0-9A-F]{16}\\)$`));
  assert.match(ui.lines.join("\n"), /peer .* \(signature verified\); not compiling/);
  const entry = join(p.store, R);
  assert.deepEqual(listAll(join(entry, "boot")), [`System.map-${R}`, `config-${R}`, `vmlinuz-${R}`]);
  assert.ok(existsSync(join(entry, "lib", "modules", R, "modules.dep")));
  assert.deepEqual(listAll(join(entry, "bundles")), [`linux-${R}-base-x86_64.kernel`]);
  const m = JSON.parse(readFileSync(join(entry, "manifest.json"), "utf8")) as Manifest;
  assert.deepEqual(m.reuse, { status: "reused", from: got.from });
  assert.equal(m.artifacts!.store_entry, entry);
  assert.equal(m.uts_release, R);
  assert.deepEqual(existsSync(p.storeTmp) ? readdirSync(p.storeTmp) : [], [], "no leftovers");
  // the outputs made from the peer's copy are the publisher's, byte for byte
  const outs = await produceOutputs(proj, "base", "x86_64", m, { paths: p, ui });
  assert.deepEqual(Object.keys(outs).sort(), ["artifact", "bundle", "manifest", "sha256"]);
  assert.ok(readFileSync(outs.artifact!).equals(srv.files.get(`${DIR}/${ART}`)!), "artifact byte-identical");
  assert.ok(readFileSync(outs.bundle!).equals(srv.files.get(`${DIR}/linux-${R}-base-x86_64.kernel`)!), "bundle byte-identical");
  // asked again: the local store answers
  assert.deepEqual(await fetchIdentity(proj, R, "x86_64", { paths: p, ui }), { from: entry });
});

async function neverUsed(what: string, setup: () => void, want: RegExp, trusted?: string[]) {
  setup();
  try {
    const { proj, p } = peer(trusted);
    const ui = recorder();
    assert.equal(await fetchIdentity(proj, R, "x86_64", { paths: p, ui }), undefined, what);
    assert.match(ui.lines.join("\n"), want, what);
    assert.ok(!existsSync(join(p.store, R)), `${what}: nothing in the store`);
    assert.deepEqual(existsSync(p.storeTmp) ? readdirSync(p.storeTmp) : [], [], `${what}: no leftovers`);
  } finally {
    srv.faults.clear();
  }
}

test("fetchIdentity never uses a tampered, unsigned or wrongly signed copy, and says why", async () => {
  await neverUsed("tampered artifact", () => srv.faults.set(`${DIR}/${ART}`, "tamper"), /warning: not using web's copy of .*: .*checksum mismatch/);
  await neverUsed("tampered sums", () => srv.faults.set(`${DIR}/SHA256SUMS`, "tamper"), /warning: not using web's copy .*signature does not match the data/);
  await neverUsed("tampered signature", () => srv.faults.set(`${DIR}/SHA256SUMS.minisig`, "tamper"), /warning: not using web's copy .*(trusted comment was altered|signature does not match)/);
  await neverUsed("truncated download", () => srv.faults.set(`${DIR}/${ART}`, "truncate"), /warning: not using web's copy .*download (truncated|failed|cut)/);
  await neverUsed("untrusted key", () => undefined, /warning: not using web's copy .*not among the trusted keys/, [join(base, "other.pub")]);
  await neverUsed("no trusted key", () => undefined, /warning: \[ship\]\.reuse names remotes but \[ship\]\.trusted_keys is empty/, []);
  const sig = srv.files.get(`${DIR}/SHA256SUMS.minisig`)!;
  try {
    await neverUsed("unsigned", () => srv.files.delete(`${DIR}/SHA256SUMS.minisig`), /warning: not using web's copy .*signature SHA256SUMS\.minisig is missing/);
  } finally {
    srv.files.set(`${DIR}/SHA256SUMS.minisig`, sig);
  }
  // a server error: reported, the build goes on compiling
  await neverUsed("server error", () => srv.faults.set("/mirror/index.json", "500"), /warning: not using web's copy .*GET answered 500/);
});


test(
  "kiln build: publish the example once, a second KILN_HOME reuses it from the mirror without compiling",
  { skip: needSource("6.12"), timeout: 90 * 60_000 },
  async () => {
    const proj = exampleCopy("shipcli-peer");
    try {
      const toml0 = readFileSync(join(proj, "kiln.toml"), "utf8").replace('outputs = ["install"]', 'outputs = ["install", "artifact"]');
      writeFileSync(
        join(proj, "kiln.toml"),
        `${toml0}\n[remote.shared]\nurl = ${toml(join(base, "shared-mirror"))}\n\n[ship]\npublish = ["shared"]\nreuse = ["shared"]\nsigning_key = ${toml(join(base, "sign.key"))}\ntrusted_keys = [${toml(join(base, "pub.key"))}]\n`,
      );
      // 1. build (or reuse) in the shared test home, then publish
      const b1 = await kiln(["-C", proj, "--json", "build", "--arch", "x86_64"], { home: TEST_HOME });
      assert.equal(b1.code, 0, b1.stderr);
      const m1 = (JSON.parse(b1.stdout) as Manifest[])[0]!;
      const rel = m1.uts_release!;
      const art = join(proj, "out", rel, `microvm-kernel-${rel}-x86_64.tar.zst`);
      assert.ok(existsSync(art), "kiln build wrote the artifact output");
      const pb = await kiln(["-C", proj, "publish", "--arch", "x86_64"], { home: TEST_HOME });
      assert.equal(pb.code, 0, pb.stderr);
      const published = readFileSync(join(base, "shared-mirror", "microvm", rel, `microvm-kernel-${rel}-x86_64.tar.zst`));
      assert.ok(published.equals(readFileSync(art)));
      rmSync(join(proj, "out"), { recursive: true, force: true });
      // 2. another machine: a fresh KILN_HOME (the source tarball is copied in to spare the download)
      const home2 = join(base, "home2");
      cpSync(join(TEST_HOME, "downloads"), join(home2, "downloads"), { recursive: true });
      const b2 = await kiln(["-C", proj, "--json", "build", "--arch", "x86_64"], { home: home2 });
      assert.equal(b2.code, 0, b2.stderr);
      assert.match(b2.stderr, /peer .* \(signature verified\); not compiling/);
      assert.doesNotMatch(b2.stderr, /^compile /m);
      const m2 = (JSON.parse(b2.stdout) as Manifest[])[0]!;
      assert.equal(m2.uts_release, rel);
      assert.equal(m2.reuse?.status, "reused");
      assert.match(m2.reuse?.from ?? "", /^shared \(.*shared-mirror.*, signed by [0-9A-F]{16}\)$/);
      assert.ok(readFileSync(join(proj, "out", rel, `microvm-kernel-${rel}-x86_64.tar.zst`)).equals(published), "the second machine's artifact is the published one");
      rmSync(home2, { recursive: true, force: true });
    } finally {
      removeProject(proj);
    }
  },
);
