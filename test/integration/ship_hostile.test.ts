/**
 * A hostile mirror against `kiln fetch` (issue 9): folder mirrors and a loopback HTTP server
 * started here (127.0.0.1, a free port, closed at the end). Every attack asserts the refusal,
 * its message, and that the boot dir and the root are byte for byte what they were.
 * Artifacts are small synthetic kernels (no kernel is built).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fakeInstallTree, RELEASE } from "../fixtures/ship/support.js";
import { writeArtifact } from "../../src/ship/artifact.js";
import { generateKeyPair, signMinisign, trustedComment, formatPublicKey, type MinisignKeyPair } from "../../src/ship/minisign.js";
import { publishToMirror, parseIndex, signedIndexPath, type MirrorIndex } from "../../src/ship/mirror.js";
import { fetchKernel, markerPath, type FetchOptions } from "../../src/ship/fetch.js";
import { packTar } from "../../src/ship/tar.js";
import { DirTransport, HttpTransport } from "../../src/ship/transport.js";
import { KilnError, SourceError } from "../../src/errors.js";

let base: string;
let key: MinisignKeyPair;
let good: string; // a folder mirror with RELEASE published
const ART = `demo-kernel-${RELEASE}-x86_64.tar.zst`;

/** Every path under `dirs` with its type and content digest: the "byte for byte" check. */
function snapshot(...dirs: string[]): string {
  const h = createHash("sha256");
  for (const d of dirs) {
    if (!existsSync(d)) {
      h.update(`${d}:absent\n`);
      continue;
    }
    const stack = [d];
    while (stack.length) {
      const p = stack.pop()!;
      const st = lstatSync(p);
      h.update(`${p.slice(d.length)}:${st.mode}:`);
      if (st.isDirectory()) for (const k of readdirSync(p).sort().reverse()) stack.push(join(p, k));
      else if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else h.update(readFileSync(p));
      h.update("\n");
    }
  }
  return h.digest("hex");
}

let n = 0;
/** A consumer machine that already has something in its boot dir and root. */
function machine() {
  const d = join(base, `m-${n++}`);
  mkdirSync(join(d, "boot", "grub"), { recursive: true });
  writeFileSync(join(d, "boot", "grub", "grub.cfg"), "menuentry debian {}\n");
  writeFileSync(join(d, "boot", "vmlinuz-6.1.0-debian"), "the distro kernel");
  mkdirSync(join(d, "root", "lib", "modules", "6.1.0-debian"), { recursive: true });
  writeFileSync(join(d, "root", "lib", "modules", "6.1.0-debian", "modules.dep"), "x\n");
  writeFileSync(join(d, "root", "lib", "libc.so.6"), "libc");
  return { bootDir: join(d, "boot"), root: join(d, "root"), cacheDir: join(d, "cache") };
}

/** Fetch must fail with `want`, and leave the machine as it was. */
async function refused(what: string, o: Omit<FetchOptions, "bootDir" | "root" | "cacheDir" | "arch" | "trustedKeys"> & { m?: ReturnType<typeof machine>; arch?: string }, want: RegExp) {
  const m = o.m ?? machine();
  const before = snapshot(m.bootDir, m.root);
  await assert.rejects(
    fetchKernel({ arch: "x86_64", trustedKeys: [key], ...m, ...o }),
    (e: unknown) => {
      assert.ok(e instanceof KilnError, `${what}: not a KilnError: ${String((e as Error).stack)}`);
      assert.equal((e as KilnError).exitCode, 1, what);
      assert.match((e as KilnError).render(), want, what);
      return true;
    },
  );
  assert.equal(snapshot(m.bootDir, m.root), before, `${what}: the boot dir and the root are unchanged`);
}

