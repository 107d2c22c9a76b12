// The embedding example (examples/service): an HTTP service that trains in the
// background with `await fit` must answer predictions while it trains.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ENGINES } from './helpers';

const children: ChildProcess[] = [];
afterEach(() => { for (const c of children.splice(0)) c.kill(); });

async function startService(engine: string, epochs: number): Promise<string> {
  const child = spawn(process.execPath, ['examples/service/server.mjs', '0'], {
    env: { ...process.env, EPOCHS: String(epochs), FASTMLP_ENGINE: engine },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8');
  while (!/listening on (\d+)/.test(out)) {
    const [chunk] = await once(child.stdout!, 'data');
    out += chunk;
  }
  return `http://127.0.0.1:${/listening on (\d+)/.exec(out)![1]}`;
}

const pixels = Array.from({ length: 64 }, (_, i) => (i * 7) % 17);

describe.each(ENGINES)('examples/service on the %s engine', (engine) => {
  it('answers predictions while it trains, then reports test accuracy', async () => {
    // Enough epochs that training outlasts several request round trips on an idle machine too
    // (15 JS epochs took 0.7 s here, too few for six answers).
    const url = await startService(engine, engine === 'js' ? 40 : 400);
    let answeredWhileTraining = 0;
    const epochsSeen = new Set<number>();
    for (;;) {
      const status = await (await fetch(`${url}/status`)).json();
      if (status.state !== 'training') {
        expect(status.state).toBe('done');
        expect(status.testAccuracy).toBeGreaterThan(0.9);
        break;
      }
      const res = await fetch(`${url}/predict`, { method: 'POST', body: JSON.stringify({ x: [pixels, pixels] }) });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.labels).toHaveLength(2);
      for (const l of body.labels) expect(l >= 0 && l < 10).toBe(true);
      const after = await (await fetch(`${url}/status`)).json();
      if (after.state === 'training') {
        answeredWhileTraining++;
        epochsSeen.add(after.epoch);
      }
    }
    // Many answers, spread over several epochs of training.
    expect(answeredWhileTraining).toBeGreaterThan(5);
    expect(epochsSeen.size).toBeGreaterThan(2);
  });

  it('answers bad requests with 400 and a message', async () => {
    const url = await startService(engine, 1);
    const bad = await fetch(`${url}/predict`, { method: 'POST', body: 'not json' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/JSON/);
    const wrongWidth = await fetch(`${url}/predict`, { method: 'POST', body: JSON.stringify({ x: [[1, 2, 3]]}) });
    expect(wrongWidth.status).toBe(400);
    expect((await wrongWidth.json()).error).toMatch(/64 columns/);
    // A body without rows of numbers under "x" is the client's error too, not a 500 from x.map.
    for (const body of [{ y: 1 }, { x: 5 }, { x: [5] }, { x: [['a']] }]) {
      const res = await fetch(`${url}/predict`, { method: 'POST', body: JSON.stringify(body) });
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
      expect((await res.json()).error).toMatch(/x/);
    }
  });
});
