// The native engine: the addon's surface already has the engine contract's
// shape, so this adapter only names it and builds plans.
import type { Engine, NetworkPlan, PlanSpec } from '../engine';
import { loadNative } from '../native';

export function createNativeEngine(): Engine {
  const binding = loadNative();
  return {
    name: 'native',
    isa: binding.isa,
    version: binding.version,
    setThreads: (n) => binding.setThreads(n),
    getThreads: () => binding.getThreads(),
    gemm: (transA, transB, m, n, k, alpha, a, b, beta, c) =>
      binding.gemm(transA, transB, m, n, k, alpha, a, b, beta, c),
    lossForward: (spec, pred, rows, cols, target) =>
      binding.lossForward(spec, pred, rows, cols, target),
    lossBackward: (spec, pred, rows, cols, target, grad) =>
      binding.lossBackward(spec, pred, rows, cols, target, grad),
    lossValues: (spec, pred, rows, cols, target, out) =>
      binding.lossValues(spec, pred, rows, cols, target, out),
    createPlan: (spec: PlanSpec): NetworkPlan => new binding.Network(spec),
  };
}
