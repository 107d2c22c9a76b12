// The inference benchmark's outputs (bench/predict.mjs): a Markdown table per
// network and a standalone SVG bar chart of samples/s, one panel per network
// and batch size, on a log scale (brain.js to native spans ~4 decades).

import { logBarChart } from './chart.mjs';

const fixed = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ok = (r) => r && !r.skipped && !r.error;

/** Rows of one network: impl × batch, in the order given, with the ratio to fastmlp native sync. */
export function predictTable(results, impls, batches) {
  const lines = [
    '| library | batch | median µs/call | p99 µs/call | samples/s | native sync ÷ this | max abs diff |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const notes = new Map();
  for (const batch of batches) {
    const native = results.find((r) => r.impl === 'native-sync' && r.batch === batch);
    for (const impl of impls) {
      const r = results.find((x) => x.impl === impl.id && x.batch === batch);
      if (!r) continue;
      if (!ok(r)) {
        const why = r.skipped ?? `error: ${r.error}`;
        const mark = notes.get(why) ?? `(${notes.size + 1})`;
        notes.set(why, mark);
        lines.push(`| ${impl.label} | ${batch} | ${r.skipped ? 'skip' : 'error'} ${mark} | | | | |`);
        continue;
      }
      const ratio = ok(native) ? `${(native.samplesPerSec / r.samplesPerSec).toFixed(2)}×` : '—';
      lines.push(`| ${impl.label} | ${batch} | ${fixed(r.medianUs)} | ${fixed(r.p99Us)} | ${fixed(r.samplesPerSec)} | ` +
        `${ratio} | ${r.maxAbsDiff.toExponential(1)} |`);
    }
  }
  for (const [why, mark] of notes) lines.push('', `${mark} ${why}`);
  return lines.join('\n');
}

const COLORS = { 'native-sync': '#1f77b4', 'native-async': '#4a90c8', js: '#6baed6', ort: '#9467bd',
  'tfjs-cpu': '#ff7f0e', 'tfjs-wasm': '#fdae6b', 'brain.js': '#2ca02c' };

/** bench/predict.mjs's results: samples/s per library, a panel per network and batch size. */
export function predictChart(results, nets, batches, impls) {
  const panels = nets.flatMap((net) => batches.map((batch) => ({
    heading: `${net}, batch ${batch}: samples/s (log scale)`,
    bars: impls.map((impl) => ({ impl, r: results.find((r) => r.net === net && r.batch === batch && r.impl === impl.id) }))
      .filter(({ r }) => r && !r.skipped)
      .map(({ impl, r }) => ({ label: impl.label, value: ok(r) ? r.samplesPerSec : null, color: COLORS[impl.id] })),
  })));
  return logBarChart('fastmlp inference benchmark (float32, 1 thread)', panels, { left: 200 });
}
