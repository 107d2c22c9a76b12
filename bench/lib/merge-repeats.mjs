// Merging the runner's results: a training case (mlp, cnn) runs in several
// alternating rounds, and its table shows the median run.

// The groups of training cases, whose repeated runs are merged and whose rows are tabulated alike.
export const TRAINING_GROUPS = ['mlp', 'cnn'];

// The order of the training table's rows.
const IMPL_ORDER = ['native', 'js', 'tfjs-cpu', 'tfjs-wasm', 'brain.js', 'torch'];

/**
 * One record per training case from its repeated runs: the run with the
 * median samples/s (the lower middle one of an even count), with every run's
 * figure in `runs`; a case with a failed run reports that run's error. Rows
 * come back in IMPL_ORDER, gemm and soak records as they were (one per
 * shape: the key holds the gemm shape, without which every shape after the
 * first was dropped from the gemm table).
 */
export function mergeRepeats(results) {
  const key = (r) => [r.group, r.net, r.shape?.name, r.impl, r.threads, r.variant ?? ''].join('|');
  const groups = new Map();
  for (const r of results) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  const merged = [...groups.values()].map((runs) => {
    if (runs.length === 1 || !TRAINING_GROUPS.includes(runs[0].group)) return runs[0];
    const failed = runs.find((r) => r.skipped || r.error);
    if (failed) return failed;
    const sorted = [...runs].sort((a, b) => a.samplesPerSec - b.samplesPerSec);
    return { ...sorted[(sorted.length - 1) >> 1], runs: runs.map((r) => r.samplesPerSec) };
  });
  const table = (r) => `${r.group}|${r.net}`;
  const tables = [...new Set(merged.map(table))];
  const rank = (r) => (TRAINING_GROUPS.includes(r.group) ? IMPL_ORDER.indexOf(r.impl) : 0);
  return merged.sort((a, b) => tables.indexOf(table(a)) - tables.indexOf(table(b)) || rank(a) - rank(b));
}
