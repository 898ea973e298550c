/** How a schema check's failure reads: the first problem's path and message, and how many more. Pure. */
import type { z } from "zod";

export function firstIssue(e: z.ZodError): string {
  const iss = e.issues[0]!;
  const path = iss.path.map(String).join(".") || "(top level)";
  return `${path}: ${iss.message}${e.issues.length > 1 ? ` (and ${e.issues.length - 1} more issue(s))` : ""}`;
}
