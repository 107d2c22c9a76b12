// What a plan's model holds that a user can read back — parameters, buffers
// (batch norm's running statistics), optimizer state, step count, dropout
// stream, penalty — and a bit-for-bit comparison of two such snapshots, for
// the tests of an abort inside a JS batch (js-abort-in-batch.test.ts,
// js-abort-during-update.test.ts).
import { expect } from 'vitest';
import type { FloatArray, NetworkPlan } from '../lib/engine';

export interface PlanSnapshot {
  params: FloatArray;
  buffers: FloatArray;
  optimizer: FloatArray;
  steps: number;
  dropout: number[];
  penalty: number;
}

export function snapshot(p: NetworkPlan): PlanSnapshot {
  const Ctor = p.dtype === 'float32' ? Float32Array : Float64Array;
  const params = new Ctor(p.paramCount);
  const buffers = new Ctor(p.bufferCount);
  const optimizer = new Ctor(p.optimizerStateSize);
  p.getParams(params);
  p.getBuffers(buffers);
  p.getOptimizerState(optimizer);
  return { params, buffers, optimizer, steps: p.stepCount, dropout: p.getDropoutState(), penalty: p.penalty };
}

/** The bytes of an array: equal bytes are equal bits (NaN payloads and −0 included); fast on millions of values, unlike toEqual. */
export function bits(a: FloatArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Bit for bit, field by field (a mismatch names the field). */
export function expectSameSnapshot(got: PlanSnapshot, want: PlanSnapshot): void {
  for (const key of ['params', 'buffers', 'optimizer'] as const) expect(bits(got[key]).equals(bits(want[key])), key).toBe(true);
  expect(got.steps, 'steps').toBe(want.steps);
  expect(got.dropout, 'dropout').toEqual(want.dropout);
  expect(Object.is(got.penalty, want.penalty), 'penalty').toBe(true);
}

/** Sequential.getWeights of two models, bit for bit, name by name. */
export function expectSameWeights(got: Record<string, FloatArray>, want: Record<string, FloatArray>): void {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const name of Object.keys(want)) expect(bits(got[name]!).equals(bits(want[name]!)), name).toBe(true);
}
