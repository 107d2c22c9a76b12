// Plain-text tables for the terminal. Cells that have no figure say why:
// 'skip' (with the reason listed under the table) or 'error' (likewise).

/** Columns padded to their widest cell; the first left-aligned, the rest right-aligned. */
export function formatTable(headers, rows) {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells) => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fixed = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (a, b) => (a > 0 && b > 0 ? `${fixed(a / b)}×` : '—');
const cell = (r, value) => (!r ? '—' : r.skipped ? 'skip' : r.error ? 'error' : fixed(value(r)));
const figure = (r, value) => (r && !r.skipped && !r.error ? value(r) : NaN);
const who = (r) => `${r.impl} ${r.threads}T`;

/** The training table's engine cell: PyTorch's thread settings are named (see bench/run.mjs, lib/cnn-plan.mjs). */
export const engineLabel = (r) => (r.variant === 'blas-threads' ? 'torch, 1 op thread'
  : r.variant === 'op-threads' ? 'torch, 1 BLAS thread' : r.impl);

/**
 * The reasons behind 'skip' and 'error' cells, one line per reason. An
 * implementation whose every cell shares the reason is named alone; otherwise
 * the cells are listed.
 */
function notes(results, describe) {
  const byReason = new Map();
  for (const r of results) {
    const reason = r.skipped ?? r.error;
    if (reason === undefined) continue;
    const key = `${r.skipped ? 'skipped' : 'error'}: ${reason}`;
    byReason.set(key, [...(byReason.get(key) ?? []), r]);
  }
  return [...byReason].map(([key, rs]) => {
    const impls = [...new Set(rs.map((r) => r.impl))];
    const whole = impls.every((impl) => results.every((r) => r.impl !== impl || rs.includes(r)));
    const what = whole ? impls.join(', ') : rs.map((r) => [who(r), describe(r)].filter(Boolean).join(' ')).join(', ');
    return `  ${what} — ${key}`;
  });
}

/**
 * GEMM: one row per shape; a column per (implementation, threads), then
 * native/js at each thread count and native/BLAS at equal threads.
 */
export function gemmReport(results, threadSets, stat) {
  const value = (r) => (stat === 'best' ? r.gflopsBest : r.gflops);
  const find = (shape, impl, threads) => results.find((r) => r.shape.name === shape && r.impl === impl && r.threads === threads);
  const shapes = [...new Set(results.map((r) => r.shape.name))];
  const headers = ['shape m×n×k', ...threadSets.map((t) => `native ${t}T`), 'js 1T', ...threadSets.map((t) => `blas ${t}T`),
    ...threadSets.map((t) => `nat${t}/js`), ...threadSets.map((t) => `nat${t}/blas${t}`)];
  const rows = shapes.map((shape) => {
    const js = figure(find(shape, 'js', 1), value);
    return [
      shape,
      ...threadSets.map((t) => cell(find(shape, 'native', t), value)),
      cell(find(shape, 'js', 1), value),
      ...threadSets.map((t) => cell(find(shape, 'blas', t), value)),
      ...threadSets.map((t) => ratio(figure(find(shape, 'native', t), value), js)),
      ...threadSets.map((t) => ratio(figure(find(shape, 'native', t), value), figure(find(shape, 'blas', t), value))),
    ];
  });
  return [formatTable(headers, rows), ...notes(results, (r) => r.shape.name)].join('\n');
}

/**
 * A training table (MLP or CNN): one row per (implementation, threads), with ratios to the JS
 * engine, to each tfjs backend (single-threaded in Node, so every row is
 * compared with its one figure; DESIGN.md: js ≥ 3× tfjs-cpu), to PyTorch at
 * equal threads — its faster setting when two ran at that count — and to
 * PyTorch's best figure at any thread count. A row is not compared with itself.
 */
export function trainingReport(results) {
  const find = (impl, threads) => results.find((r) => r.impl === impl && r.threads === threads);
  const sps = (r) => r.samplesPerSec;
  const torchFigures = (threads) => results.filter((r) => r.impl === 'torch' && (threads === undefined || r.threads === threads))
    .map((r) => figure(r, sps)).filter((v) => v > 0);
  const torchBest = Math.max(-Infinity, ...torchFigures());
  const against = [['×js', 'js'], ['×tfjs-cpu', 'tfjs-cpu'], ['×tfjs-wasm', 'tfjs-wasm']];
  const headers = ['engine', 'threads', 'samples/s', 'epochs×rows', ...against.map(([h]) => h), '×torch', '×torch best',
    'loop p99', 'data'];
  const rows = results.map((r) => {
    const mine = figure(r, sps);
    const torch = r.impl === 'torch' ? NaN : Math.max(-Infinity, ...torchFigures(r.threads));
    const ok = !r.skipped && !r.error;
    return [
      engineLabel(r), String(r.threads), cell(r, sps),
      ok ? `${r.epochs}×${r.rows}` : '—',
      ...against.map(([, impl]) => (r.impl === impl ? '—' : ratio(mine, figure(find(impl, 1), sps)))),
      ratio(mine, torch),
      r.impl === 'torch' ? '—' : ratio(mine, torchBest),
      ok && r.eventLoopP99Ms !== undefined ? `${r.eventLoopP99Ms.toFixed(1)} ms` : '—',
      ok ? r.dataset : '—',
    ];
  });
  const ran = (variant) => results.some((r) => r.variant === variant && !r.skipped);
  const variants = [
    ...(ran('blas-threads') ? ['  torch, 1 op thread: torch.set_num_threads(1) over an OpenBLAS on every thread — PyTorch\'s fastest ' +
      'multi-core setting for the MLPs on this machine (its own threads and OpenBLAS\'s oversubscribe the cores otherwise).'] : []),
    ...(ran('op-threads') ? ['  torch, 1 BLAS thread: torch.set_num_threads(n) (its oneDNN convolutions) over a single-threaded ' +
      'OpenBLAS (its Linear layers). ×torch compares with the fastest torch setting at the same thread count.'] : []),
  ];
  return [formatTable(headers, rows), ...variants, ...notes(results, () => '')].join('\n');
}

/** The note under the CNN table on the library it leaves out. */
export const CNN_LEFT_OUT = '  brain.js is not in this table: it has no convolution layers (its NeuralNetwork is dense layers only).';
