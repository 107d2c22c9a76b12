// Losses on a batch of predictions pred (B, C), with PyTorch's conventions:
//  - mse: mean over all B·C elements of (pred − target)²  (reduction Sum: the sum);
//    the target is dense (B, C).
//  - cross-entropy: softmax + categorical cross-entropy computed from logits
//    with log-sum-exp; the target is class indices (B) or probability rows (B, C).
//    Label smoothing ε mixes the target with the uniform distribution:
//    q = (1−ε)·t + ε/C (torch.nn.CrossEntropyLoss). Mean divides by B.
//    Gradient: (softmax(pred) − q) / B.
// Exactly one of target_idx / target is non-null. Class indices are checked
// (0 ≤ idx < C) and an out-of-range one throws std::invalid_argument.
#pragma once

#include "common.h"

namespace fastmlp {

struct LossSpec {
  LossKind kind = LossKind::Mse;
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;  // cross-entropy only, in [0, 1]
};

// Throws std::invalid_argument when the spec and the target form disagree
// (mse with class indices, cross-entropy with C < 1, bad smoothing, ...).
void validate_loss(const LossSpec& spec, bool has_indices, bool has_dense);

template <typename T>
double loss_forward(const LossSpec& spec, const T* pred, index_t B, index_t C,
                    const std::int32_t* target_idx, const T* target);

// dpred (B,C) = dLoss/dpred; overwrites dpred.
template <typename T>
void loss_backward(const LossSpec& spec, const T* pred, index_t B, index_t C,
                   const std::int32_t* target_idx, const T* target, T* dpred);

// Both at once (one softmax pass for cross-entropy); returns the loss.
template <typename T>
double loss_forward_backward(const LossSpec& spec, const T* pred, index_t B,
                             index_t C, const std::int32_t* target_idx,
                             const T* target, T* dpred);

}  // namespace fastmlp