/** Signs `index` as version index.version and flips index.json, as a (compromised) publisher would. */
function signIndex(dir: string, index: MirrorIndex, k = key): void {
  const bytes = Buffer.from(JSON.stringify(index, null, 2) + "\n");
  const meta = signedIndexPath(index.version!);
  mkdirSync(join(dir, "meta"), { recursive: true });
  writeFileSync(join(dir, meta), bytes);
  writeFileSync(join(dir, `${meta}.minisig`), signMinisign(bytes, k, trustedComment({ timestamp: 1, file: meta.split("/")[1]!, indexVersion: index.version })));
  writeFileSync(join(dir, "index.json"), bytes);
}

function readIndex(dir: string): MirrorIndex {
  return parseIndex(readFileSync(join(dir, "index.json"), "utf8"), "index");
}

/** A signed artifact made from raw tar entries (for hostile contents), published to `dir`. */
async function publishRaw(dir: string, release: string, entries: Parameters<typeof packTar>[0]): Promise<void> {
  const out = join(base, `raw-${n++}`);
  mkdirSync(out, { recursive: true });
  const tar = join(out, "a.tar");
  writeFileSync(tar, packTar(entries));
  const art = join(out, `demo-kernel-${release}-x86_64.tar.zst`);
  execFileSync("zstd", ["-q", "-19", tar, "-o", art]);
  writeFileSync(`${art}.sha256`, createHash("sha256").update(readFileSync(art)).digest("hex") + "\n");
  await publishToMirror({ transport: new DirTransport(dir), name: "demo", release, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art, key });
}

const f = (path: string, data: Buffer | string, mode = 0o644) => ({ entry: { path, type: "file" as const, mode, mtime: 1 }, data: Buffer.from(data) });
const d = (path: string) => ({ entry: { path, type: "dir" as const, mode: 0o755, mtime: 1 } });

before(async () => {
  base = mkdtempSync(join(tmpdir(), "kiln-ship-hostile-"));
  key = generateKeyPair();
  good = join(base, "good");
  const art = await writeArtifact({ entryDir: fakeInstallTree(join(base, "entry")), name: "demo", release: RELEASE, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(base, "out") });
  await publishToMirror({ transport: new DirTransport(good), name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art.path, key, timestamp: 1_700_000_000 });
  await startHttp();
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(base, { recursive: true, force: true });
});

function copyMirror(): string {
  const d = join(base, `mirror-${n++}`);
  cpSync(good, d, { recursive: true });
  return d;
}

test("release names . .. a/b and control characters in a signed index are refused before they become paths", async () => {
  for (const [bad, want] of [
    ["..", /release "\.\.": "\.\." is not a name/],
    [".", /release "\.": "\." is not a name/],
    ["6.12.0/../../etc", /release "6\.12\.0\/\.\.\/\.\.\/etc": it holds a path separator/],
    ["6.12.0-\x1b[31mred", /release "6\.12\.0-\\x1b\[31mred": it holds a control character/],
  ] as const) {
    const dir = copyMirror();
    const idx = readIndex(dir);
    const k = idx.kernels[0]!;
    const rel = bad;
    idx.kernels.push({ ...k, release: rel, tag: "v6.12.0-r9", artifact: `demo/${rel}/demo-kernel-${rel}-x86_64.tar.zst`, sums: `demo/${rel}/SHA256SUMS`, signature: `demo/${rel}/SHA256SUMS.minisig`, published: new Date().toISOString() });
    idx.version = 2;
    signIndex(dir, idx);
    await refused(`release ${JSON.stringify(bad)}`, { ref: `demo@v6.12.0-r9`, transport: new DirTransport(dir) }, want);
  }
  await refused("a name with a slash", { ref: "de/mo@6.12.0", transport: new DirTransport(good) }, /bad kernel reference/);
});

