/**
 * Patch provenance headers, written the way the three distributions write them: Debian's kernel
 * (DEP-3 on a git format-patch, e.g. debian/patches/bugfix/...), SUSE's kernel-source
 * (patches.suse/... with Patch-mainline, Git-commit, References) and Yocto (Upstream-Status).
 * The hashes, bug numbers and names are made up for the test; the field grammar is the formats'.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseProvenance, headerText, statusText, versionAtOrBelow, upstreamBy, commitIn } from "../../src/core/patch_headers.js";

const DIFF = ["---", " drivers/net/virtio_net.c | 2 +-", " 1 file changed, 1 insertion(+), 1 deletion(-)", "", "diff --git a/drivers/net/virtio_net.c b/drivers/net/virtio_net.c", "index 1111111..2222222 100644", "--- a/drivers/net/virtio_net.c", "+++ b/drivers/net/virtio_net.c", "@@ -1,3 +1,3 @@", " a", "-b", "+c", " d", ""].join("\n");

const DEBIAN = `From: Ben Example <ben@example.org>
Date: Sat, 12 Oct 2024 18:01:44 +0100
Subject: virtio_net: fix the queue count on resume
Origin: https://git.kernel.org/linus/0123456789abcdef0123456789abcdef01234567
Bug-Debian: https://bugs.debian.org/1080000
Forwarded: not-needed
Applied-Upstream: 6.12-rc3, commit:0123456789abcdef0123456789abcdef01234567
Last-Update: 2024-10-12

The queue count was read before the device reset.

Signed-off-by: Ben Example <ben@example.org>
${DIFF}`;

const DEBIAN_PENDING = `Author: Salvatore Example <carnil@example.org>
Description: Disable the legacy ioctl by default
 Debian does not want the old interface enabled
 .
 unless asked for on the command line.
Forwarded: no
Bug: https://bugzilla.kernel.org/show_bug.cgi?id=219000
Bug-Ubuntu: https://launchpad.net/bugs/2080000
Last-Update: 2024-08-01
--- a/drivers/net/virtio_net.c
+++ b/drivers/net/virtio_net.c
@@ -1,3 +1,3 @@
 a
-b
+c
 d
`;

const SUSE = `From: Jiri Example <jexample@example.com>
Date: Tue, 16 Jan 2024 10:12:01 +0100
Subject: [PATCH] virtio_net: do not leak the rx buffers on error
Git-commit: 89abcdef0123456789abcdef0123456789abcdef
Patch-mainline: v6.8-rc1
References: bsc#1218000 CVE-2024-26000

The error path forgot the buffers.

Signed-off-by: Jiri Example <jexample@example.com>
Acked-by: Someone Else <else@example.com>
${DIFF}`;

const SUSE_NEVER = `From: Jeff Example <jeff@example.com>
Subject: kernel: add SUSE's supported flag
Patch-mainline: Never, SLES specific feature
References: fate#303000

${DIFF}`;

const SUSE_QUEUED = `From: Petr Example <petr@example.com>
Date: Mon, 5 Feb 2024 09:00:00 +0100
Subject: [PATCH v2] net: tidy the stats path
Patch-mainline: Queued in subsystem maintainer repository
Git-repo: git://git.kernel.org/pub/scm/linux/kernel/git/netdev/net-next.git
Git-commit: fedcba9876543210fedcba9876543210fedcba98
References: jsc#PED-4000

${DIFF}`;

const YOCTO = (status: string) => `From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001
From: Khem Example <raj.example@example.com>
Date: Thu, 7 Mar 2024 11:22:33 -0800
Subject: [PATCH] perf: fix the build with musl

${status}
Signed-off-by: Khem Example <raj.example@example.com>
${DIFF}`;

const STABLE = `From 4444444444444444444444444444444444444444 Mon Sep 17 00:00:00 2001
From: Greg Example <gregkh@example.org>
Date: Wed, 3 Apr 2024 15:00:00 +0200
Subject: [PATCH 6.1 012/100] virtio_net: fix a race

commit abcdefabcdefabcdefabcdefabcdefabcdefabcd upstream.

The race, explained.

Signed-off-by: Greg Example <gregkh@example.org>
${DIFF}`;

test("Debian: DEP-3 on a format-patch, applied upstream in a version, with its lines", () => {
  const p = parseProvenance(DEBIAN);
  assert.equal(p.status, "upstream");
  assert.equal(p.version, "6.12-rc3");
  assert.equal(statusText(p), "upstream in 6.12-rc3");
  assert.equal(p.upstreamCommit, "0123456789abcdef0123456789abcdef01234567");
  assert.equal(p.origin, "https://git.kernel.org/linus/0123456789abcdef0123456789abcdef01234567");
  assert.deepEqual(p.bugs, ["https://bugs.debian.org/1080000"]);
  assert.equal(p.subject, "virtio_net: fix the queue count on resume");
  assert.equal(p.author, "Ben Example <ben@example.org>");
  assert.equal(p.lastUpdate, "2024-10-12");
  assert.deepEqual(p.from.status, { line: 7, text: "Applied-Upstream: 6.12-rc3, commit:0123456789abcdef0123456789abcdef01234567" });
  assert.equal(p.from.origin?.line, 4);
  assert.equal(p.from.upstreamCommit?.line, 4);
  assert.deepEqual(p.from.bugs.map((b) => b.line), [5]);
  assert.deepEqual(p.formats.sort(), ["dep3", "git"]);
});

test("Debian: Forwarded: no is pending; the multi-line Description gives the subject; both Bug fields", () => {
  const p = parseProvenance(DEBIAN_PENDING);
  assert.equal(p.status, "pending");
  assert.equal(p.subject, "Disable the legacy ioctl by default");
  assert.equal(p.author, "Salvatore Example <carnil@example.org>");
  assert.deepEqual(p.bugs, ["https://bugzilla.kernel.org/show_bug.cgi?id=219000", "https://launchpad.net/bugs/2080000"]);
  assert.equal(p.from.status?.text, "Forwarded: no");
  assert.equal(p.upstreamCommit, undefined);
  assert.deepEqual(p.formats, ["dep3"]);
});

test("Debian: Origin upstream without Applied-Upstream is a backport; Forwarded with a URL is submitted", () => {
  const a = parseProvenance("Origin: upstream, https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id=0123456789ab\n" + DIFF);
  assert.equal(a.status, "backport");
  assert.equal(a.upstreamCommit, "0123456789ab");
  const b = parseProvenance("Description: x\nForwarded: https://lore.kernel.org/all/20240101000000.1-1-x@example.org/\n" + DIFF);
  assert.equal(b.status, "submitted");
  assert.equal(b.note, "https://lore.kernel.org/all/20240101000000.1-1-x@example.org/");
});

test("SUSE: Patch-mainline with an rc version, Git-commit and References", () => {
  const p = parseProvenance(SUSE);
  assert.equal(p.status, "upstream");
  assert.equal(p.version, "6.8-rc1");
  assert.equal(p.upstreamCommit, "89abcdef0123456789abcdef0123456789abcdef");
  assert.deepEqual(p.bugs, ["bsc#1218000", "CVE-2024-26000"]);
  assert.equal(p.subject, "virtio_net: do not leak the rx buffers on error");
  assert.deepEqual(p.from.status, { line: 5, text: "Patch-mainline: v6.8-rc1" });
  assert.equal(p.from.upstreamCommit?.line, 4);
  assert.ok(p.formats.includes("suse"));
});

test("SUSE: Never, with its reason; Queued is submitted, with the repository as origin", () => {
  const n = parseProvenance(SUSE_NEVER);
  assert.equal(n.status, "never");
  assert.equal(n.note, "SLES specific feature");
  assert.deepEqual(n.bugs, ["fate#303000"]);
  const q = parseProvenance(SUSE_QUEUED);
  assert.equal(q.status, "submitted");
  assert.equal(q.note, "Queued in subsystem maintainer repository");
  assert.equal(q.origin, "git://git.kernel.org/pub/scm/linux/kernel/git/netdev/net-next.git");
  assert.equal(q.upstreamCommit, "fedcba9876543210fedcba9876543210fedcba98");
  assert.equal(q.subject, "net: tidy the stats path");
});

test("Yocto: every Upstream-Status value, with the bracketed part", () => {
  const cases: [string, string, string | undefined][] = [
    ["Upstream-Status: Pending", "pending", undefined],
    ["Upstream-Status: Submitted [https://lore.kernel.org/linux-perf-users/20240307192233.1-1-raj.example@example.com/]", "submitted", "https://lore.kernel.org/linux-perf-users/20240307192233.1-1-raj.example@example.com/"],
    ["Upstream-Status: Backport [6.9]", "backport", "6.9"],
    ["Upstream-Status: Denied", "never", undefined],
    ["Upstream-Status: Inappropriate [oe-core specific]", "inappropriate", "oe-core specific"],
  ];
  for (const [line, status, note] of cases) {
    const p = parseProvenance(YOCTO(line));
    assert.equal(p.status, status, line);
    assert.equal(p.note, note, line);
    assert.deepEqual(p.from.status, { line: 6, text: line });
    assert.equal(p.subject, "perf: fix the build with musl");
    assert.deepEqual(p.formats.sort(), ["git", "yocto"]);
  }
  assert.equal(parseProvenance(YOCTO("Upstream-Status: Backport [6.9]")).version, "6.9");
  const url = parseProvenance(YOCTO("Upstream-Status: Backport [https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id=fedcba987654]"));
  assert.equal(url.upstreamCommit, "fedcba987654");
  assert.equal(url.version, undefined);
});

test("git format-patch: a stable-kernel 'commit <sha> upstream.' line is a backport of that commit", () => {
  const p = parseProvenance(STABLE);
  assert.equal(p.status, "backport");
  assert.equal(p.upstreamCommit, "abcdefabcdefabcdefabcdefabcdefabcdefabcd");
  assert.equal(p.from.upstreamCommit?.line, 6);
  assert.equal(p.subject, "virtio_net: fix a race");
  const c = parseProvenance("Subject: x\n\nbody\n(cherry picked from commit 0123456789abcdef0123)\n" + DIFF);
  assert.equal(c.upstreamCommit, "0123456789abcdef0123");
});

test("no header: unknown; fields in the diff are not headers", () => {
  const p = parseProvenance("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-Patch-mainline: v1.0\n+Upstream-Status: Pending\n");
  assert.equal(p.status, "unknown");
  assert.deepEqual(p.formats, []);
  assert.equal(headerText("--- a/x\n+++ b/x\n"), "");
});

test("kernel versions compare with rc before the release", () => {
  assert.equal(versionAtOrBelow("v6.8-rc1", "6.12.57"), true);
  assert.equal(versionAtOrBelow("6.12-rc3", "6.12.0"), true);
  assert.equal(versionAtOrBelow("6.12", "6.12-rc7"), false);
  assert.equal(versionAtOrBelow("6.13-rc1", "6.12.57"), false);
  assert.equal(versionAtOrBelow("6.1.100", "6.1.99"), false);
  assert.equal(versionAtOrBelow("not", "6.1"), undefined);
  assert.equal(upstreamBy(parseProvenance(SUSE), "6.12.57"), true);
  assert.equal(upstreamBy(parseProvenance(SUSE), "6.1.119"), false);
  assert.equal(upstreamBy(parseProvenance(SUSE_NEVER), "6.12.57"), false);
  assert.equal(commitIn("https://git.kernel.org/linus/0123456789ab"), "0123456789ab");
});
