/**
 * `kiln fetch NAME@VERSION --devel DIR`: the devel artifact published beside the run artifact
 * (`<name>-devel-<release>-<arch>.tar.zst`), verified the way the run artifact is: the release's
 * SHA256SUMS must carry a signature by a trusted key naming this release (checked again here,
 * after fetchVerifiedArtifact checked it for the run artifact), the devel artifact must be listed
 * there, the download must match, and it is unpacked with kiln's safe unpacker. DIR receives the
 * layer's files: devel.json, compile_commands.json (with its placeholders) and build/, the tree
 * `make -C DIR/build M=<module dir>` builds against. Staged beside DIR, moved in with one rename.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Transport } from "../ship/transport.js";
import type { MinisignPublicKey } from "../ship/minisign.js";
import { verifyMinisign } from "../ship/minisign.js";
import { parseSha256Sums, sha256File } from "../ship/artifact.js";
import { removeTree, safeUnpack, siblingTemp, type UnpackLimits } from "../ship/unpack.js";
import type { IndexEntry } from "../ship/mirror.js";
import { ProjectError, SourceError } from "../errors.js";
import { develArtifactName } from "./index.js";
import { DEVEL_SCHEMA } from "./layer.js";
import { readFileSync } from "node:fs";

export interface DevelFetch {
  transport: Transport;
  /** The index entry fetchVerifiedArtifact resolved and verified (for the run artifact). */
  entry: IndexEntry;
  name: string;
  trustedKeys: MinisignPublicKey[];
  allowUnsigned?: boolean;
  cacheDir: string;
  dest: string;
  limits?: Partial<UnpackLimits>;
  onWarning?: (m: string) => void;
}

export async function fetchDevel(o: DevelFetch): Promise<{ dir: string; file: string; sha256: string; cached: boolean }> {
  const dest = resolve(o.dest);
  if (existsSync(dest) && readdirSync(dest).length) throw new ProjectError(`${dest} exists and is not empty`, { file: dest }, "give a new or empty folder for the devel layer");
  const t = o.transport;
  const file = develArtifactName(o.name, o.entry.release, o.entry.arch);
  const remote = `${o.entry.artifact.slice(0, o.entry.artifact.lastIndexOf("/") + 1)}${file}`;
  const sumsBytes = await t.get(o.entry.sums);
  if (!sumsBytes) throw new SourceError("SHA256SUMS is missing on the mirror", { url: t.where(o.entry.sums) });
  const sig = await t.get(o.entry.signature);
  if (!sig) {
    if (!o.allowUnsigned) throw new SourceError("the signature SHA256SUMS.minisig is missing on the mirror", { url: t.where(o.entry.signature) });
    o.onWarning?.(`WARNING: ${t.where(o.entry.signature)} is missing and the signature check is DISABLED (--allow-unsigned)`);
  } else if (!(o.allowUnsigned && o.trustedKeys.length === 0)) {
    const v = verifyMinisign(sumsBytes, sig.toString("utf8"), o.trustedKeys, t.where(o.entry.signature));
    const rel = /(?:^|\t)kiln-release:([^\t]+)/.exec(v.trustedComment)?.[1];
    if (rel !== o.entry.release) throw new SourceError(`signature is for release ${rel ?? "(none named)"}, not ${o.entry.release}`, { url: t.where(o.entry.signature) });
  }
  const want = parseSha256Sums(sumsBytes.toString("utf8"), t.where(o.entry.sums)).get(file);
  if (!want) {
    throw new SourceError(`release ${o.entry.release} has no devel artifact (${file} is not in SHA256SUMS)`, { url: t.where(o.entry.sums) }, 'the publisher\'s target must declare outputs = [..., "devel"] and publish again');
  }
  const cached = join(o.cacheDir, o.name, o.entry.release, file);
  let fromCache = existsSync(cached) && (await sha256File(cached)) === want;
  if (!fromCache) {
    if (existsSync(cached)) o.onWarning?.(`cached ${cached} does not match the signed checksum; downloading again`);
    mkdirSync(dirname(cached), { recursive: true });
    const tmp = siblingTemp(cached, "kiln-devel");
    try {
      const r = await t.download(remote, tmp);
      if (r.sha256 !== want) {
        throw new SourceError(`checksum mismatch: ${remote} has sha256 ${r.sha256}, the signed SHA256SUMS says ${want}`, { url: t.where(remote) }, "the download is corrupt or was tampered with; it was deleted");
      }
      renameSync(tmp, cached);
    } finally {
      removeTree(tmp);
    }
    fromCache = false;
  }
  const stage = siblingTemp(dest, "kiln-devel-unpack");
  try {
    await safeUnpack({ archive: cached, dest: stage, compression: "zstd", ...(o.limits ? { limits: o.limits } : {}) });
    const top = readdirSync(stage);
    if (top.length !== 1 || top[0] !== "devel") throw new SourceError(`${file} holds ${top.join(", ")}, not only devel/`, { file: cached }, "the artifact is not a kiln devel artifact; nothing was installed");
    const info = JSON.parse(readFileSync(join(stage, "devel", "devel.json"), "utf8")) as { schema?: string; release?: string };
    if (info.schema !== DEVEL_SCHEMA || info.release !== o.entry.release) {
      throw new SourceError(`${file}'s devel.json is not a ${DEVEL_SCHEMA} record of ${o.entry.release}`, { file: cached }, "nothing was installed");
    }
    mkdirSync(dirname(dest), { recursive: true });
    if (existsSync(dest)) rmdirSync(dest);
    renameSync(join(stage, "devel"), dest);
  } finally {
    removeTree(stage);
  }
  return { dir: dest, file, sha256: want, cached: fromCache };
}
