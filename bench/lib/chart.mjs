// The benchmarks' standalone SVG bar charts: samples/s on a log scale (the
// figures span four orders of magnitude, from brain.js to the native engine),
// one panel per network (and batch size), one bar per library.

import { engineLabel } from './report.mjs';

const ROW = 22;
const WIDTH = 760;

/**
 * A log-scale bar chart. panels: [{ heading, bars: [{ label, value, color }] }],
 * where a bar without a positive value shows `note` (e.g. 'skipped') instead;
 * left: the width of the label column.
 */
export function logBarChart(title, panels, { left = 180 } = {}) {
  const plot = WIDTH - left - 90;
  const values = panels.flatMap((p) => p.bars.map((b) => b.value)).filter((v) => v > 0);
  const max = Math.max(100, ...values);
  const min = Math.min(max / 10, ...values);
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const x = (v) => left + ((Math.log10(v) - lo) / (hi - lo)) * plot;
  const parts = [];
  let y = 40;
  for (const { heading, bars } of panels) {
    if (bars.length === 0) continue;
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="bold">${heading}</text>`);
    y += 12;
    const top = y;
    for (const bar of bars) {
      parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${bar.label}</text>`);
      if (!(bar.value > 0)) {
        parts.push(`<text x="${left + 4}" y="${y + 15}" fill="#888">${bar.note ?? 'error'}</text>`);
      } else {
        const w = Math.max(1, x(bar.value) - left);
        parts.push(`<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${bar.color ?? '#999'}"/>`);
        parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + 15}">${Math.round(bar.value).toLocaleString('en-US')}</text>`);
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
    `<text x="10" y="20" font-size="15" font-weight="bold">${title}</text>`,
    ...parts,
    '</svg>',
  ].join('\n') + '\n';
}

const TRAINING_COLORS = { native: '#1f77b4', js: '#6baed6', torch: '#d62728', 'tfjs-cpu': '#ff7f0e', 'tfjs-wasm': '#fdae6b', 'brain.js': '#2ca02c' };

/** bench/run.mjs's training results: samples/s per library and thread count, a panel per network. */
export function trainingChart(results, nets) {
  return logBarChart('fastmlp training benchmark (float32, Adam)', nets.map((net) => ({
    heading: `${net}, samples/s (log scale)`,
    bars: results.filter((r) => r.net === net).map((r) => ({
      label: `${engineLabel(r)}${r.impl === 'native' || r.impl === 'torch' ? ` ${r.threads}T` : ''}`,
      value: r.skipped || r.error ? null : r.samplesPerSec,
      note: r.skipped ? 'skipped' : 'error',
      color: TRAINING_COLORS[r.impl],
    })),
  })));
}
