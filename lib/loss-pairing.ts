// A warning for the output/loss pairings that train, but wrongly: a loss that
// applies its own squashing function to logits, fed outputs that are already
// squashed. With softmax before 'cross-entropy' the loss sees probabilities as
// logits: its gradient shrinks as the model grows confident and the loss
// cannot fall below −log(e / (e + k − 1)) for k classes (0.55 for 3), so
// training stalls with every prediction right. PyTorch users know its
// CrossEntropyLoss takes logits; Keras users write softmax with
// categorical_crossentropy — Keras warns in the same case when from_logits is
// set (losses.py, "does not represent logits"), and so does fastmlp, once per
// model. A warning, not an error: the pairing is legal, and a user may mean it.
import { Activation, Dense, Dropout, type Layer } from './layers';
import type { LossName } from './engine';

export const LOSS_PAIRING_WARNING = 'FASTMLP_LOSS_PAIRING';

/** What each loss does to the model's output itself, and what to do instead. */
const SQUASHED_TWICE: Partial<Record<LossName, { squashes: string; does: string; advice: string }>> = {
  'cross-entropy': {
    squashes: 'softmax',
    does: 'applies softmax itself',
    advice: "remove the activation (predict then returns logits: apply softmax to them for probabilities), " +
      "or end with 'log-softmax' and use 'nll'",
  },
  'nll': {
    squashes: 'softmax',
    does: 'expects log-probabilities',
    advice: "end with 'log-softmax' instead, or remove the activation and use 'cross-entropy'",
  },
  'bce-with-logits': { squashes: 'sigmoid', does: 'applies sigmoid itself', advice: "remove the activation, or keep it and use 'bce'" },
  'focal': { squashes: 'sigmoid', does: 'applies sigmoid itself', advice: 'remove the activation' },
};

/** The activation that produces the model's output, looking through Dropout; null if the last such layer is not an activation. */
export function outputActivation(layers: readonly Layer[]): string | null {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    if (layer instanceof Dropout) continue;
    if (layer instanceof Dense || layer instanceof Activation) return layer.activation;
    return null;
  }
  return null;
}

/** The warning's text for this pairing, or null when the pairing is fine. */
export function lossPairingProblem(layers: readonly Layer[], loss: LossName): string | null {
  const rule = SQUASHED_TWICE[loss];
  if (rule === undefined || outputActivation(layers) !== rule.squashes) return null;
  return `The model ends with '${rule.squashes}', and the loss '${loss}' ${rule.does}: ${rule.advice}.`;
}

/** Emits the pairing warning (process 'warning' event, code FASTMLP_LOSS_PAIRING); returns whether it did. */
export function warnLossPairing(layers: readonly Layer[], loss: LossName): boolean {
  const problem = lossPairingProblem(layers, loss);
  if (problem === null) return false;
  process.emitWarning(problem, { code: LOSS_PAIRING_WARNING });
  return true;
}
