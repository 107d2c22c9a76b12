// A small CNN on the bundled 8×8 digits with both engines: each row of 64
// pixels is one 1 × 8 × 8 image (NCHW, as torch's x.flatten(1)).
// Run: npm run digits:cnn  (or: npm run digits:cnn -- js)
import { Sequential, Conv2d, MaxPool2d, Dense, optim, backend } from 'fastmlp';
import { loadDigits } from './digits-data.mjs';

const { trainX, trainY, testX, testY } = loadDigits();
const engines = process.argv[2] ? [process.argv[2]] : ['native', 'js'];
console.log(`digits: ${trainX.length} training and ${testX.length} test images of 1 × 8 × 8, 10 classes`);

for (const engine of engines) {
  const info = backend(engine);
  const model = new Sequential([
    new Conv2d(1, 8, 3, { inputSize: 8, padding: 1, activation: 'relu' }),   // 8 × 8 × 8
    new MaxPool2d(2),                                                        // 8 × 4 × 4
    new Conv2d(8, 16, 3, { padding: 1, activation: 'relu' }),                // 16 × 4 × 4
    new MaxPool2d(2),                                                        // 16 × 2 × 2 = 64 values
    new Dense(64, 10),
  ], { engine, seed: 42 });
  model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 3e-3 }), metrics: ['accuracy'] });
  console.log(`\nengine ${info.engine} (${info.isa}, ${info.threads} thread(s)), ${model.paramCount} parameters`);
  console.log(model.summary());

  const t0 = performance.now();
  const { history } = await model.fit(trainX, trainY, { epochs: 20, batchSize: 32, shuffle: true });
  const seconds = (performance.now() - t0) / 1000;
  for (const e of [0, 9, 19]) {
    console.log(`  epoch ${e + 1}: loss ${history.loss[e].toFixed(4)}, train accuracy ${(100 * history.accuracy[e]).toFixed(1)} %`);
  }
  const test = model.evaluate(testX, testY);
  console.log(`  test loss ${test.loss.toFixed(4)}, test accuracy ${(100 * test.accuracy).toFixed(1)} % (${seconds.toFixed(2)} s)`);
}
