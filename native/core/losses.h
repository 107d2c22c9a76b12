// Losses on a batch of predictions pred (B, C), with PyTorch's conventions
// where PyTorch has the loss (SPEC.md §3). r = pred − target below.
//
// Element-wise losses (one value per element, B·C values; losses_elementwise.cc):
//   mse            r²                                     (torch.nn.MSELoss)
//   mae / l1       |r|                                    (torch.nn.L1Loss)
//   huber          ½r² if |r| ≤ δ else δ(|r| − ½δ)        (torch.nn.HuberLoss, δ = 1)
//   tukey          (δ²/6)(1 − (1 − r²/δ²)³) if |r| ≤ δ else δ²/6   (δ = 4.685,
//                  95 % efficiency under Gaussian noise; Beaton & Tukey 1974)
//   quantile       max(τu, (τ − 1)u), u = target − pred   (pinball, τ = 0.5)
//   barron         ρ(r, α, c) of Barron 2019 with its α = 2, 0, −∞ limits (α = 1, c = 1)
//   bce            −w_c[t log p + (1 − t) log(1 − p)], logs clamped at −100
//                  (torch.nn.BCELoss); p and t in [0, 1]
//   bce-with-logits  w_c[(1 − t)z + (1 + (pw − 1)t)·log(1 + e^{−z})], stable
//                  (torch.nn.BCEWithLogitsLoss with pos_weight pw)
//   kl-div         t(log t − x), 0 where t = 0 (torch.nn.KLDivLoss; x log-probs)
//   hinge          max(0, 1 − t·pred), t = ±1; squared-hinge: its square
//   focal          α_t(1 − p_t)^γ · bce-with-logits(z, t)  (Lin et al. 2017,
//                  "Focal Loss for Dense Object Detection"; γ = 2, α = 0.25)
// Row losses (one value per row, B values; losses.cc):
//   cross-entropy  softmax + categorical CE from logits; class indices or soft
//                  rows; label smoothing; class weights (torch.nn.CrossEntropyLoss)
//   nll            −w_y·x_y on log-probabilities, class indices (torch.nn.NLLLoss)
// Set losses (losses.cc):
//   dice           1 − (2Σab + s)/(Σa² + Σb² + s) over the whole batch (s = 1);
//                  reduction 'mean' only (there is no per-element value)
//
// Reductions: Mean divides the sum by B·C (element-wise), by B (rows) or, with
// class weights on indices, by Σ_b w_{y_b} (cross-entropy, nll: PyTorch's
// weighted mean); BatchMean (kl-div only) divides by B; Sum; None keeps the
// values (loss_values) — forward then returns their sum and backward its
// gradient. Training never uses None (Network::set_loss refuses it).
// Class weights (cross-entropy, nll, bce, bce-with-logits) have one entry per
// column C, finite and ≥ 0. Bad arguments throw std::invalid_argument before
// anything is written.
#pragma once

#include <vector>

#include "common.h"

namespace fastmlp {

struct LossSpec {
  LossKind kind = LossKind::Mse;
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;  // cross-entropy only, in [0, 1]
  double delta = 1.0;            // huber (1) and tukey (4.685), > 0
  double tau = 0.5;              // quantile, in (0, 1)
  double alpha = 1.0;            // barron α (any, −∞ allowed) or focal α in [0, 1]
  double scale = 1.0;            // barron c, > 0
  double gamma = 2.0;            // focal γ ≥ 0
  double smooth = 1.0;           // dice s ≥ 0
  double pos_weight = 1.0;       // bce-with-logits, > 0
  std::vector<double> class_weights;  // empty: none; else length C
};

// A spec with the documented defaults of `kind` (tukey δ = 4.685, focal α = 0.25).
LossSpec default_loss_spec(LossKind kind);

// Checks the spec's own fields (kind, reduction allowed for the kind, option
// ranges, class weights finite and ≥ 0); throws std::invalid_argument.
void validate_loss_spec(const LossSpec& spec);

// validate_loss_spec, plus the target form: class indices (cross-entropy,
// nll) or a dense target (every loss but nll).
void validate_loss(const LossSpec& spec, bool has_indices, bool has_dense);

// Number of unreduced values loss_values writes: B·C, B, or 0 for dice.
index_t loss_value_count(LossKind kind, index_t B, index_t C);

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

// Unreduced (but class-weighted) values into out (loss_value_count of them),
// whatever spec.reduction says; throws for dice.
template <typename T>
void loss_values(const LossSpec& spec, const T* pred, index_t B, index_t C,
                 const std::int32_t* target_idx, const T* target, double* out);

}  // namespace fastmlp