test("an artifact with a foreign boot name (boot/grub, another kernel's marker) is refused and nothing is touched", async () => {
  const R = "6.12.0-demo-aaaaaaaaaaaa";
  for (const [name, entries] of [
    ["boot/grub", [d("boot"), f(`boot/vmlinuz-${R}`, "k"), f("boot/grub", "not a folder")]],
    ["a forged marker", [d("boot"), f(`boot/vmlinuz-${R}`, "k"), f("boot/.kiln-kernel-other.json", '{"kiln_fetch":1}')]],
  ] as const) {
    const dir = copyMirror();
    await publishRaw(dir, R, [...entries]);
    await refused(name, { ref: `demo@${R}`, transport: new DirTransport(dir) }, /refusing boot\/(grub|\.kiln-kernel-other\.json) in the artifact: kiln installs only/);
  }
});

test("a damaged install is repaired, not reported as installed", async () => {
  const m = machine();
  const t = new DirTransport(good);
  const first = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, trustedKeys: [key], ...m });
  assert.equal(first.noop, false);
  assert.ok(first.marker.files!.some((x) => x.path === `boot:vmlinuz-${RELEASE}` && x.size === 300_000));
  const installed = snapshot(m.bootDir, m.root);
  assert.equal((await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, trustedKeys: [key], ...m })).noop, true);
  writeFileSync(join(m.bootDir, `vmlinuz-${RELEASE}`), ""); // a 0-byte image
  writeFileSync(join(m.root, "lib", "modules", RELEASE, "modules.dep"), "damaged"); // same path, other bytes
  const warnings: string[] = [];
  const again = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, trustedKeys: [key], ...m, onWarning: (w) => warnings.push(w) });
  assert.equal(again.noop, false);
  assert.match(warnings.join("\n"), /damaged or incomplete; installing it again/);
  assert.equal(snapshot(m.bootDir, m.root), installed, "repaired byte for byte");
  assert.equal(readFileSync(join(m.bootDir, "vmlinuz-6.1.0-debian"), "utf8"), "the distro kernel");
  assert.ok(existsSync(join(m.bootDir, "grub", "grub.cfg")));
});

test("rollback, freeze and a tag moved to an older release are refused, naming which", async () => {
  const dir = copyMirror();
  const t = new DirTransport(dir);
  const v1 = readIndex(dir);
  const saved = { index: readFileSync(join(dir, "index.json")) };
  // a newer release of the same version (published later)
  const R2 = "6.12.0-demo-bbbbbbbbbbbb";
  const art2 = await writeArtifact({ entryDir: fakeInstallTree(join(base, "entry2"), R2), name: "demo", release: R2, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(base, "out2") });
  await publishToMirror({ transport: t, name: "demo", release: R2, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art2.path, key, timestamp: 1_800_000_000 });
  const m = machine();
  const got = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, trustedKeys: [key], ...m });
  assert.equal(got.marker.release, R2);
  // rollback: the mirror serves the old, validly signed version 1 again
  const v2bytes = readFileSync(join(dir, "index.json"));
  const again = () => ({ ...machine(), cacheDir: m.cacheDir }); // another install, the same trust record
  writeFileSync(join(dir, "index.json"), saved.index);
  await refused("rollback", { m: again(), ref: "demo@6.12.0", transport: t }, /rollback refused: the mirror offers index version 1, older than version 2 this machine has seen/);
  writeFileSync(join(dir, "index.json"), v2bytes);
  // freeze: version 2 is served long after it expired
  await refused("freeze", { m: again(), ref: "demo@6.12.0", transport: t, now: new Date(Date.now() + 400 * 86_400_000) }, /freeze refused: the signed index version 2 expired at/);
  // a compromised publisher drops R2: 6.12.0 now means the older release
  signIndex(dir, { ...v1, version: 3, expires: new Date(Date.now() + 86_400_000).toISOString() });
  await refused("tag moved back", { m: again(), ref: "demo@6.12.0", transport: t }, /demo@6\.12\.0 now means 6\.12\.0-demo-0123456789ab .*, older than 6\.12\.0-demo-bbbbbbbbbbbb[^]*ask for it by its full release: demo@6\.12\.0-demo-0123456789ab/);
  // ... unless asked for by its full identity
  const explicit = await fetchKernel({ ref: `demo@${RELEASE}`, arch: "x86_64", transport: t, trustedKeys: [key], ...m });
  assert.equal(explicit.marker.release, RELEASE);
  // an unsigned (legacy) index is refused
  writeFileSync(join(dir, "index.json"), JSON.stringify({ kiln_mirror: 1, kernels: v1.kernels }));
  await refused("unsigned index", { ref: "demo@6.12.0", transport: t }, /the mirror's index is not signed/);
  // an index signed by another key
  signIndex(dir, { ...v1, version: 9, expires: new Date(Date.now() + 86_400_000).toISOString() }, generateKeyPair());
  await refused("index signed by an untrusted key", { ref: "demo@6.12.0", transport: t }, /index-9\.json\.minisig: signed by key [0-9A-F]{16}, which is not among the trusted keys/);
});

