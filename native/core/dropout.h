// Inverted dropout (Srivastava et al. 2014; torch.nn.Dropout): in training each
// element is kept with probability 1 − p and scaled by 1/(1 − p), so eval mode
// is the identity and the expected activation is the same in both modes.
// The mask comes from Xoshiro128 (rng.h), one draw per element in row-major
// order, dropped when uniform() < p — the TypeScript engine draws the same.
#pragma once

#include "common.h"
#include "rng.h"

namespace fastmlp {

// y (n) = x ⊙ mask, where the freshly drawn mask (n) holds 0 or 1/(1 − p).
template <typename T>
void dropout_forward(T* y, const T* x, T* mask, index_t n, double p,
                     Xoshiro128& rng);

// dx (n) = dy ⊙ mask. dx may alias dy.
template <typename T>
void dropout_backward(T* dx, const T* dy, const T* mask, index_t n);

}  // namespace fastmlp
