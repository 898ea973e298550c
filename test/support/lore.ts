/**
 * Mailed series for the tests, and a loopback lore-like server that serves them to b4.
 *
 * The series is made with git from real files of Debian's 6.12 tree (init/calibrate.c and
 * init/version.c: comment changes, so the config does not move): three commits in a tiny
 * scratch repository, `git format-patch -v<N> --numbered`, a cover letter, Message-Ids and
 * In-Reply-To headers so the mails form one thread, as a list would deliver them.
 *
 * The server answers what b4 0.12 asks of a public-inbox (see b4/__init__.py,
 * get_pi_thread_by_msgid): `HEAD <base>/<msgid>` (a redirect to the message's folder, for bases
 * that are not `/all/`) and `GET <base>/<msgid>/t.mbox.gz` (the whole thread, gzipped, in
 * public-inbox's mboxrd form). It listens on 127.0.0.1 at a free port, keeps no process alive
 * (unref), and closes by itself after `lifetimeMs`.
 */
import { createServer, type Server } from "node:http";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

export interface MailedSeries {
  /** The thread as an mbox, cover letter first (what a list archive holds). */
  mbox: string;
  /** The same series the way `b4 am -o` writes it: patches only, and the cover apart. */
  mbx: string;
  cover: string;
  coverMsgid: string;
  msgids: string[];
  subjects: string[];
  coverSubject: string;
}

export interface SeriesOptions {
  revision?: number;
  /** Seconds since the epoch of the first mail; each later mail is a minute later. */
  date?: number;
  /** Makes the Message-Ids of this mailing unique. */
  salt?: string;
  /** Patch 2 of the series carries a context line the tree does not have. */
  broken?: boolean;
  title?: string;
}

const AUTHOR = ["Ada Tester", "ada@example.org"] as const;

