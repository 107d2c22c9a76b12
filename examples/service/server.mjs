// A small HTTP service that trains in the background and answers predictions
// meanwhile. Training runs with `await model.fit(...)` (on a worker thread in the
// native engine, so the event loop stays free); predictions are served by a
// second model that receives a snapshot of the weights after every epoch, so a
// request never waits for training and never sees half-updated weights.
//
//   node examples/service/server.mjs [port]       (default 3000; 0 = any free port)
//   curl localhost:3000/status
//   curl -X POST localhost:3000/predict -d '{"x": [[0,0,5,13,9,1,0,0, ...64 pixels 0-16]]}'
import { createServer } from 'node:http';
import { Sequential, Dense } from 'fastmlp';
import { loadDigits } from '../digits-data.mjs';

const EPOCHS = Number(process.env.EPOCHS ?? 40);
const ENGINE = process.env.FASTMLP_ENGINE ?? 'auto';   // 'native' | 'js' | 'auto'

function buildModel() {
  return new Sequential([
    new Dense(64, 128, { activation: 'relu' }),
    new Dense(128, 10),
  ], { seed: 7, engine: ENGINE });
}

const trainer = buildModel();
const server = buildModel();   // serves predictions from the latest snapshot
trainer.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });
server.compile({ loss: 'cross-entropy', optimizer: 'adam', metrics: ['accuracy'] });

const status = { state: 'training', epoch: 0, epochs: EPOCHS, loss: null, accuracy: null, testAccuracy: null };
const { trainX, trainY, testX, testY } = loadDigits();

async function train() {
  await trainer.fit(trainX, trainY, {
    epochs: EPOCHS, batchSize: 32,
    onEpochEnd: (epoch, logs) => {
      server.setWeights(trainer.getWeights());
      Object.assign(status, { epoch: epoch + 1, loss: logs.loss, accuracy: logs.accuracy });
    },
  });
  status.testAccuracy = server.evaluate(testX, testY).accuracy;
  status.state = 'done';
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 1e6) reject(new RangeError('request body over 1 MB'));
    });
    req.on('end', () => {
      try { resolve(JSON.parse(body)); } catch { reject(new TypeError('request body is not JSON')); }
    });
    req.on('error', reject);
  });
}

function send(res, code, obj) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

const http = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/status') return send(res, 200, status);
    if (req.method === 'POST' && req.url === '/predict') {
      const { x } = await readJson(req) ?? {};
      // Check the body's shape before touching it; predict checks widths and values.
      if (!Array.isArray(x) || !x.every(Array.isArray)) throw new TypeError('Expected rows of 64 pixels for x, as {"x": [[...], ...]}');
      const scaled = x.map((row) => row.map((v) => v / 16));   // pixels 0–16, as the training data
      const out = server.predict(scaled);
      const labels = [];
      for (let r = 0; r < out.rows; r++) {
        const row = out.data.subarray(r * out.cols, (r + 1) * out.cols);
        labels.push(row.indexOf(Math.max(...row)));
      }
      return send(res, 200, { labels, epoch: status.epoch });
    }
    send(res, 404, { error: `no route ${req.method} ${req.url}` });
  } catch (err) {
    send(res, err instanceof TypeError || err instanceof RangeError ? 400 : 500, { error: err.message });
  }
});

http.listen(Number(process.argv[2] ?? 3000), () => {
  console.log(`listening on ${http.address().port}`);
  train().then(
    () => console.log(`training done: test accuracy ${(100 * status.testAccuracy).toFixed(1)} %`),
    (err) => { status.state = 'failed'; console.error('training failed:', err.message); },
  );
});
