/** Small self-contained SVG charts (line and grouped bar) for the benchmark report; no dependencies. */

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { top: 56, right: 20, bottom: 56, left: 72 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1000) return `${Math.round(value / 100) / 10}k`.replace('.0k', 'k');
  if (abs >= 10) return String(Math.round(value));
  if (abs >= 1) return String(Math.round(value * 10) / 10);
  return String(Math.round(value * 1000) / 1000);
}

/** "Nice" linear ticks covering [lo, hi]. */
function linearTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

/** 1-2-5 ticks for a log axis over [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

function frame(title: string, xLabel: string, yLabel: string, body: string[], width = WIDTH): string {
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="${MARGIN.left + (width - MARGIN.left - MARGIN.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** One row of swatches between the title and the plot, so it never covers data. */
function legend(names: readonly string[]): string[] {
  let x = MARGIN.left;
  return names.map((name, i) => {
    const item = `<rect x="${x}" y="33" width="14" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 20}" y="42">${esc(name)}</text>`;
    x += 34 + name.length * 6.5;
    return item;
  });
}

export interface LineSeries {
  name: string;
  points: { x: number; y: number; label?: string }[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logY?: boolean;
  /** Fixed x range; default: the data's range padded a little. */
  xDomain?: [number, number];
}

/** Points joined by lines, one colour per series; optional log y axis (ann-benchmarks style for q/s). */
export function lineChart(o: LineChartOptions): string {
  const all = o.series.flatMap((s) => s.points);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xs = all.map((p) => p.x);
  let [x0, x1] = o.xDomain ?? [Math.min(...xs), Math.max(...xs)];
  if (!o.xDomain) {
    const pad = (x1 - x0 || 1) * 0.05;
    [x0, x1] = [x0 - pad, x1 + pad];
  }
  const ys = all.map((p) => p.y).filter((y) => y > 0);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (o.logY) {
    y0 = 10 ** Math.floor(Math.log10(y0));
    y1 = 10 ** Math.ceil(Math.log10(y1));
  } else {
    y0 = 0;
    y1 *= 1.1;
  }
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = o.logY
    ? (y: number) => MARGIN.top + plotH - ((Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0) || 1)) * plotH
    : (y: number) => MARGIN.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const body: string[] = [];
  for (const t of o.logY ? logTicks(y0, y1) : linearTicks(y0, y1)) {
    body.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${MARGIN.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of linearTicks(x0, x1)) {
    if (t < x0 || t > x1) continue;
    body.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#f0f0f0"/>`);
    body.push(`<text x="${sx(t).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  body.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => !o.logY || p.y > 0).sort((a, b) => a.x - b.x);
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    // Dense series (time lines) read better as a plain line.
    for (const p of pts.length <= 30 ? pts : []) {
      body.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${color}"><title>${esc(`${s.name}: ${p.label ?? ''} x=${p.x} y=${p.y}`)}</title></circle>`);
      // Labels sit below their point (clear of the line to the next one); near the right edge they go left so they stay inside.
      const right = sx(p.x) > WIDTH - MARGIN.right - 70;
      if (p.label) body.push(`<text x="${(sx(p.x) + (right ? -6 : 6)).toFixed(1)}" y="${(sy(p.y) + 16).toFixed(1)}" font-size="10" fill="${color}"${right ? ' text-anchor="end"' : ''}>${esc(p.label)}</text>`);
    }
  });
  body.push(...legend(o.series.map((s) => s.name)));
  return frame(o.title, o.xLabel, o.yLabel, body);
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  xLabel?: string;
  /** One bar per series inside each group. */
  seriesNames: string[];
  groups: { label: string; values: (number | null)[] }[];
}

/** Grouped vertical bars with the value written above each bar. */
export function barChart(o: BarChartOptions): string {
  // Wide enough that group labels (up to ~20 characters) do not run into each other.
  const width = Math.max(WIDTH, MARGIN.left + MARGIN.right + o.groups.length * 130);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = Math.max(...o.groups.flatMap((g) => g.values.filter((v): v is number => v !== null)), 0) * 1.15 || 1;
  const sy = (y: number) => MARGIN.top + plotH - (y / max) * plotH;
  const groupW = plotW / Math.max(1, o.groups.length);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(1, o.seriesNames.length));
  const body: string[] = [];
  for (const t of linearTicks(0, max)) {
    if (t > max) continue;
    body.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    body.push(`<text x="${MARGIN.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  o.groups.forEach((g, gi) => {
    const start = MARGIN.left + gi * groupW + (groupW - barW * o.seriesNames.length) / 2;
    g.values.forEach((v, si) => {
      if (v === null) return;
      const x = start + si * barW;
      body.push(`<rect x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(MARGIN.top + plotH - sy(v)).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${g.label} · ${o.seriesNames[si]}: ${v}`)}</title></rect>`);
      body.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(sy(v) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(v)}</text>`);
    });
    body.push(`<text x="${(MARGIN.left + gi * groupW + groupW / 2).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" font-size="11">${esc(g.label)}</text>`);
  });
  body.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#888"/>`);
  if (o.seriesNames.length > 1) body.push(...legend(o.seriesNames));
  return frame(o.title, o.xLabel ?? '', o.yLabel, body, width);
}