test("unpack budgets: a zstd bomb and a deep tree are refused before writing past the budget", async () => {
  const dir = copyMirror();
  const R = "6.12.0-demo-cccccccccccc";
  const big = Buffer.alloc(8 << 20); // 8 MiB of zeros: a few KiB compressed
  await publishRaw(dir, R, [d("boot"), f(`boot/vmlinuz-${R}`, "k"), ...Array.from({ length: 9 }, (_, i) => f(`lib/modules/${R}/zero${i}`, big))]);
  await refused("zstd bomb", { ref: `demo@${R}`, transport: new DirTransport(dir), limits: { maxTotalSize: 32 << 20 } }, /total size would exceed the limit of 33554432 bytes \(--max-unpack-bytes raises it\)/);
  const R2 = "6.12.0-demo-dddddddddddd";
  const deep = Array.from({ length: 3000 }, () => "d").join("/");
  await publishRaw(dir, R2, [d("boot"), f(`boot/vmlinuz-${R2}`, "k"), f(`lib/modules/${R2}/${deep}/x`, "x")]);
  await refused("deep tree", { ref: `demo@${R2}`, transport: new DirTransport(dir) }, /more than 32 folders deep|longer than 1024 bytes/);
  const R3 = "6.12.0-demo-eeeeeeeeeeee";
  await publishRaw(dir, R3, [d("boot"), f(`boot/vmlinuz-${R3}`, "k"), ...Array.from({ length: 50 }, (_, i) => f(`lib/modules/${R3}/a${i}/b/c/x`, "x"))]);
  await refused("entry count with implied folders", { ref: `demo@${R3}`, transport: new DirTransport(dir), limits: { maxEntries: 100 } }, /more than 100 entries.*--max-unpack-entries/);
});

// ------------------------------------------------------------------ HTTP

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean;
let server: http.Server;
let port = 0;
let handler: Handler | undefined;
let served: string; // mirror folder the server serves

async function startHttp(): Promise<void> {
  served = copyMirror();
  server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, "http://x").pathname).replace(/^\/mirror\//, "");
    if (handler?.(req, res, path)) return;
    const file = join(served, path);
    if (!existsSync(file) || lstatSync(file).isDirectory()) return void res.writeHead(404).end("not found");
    const b = readFileSync(file);
    res.writeHead(200, { "content-length": b.length }).end(b);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
}
const url = () => `http://127.0.0.1:${port}/mirror`;

