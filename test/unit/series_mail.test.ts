import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { applyFailures, baseCommit, hunkAt, mailHeaders, orderSeries, subjectParts, type SeriesMail } from "../../src/pipeline/series_mail.js";
import { refSlug } from "../../src/pipeline/series.js";
import { inferLabel } from "../../src/core/identity.js";
import { ProjectSchema } from "../../src/project/schema.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const fx = (n: string) => readFileSync(join(REPO, "test/fixtures/series", n), "utf8");

// series-v3.mbox: test/support/lore.ts's series (git format-patch -v3 of comment changes to
// Debian 6.12's init/calibrate.c and init/version.c, with a cover letter), as a list archive holds it.
const MBOX = fx("series-v3.mbox");
const mails = (mbox: string): SeriesMail[] =>
  mbox
    .split(/^(?=From [0-9a-f]{40} Mon Sep 17 00:00:00 2001$)/m)
    .filter(Boolean)
    .map((text, i) => {
      const headers = mailHeaders(text);
      return { index: i + 1, text, headers, parts: subjectParts(headers.subject ?? "") };
    });

test("subject prefixes: revision, N/M and the title", () => {
  assert.deepEqual(subjectParts("[PATCH v3 2/5] mm: foo bar"), { revision: 3, n: 2, m: 5, title: "mm: foo bar" });
  assert.deepEqual(subjectParts("[PATCH 0/2] Foo"), { revision: 1, n: 0, m: 2, title: "Foo" });
  assert.deepEqual(subjectParts("[RFC PATCH net-next v12 01/10] net: x"), { revision: 12, n: 1, m: 10, title: "net: x" });
  assert.deepEqual(subjectParts("[PATCH] x: y"), { revision: 1, title: "x: y" });
  assert.deepEqual(subjectParts("[PATCH 1/2 v2] a"), { revision: 2, n: 1, m: 2, title: "a" });
});

test("headers of a format-patch mail, folded lines joined, message-id without brackets", () => {
  const h = mailHeaders("From: A <a@x>\nSubject: [PATCH v2 1/1] a very\n long subject\nMessage-Id: <1.2@x>\nDate: Tue, 1 Jan 2030 00:00:00 +0000\n\nSubject: not a header\n");
  assert.deepEqual(h, { from: "A <a@x>", subject: "[PATCH v2 1/1] a very long subject", messageId: "1.2@x", date: "Tue, 1 Jan 2030 00:00:00 +0000" });
});

test("a real series: the cover apart, patches in N order, revision 3, no problems", () => {
  const m = mails(MBOX);
  const shuffled = [m[0]!, m[3]!, m[1]!, m[2]!];
  const o = orderSeries(shuffled);
  assert.deepEqual(o.problems, []);
  assert.equal(o.cover?.headers.subject, "[PATCH v3 0/3] Calibrate: clearer comments");
  assert.deepEqual(o.patches.map((p) => p.parts.n), [1, 2, 3]);
  assert.equal(o.revision, 3);
  assert.equal(inferLabel({ seriesSubject: o.cover!.headers.subject! }), "calibrate-clearer-comments-v3");
});

test("a missing patch, a duplicate and mixed revisions are named", () => {
  const m = mails(MBOX);
  const o = orderSeries([m[0]!, m[1]!, m[1]!]);
  assert.ok(o.problems.includes("patch 1/3 appears twice (mail 2)"), o.problems.join("; "));
  assert.ok(o.problems.includes("patch(es) 2/3, 3/3 missing from the mbox"), o.problems.join("; "));
  const v4 = { ...m[2]!, parts: { ...m[2]!.parts, revision: 4 } };
  assert.match(orderSeries([m[0]!, m[1]!, v4, m[3]!]).problems.join("; "), /mix revisions v3, v4/);
  assert.deepEqual(orderSeries([m[0]!]).problems, ["the mbox holds no patch (no mail with a diff)"]);
});

test("git apply's real failure output names the file, the hunk and its line", () => {
  const f = applyFailures(fx("broken-2.git-apply.out"), fx("broken-2.patch"));
  assert.deepEqual(f, [{ file: "init/calibrate.c", line: 24, hunk: 1, header: "@@ -24,7 +24,7 @@", reason: "does not apply" }]);
  assert.equal(hunkAt(fx("broken-2.patch"), "init/calibrate.c", 99), undefined);
  assert.deepEqual(applyFailures("error: init/nope.c: does not exist in index\n", ""), [{ file: "init/nope.c", reason: "does not exist in the tree" }]);
});

test("base-commit trailer, ref slugs", () => {
  assert.equal(baseCommit("...\nbase-commit: 0123456789abcdef0123456789abcdef01234567\n-- \n"), "0123456789abcdef0123456789abcdef01234567");
  assert.equal(baseCommit(MBOX), undefined);
  assert.equal(refSlug("foo..bar.lock"), "foo.bar");
  assert.equal(refSlug(""), "series");
});

test("[series] takes one of dir, file, mbox, b4; lore goes with b4", () => {
  const base = { name: "p", source: {}, target: {} };
  assert.equal(ProjectSchema.safeParse({ ...base, series: { mbox: "a.mbx" } }).success, true);
  assert.equal(ProjectSchema.safeParse({ ...base, series: { b4: "1.2@example.org", lore: "http://127.0.0.1:1/all" } }).success, true);
  const two = ProjectSchema.safeParse({ ...base, series: { dir: "patches", mbox: "a.mbx" } });
  assert.equal(two.success, false);
  assert.match(two.error!.issues[0]!.message, /give one of dir, file, mbox or b4, not dir and mbox/);
  assert.deepEqual(two.error!.issues[0]!.path, ["series", "mbox"]);
  const lone = ProjectSchema.safeParse({ ...base, series: { mbox: "a.mbx", lore: "http://x/all" } });
  assert.match(lone.error!.issues[0]!.message, /lore is the base URL for b4/);
  assert.match(ProjectSchema.safeParse({ ...base, series: { b4: "not a msgid" } }).error!.issues[0]!.message, /expected a message-id/);
});
