/**
 * Errors kiln shows to users. Each carries what the user needs to act:
 * where (file:line, symbol, URL) and what to do. The CLI maps them to exit codes:
 *   2  the kernel build or a gate failed (BuildFailure, GateFailure)
 *   1  kiln itself or the infrastructure failed (everything else)
 */
export interface Where {
  file?: string;
  line?: number;
  symbol?: string;
  url?: string;
}

export class KilnError extends Error {
  readonly exitCode: number = 1;
  constructor(
    message: string,
    readonly where: Where = {},
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** One readable block: "file:line: message\n  hint: ...". */
  render(): string {
    const loc = formatWhere(this.where);
    const head = loc ? `${loc}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  hint: ${this.hint}` : head;
  }
}

/** kiln.toml / kiln.lock / fragment / preset problems the user must fix. */
export class ProjectError extends KilnError {}
/** The lock and the project disagree, or a locked pin cannot be had. */
export class LockError extends KilnError {}
/** Fetching, verifying or unpacking a source failed. */
export class SourceError extends KilnError {}
/** A host tool is missing or unusable. */
export class HostError extends KilnError {}
/** An infrastructure failure (subprocess crashed, disk, network). */
export class InfraError extends KilnError {}

/** The kernel build itself failed: exit 2. */
export class BuildFailure extends KilnError {
  override readonly exitCode = 2;
}
/** A gate (patches, config, boot, repro) failed: exit 2. */
export class GateFailure extends KilnError {
  override readonly exitCode = 2;
}

export function formatWhere(w: Where): string {
  const parts: string[] = [];
  if (w.file) parts.push(w.line ? `${w.file}:${w.line}` : w.file);
  if (w.url) parts.push(w.url);
  if (w.symbol) parts.push(w.symbol);
  return parts.join(": ");
}