/** A three-patch series against the given kernel tree (an unpacked linux-source-6.12). */
export function mailedSeries(tree: string, o: SeriesOptions = {}): MailedSeries {
  const rev = o.revision ?? 3;
  const date0 = o.date ?? 1_700_000_000;
  const salt = o.salt ?? "a";
  const title = o.title ?? "Calibrate: clearer comments";
  const scratch = mkdtempSync(join(tmpdir(), "kiln-series-"));
  try {
    const git = (args: string[], env: Record<string, string> = {}) =>
      execFileSync("git", ["-C", scratch, ...args], {
        encoding: "utf8",
        env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_AUTHOR_NAME: AUTHOR[0], GIT_AUTHOR_EMAIL: AUTHOR[1], GIT_COMMITTER_NAME: AUTHOR[0], GIT_COMMITTER_EMAIL: AUTHOR[1], ...env },
      });
    git(["init", "-q"]);
    mkdirSync(join(scratch, "init"));
    for (const f of ["init/calibrate.c", "init/version.c"]) writeFileSync(join(scratch, f), readFileSync(join(tree, f)));
    git(["add", "."]);
    git(["commit", "-q", "-m", "base"], { GIT_AUTHOR_DATE: `${date0 - 86400} +0000`, GIT_COMMITTER_DATE: `${date0 - 86400} +0000` });
    const edits: { file: string; from: string; to: string; subject: string; body: string }[] = [
      { file: "init/calibrate.c", from: " * Excised from init/main.c\n", to: " * Excised from init/main.c; the boot delay loop lives here.\n", subject: "calibrate: say what the file holds", body: "The header comment names where the code came from, not what it does." },
      { file: "init/calibrate.c", from: "/* This routine uses the read_current_timer() routine and gets the\n", to: "/* This routine uses read_current_timer() and gets the\n", subject: "calibrate: shorter timer comment", body: "Drop a repeated word from the comment above calibrate_delay_direct()." },
      { file: "init/version.c", from: "#include <generated/compile.h>\n", to: "/* The banner below is what `uname -a` and dmesg print first. */\n#include <generated/compile.h>\n", subject: "init/version: comment the banner", body: "Say where linux_banner shows up." },
    ];
    edits.forEach((e, i) => {
      const p = join(scratch, e.file);
      const text = readFileSync(p, "utf8");
      if (!text.includes(e.from)) throw new Error(`test series: ${e.file} in ${tree} lacks ${JSON.stringify(e.from)}`);
      writeFileSync(p, text.replace(e.from, e.to));
      const when = `${date0 + 60 * (i + 1)} +0000`;
      git(["commit", "-q", "-a", "-m", `${e.subject}\n\n${e.body}\n\nSigned-off-by: ${AUTHOR[0]} <${AUTHOR[1]}>`], { GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when });
    });
    const raw = git(["format-patch", "--stdout", `-v${rev}`, "--numbered", "--no-thread", "--no-signature", "HEAD~3..HEAD"]);
    let patches = raw.split(/^(?=From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$)/m).filter(Boolean);
    if (o.broken) patches[1] = patches[1]!.replace("* Also, this code tries to handle non-maskable", "* Also, this code tries hard to handle non-maskable");
    const coverMsgid = `${date0}.${salt}.0-cover@example.org`;
    const msgids = patches.map((_, i) => `${date0}.${salt}.${i + 1}-patch@example.org`);
    patches = patches.map((p, i) => p.replace(/^(Date: .*)$/m, `$1\nMessage-Id: <${msgids[i]}>\nIn-Reply-To: <${coverMsgid}>\nReferences: <${coverMsgid}>`));
    const subjects = patches.map((p) => /^Subject: (.*(?:\n .*)*)$/m.exec(p)![1]!.replace(/\n /g, " "));
    const coverSubject = `[PATCH v${rev} 0/3] ${title}`;
    const cover = [
      `From ${"0".repeat(40)} Mon Sep 17 00:00:00 2001`,
      `From: ${AUTHOR[0]} <${AUTHOR[1]}>`,
      `Date: ${new Date(date0 * 1000).toUTCString().replace("GMT", "+0000")}`,
      `Subject: ${coverSubject}`,
      `Message-Id: <${coverMsgid}>`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=UTF-8",
      "",
      "Three comment changes in init/, to exercise kiln's mailed-series path.",
      "",
      `Changes in v${rev}:`,
      "- reworded the banner comment",
      "",
      `${AUTHOR[0]} (3):`,
      ...edits.map((e) => `  ${e.subject}`),
      "",
      "-- ",
      "2.39.5",
      "",
    ].join("\n");
    const mbox = [cover, ...patches].join("\n");
    const mbx = patches.map((p) => p.replace(/^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$/m, "From git@z Thu Jan  1 00:00:00 1970")).join("");
    return { mbox, mbx, cover: cover.split("\n").slice(1).join("\n"), coverMsgid, msgids, subjects, coverSubject };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** public-inbox's mboxrd: `>From ` lines in bodies gain one more `>`. */
function mboxrd(mbox: string): string {
  return mbox
    .split(/^(?=From \S+ \w{3} \w{3} [ 0-9]\d \d\d:\d\d:\d\d \d{4}$)/m)
    .map((m) => {
      const [first, ...rest] = m.split("\n");
      return ["From mboxrd@z Thu Jan  1 00:00:00 1970", ...rest.map((l) => (/^>*From /.test(l) ? `>${l}` : l))].join("\n") + (first && !m.endsWith("\n") ? "\n" : "");
    })
    .join("");
}

export interface Lore {
  /** The base URL to give b4 (`[series] lore`), e.g. http://127.0.0.1:41234/all */
  url: string;
  /** Every request, "METHOD path", in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serve threads (each an mbox whose mails all answer for the thread) on 127.0.0.1 at a free port. */
export async function startLore(threads: { mbox: string; msgids: string[] }[], o: { base?: string; lifetimeMs?: number } = {}): Promise<Lore> {
  const base = (o.base ?? "/all").replace(/\/+$/, "");
  const byId = new Map<string, Buffer>();
  for (const t of threads) {
    const gz = gzipSync(Buffer.from(mboxrd(t.mbox)));
    for (const id of t.msgids) byId.set(id, gz);
  }
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const path = decodeURIComponent((req.url ?? "").split("?")[0]!);
    const m = path.startsWith(`${base}/`) ? /^([^/]+)(\/.*)?$/.exec(path.slice(base.length + 1)) : null;
    const id = m?.[1];
    const gz = id ? byId.get(id) : undefined;
    if (!gz) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const rest = m![2] ?? "";
    if (rest === "" || rest === "/") {
      if (rest === "") res.writeHead(301, { location: `http://${req.headers.host}${base}/${encodeURIComponent(id!)}/` }).end();
      else res.writeHead(200, { "content-type": "text/html" }).end(`<html><body>${id}</body></html>\n`);
    } else if (rest === "/t.mbox.gz") res.writeHead(200, { "content-type": "application/gzip", "content-length": gz.length }).end(req.method === "HEAD" ? undefined : gz);
    else if (rest === "/raw") res.writeHead(404).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  server.unref();
  const timer = setTimeout(() => server.close(), o.lifetimeMs ?? 10 * 60_000);
  timer.unref();
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${base}`,
    requests,
    close: () =>
      new Promise<void>((res) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
