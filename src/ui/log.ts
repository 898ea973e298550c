/**
 * Output for people: quiet by default, readable, coloured only on a terminal without NO_COLOR.
 * With --json the human lines go to stderr so stdout carries only the JSON document.
 */
export interface Ui {
  json: boolean;
  verbose: boolean;
  color: boolean;
  tty: boolean;
  info(msg: string): void;
  step(name: string, msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
  out: NodeJS.WriteStream;
}

export function makeUi(opts: { json?: boolean; verbose?: boolean; stderr?: boolean } = {}): Ui {
  const json = !!opts.json;
  // --json, or a command whose stdout belongs to something else (run --exec), talks on stderr.
  const out = json || opts.stderr ? process.stderr : process.stdout;
  const tty = !!out.isTTY;
  const color = tty && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return {
    json,
    verbose: !!opts.verbose,
    color,
    tty,
    out,
    info: (m) => out.write(`${m}\n`),
    step: (name, m) => out.write(`${paint("1", name.padEnd(10))} ${m}\n`),
    warn: (m) => process.stderr.write(`${paint("33", "warning:")} ${m}\n`),
    error: (m) => process.stderr.write(`${paint("31;1", "error:")} ${m}\n`),
    debug: (m) => {
      if (opts.verbose) process.stderr.write(`${paint("2", m)}\n`);
    },
  };
}

export function fmtDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, "0")}s`;
}

export function fmtBytes(n: number): string {
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
