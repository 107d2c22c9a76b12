// The main job: train an MLP on the bundled 8×8 digits with both engines and
// print loss and test accuracy. Run: npm run digits  (or: npm run digits -- js)
import { Sequential, Dense, optim, backend } from 'fastmlp';
import { loadDigits } from './digits-data.mjs';

const { trainX, trainY, testX, testY } = loadDigits();
const engines = process.argv[2] ? [process.argv[2]] : ['native', 'js'];
console.log(`digits: ${trainX.length} training and ${testX.length} test images, 64 pixels, 10 classes`);

for (const engine of engines) {
  const info = backend(engine);
  const model = new Sequential([
    new Dense(64, 128, { activation: 'relu' }),
    new Dense(128, 64, { activation: 'relu' }),
    new Dense(64, 10),
  ], { engine, seed: 42 });
  model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }), metrics: ['accuracy'] });
  console.log(`\nengine ${info.engine} (${info.isa}, ${info.threads} thread(s)), ${model.paramCount} parameters`);

  const t0 = performance.now();
  const { history } = await model.fit(trainX, trainY, { epochs: 30, batchSize: 32, shuffle: true });
  const seconds = (performance.now() - t0) / 1000;
  for (const e of [0, 9, 19, 29]) {
    console.log(`  epoch ${e + 1}: loss ${history.loss[e].toFixed(4)}, train accuracy ${(100 * history.accuracy[e]).toFixed(1)} %`);
  }
  const test = model.evaluate(testX, testY);
  console.log(`  test loss ${test.loss.toFixed(4)}, test accuracy ${(100 * test.accuracy).toFixed(1)} % (${seconds.toFixed(2)} s)`);
}
