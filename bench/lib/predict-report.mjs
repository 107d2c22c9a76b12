// The inference benchmark's outputs (bench/predict.mjs): a Markdown table per
// network and a standalone SVG bar chart of samples/s, one panel per network
// and batch size, on a log scale (brain.js to native spans ~4 decades).

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
const ROW = 20;
const LEFT = 200;
const WIDTH = 760;
const PLOT = WIDTH - LEFT - 90;

export function predictChart(results, nets, batches, impls) {
  const good = results.filter((r) => ok(r) && r.samplesPerSec > 0);
  const lo = Math.floor(Math.log10(Math.min(...good.map((r) => r.samplesPerSec), 10)));
  const hi = Math.ceil(Math.log10(Math.max(...good.map((r) => r.samplesPerSec), 100)));
  const x = (v) => LEFT + ((Math.log10(v) - lo) / (hi - lo)) * PLOT;
  const parts = [];
  let y = 40;
  for (const net of nets) {
    for (const batch of batches) {
      const rows = impls.map((impl) => ({ impl, r: results.find((r) => r.net === net && r.batch === batch && r.impl === impl.id) }))
        .filter(({ r }) => r && !r.skipped);
      if (rows.length === 0) continue;
      parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${net}, batch ${batch}: samples/s (log scale)</text>`);
      y += 8;
      const top = y;
      for (const { impl, r } of rows) {
        parts.push(`<text x="${LEFT - 8}" y="${y + 14}" text-anchor="end">${impl.label}</text>`);
        if (!ok(r)) {
          parts.push(`<text x="${LEFT + 4}" y="${y + 14}" fill="#888">error</text>`);
        } else {
          const w = Math.max(1, x(r.samplesPerSec) - LEFT);
          parts.push(`<rect x="${LEFT}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${COLORS[impl.id] ?? '#999'}"/>`);
          parts.push(`<text x="${(LEFT + w + 4).toFixed(1)}" y="${y + 14}">${Math.round(r.samplesPerSec).toLocaleString('en-US')}</text>`);
        }
        y += ROW;
      }
      for (let e = lo; e <= hi; e++) {
        const gx = x(10 ** e).toFixed(1);
        parts.push(`<line x1="${gx}" x2="${gx}" y1="${top}" y2="${y}" stroke="#ddd"/>`);
        parts.push(`<text x="${gx}" y="${y + 13}" text-anchor="middle" fill="#555">${(10 ** e).toLocaleString('en-US')}</text>`);
      }
      y += 36;
    }
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    '<text x="10" y="20" font-size="15" font-weight="bold">fastmlp inference benchmark (float32, 1 thread)</text>',
    ...parts,
    '</svg>',
  ].join('\n') + '\n';
}