test("HTTP: oversize metadata, oversize and endless bodies, a drip feed, a file:// redirect, a password in the URL", async () => {
  try {
    handler = (_q, res, p) => (p === "index.json" ? (res.writeHead(200).end(Buffer.alloc(5 << 20, 0x20)), true) : false);
    await refused("oversize index", { ref: "demo@6.12.0", transport: new HttpTransport(url()) }, /index\.json is larger than 4194304 bytes; the download was stopped there[^]*KILN_MAX_METADATA_BYTES/);
    handler = (_q, res, p) => {
      if (p !== `demo/${RELEASE}/${ART}`) return false;
      res.writeHead(200); // no length, never ends
      const tick = setInterval(() => res.write(Buffer.alloc(1 << 16)), 1);
      res.on("close", () => clearInterval(tick));
      return true;
    };
    const m1 = machine();
    await refused("endless body", { m: m1, ref: "demo@6.12.0", transport: new HttpTransport(url()) }, /is larger than \d+ bytes; the download was stopped there/);
    assert.deepEqual(readdirSync(join(m1.cacheDir, "demo", RELEASE)), [], "no partial download in the cache");
    handler = (_q, res, p) => (p === `demo/${RELEASE}/${ART}` ? (res.writeHead(200, { "content-length": 3 * 2 ** 30 }).write("x"), true) : false);
    await refused("oversize announced body", { ref: "demo@6.12.0", transport: new HttpTransport(url()) }, /announced as 3221225472 bytes, more than the \d+ bytes the signed index declares/);
    handler = (_q, res, p) => {
      if (p !== `demo/${RELEASE}/${ART}`) return false;
      const b = readFileSync(join(served, p));
      res.writeHead(200, { "content-length": b.length });
      let i = 0;
      const tick = setInterval(() => res.write(b.subarray(i, ++i)), 150); // one byte every 150 ms
      res.on("close", () => clearInterval(tick));
      return true;
    };
    await refused("drip feed", { ref: "demo@6.12.0", transport: new HttpTransport(url(), { limits: { deadlineMs: 800, idleMs: 5000 } }) }, /did not finish within the deadline of 1 s[^]*KILN_HTTP_DEADLINE/);
    handler = (_q, res, p) => (p === `demo/${RELEASE}/${ART}` ? (res.writeHead(200, { "content-length": readFileSync(join(served, p)).length }).write("x"), true) : false);
    await refused("stall", { ref: "demo@6.12.0", transport: new HttpTransport(url(), { limits: { idleMs: 300 } }) }, /no data for 0 s|no data for \d+ s[^]*KILN_HTTP_IDLE_TIMEOUT/);
    handler = (_q, res, p) => (p === `demo/${RELEASE}/${ART}` ? (res.writeHead(302, { location: "file:///etc/passwd" }).end(), true) : false);
    await refused("redirect to file://", { ref: "demo@6.12.0", transport: new HttpTransport(url()) }, /refusing a redirect from http: to file: \(file:\/\/\/etc\/passwd\)/);
    handler = (_q, res) => (res.writeHead(500).end("boom"), true);
    const withPassword = `http://alice:hunter2@127.0.0.1:${port}/mirror`;
    const m = machine();
    const e = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: new HttpTransport(withPassword), trustedKeys: [key], ...m }).catch((x: unknown) => x);
    assert.ok(e instanceof KilnError);
    assert.doesNotMatch((e as KilnError).render(), /hunter2|alice/);
    assert.match((e as KilnError).render(), /GET answered 500/);
  } finally {
    handler = undefined;
  }
  // and the same server, behaving, installs
  const m = machine();
  const ok = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: new HttpTransport(url()), trustedKeys: [key], ...m });
  assert.equal(ok.marker.release, RELEASE);
});

// ------------------------------------------------------------------ kills

const KILN = join(process.cwd(), "bin", "kiln");

function leftovers(...dirs: string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d, { recursive: true }) as string[]) if (/(^|\/)\.kiln-(fetch|unpack|old|download|artifact|copy)-/.test(e)) out.push(join(d, e));
  }
  return out;
}

