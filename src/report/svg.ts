/**
 * The report's charts: inline SVG strings written by kiln (no chart library, no fonts, no
 * network). Every series is told apart by a fill pattern and a text label as well as by colour,
 * so a chart reads the same printed in grey or by someone who does not see the colours.
 * Pure: numbers in, markup out; every text from inputs goes through esc().
 */

/** HTML/XML escape for text and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A fill: a colour and a pattern drawn over it. */
export interface Fill {
  colour: string;
  pattern: "solid" | "hatch" | "cross" | "dots" | "vertical" | "horizontal";
}

export const FILLS: Fill[] = [
  { colour: "#3b6ea8", pattern: "solid" },
  { colour: "#d08a2c", pattern: "hatch" },
  { colour: "#4f9a5b", pattern: "dots" },
  { colour: "#9a4f8f", pattern: "cross" },
  { colour: "#8a8a8a", pattern: "vertical" },
  { colour: "#b23b3b", pattern: "horizontal" },
];

/** <defs> with one pattern per fill, ids prefixed by the chart's id. */
function defs(id: string, fills: readonly Fill[]): string {
  const p = fills.map((f, i) => {
    const pid = `${id}-p${i}`;
    const mark =
      f.pattern === "hatch" ? `<path d="M0,6 L6,0" stroke="#fff" stroke-width="1.6"/>`
      : f.pattern === "cross" ? `<path d="M0,0 L6,6 M0,6 L6,0" stroke="#fff" stroke-width="1.2"/>`
      : f.pattern === "dots" ? `<circle cx="3" cy="3" r="1.3" fill="#fff"/>`
      : f.pattern === "vertical" ? `<path d="M3,0 L3,6" stroke="#fff" stroke-width="1.6"/>`
      : f.pattern === "horizontal" ? `<path d="M0,3 L6,3" stroke="#fff" stroke-width="1.6"/>`
      : "";
    const bg = `<rect width="6" height="6" fill="${f.colour}"/>`;
    return `<pattern id="${pid}" width="6" height="6" patternUnits="userSpaceOnUse">${bg}${mark}</pattern>`;
  });
  return `<defs>${p.join("")}</defs>`;
}

function fillRef(id: string, i: number): string {
  return `url(#${id}-p${i})`;
}

