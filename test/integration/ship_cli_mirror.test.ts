/**
 * The ship commands through the real CLI against plain mirrors: a real HTTP server on loopback
 * that accepts PUT (test/fixtures/ship/support.ts) and a mirror folder. keygen, publish (tags,
 * sums, signature, bundle), bundle inspect, fetch (cache, marker, no-op), and hostile inputs:
 * a tampered byte in the artifact, the sums and the signature, a truncated download, a server
 * error, a missing signature (and --allow-unsigned), tars with ../x, an absolute symlink and
 * a device node.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { kiln } from "../support/kiln.js";
import { startServer, type TestServer } from "../fixtures/ship/support.js";
import { layStoreEntry, writeProject, release, listAll, hostileArtifact, toml, KV, NAME } from "./ship_cli_support.js";
import { parseIndex, publishToMirror } from "../../src/ship/mirror.js";
import { parseSecretKey } from "../../src/ship/minisign.js";
import { DirTransport } from "../../src/ship/transport.js";

const hasMinisign = spawnSync("which", ["minisign"]).status === 0;

let base: string;
let home: string;
let keys: string;
let proj: string;
let srv: TestServer;
const R = release("0123456789ab");
const ART = `${NAME}-kernel-${R}-x86_64.tar.zst`;
const BUNDLE = `linux-${R}-base-x86_64.kernel`;

before(async () => {
  base = mkdtempSync("/var/tmp/kiln-ship-cli-mirror-");
  home = join(base, "home");
  keys = join(base, "keys");
  srv = await startServer();
  layStoreEntry(home, R);
});
after(async () => {
  await srv.close();
  rmSync(base, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) => kiln(args, { home, cwd: base, env });

function project(ship: string, outputs?: string[]): string {
  return writeProject(join(base, "proj"), {
    remotes: { web: `url = ${toml(srv.url)}`, folder: `url = "../mirror-dir"` },
    ship,
    ...(outputs ? { outputs } : {}),
  });
}

test("keygen writes a minisign key pair and refuses to overwrite it", async () => {
  const r = await run(["--json", "keygen", "--out", keys]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { key_id: string; public_key: string };
  assert.match(j.key_id, /^[0-9A-F]{16}$/);
  assert.equal(statSync(join(keys, "kiln.key")).mode & 0o777, 0o600);
  assert.match(readFileSync(join(keys, "kiln.pub"), "utf8"), new RegExp(`public key ${j.key_id}\n${j.public_key.replace(/[+/]/g, "\\$&")}\n`));
  const again = await run(["keygen", "--out", keys]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /kiln\.pub: key file already exists\n  hint: pass --force/);
  const human = await run(["keygen", "--out", join(base, "keys2")]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /signing_key = .*kiln\.key/);
});

test("publish signs and uploads to an HTTP mirror and a folder; SHA256SUMS passes sha256sum -c and minisign -V", async () => {
  proj = project(`publish = ["web", "folder"]\ntrusted_keys = ["../keys/kiln.pub"]`);
  // no signing key: refused before anything is uploaded
  const nokey = await run(["-C", proj, "publish", "--release", R], { KILN_SIGNING_KEY: "" });
  assert.equal(nokey.code, 1);
  assert.match(nokey.stderr, /no signing key: kiln publishes only signed releases\n  hint: create one with `kiln keygen`/);
  assert.equal(srv.puts.length, 0, "nothing uploaded");

  const r = await run(["-C", proj, "--json", "publish", "--release", R], { KILN_SIGNING_KEY: join(keys, "kiln.key") });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { remote: string; tag: string; files: string[] }[];
  assert.deepEqual(rep.map((x) => [x.remote, x.tag]), [["web", `v${KV}`], ["folder", `v${KV}`]]);
  // the outputs were made in out/<release>
  const out = join(proj, "out", R);
  assert.deepEqual(listAll(out), [ART, `${ART}.sha256`, BUNDLE, "manifest.json"].sort());
  // upload order: files, sums, signature, index last
  const dir = `/mirror/${NAME}/${R}`;
  assert.equal(srv.puts.at(-1), "/mirror/index.json");
  assert.ok(srv.puts.indexOf(`${dir}/SHA256SUMS.minisig`) > srv.puts.indexOf(`${dir}/SHA256SUMS`));
  assert.ok(srv.puts.indexOf(`${dir}/SHA256SUMS`) > srv.puts.indexOf(`${dir}/${ART}`));
  const sums = srv.files.get(`${dir}/SHA256SUMS`)!.toString();
  assert.deepEqual(sums.trim().split("\n").map((l) => l.split("  ")[1]), [BUNDLE, "manifest.json", ART].sort());
  const idx = parseIndex(srv.files.get("/mirror/index.json")!.toString(), "index");
  assert.deepEqual(idx.kernels.map((k) => [k.release, k.tag, k.files.sort()]), [[R, `v${KV}`, [BUNDLE, "manifest.json"].sort()]]);
  // the folder mirror holds the same release: Debian's tools accept it
  const folder = join(base, "mirror-dir", NAME, R);
  assert.equal(execFileSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: folder, encoding: "utf8" }).trim().split("\n").length, 3);
  if (hasMinisign) {
    const v = execFileSync("minisign", ["-V", "-p", join(keys, "kiln.pub"), "-m", join(folder, "SHA256SUMS")], { encoding: "utf8" });
    assert.match(v, new RegExp(`Trusted comment: timestamp:\\d+\\tfile:SHA256SUMS\\thashed\\tkiln-release:${R.replace(/\./g, "\\.")}\\tkiln-identity:0123456789ab`));
  }
  // publishing the same release again keeps its tag (idempotent)
  const again = await run(["-C", proj, "--json", "publish", "--release", R, "--remote", "folder"], { KILN_SIGNING_KEY: join(keys, "kiln.key") });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { tag: string }[])[0]!.tag, `v${KV}`);
});

test("bundle inspect: the published bundle is valid; a damaged one exits 1 with offsets", async () => {
  const file = join(proj, "out", R, BUNDLE);
  const ok = await run(["bundle", "inspect", file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /SUBK v1, x86_64 base/);
  const bad = Buffer.from(readFileSync(file));
  bad.write("SUBX", 0, "latin1");
  const badFile = join(base, "bad.kernel");
  writeFileSync(badFile, bad.subarray(0, 5000));
  const r = await run(["bundle", "inspect", badFile]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not a valid SUBK bundle:\n  byte 0 \(magic\)/);
  assert.match(r.stderr, /error: .*bad\.kernel: .*is not a valid SUBK bundle/);
  const j = await run(["--json", "bundle", "inspect", badFile]);
  assert.equal(j.code, 1);
  assert.ok((JSON.parse(j.stdout) as { problems: { offset: number }[] }).problems.some((p) => p.offset === 0));
  const pack = await run(["-C", proj, "bundle", "pack", "--release", R, "--variant", "debug", "--out", join(base, "debug.kernel")]);
  assert.equal(pack.code, 0, pack.stderr);
  assert.match(pack.stdout, /x86_64 debug/);
});

let n = 0;
function consumer() {
  const d = join(base, `consumer-${n++}`);
  return { boot: join(d, "boot"), root: join(d, "root"), cache: join(d, "cache") };
}
const fetchArgs = (c: ReturnType<typeof consumer>, ref: string, extra: string[] = []) => [
  "fetch", ref, "--boot-dir", c.boot, "--root", c.root, "--cache-dir", c.cache, "--arch", "x86_64", "--remote", srv.url, "--trusted-key", join(keys, "kiln.pub"), ...extra,
];

test("fetch verifies, caches, installs, and a second run is a no-op", async () => {
  const c = consumer();
  const r = await run(fetchArgs(c, `${NAME}@${KV}`));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /signature by key [0-9A-F]{16} verified/);
  assert.deepEqual(listAll(c.boot), [`.kiln-kernel-${NAME}.json`, `System.map-${R}`, `config-${R}`, `vmlinuz-${R}`]);
  assert.ok(existsSync(join(c.root, "lib", "modules", R, "modules.dep")));
  assert.ok(existsSync(join(c.cache, NAME, R, ART)));
  srv.faults.set("/mirror/index.json", "500");
  const again = await run(fetchArgs(c, `${NAME}@${KV}`));
  srv.faults.clear();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already installed .*; nothing to do/);
  // by tag and exact release, JSON
  const byTag = await run(["--json", ...fetchArgs(consumer(), `${NAME}@v${KV}`)]);
  assert.equal(byTag.code, 0, byTag.stderr);
  assert.equal((JSON.parse(byTag.stdout) as { marker: { release: string } }).marker.release, R);
});

async function refused(what: string, fault: () => void, want: RegExp, extra: string[] = []) {
  fault();
  const c = consumer();
  try {
    const r = await run(fetchArgs(c, `${NAME}@${R}`, extra));
    assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want, what);
    assert.deepEqual(listAll(c.boot), [], `${what}: boot dir untouched`);
    assert.deepEqual(listAll(c.root), [], `${what}: root untouched`);
    assert.ok(!listAll(c.cache).some((f) => f.endsWith(".tar.zst")), `${what}: nothing cached`);
  } finally {
    srv.faults.clear();
  }
}

test("fetch refuses a tampered artifact, sums or signature, a truncated download and a server error", async () => {
  const dir = `/mirror/${NAME}/${R}`;
  await refused("tampered artifact", () => srv.faults.set(`${dir}/${ART}`, "tamper"), /checksum mismatch: .* has sha256 [0-9a-f]{64}, the signed SHA256SUMS says [0-9a-f]{64}\n  hint: the download is corrupt or was tampered with/);
  await refused("tampered sums", () => srv.faults.set(`${dir}/SHA256SUMS`, "tamper"), /SHA256SUMS\.minisig: signature does not match the data \(key [0-9A-F]{16}\)\n  hint: the file or its signature was altered/);
  await refused("tampered signature (trusted comment)", () => srv.faults.set(`${dir}/SHA256SUMS.minisig`, "tamper"), /SHA256SUMS\.minisig: (the trusted comment was altered|signature does not match the data)/);
  const sig = srv.files.get(`${dir}/SHA256SUMS.minisig`)!;
  const lines = sig.toString().split("\n");
  const b64 = lines[1]!;
  lines[1] = b64.slice(0, 60) + (b64[60] === "A" ? "B" : "A") + b64.slice(61);
  try {
    await refused("tampered signature (ed25519 bytes)", () => srv.files.set(`${dir}/SHA256SUMS.minisig`, Buffer.from(lines.join("\n"))), /SHA256SUMS\.minisig: signature does not match the data/);
  } finally {
    srv.files.set(`${dir}/SHA256SUMS.minisig`, sig);
  }
  await refused("truncated download", () => srv.faults.set(`${dir}/${ART}`, "truncate"), /download (truncated|failed|cut)/);
  await refused("server error", () => srv.faults.set(`${dir}/${ART}`, "500"), /GET answered 500/);
});

test("fetch refuses a missing signature unless --allow-unsigned, which warns loudly", async () => {
  const sigPath = `/mirror/${NAME}/${R}/SHA256SUMS.minisig`;
  const sig = srv.files.get(sigPath)!;
  srv.files.delete(sigPath);
  try {
    await refused("missing signature", () => undefined, /the signature SHA256SUMS\.minisig is missing on the mirror\n  hint: .*--allow-unsigned/);
    const c = consumer();
    const r = await run(fetchArgs(c, `${NAME}@${R}`, ["--allow-unsigned"]));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--allow-unsigned: the signature check may be SKIPPED/);
    assert.match(r.stderr, /WARNING: .*SHA256SUMS\.minisig is missing and the signature check is DISABLED/);
    assert.match(r.stdout, /NOT signature-checked/);
  } finally {
    srv.files.set(sigPath, sig);
  }
  // a key that did not sign it
  const other = consumer();
  const r = await run(["fetch", `${NAME}@${R}`, "--boot-dir", other.boot, "--root", other.root, "--cache-dir", other.cache, "--arch", "x86_64", "--remote", srv.url, "--trusted-key", join(base, "keys2", "kiln.pub")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /signed by key [0-9A-F]{16}, which is not among the trusted keys/);
  assert.deepEqual(listAll(other.boot), []);
});

test("fetch refuses validly signed artifacts holding ../x, an absolute symlink or a device node", async () => {
  const key = parseSecretKey(readFileSync(join(keys, "kiln.key"), "utf8"), "kiln.key");
  const mirror = join(base, "evil-mirror");
  const t = new DirTransport(mirror);
  const cases = [
    ["dotdot", /refusing archive entry "\.\.\/x": path with a "\.\." component \(archive byte \d+\)/],
    ["abslink", /refusing archive entry "boot\/link-[^"]+": absolute symlink target \/etc\/passwd/],
    ["device", /refusing archive entry "boot\/console": device node/],
  ] as const;
  for (const [kind] of cases) {
    const rel = `${KV}-evil-${kind}`;
    const art = join(base, "evil", `evil-kernel-${rel}-x86_64.tar.zst`);
    hostileArtifact(art, rel, kind);
    writeFileSync(`${art}.sha256`, execFileSync("sha256sum", [art], { encoding: "utf8" }).split(" ")[0] + "\n");
    await publishToMirror({ transport: t, name: "evil", release: rel, kernelVersion: `${KV}.${kind.length}`, arch: "x86_64", artifactPath: art, key });
  }
  for (const [kind, want] of cases) {
    const c = consumer();
    const r = await run(["fetch", `evil@${KV}-evil-${kind}`, "--boot-dir", c.boot, "--root", c.root, "--cache-dir", c.cache, "--arch", "x86_64", "--remote", mirror, "--trusted-key", join(keys, "kiln.pub")]);
    assert.equal(r.code, 1, `${kind}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want, kind);
    assert.match(r.stderr, /evil-kernel-.*\.tar\.zst/, `${kind}: names the archive`);
    assert.deepEqual(listAll(c.boot), [], `${kind}: boot untouched`);
    assert.deepEqual(listAll(c.root), [], `${kind}: root untouched`);
    assert.ok(!existsSync(join(c.root, "..", "x")), `${kind}: nothing escaped`);
  }
});

test("[ship].revision tags a re-release v<version>-r<N>; a tag names one release", async () => {
  const R2 = release("ba9876543210");
  const R3 = release("cccccccccccc");
  layStoreEntry(home, R2);
  layStoreEntry(home, R3);
  mkdirSync(join(base, "k3"), { recursive: true });
  copyFileSync(join(keys, "kiln.key"), join(base, "k3", "signing.key"));
  project(`publish = ["folder"]\nrevision = 2\nsigning_key = "../k3/signing.key"`);
  const r = await run(["-C", proj, "--json", "publish", "--release", R2]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { tag: string }[])[0]!.tag, `v${KV}-r2`);
  const idx = parseIndex(readFileSync(join(base, "mirror-dir", "index.json"), "utf8"), "index");
  assert.deepEqual(idx.kernels.map((k) => k.tag).sort(), [`v${KV}`, `v${KV}-r2`]);
  const clash = await run(["-C", proj, "publish", "--release", R3]);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, new RegExp(`tag v${KV.replace(/\./g, "\\.")}-r2 is already release ${R2.replace(/\./g, "\\.")} on folder\n  hint: raise \\[ship\\]\\.revision`));
  // consumers can pin the re-release by its tag
  const c = consumer();
  const f = await run(["fetch", `${NAME}@v${KV}-r2`, "--boot-dir", c.boot, "--root", c.root, "--cache-dir", c.cache, "--arch", "x86_64", "--remote", join(base, "mirror-dir"), "--trusted-key", join(keys, "kiln.pub")]);
  assert.equal(f.code, 0, f.stderr);
  assert.ok(existsSync(join(c.boot, `vmlinuz-${R2}`)));
});

test("a disk image kiln image wrote for the build ships in the same signed SHA256SUMS; one changed since is refused", async () => {
  const R4 = release("dddddddddddd");
  layStoreEntry(home, R4);
  project(`publish = ["folder"]\ntrusted_keys = ["../keys/kiln.pub"]`);
  writeFileSync(join(proj, "kiln.toml"), readFileSync(join(proj, "kiln.toml"), "utf8") + '\n[image.disk]\ntarget = "base"\nlayout = "gpt-ab"\n');
  // what kiln image leaves in out/<release>: the .img.zst and its .sha256 (the bytes do not matter
  // to publish; test/integration/image.test.ts makes and boots real ones)
  const out = join(proj, "out", R4);
  mkdirSync(out, { recursive: true });
  const img = join(out, `disk-${R4}-x86_64.img.zst`);
  execFileSync("zstd", ["-q", "-o", img], { input: Buffer.alloc(1 << 20, 7) });
  const digest = execFileSync("sha256sum", [img], { encoding: "utf8" }).split(" ")[0]!;
  writeFileSync(`${img}.sha256`, `${digest}\n`);
  const r = await run(["-C", proj, "--json", "publish", "--release", R4], { KILN_SIGNING_KEY: join(keys, "kiln.key") });
  assert.equal(r.code, 0, r.stderr);
  const folder = join(base, "mirror-dir", NAME, R4);
  const sums = readFileSync(join(folder, "SHA256SUMS"), "utf8");
  assert.match(sums, new RegExp(`^${digest}  disk-${R4.replace(/\./g, "\\.")}-x86_64\\.img\\.zst$`, "m"));
  assert.doesNotThrow(() => execFileSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: folder }));
  // a byte changed after kiln image wrote it: publish refuses before uploading anything new
  writeFileSync(img, Buffer.concat([readFileSync(img), Buffer.from([0])]));
  const bad = await run(["-C", proj, "publish", "--release", R4], { KILN_SIGNING_KEY: join(keys, "kiln.key") });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, new RegExp(`disk-${R4.replace(/\./g, "\\.")}-x86_64\\.img\\.zst does not match its \\.sha256: it changed after kiln image wrote it\\n  hint: make it again: kiln image disk --arch x86_64`));
});
