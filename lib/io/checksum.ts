// The model file's checksum, 'sha256:<hex>' of the data section (every tensor
// byte, in file order), hashed in steps of STEP_BYTES so that an async save or
// load can let the event loop run in between (hashing 23 MB took 40 ms here),
// and straight from the tensors' own memory: no concatenated copy.
import { createHash } from 'node:crypto';
import { STEP_BYTES, runSteps, type Steps } from '../steps';

/** The checksum of the concatenation of `pieces`, one step per STEP_BYTES hashed. */
export function* sha256Steps(pieces: readonly Uint8Array[]): Steps<string> {
  const hash = createHash('sha256');
  for (const piece of pieces) {
    for (let start = 0; start < piece.byteLength; start += STEP_BYTES) {
      hash.update(piece.subarray(start, Math.min(piece.byteLength, start + STEP_BYTES)));
      yield;
    }
  }
  return 'sha256:' + hash.digest('hex');
}

export function sha256(...pieces: Uint8Array[]): string {
  return runSteps(sha256Steps(pieces));
}