/** Rounded, human tick steps (1, 2, 5 x 10^n) for an axis up to max. */
export function ticks(max: number, target = 6): number[] {
  if (!(max > 0)) return [0];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const FONT = `font-family="DejaVu Sans, Verdana, sans-serif"`;

function legend(id: string, items: readonly { label: string; fill: number }[], x: number, y: number): string {
  let cx = x;
  return items
    .map((it) => {
      const s = `<rect x="${cx}" y="${y - 10}" width="14" height="12" fill="${fillRef(id, it.fill)}" stroke="#333" stroke-width="0.6"/><text x="${cx + 19}" y="${y}" font-size="12" ${FONT}>${esc(it.label)}</text>`;
      cx += 30 + it.label.length * 7;
      return s;
    })
    .join("");
}

export interface GanttRow {
  label: string;
  /** Start offset and length, in the chart's unit. */
  start: number;
  length: number;
  /** Index into FILLS. */
  fill: number;
  /** Text at the end of the bar (a duration, "skipped: why"). */
  note: string;
}

/** Horizontal bars on one time axis, one row per item (the step timeline). */
export function gantt(id: string, rows: readonly GanttRow[], o: { unit: string; scale: number; legend: { label: string; fill: number }[]; width?: number }): string {
  const W = o.width ?? 960;
  const labelW = 170;
  const noteW = 250;
  const rowH = 22;
  const top = 28;
  const plotW = W - labelW - noteW - 10;
  const max = Math.max(1e-9, ...rows.map((r) => r.start + r.length));
  const x = (v: number) => labelW + (v / max) * plotW;
  const H = top + rows.length * rowH + 34;
  const axis = ticks(max / o.scale).map((t) => {
    const px = x(t * o.scale);
    return `<line x1="${px}" y1="${top - 4}" x2="${px}" y2="${H - 30}" stroke="#ddd"/><text x="${px}" y="${H - 14}" font-size="11" text-anchor="middle" ${FONT}>${esc(`${t} ${o.unit}`)}</text>`;
  });
  const bars = rows.map((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(r.length > 0 ? 1.5 : 0, (r.length / max) * plotW);
    const bar = w > 0 ? `<rect x="${x(r.start)}" y="${y + 3}" width="${w}" height="${rowH - 8}" fill="${fillRef(id, r.fill)}" stroke="#333" stroke-width="0.6"><title>${esc(`${r.label}: ${r.note}`)}</title></rect>` : "";
    return (
      `<text x="${labelW - 8}" y="${y + 15}" font-size="12" text-anchor="end" ${FONT}>${esc(r.label)}</text>` +
      bar +
      `<text x="${Math.min(x(r.start) + w + 6, W - noteW)}" y="${y + 15}" font-size="11" fill="#333" ${FONT}>${esc(r.note)}</text>`
    );
  });
  return (
    `<svg id="${id}" class="chart" role="img" aria-label="${esc(`timeline of ${rows.length} rows`)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    defs(id, FILLS) +
    legend(id, o.legend, labelW, 14) +
    axis.join("") +
    bars.join("") +
    `</svg>`
  );
}

/**
 * A cumulative count over x (a step line) with per-bin bars under it: the compile timeline.
 * xs are in the chart's unit (seconds, or a position), sorted or not.
 */
export function cumulative(id: string, xs: readonly number[], o: { xLabel: string; yLabel: string; xMax: number; bins: number[]; binLabel: string; width?: number }): string {
  const W = o.width ?? 960;
  const H = 300;
  const L = 60;
  const R = 40;
  const T = 30;
  const B = 50;
  const pw = W - L - R;
  const ph = H - T - B;
  const sorted = [...xs].sort((a, b) => a - b);
  const n = sorted.length;
  const xMax = Math.max(o.xMax, sorted[n - 1] ?? 0, 1e-9);
  const X = (v: number) => L + (v / xMax) * pw;
  const Y = (v: number) => T + ph - (v / Math.max(1, n)) * ph;
  let d = `M${X(0).toFixed(1)},${Y(0).toFixed(1)}`;
  sorted.forEach((v, i) => {
    d += ` L${X(v).toFixed(1)},${Y(i).toFixed(1)} L${X(v).toFixed(1)},${Y(i + 1).toFixed(1)}`;
  });
  d += ` L${X(xMax).toFixed(1)},${Y(n).toFixed(1)}`;
  const binMax = Math.max(1, ...o.bins);
  const bw = pw / Math.max(1, o.bins.length);
  const bars = o.bins
    .map((c, i) => {
      const h = (c / binMax) * (ph * 0.45);
      return c ? `<rect x="${(L + i * bw + 0.5).toFixed(1)}" y="${(T + ph - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${fillRef(id, 1)}" stroke="#555" stroke-width="0.4"><title>${esc(`${c} ${o.binLabel}`)}</title></rect>` : "";
    })
    .join("");
  const binTop = T + ph - ph * 0.45;
  const rightAxis = o.bins.length
    ? `<line x1="${L + pw}" y1="${binTop}" x2="${L + pw + 5}" y2="${binTop}" stroke="#555"/><text x="${L + pw + 7}" y="${binTop + 4}" font-size="11" ${FONT}>${esc(binMax)}</text><line x1="${L + pw}" y1="${T + ph}" x2="${L + pw + 5}" y2="${T + ph}" stroke="#555"/><text x="${L + pw + 7}" y="${T + ph + 4}" font-size="11" ${FONT}>0</text>`
    : "";
  const xt = ticks(xMax).map((t) => `<line x1="${X(t)}" y1="${T}" x2="${X(t)}" y2="${T + ph}" stroke="#e4e4e4"/><text x="${X(t)}" y="${T + ph + 16}" font-size="11" text-anchor="middle" ${FONT}>${esc(t)}</text>`);
  const yt = ticks(n, 5).map((t) => `<line x1="${L}" y1="${Y(t)}" x2="${L + pw}" y2="${Y(t)}" stroke="#e4e4e4"/><text x="${L - 6}" y="${Y(t) + 4}" font-size="11" text-anchor="end" ${FONT}>${esc(t)}</text>`);
  return (
    `<svg id="${id}" class="chart" role="img" aria-label="${esc(`${n} units of work over ${o.xLabel}`)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    defs(id, FILLS) +
    xt.join("") +
    yt.join("") +
    bars +
    `<path d="${d}" fill="none" stroke="#1d3f66" stroke-width="2"/>` +
    `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>` +
    rightAxis +
    `<text x="${L + pw / 2}" y="${H - 10}" font-size="12" text-anchor="middle" ${FONT}>${esc(o.xLabel)}</text>` +
    `<text x="14" y="${T + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${T + ph / 2})" ${FONT}>${esc(o.yLabel)}</text>` +
    legend(id, [{ label: `${o.yLabel} (line, total so far)`, fill: 0 }, { label: o.binLabel, fill: 1 }], L, 16).replace(`fill="url(#${id}-p0)"`, `fill="#1d3f66"`) +
    `</svg>`
  );
}

export interface StackRow {
  label: string;
  /** Segment lengths in order; each uses FILLS[index]. */
  segments: number[];
  note: string;
}

/** Horizontal stacked bars (boot phases, sizes by part). */
export function stacked(
  id: string,
  rows: readonly StackRow[],
  o: { unit: string; legend: string[]; width?: number; format?: (v: number) => string; fills?: number[]; segmentText?: (seg: number, value: number) => string },
): string {
  const W = o.width ?? 960;
  const labelW = 210;
  const noteW = 170;
  const rowH = 26;
  const top = 30;
  const plotW = W - labelW - noteW - 10;
  const max = Math.max(1e-9, ...rows.map((r) => r.segments.reduce((a, b) => a + b, 0)));
  const H = top + rows.length * rowH + 34;
  const fmt = o.format ?? ((v: number) => `${v}`);
  const x = (v: number) => labelW + (v / max) * plotW;
  const fillOf = (k: number) => (o.fills?.[k] ?? k) % FILLS.length;
  const axis = ticks(max).map((t) => `<line x1="${x(t)}" y1="${top - 4}" x2="${x(t)}" y2="${H - 30}" stroke="#e4e4e4"/><text x="${x(t)}" y="${H - 14}" font-size="11" text-anchor="middle" ${FONT}>${esc(`${fmt(t)}${o.unit}`)}</text>`);
  const bars = rows.map((r, i) => {
    const y = top + i * rowH;
    let at = 0;
    const segs = r.segments.map((s, k) => {
      const w = Math.max(1, (s / max) * plotW);
      const text = o.segmentText?.(k, s) ?? "";
      const label = text && w > text.length * 7 + 8 ? `<text x="${x(at) + w / 2}" y="${y + 17}" font-size="11" text-anchor="middle" ${FONT} paint-order="stroke" stroke="#fff" stroke-width="3">${esc(text)}</text>` : "";
      const seg = s > 0 ? `<rect x="${x(at)}" y="${y + 4}" width="${w}" height="${rowH - 9}" fill="${fillRef(id, fillOf(k))}" stroke="#333" stroke-width="0.6"><title>${esc(`${r.label}: ${o.legend[k] ?? k} ${fmt(s)}${o.unit}`)}</title></rect>${label}` : "";
      at += s;
      return seg;
    });
    return `<text x="${labelW - 8}" y="${y + 17}" font-size="12" text-anchor="end" ${FONT}>${esc(r.label)}</text>${segs.join("")}<text x="${x(at) + 6}" y="${y + 17}" font-size="11" ${FONT}>${esc(r.note)}</text>`;
  });
  return (
    `<svg id="${id}" class="chart" role="img" aria-label="${esc(`${rows.length} bars: ${o.legend.join(", ")}`)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    defs(id, FILLS) +
    legend(id, o.legend.map((label, k) => ({ label, fill: fillOf(k) })), labelW, 16) +
    axis.join("") +
    bars.join("") +
    `</svg>`
  );
}
