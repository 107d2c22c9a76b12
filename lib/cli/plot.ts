// Training curves as a standalone SVG: one panel per quantity (loss, then each
// metric), train and validation series in each, so the file opens in any
// browser with no script and no external resource.

export interface Series {
  label: string;
  values: number[];
}

export interface Panel {
  title: string;
  series: Series[];
}

const WIDTH = 640;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 64, right: 150, top: 34, bottom: 42 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/** Groups a Keras-style history ({ loss, val_loss, accuracy, ... }) into panels: loss first. */
export function panelsFromHistory(history: Record<string, number[]>): Panel[] {
  const bases = [...new Set(Object.keys(history).map((k) => k.replace(/^val_/, '')))];
  bases.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : a.localeCompare(b)));
  return bases.map((base) => ({
    title: base,
    series: [base, `val_${base}`]
      .filter((k) => history[k] !== undefined && history[k]!.length > 0)
      .map((k) => ({ label: k.startsWith('val_') ? 'validation' : 'train', values: history[k]! })),
  }));
}

/** An SVG document with one line chart per panel, x = epoch (from 1). */
export function curvesSvg(panels: Panel[], title: string): string {
  const height = panels.length * PANEL_HEIGHT + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, i) => parts.push(panelSvg(panel, 30 + i * PANEL_HEIGHT)));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function panelSvg(panel: Panel, top: number): string {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = top + MARGIN.top;
  const y1 = top + PANEL_HEIGHT - MARGIN.bottom;
  const finite = panel.series.flatMap((s) => s.values.filter(Number.isFinite));
  const epochs = Math.max(1, ...panel.series.map((s) => s.values.length));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const ticks = niceTicks(lo, hi, 5);
  lo = Math.min(lo, ticks[0]!);
  hi = Math.max(hi, ticks[ticks.length - 1]!);
  const sx = (e: number) => x0 + (epochs === 1 ? 0 : ((e - 1) / (epochs - 1)) * (x1 - x0));
  const sy = (v: number) => y1 - ((v - lo) / (hi - lo)) * (y1 - y0);

  const out = [
    `<g>`,
    `<text x="${x0}" y="${top + 20}" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`,
    `<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#888"/>`,
  ];
  for (const t of ticks) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`);
  }
  for (const e of epochTicks(epochs)) {
    out.push(`<text x="${sx(e).toFixed(1)}" y="${y1 + 16}" text-anchor="middle">${e}</text>`);
  }
  out.push(`<text x="${(x0 + x1) / 2}" y="${y1 + 34}" text-anchor="middle">epoch</text>`);
  panel.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.values
      .map((v, e) => (Number.isFinite(v) ? `${sx(e + 1).toFixed(1)},${sy(v).toFixed(1)}` : null))
      .filter((p): p is string => p !== null);
    if (points.length === 1) out.push(`<circle cx="${points[0]!.split(',')[0]}" cy="${points[0]!.split(',')[1]}" r="3" fill="${color}"/>`);
    else out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    const ly = y0 + 14 + i * 18;
    const last = s.values[s.values.length - 1];
    out.push(`<line x1="${x1 + 12}" x2="${x1 + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${x1 + 38}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}${last !== undefined ? ` ${formatTick(last)}` : ''}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let t = first; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function epochTicks(epochs: number): number[] {
  const step = Math.max(1, Math.ceil(epochs / 10));
  const ticks = [];
  for (let e = 1; e <= epochs; e += step) ticks.push(e);
  if (ticks[ticks.length - 1] !== epochs) ticks.push(epochs);
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.001 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c]!));
}
