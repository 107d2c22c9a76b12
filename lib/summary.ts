// Sequential.summary()'s table: one line per layer (its description, output
// width and parameter count), then the caller's total line.
import type { Layer } from './layers';

export function formatSummary(layers: readonly Layer[], inputSize: number, totalLine: string): string {
  const names = layers.map((layer, i) => `${i}: ${layer.describe()}`);
  // 40 columns, or wider when a description (an activation's parameters) would run into the next column.
  const column = Math.max(40, ...names.map((n) => n.length + 2));
  const lines = [`${'Layer'.padEnd(column)}Output   Params`];
  let width = inputSize;
  layers.forEach((layer, i) => {
    width = layer.outFeatures(width);
    const params = layer.params().reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    lines.push(`${names[i]!.padEnd(column)}${String(width).padEnd(9)}${params}`);
  });
  lines.push(totalLine);
  return lines.join('\n');
}
