// The training benchmark as a standalone SVG bar chart: samples/s per library
// and thread count, one panel per network, on a log scale (the figures span
// four orders of magnitude, from brain.js to the native engine).

import { engineLabel } from './report.mjs';

const COLORS = { native: '#1f77b4', js: '#6baed6', torch: '#d62728', 'tfjs-cpu': '#ff7f0e', 'tfjs-wasm': '#fdae6b', 'brain.js': '#2ca02c' };
const ROW = 22;
const LEFT = 180;
const WIDTH = 760;
const PLOT = WIDTH - LEFT - 90;

export function trainingChart(results, nets) {
  const ok = results.filter((r) => !r.skipped && !r.error && r.samplesPerSec > 0);
  const max = Math.max(10, ...ok.map((r) => r.samplesPerSec));
  const min = Math.min(max / 10, ...ok.map((r) => r.samplesPerSec));
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const x = (v) => LEFT + ((Math.log10(v) - lo) / (hi - lo)) * PLOT;
  const parts = [];
  let y = 40;
  for (const net of nets) {
    const rows = results.filter((r) => r.net === net);
    if (rows.length === 0) continue;
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="bold">${net}, samples/s (log scale)</text>`);
    y += 12;
    const top = y;
    for (const r of rows) {
      const label = `${engineLabel(r)}${r.impl === 'native' || r.impl === 'torch' ? ` ${r.threads}T` : ''}`;
      parts.push(`<text x="${LEFT - 8}" y="${y + 15}" text-anchor="end">${label}</text>`);
      if (r.skipped || r.error || !(r.samplesPerSec > 0)) {
        parts.push(`<text x="${LEFT + 4}" y="${y + 15}" fill="#888">${r.skipped ? 'skipped' : 'error'}</text>`);
      } else {
        const w = Math.max(1, x(r.samplesPerSec) - LEFT);
        parts.push(`<rect x="${LEFT}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${COLORS[r.impl] ?? '#999'}"/>`);
        parts.push(`<text x="${(LEFT + w + 4).toFixed(1)}" y="${y + 15}">${Math.round(r.samplesPerSec).toLocaleString('en-US')}</text>`);
      }
      y += ROW;
    }
    for (let e = lo; e <= hi; e++) {
      const gx = x(10 ** e).toFixed(1);
      parts.push(`<line x1="${gx}" x2="${gx}" y1="${top}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${gx}" y="${y + 14}" text-anchor="middle" fill="#555">${(10 ** e).toLocaleString('en-US')}</text>`);
    }
    y += 40;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="10" y="20" font-size="15" font-weight="bold">fastmlp training benchmark (float32, Adam)</text>`,
    ...parts,
    '</svg>',
  ].join('\n') + '\n';
}
