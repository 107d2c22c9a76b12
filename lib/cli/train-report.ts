// The test-part report of `fastmlp train`, from figures the in-memory path
// (train.ts) and the streamed path (train-stream.ts) compute each their way.

/** Accuracy, then the confusion matrix with the class names as row and column labels. */
export function classReport(cm: number[][], classNames: string[], rows: number): string {
  const correct = cm.reduce((s, row, i) => s + row[i]!, 0);
  const lines = [`test accuracy: ${(100 * correct / rows).toFixed(2)} % (${correct}/${rows})`,
    'confusion matrix (rows: true class, columns: predicted):'];
  const width = Math.max(4, ...classNames.map((n) => n.length), ...cm.flat().map((v) => String(v).length)) + 1;
  const labelWidth = Math.max(...classNames.map((n) => n.length)) + 2;
  lines.push(' '.repeat(labelWidth) + classNames.map((n) => n.padStart(width)).join(''));
  cm.forEach((row, i) => lines.push(classNames[i]!.padEnd(labelWidth) + row.map((v) => String(v).padStart(width)).join('')));
  return lines.join('\n') + '\n';
}

/** MAE, RMSE and R² in the target's raw units. */
export function valueReport(rows: number, mae: number, rmse: number, r2: number): string {
  return `test (${rows} rows): MAE ${fmt(mae)}, RMSE ${fmt(rmse)}, R² ${r2.toFixed(4)}\n`;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
}