test("SIGKILL and SIGINT during download, unpack and placement: the re-run repairs and leaves nothing behind", { timeout: 120_000 }, async () => {
  const home = join(base, "kiln-home");
  const pub = join(base, "trusted.pub");
  writeFileSync(pub, formatPublicKey(key));
  const killed: string[] = [];
  for (const [sig, phase] of [["SIGKILL", "download"], ["SIGINT", "download"], ["SIGKILL", "unpack"], ["SIGINT", "unpack"], ["SIGKILL", "place"]] as const) {
    const m = machine();
    const before = snapshot(m.bootDir, m.root);
    let release: () => void = () => undefined;
    const reached = new Promise<void>((r) => (release = r));
    handler =
      phase === "download"
        ? (_q, res, p) => {
            if (p !== `demo/${RELEASE}/${ART}`) return false;
            const b = readFileSync(join(served, p));
            res.writeHead(200, { "content-length": b.length });
            res.write(b.subarray(0, 1000), () => release()); // then stall
            return true;
          }
        : undefined;
    const args = [KILN, "fetch", "demo@6.12.0", "--remote", phase === "download" ? url() : served, "--boot-dir", m.bootDir, "--root", m.root, "--cache-dir", m.cacheDir, "--trusted-key", pub, "--arch", "x86_64"];
    const env = { ...process.env, KILN_HOME: home, NODE_OPTIONS: "" };
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (x: Buffer) => (err += x));
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    if (phase === "download") await Promise.race([reached, exited]);
    else {
      // wait until the staging folder (unpack) or a set-aside/placed file (place) shows up
      const seen = (): boolean => {
        const names = existsSync(m.root) ? readdirSync(m.root) : [];
        if (phase === "unpack") return names.some((x) => x.startsWith(".kiln-fetch-") || x.startsWith(".kiln-unpack-"));
        return existsSync(join(m.root, "lib", "modules", RELEASE));
      };
      const t0 = Date.now();
      while (!seen() && child.exitCode === null && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 2));
    }
    child.kill(sig);
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    handler = undefined;
    if (code === 0) continue; // the run won the race: nothing to repair
    killed.push(`${sig}/${phase}`);
    assert.ok(code === null || code === 130, `${sig} during ${phase}: killed, not failed (exit ${code}): ${err}`);
    if (sig === "SIGINT" && phase !== "download") assert.equal(snapshot(m.bootDir, m.root), before, `${sig} during ${phase}: the old state is back (${err})`);
    // the re-run repairs and leaves nothing behind
    execFileSync(process.execPath, args.map((a) => (a === url() ? served : a)), { env, stdio: "pipe" });
    assert.deepEqual(leftovers(m.bootDir, m.root, m.cacheDir), [], `${sig} during ${phase}: no leftovers`);
    assert.ok(existsSync(join(m.bootDir, `vmlinuz-${RELEASE}`)));
    assert.equal(readFileSync(join(m.bootDir, "vmlinuz-6.1.0-debian"), "utf8"), "the distro kernel");
    const again = execFileSync(process.execPath, [...args.map((a) => (a === url() ? served : a)), "--json"], { env, encoding: "utf8" });
    assert.equal(JSON.parse(again).noop, true, `${sig} during ${phase}: installed after the re-run`);
  }
  assert.ok(killed.includes("SIGKILL/download") && killed.includes("SIGINT/download"), `downloads were interrupted: ${killed.join(", ")}`);
  process.stderr.write(`# interrupted: ${killed.join(", ")}\n`);
});

