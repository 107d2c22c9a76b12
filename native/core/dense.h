// Fully connected layer, weight stored out×in as torch.nn.Linear.
// Vectorised forms from SPEC.md §1 (notes 001): Z = A·Wᵀ + b,
// dW = dZᵀ·A, db = colSums(dZ), dA = dZ·W (the 1/n lives in the loss gradient).
#pragma once

#include "common.h"
#include "finite.h"
#include "gemm.h"

namespace fastmlp {

// out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC)
// then_fn (optional) is gemm's tile function (gemm.h GemmEpilogue), called
// with then_ctx on each finished block of out: the network passes the
// activation that follows the layer (activations.h ActivationTile).
// any_sum_order: gemm may sum in another order (GemmEpilogue::any_sum_order):
// predict's passes, never training's.
// packed_weight (optional): weight already packed by gemm_pack_bt
// (gemm_packed.h, predict's cache); the same bits as without it.
template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias,
                   index_t B, index_t C, index_t OC, GemmTileFn<T> then_fn = nullptr,
                   const void* then_ctx = nullptr, bool any_sum_order = false,
                   const T* packed_weight = nullptr);

// Accumulates (+=) into the gradients; zeroing is the caller's job. With
// accumulate = false it overwrites them instead (=), which saves the caller a
// zero fill and gemm a read of C — the network's backward writes each dense
// layer's gradients exactly once per step.
// dinp (B,C) += dout (B,OC) · weight (OC,C)      (skipped when dinp is null)
// dweight (OC,C) += dout (B,OC)ᵀ · inp (B,C)
// dbias (OC) += column sums of dout
// dinp_fn (optional) is gemm's tile function on each finished block of dinp:
// the network passes the derivative of the activation before the layer, so
// dinp = (dout · weight) ⊙ f' without writing dout · weight out first. It
// needs accumulate = false (with +=, it would scale the old dinp too).
// check (optional) is flagged when dweight or dbias holds a NaN/±Infinity
// after the call: dweight is tested tile by tile inside its gemm (finite.h),
// dbias directly — no extra pass over the weight gradient.
template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                    const T* weight, index_t B, index_t C, index_t OC,
                    bool accumulate = true, GemmTileFn<T> dinp_fn = nullptr,
                    const void* dinp_ctx = nullptr,
                    const GradientCheck* check = nullptr);

// L1/L2 weight penalty of one dense layer (Keras kernel_regularizer naming):
// dweight (n) += l1·sign(w) + 2·l2·w (sign(0) = 0, as torch.sign), and returns
// the penalty's value l1·Σ|w| + l2·Σw². Biases are not penalised, as in Keras.
// check (optional) is flagged when a dweight it wrote is NaN/±Infinity (the
// same pass: the sum can overflow where both terms were finite).
template <typename T>
double dense_penalty_backward(T* dweight, const T* weight, index_t n, double l1,
                              double l2, const GradientCheck* check = nullptr);

}  // namespace fastmlp
