/**
 * `kiln publish` to a plain mirror: one release under its tag (v<version>, or v<version>-r<N>), signed index flipped
 * last, under a publish lock so two publishes from this machine never interleave their index
 * writes. The index is read once, the tag decided, and the signed index written once
 * (docs/adr/0041).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { withLock } from "../effects/lock.js";
import { INDEX_PATH, parseIndex, publishToMirror, type PublishResult } from "./mirror.js";
import type { MinisignKeyPair } from "./minisign.js";
import type { Transport } from "./transport.js";
import { ProjectError, SourceError } from "../errors.js";

export interface MirrorPublish {
  transport: Transport;
  /** The remote's name, for messages. */
  remote: string;
  /** Folder for the publish locks (under the kiln home). */
  lockDir: string;
  name: string;
  release: string;
  kernelVersion: string;
  arch: string;
  artifact: string;
  extra: string[];
  key: MinisignKeyPair;
  identity?: string;
  /** [ship].revision: N > 0 publishes under v<version>-r<N>. */
  revision: number;
  validDays: number;
  /** Where to point a user who must raise the revision. */
  projectFile: string;
  onProgress?: (m: string) => void;
}

export async function publishMirror(p: MirrorPublish): Promise<{ tag: string; files: string[]; version: number }> {
  const where = p.transport.where(INDEX_PATH);
  const lock = join(p.lockDir, `publish-${createHash("sha256").update(where).digest("hex").slice(0, 16)}.lock`);
  return withLock(lock, async () => {
    const wanted = p.revision > 0 ? `v${p.kernelVersion}-r${p.revision}` : undefined;
    if (wanted) {
      const cur = await p.transport.get(INDEX_PATH);
      const holder = cur ? parseIndex(cur.toString("utf8"), where).kernels.find((k) => k.name === p.name && k.tag === wanted && k.release !== p.release) : undefined;
      if (holder) {
        throw new ProjectError(`tag ${wanted} is already release ${holder.release} on ${p.remote}`, { url: where }, `raise [ship].revision in ${p.projectFile} (a tag names one release)`);
      }
    }
    const res: PublishResult = await publishToMirror({
      transport: p.transport,
      name: p.name,
      release: p.release,
      kernelVersion: p.kernelVersion,
      arch: p.arch,
      artifactPath: p.artifact,
      extraFiles: p.extra,
      key: p.key,
      ...(p.identity ? { identity: p.identity } : {}),
      ...(wanted ? { tag: wanted } : {}),
      validDays: p.validDays,
      onProgress: p.onProgress,
    });
    if (res.entry.tag !== (wanted ?? res.entry.tag)) throw new SourceError(`published under ${res.entry.tag}, not ${wanted}`, { url: where });
    return { tag: res.entry.tag, files: res.uploaded, version: res.version };
  });
}
