/**
 * Progress for long work: a live bar with an ETA on a terminal (cli-progress), plain lines
 * every few seconds otherwise. The ETA comes from the rate so far against an estimated total.
 */
import cliProgress from "cli-progress";
import type { Ui } from "./log.js";
import { fmtDuration } from "./log.js";

export interface Progress {
  update(done: number, detail?: string): void;
  setTotal(total: number): void;
  stop(final?: string): void;
}

export function makeProgress(ui: Ui, label: string, total: number, unit: string): Progress {
  const start = Date.now();
  if (ui.tty && !ui.json) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(10)} {bar} {percentage}% | {value}/{total} ${unit} | {elapsed} elapsed, ETA {etaText} | {detail}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        stream: ui.out,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let value = 0;
    let tot = Math.max(total, 1);
    const payload = (detail = "") => ({
      detail: detail.slice(0, 40),
      elapsed: fmtDuration(Date.now() - start),
      etaText: eta(start, value, tot),
    });
    bar.start(tot, 0, payload());
    return {
      update(done, detail) {
        value = done;
        if (done >= tot) tot = done + 1;
        bar.setTotal(tot);
        bar.update(done, payload(detail));
      },
      setTotal(t) {
        tot = Math.max(t, 1);
        bar.setTotal(tot);
      },
      stop(final) {
        bar.stop();
        if (final) ui.step(label, final);
      },
    };
  }
  // Plain lines: at most one every 5 s, so logs stay readable.
  let last = 0;
  let tot = Math.max(total, 1);
  return {
    update(done, detail) {
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      if (done >= tot) tot = done + 1;
      const pct = Math.min(99, Math.floor((done / tot) * 100));
      ui.step(label, `${pct}% ${done}/${tot} ${unit}, ${fmtDuration(now - start)} elapsed, ETA ${eta(start, done, tot)}${detail ? ` (${detail})` : ""}`);
    },
    setTotal(t) {
      tot = Math.max(t, 1);
    },
    stop(final) {
      if (final) ui.step(label, final);
    },
  };
}

export function eta(start: number, done: number, total: number): string {
  const el = Date.now() - start;
  // Too early to tell: the first steps (host tools) run at another pace than the rest.
  if (done <= 0 || (done / Math.max(total, 1) < 0.03 && el < 20_000)) return "?";
  const rem = (el / done) * Math.max(total - done, 0);
  return fmtDuration(rem);
}
