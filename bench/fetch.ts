/**
 * Fetch benchmark (goal 5): `kiln fetch` through the CLI (a new process: start-up, resolve,
 * verify signature and sha256, download, safe unpack, place) against `curl` + `sha256sum -c` +
 * `tar --zstd -x` on the same artifact, served by the same loopback HTTP server (a separate
 * node process). Interleaved by bench/pair.ts.
 *
 *   node dist/bench/fetch.js [--runs N] [--vmlinux PATH] [--modules N]
 *
 * The example artifact: the given vmlinux as the image (e.g. the test store's x86_64 build,
 * $KILN_TEST_CACHE/kiln-home/store/<release>/vmlinux; without one, 12 MiB of filler) plus a synthetic lib/modules tree of N files, mostly compressible.
 */
import { spawn, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { pair, sh, timeSync, type PairResult } from "./pair.js";
import { mkdirSync, rmSync, writeFileSync, existsSync, copyFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeArtifact } from "../src/ship/artifact.js";
import { generateKeyPair, formatPublicKey } from "../src/ship/minisign.js";
import { publishToMirror } from "../src/ship/mirror.js";
import { DirTransport } from "../src/ship/transport.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const runs = Number(opt("runs", "5"));
const KILN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "kiln");
const work = opt("work", "/var/tmp/kiln-bench/fetch");
const vmlinux = opt("vmlinux", ""); // a real vmlinux to pack (else 12 MiB of filler)
const nModules = Number(opt("modules", "2000"));
const release = "6.12.0-bench-0123456789ab";

function makeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "boot"), { recursive: true });
  if (vmlinux && existsSync(vmlinux)) copyFileSync(vmlinux, join(dir, "boot", `vmlinuz-${release}`));
  else writeFileSync(join(dir, "boot", `vmlinuz-${release}`), Buffer.alloc(12 << 20, 0x90));
  writeFileSync(join(dir, "boot", `System.map-${release}`), Array.from({ length: 60000 }, (_, i) => `ffffffff8${i.toString(16).padStart(7, "0")} T sym_${i}\n`).join(""));
  writeFileSync(join(dir, "boot", `config-${release}`), Array.from({ length: 8000 }, (_, i) => `CONFIG_SYM_${i}=y\n`).join(""));
  let seed = 1;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < nModules; i++) {
    const d = join(dir, "lib", "modules", release, "kernel", "drivers", `sub${i % 40}`);
    mkdirSync(d, { recursive: true });
    const size = 2000 + (rnd() % 60000);
    const b = Buffer.alloc(size);
    // about 3:1 under zstd, like kernel modules: random words between runs of structure
    for (let k = 0; k + 4 <= size; k += 4) b.writeUInt32LE(k % 32 < 12 ? rnd() : (k >> 4) & 0xff, k);
    writeFileSync(join(d, `module_${i}.ko`), b);
  }
  writeFileSync(join(dir, "lib", "modules", release, "modules.dep"), "");
}

const SERVER = `
const http=require("http"),fs=require("fs"),path=require("path");
const root=process.argv[1];
http.createServer((q,s)=>{const p=path.join(root,decodeURIComponent(new URL(q.url,"http://x").pathname));
 if(!p.startsWith(root)||!fs.existsSync(p)||!fs.statSync(p).isFile()){s.writeHead(404).end();return;}
 s.writeHead(200,{"content-length":fs.statSync(p).size});fs.createReadStream(p).pipe(s);
}).listen(0,"127.0.0.1",function(){console.log(this.address().port)});`;

export async function fetchBench(): Promise<PairResult[]> {
  mkdirSync(work, { recursive: true });
  const tree = join(work, "entry");
  makeTree(tree);
  const art = await writeArtifact({ entryDir: tree, name: "bench", release, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(work, "out") });
  const key = generateKeyPair();
  const pub = join(work, "bench.pub");
  writeFileSync(pub, formatPublicKey(key));
  const mirror = join(work, "mirror");
  rmSync(mirror, { recursive: true, force: true });
  await publishToMirror({ transport: new DirTransport(mirror), name: "bench", release, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art.path, key });
  const server = spawn(process.execPath, ["-e", SERVER, mirror], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((res) => server.stdout.once("data", (d: Buffer) => res(Number(d.toString().trim()))));
  const url = `http://127.0.0.1:${port}`;
  const rel = `bench/${release}`;
  const artName = art.path.split("/").at(-1)!;
  const k = join(work, "kiln-run");
  const b = join(work, "base-run");
  try {
    const kilnSide = () => {
      rmSync(k, { recursive: true, force: true });
      mkdirSync(k, { recursive: true });
      return timeSync(() => sh([process.execPath, KILN, "fetch", `bench@${release}`, "--remote", url, "--arch", "x86_64", "--trusted-key", pub, "--boot-dir", join(k, "boot"), "--root", join(k, "root"), "--cache-dir", join(k, "cache")], { cwd: k, env: { KILN_HOME: join(k, "home"), NO_COLOR: "1" } }));
    };
    const bareSide = () => {
      rmSync(b, { recursive: true, force: true });
      mkdirSync(join(b, "root"), { recursive: true });
      return timeSync(() => {
        execFileSync("curl", ["-sSf", "-o", join(b, artName), `${url}/${rel}/${artName}`, "-o", join(b, "SHA256SUMS"), `${url}/${rel}/SHA256SUMS`]);
        execFileSync("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: b });
        execFileSync("tar", ["--zstd", "-xf", join(b, artName), "-C", join(b, "root")]);
      });
    };
    const r = await pair(`kiln fetch (CLI) vs curl + sha256sum -c + tar (${(statSync(art.path).size / 1e6).toFixed(1)} MB, ${art.entries} entries)`, ["kiln fetch", kilnSide], ["curl+sha256sum+tar", bareSide], { runs, warmup: true, goal: "<= 1.1" });
    return [r];
  } finally {
    server.kill();
    rmSync(k, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  fetchBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
