/**
 * Progress for long work: a live bar with an ETA on a terminal (cli-progress), plain lines
 * every few seconds otherwise. The ETA comes from the rate so far against an estimated total;
 * a caller that knows the fraction of the work done (the compile counts work, not steps:
 * src/core/compile_eta.ts) passes it, and the percentage and the ETA follow it.
 */
import cliProgress from "cli-progress";
import type { Ui } from "./log.js";
import { fmtDuration } from "./log.js";
import { remainingMs } from "../core/compile_eta.js";

export interface Progress {
  /** `fraction`: the share of the work done, when the caller weighs its units (else done/total). */
  update(done: number, detail?: string, fraction?: number): void;
  setTotal(total: number): void;
  stop(final?: string): void;
}

export function makeProgress(ui: Ui, label: string, total: number, unit: string): Progress {
  const start = Date.now();
  if (ui.tty && !ui.json) {
    // the bar runs on a 0-1000 scale of the fraction done; the steps are shown as counted
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(10)} {bar} {pct}% | {steps} ${unit} | {elapsed} elapsed, ETA {etaText} | {detail}`,
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
    let frac: number | undefined;
    let tot = Math.max(total, 1);
    const f = () => Math.min(0.99, frac ?? value / tot);
    const payload = (detail = "") => ({
      detail: detail.slice(0, 40),
      pct: Math.floor(f() * 100),
      steps: `${value}/${tot}`,
      elapsed: fmtDuration(Date.now() - start),
      etaText: frac !== undefined ? etaOf(Date.now() - start, frac) : eta(start, value, tot),
    });
    bar.start(1000, 0, payload());
    return {
      update(done, detail, fraction) {
        value = done;
        frac = fraction;
        if (done >= tot) tot = done + 1;
        bar.update(Math.round(f() * 1000), payload(detail));
      },
      setTotal(t) {
        tot = Math.max(t, 1);
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
    update(done, detail, fraction) {
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      if (done >= tot) tot = done + 1;
      const pct = Math.min(99, Math.floor((fraction ?? done / tot) * 100));
      const etaText = fraction !== undefined ? etaOf(now - start, fraction) : eta(start, done, tot);
      ui.step(label, `${pct}% ${done}/${tot} ${unit}, ${fmtDuration(now - start)} elapsed, ETA ${etaText}${detail ? ` (${detail})` : ""}`);
    },
    setTotal(t) {
      tot = Math.max(t, 1);
    },
    stop(final) {
      if (final) ui.step(label, final);
    },
  };
}

/** The ETA text from the elapsed time and the fraction of the work done. */
export function etaOf(elapsedMs: number, fraction: number): string {
  const rem = remainingMs(elapsedMs, fraction);
  return rem === undefined ? "?" : fmtDuration(rem);
}

export function eta(start: number, done: number, total: number): string {
  const el = Date.now() - start;
  // Too early to tell: the first steps (host tools) run at another pace than the rest.
  if (done <= 0 || (done / Math.max(total, 1) < 0.03 && el < 20_000)) return "?";
  const rem = (el / done) * Math.max(total - done, 0);
  return fmtDuration(rem);
}
