// Per-class weights from label counts, for the class weights of
// cross-entropy, nll, bce and bce-with-logits (SPEC.md §3, notes 000).
import { toClassIndices } from './targets';
import { ArgumentRangeError, integer, number, typeError } from './validate';

/** Counts of each class in [0, numClasses) among labels (validated). */
function classCounts(labels: unknown, numClasses: unknown, name: string): { counts: Float64Array; total: number } {
  const k = integer('numClasses', numClasses, 1);
  if (!(Array.isArray(labels) || labels instanceof Int32Array)) throw typeError(name, 'an Int32Array or an array of class indices', labels);
  if (labels.length === 0) throw new ArgumentRangeError(`Expected at least one label for ${name} but received an empty array`);
  const idx = toClassIndices(labels as ArrayLike<number>, name, labels.length, k);
  const counts = new Float64Array(k);
  for (const y of idx) counts[y]++;
  return { counts, total: idx.length };
}

/**
 * Inverse-frequency weights w_c = N / (K · n_c) (scikit-learn's 'balanced'
 * class_weight): a class seen half as often weighs twice as much, and the
 * weights average to 1 over the samples. A class absent from labels gets 0
 * (it contributes no terms anyway).
 */
export function inverseFrequencyWeights(labels: Int32Array | number[], numClasses: number): Float64Array {
  const { counts, total } = classCounts(labels, numClasses, 'labels');
  return counts.map((n) => (n === 0 ? 0 : total / (counts.length * n)));
}

/**
 * Class-balanced weights w_c = (1 − β) / (1 − β^{n_c}) of Cui et al. 2019,
 * "Class-Balanced Loss Based on Effective Number of Samples" (the inverse of
 * the effective number of samples (1 − β^n)/(1 − β)); β in [0, 1): β = 0 gives
 * 1 for every class, β → 1 approaches inverse frequency. Not normalised (Cui
 * et al. rescale to sum to K; a mean-reduced loss with class indices divides
 * by the weights anyway). A class absent from labels gets 0.
 */
export function classBalancedWeights(labels: Int32Array | number[], numClasses: number, beta: number): Float64Array {
  const b = number('beta', beta, 0, 1, { maxExclusive: true });
  const { counts } = classCounts(labels, numClasses, 'labels');
  return counts.map((n) => (n === 0 ? 0 : (1 - b) / (1 - Math.pow(b, n))));
}
