// The bundled 8×8 digits (UCI "Optical Recognition of Handwritten Digits",
// Alpaydin & Kaynak 1998, CC BY 4.0; see NOTICE), split 80/20 with a fixed seed.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** → { trainX, trainY, testX, testY }: pixels scaled to [0, 1] (number[][]), labels 0–9 (number[]). */
export function loadDigits() {
  const file = fileURLToPath(new URL('../data/digits.csv.gz', import.meta.url));
  const rows = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n')
    .map((line) => line.split(',').map(Number));
  const x = rows.map((r) => r.slice(0, 64).map((v) => v / 16));
  const y = rows.map((r) => r[64]);

  // Fisher–Yates with a small LCG, so every run uses the same split.
  const order = [...x.keys()];
  let s = 12345;
  for (let i = order.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cut = Math.floor(order.length * 0.8);
  const train = order.slice(0, cut);
  const test = order.slice(cut);
  return {
    trainX: train.map((i) => x[i]), trainY: train.map((i) => y[i]),
    testX: test.map((i) => x[i]), testY: test.map((i) => y[i]),
  };
}
