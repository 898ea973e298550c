/**
 * A one-file patch against Debian's 6.12 init/calibrate.c: a comment, so exactly one object
 * changes. Used by the incremental-rebuild test and the build benchmark.
 */
export function calibrateCommentPatch(comment: string): string {
  return [
    "Subject: [PATCH] calibrate: a comment",
    "",
    "--- a/init/calibrate.c",
    "+++ b/init/calibrate.c",
    "@@ -1,4 +1,5 @@",
    " // SPDX-License-Identifier: GPL-2.0",
    `+/* ${comment} */`,
    " /* calibrate.c: default delay calibration",
    "  *",
    "  * Excised from init/main.c",
    "",
  ].join("\n");
}