test("a re-publish never rewrites a live release, and a killed publish leaves the old index live", async () => {
  const dir = copyMirror();
  const t = new DirTransport(dir);
  const sums = readFileSync(join(dir, "demo", RELEASE, "SHA256SUMS"));
  const sig = readFileSync(join(dir, "demo", RELEASE, "SHA256SUMS.minisig"));
  const art = join(base, "out", ART);
  const again = await publishToMirror({ transport: t, name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art, key });
  assert.ok(readFileSync(join(dir, "demo", RELEASE, "SHA256SUMS")).equals(sums));
  assert.ok(readFileSync(join(dir, "demo", RELEASE, "SHA256SUMS.minisig")).equals(sig), "the live signature is kept");
  assert.ok(!again.uploaded.some((u) => u.startsWith(`demo/${RELEASE}/`)));
  // different bytes under the same release: refused
  const other = join(base, "other-bytes");
  mkdirSync(other, { recursive: true });
  const changed = join(other, ART);
  writeFileSync(changed, "different");
  await assert.rejects(publishToMirror({ transport: t, name: "demo", release: RELEASE, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: changed, key }), /already published with different files, and a published release is never rewritten/);
  // a publish killed before the flip: the new files are there, index.json still names the old version
  const liveIndex = readFileSync(join(dir, "index.json"));
  const R2 = "6.12.0-demo-ffffffffffff";
  const a2 = await writeArtifact({ entryDir: fakeInstallTree(join(base, "entry-k"), R2), name: "demo", release: R2, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(base, "out-k") });
  const killed = new DirTransport(dir);
  const realPut = killed.put.bind(killed);
  killed.put = async (path, data) => {
    if (path === "index.json") throw new Error("killed");
    return realPut(path, data);
  };
  await assert.rejects(publishToMirror({ transport: killed, name: "demo", release: R2, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: a2.path, key }), /killed/);
  assert.ok(readFileSync(join(dir, "index.json")).equals(liveIndex), "the old index is still live");
  const m = machine();
  const f1 = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, trustedKeys: [key], ...m });
  assert.equal(f1.marker.release, RELEASE);
  // publishing again completes it
  await publishToMirror({ transport: t, name: "demo", release: R2, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: a2.path, key });
  const f2 = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, trustedKeys: [key], ...machine() });
  assert.equal(f2.marker.release, R2);
  // every signature kiln wrote verifies with minisign
  if (execFileSync("sh", ["-c", "command -v minisign || true"], { encoding: "utf8" }).trim()) {
    writeFileSync(join(base, "k.pub"), formatPublicKey(key));
    for (const file of [join(dir, "demo", R2, "SHA256SUMS"), ...readdirSync(join(dir, "meta")).filter((x) => x.endsWith(".json")).map((x) => join(dir, "meta", x))]) {
      execFileSync("minisign", ["-V", "-q", "-p", join(base, "k.pub"), "-m", file]);
    }
  }
  void SourceError;
});

test("consumer pins: --lock records the artifact, later fetches install only those bytes, --update moves the pin", async () => {
  const dir = copyMirror();
  const t = new DirTransport(dir);
  const lockFile = join(base, `consumer-${n++}.lock`);
  const first = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, trustedKeys: [key], ...machine(), lockFile });
  const lock = JSON.parse(readFileSync(lockFile, "utf8"));
  assert.deepEqual(lock.pins["demo@6.12.0/x86_64"], { release: RELEASE, artifact: ART, sha256: first.marker.sha256, signed_by: first.marker.signed_by });
  // a newer release of 6.12.0 appears: the pinned machine still gets the pinned bytes
  const R2 = "6.12.0-demo-999999999999";
  const a2 = await writeArtifact({ entryDir: fakeInstallTree(join(base, "entry-pin"), R2), name: "demo", release: R2, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(base, "out-pin") });
  await publishToMirror({ transport: t, name: "demo", release: R2, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: a2.path, key, timestamp: 1_800_000_000 });
  const pinned = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, trustedKeys: [key], ...machine(), lockFile });
  assert.equal(pinned.marker.release, RELEASE);
  // other bytes than the pin: refused, both digests named
  const forged = { ...lock, pins: { "demo@6.12.0/x86_64": { ...lock.pins["demo@6.12.0/x86_64"], sha256: "ab".repeat(32) } } };
  const forgedFile = join(base, `consumer-${n++}.lock`);
  writeFileSync(forgedFile, JSON.stringify(forged));
  await refused("pin mismatch", { ref: "demo@6.12.0", transport: t, lockFile: forgedFile }, new RegExp(`pinned to sha256 ${"ab".repeat(32)} in the consumer lock, the mirror offers ${first.marker.sha256}[^]*--update`));
  // --update moves it
  const moved = await fetchKernel({ ref: "demo@6.12.0", arch: "x86_64", transport: t, trustedKeys: [key], ...machine(), lockFile, update: true });
  assert.equal(moved.marker.release, R2);
  assert.equal(JSON.parse(readFileSync(lockFile, "utf8")).pins["demo@6.12.0/x86_64"].release, R2);
});
