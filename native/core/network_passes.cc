// The passes of a compiled plan (network.h): eval-mode predict, the
// training forward that keeps every activation, and backward.
//
// Backward per layer (SPEC.md §1, notes 001), with the 1/B inside dLoss/dOut:
//   activation: dX = dY ⊙ f'(X)  (softmax: its Jacobian)
//   dense:      dW = dZᵀ·A, db = colSums(dZ), dA = dZ·W
// An element-wise activation next to a dense layer runs inside that layer's
// gemm (activations.h ActivationTile, gemm.h GemmEpilogue), one pass over
// memory instead of two, with the same bits: forward, f(Z) is computed from
// each block of Z while it is in L1 (both segments are still written: f'
// reads Z, unless the derivative needs only f(Z), as relu's, sigmoid's and
// tanh's do: then f(Z) overwrites Z in place and Z's segment is not written);
// backward, the dense layer after the activation multiplies each
// block of dA = dZ_next·W by f' before it leaves L1, so dA is never stored.
// An element-wise activation after a conv2d layer fuses the same way forward
// (conv.h conv2d_forward: in the gemm's epilogue, or as a block is copied
// into the rows); backward, unless a dense layer follows it, the conv2d
// layer applies f' as it gathers dY into its scratch (conv2d_backward), so
// dL/dZ is never stored either.
#include <algorithm>
#include <cstring>

#include "activations.h"
#include "conv.h"
#include "conv_transpose.h"
#include "dense.h"
#include "dropout.h"
#include "finite.h"
#include "gemm_packed.h"
#include "network.h"
#include "norm.h"
#include "prelu.h"

namespace fastmlp {

template <typename T>
void Network<T>::predict(const T* x, index_t rows, T* out) {
  require_or(rows >= 0, [&] {
    return "predict: expected rows >= 0 but received " + std::to_string(rows);
  });
  if (rows == 0) return;
  require(x != nullptr && out != nullptr, "predict: null buffer");
  // Batch norm without running statistics normalises with the statistics of
  // the whole input, as torch's eval forward of it does: one pass, not chunks.
  if (has_untracked_batchnorm_) reserve(rows);
  // Eval mode needs no stored activations: ping-pong through the scratch
  // buffers (leaving the last forward_train intact) and write the last
  // layer straight into `out`.
  const std::size_t last = layers_.size() - 1;
  for (index_t r0 = 0; r0 < rows; r0 += cap_) {
    const index_t nb = std::min(cap_, rows - r0);
    const T* src = x + r0 * in_;
    // The dense weights packed once (predict_cache.h), unless gemm reads
    // them in place at this many rows (its few-rows dot path).
    const bool cached = gemm_packs_bt<T>(nb) && predict_cache_.refresh(params_.data(), params_version_);
    int pp = 0;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      // A dense or conv2d layer and the activation after it write one
      // buffer, the activation's, in place.
      const bool fuse = l + 1 < layers_.size() && (fused_[l + 1] & kFusedForward);
      const std::size_t writes = fuse ? l + 1 : l;
      T* dst = writes == last ? out + r0 * out_ : scratch_[pp].data();
      pp ^= 1;
      const T* packed_w = cached ? predict_cache_.packed(l) : nullptr;
      if (fuse) fused_activation_forward(l++, src, dst, dst, nb, true, packed_w);
      else layer_forward(l, src, dst, nb, false, false, packed_w);
      src = dst;
    }
  }
}

template <typename T>
const T* Network<T>::forward_from_input(index_t rows) {
  // Training starts (or goes on): the weights will change at the step, so
  // predict's cache would be stale anyway; give its memory back.
  predict_cache_.release();
  fwd_rows_ = 0;  // stays 0 if a layer throws
  check_batch_rows(rows, "forward_train");
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const index_t s = static_cast<index_t>(l);
    if (l + 1 < layers_.size() && (fused_[l + 1] & kFusedForward)) {
      // Z and f(Z) in their own segments, as unfused, where the activation's
      // backward reads Z; otherwise f(Z) over Z in the activation's segment.
      T* z = segment((fused_[l + 1] & kInputNotKept) ? s + 2 : s + 1);
      fused_activation_forward(l++, segment(s), z, segment(s + 2), rows, false);
    } else {
      layer_forward(l, segment(s), segment(s + 1), rows, training_, true);
    }
  }
  fwd_training_ = training_;
  fwd_rows_ = rows;
  return segment(static_cast<index_t>(layers_.size()));
}

template <typename T>
const T* Network<T>::forward_train(const T* x, index_t rows) {
  require_or(rows >= 1 && rows <= cap_, [&] {
    return "forward_train: expected 1 <= rows <= max_batch (" + std::to_string(cap_) + ") but received " +
           std::to_string(rows);
  });
  require(x != nullptr, "forward_train: x is null");
  std::memcpy(segment(0), x, static_cast<std::size_t>(rows * in_) * sizeof(T));
  return forward_from_input(rows);
}

template <typename T>
void Network<T>::backward(const T* dout, index_t rows, T* dinput) {
  if (fwd_rows_ == 0)
    throw std::logic_error("backward: no forward_train to differentiate");
  require_or(rows == fwd_rows_, [&] {
    return "backward: expected rows = " + std::to_string(fwd_rows_) + " (the last forward_train) but received " +
           std::to_string(rows);
  });
  require(dout != nullptr, "backward: dout is null");
  // backward overwrites the gradients. Dense layers write theirs in place
  // (dense_backward with accumulate = false: no zero fill, and gemm need not
  // read C), and so do conv2d and convtranspose2d layers (their backward); the other layers with
  // parameters accumulate, so theirs start at 0.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].kind == LayerSpec::Kind::Dense || layers_[i].kind == LayerSpec::Kind::Conv2d ||
        layers_[i].kind == LayerSpec::Kind::ConvTranspose2d || param_off_[i] < 0)
      continue;
    std::fill(grads_.begin() + param_off_[i], grads_.begin() + param_end(i), T(0));
  }
  penalty_ = 0;
  // Every gradient array is tested as it is written: the dense weights inside
  // their gemm (finite.h), the small ones (biases, norms, PReLU) directly.
  GradientCheck check;
  const T* g = dout;  // dLoss / d(output of layer l)
  int pp = 0;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const LayerSpec& L = layers_[i];
    const index_t l = static_cast<index_t>(i);
    // The conv2d layer before it applies this activation's derivative: g
    // goes on to it unchanged.
    if (fused_[i] & kFusedIntoConvBackward) continue;
    // A dense layer after an element-wise activation applies the activation's
    // derivative in its input-gradient gemm and so writes dL/d(input of
    // layer i − 1): dA = dZ·W is never stored.
    const bool fuse = i > 0 && (fused_[i - 1] & kFusedBackward);
    const std::size_t writes = fuse ? i - 1 : i;  // the layer whose dL/dinput dst gets
    const bool need_dinp = writes > 0 || dinput != nullptr;
    const index_t in_w = i == 0 ? in_ : width_[i - 1];
    // Ping-pong: dst is never the buffer g points into.
    T* dst = nullptr;
    if (need_dinp) {
      dst = writes == 0 ? dinput : scratch_[pp].data();
      if (writes > 0) pp ^= 1;
    }
    if (L.kind == LayerSpec::Kind::Dense) {
      const index_t off = param_off_[i];
      ActivationTile<T> tile;  // no tile function unless fused
      if (fuse && dst) {
        const LayerSpec& A = layers_[i - 1];
        tile = activation_backward_tile(A.activation, A.act_params, static_cast<const T*>(dst),
                                        activation_input(i - 1), segment(l));
      }
      dense_backward(dst, grads_.data() + off, grads_.data() + off + L.out * L.in,
                     g, segment(l), params_.data() + off, rows, L.in, L.out,
                     /*accumulate=*/false, tile.fn, &tile, &check);
      if (L.l1 > 0 || L.l2 > 0)
        penalty_ += dense_penalty_backward(grads_.data() + off, params_.data() + off,
                                           L.out * L.in, L.l1, L.l2, &check);
    } else if (L.kind == LayerSpec::Kind::Activation) {
      if (dst)
        activation_backward(L.activation, L.act_params, activation_input(i), segment(l + 1), g,
                            dst, rows, in_w);
    } else {
      // A conv2d layer runs the backward of the activation after it
      // (kFusedIntoConvBackward): g is dL/d(that activation's output).
      const bool conv_fuse = i + 1 < layers_.size() && (fused_[i + 1] & kFusedIntoConvBackward);
      ActivationTile<T> grad;
      if (conv_fuse) {
        const LayerSpec& A = layers_[i + 1];
        grad = activation_backward_tile(A.activation, A.act_params, g, activation_input(i + 1),
                                        segment(l + 2));
      }
      layer_backward(i, g, dst, rows, conv_fuse ? &grad : nullptr);
      if (param_off_[i] >= 0 && any_nonfinite(grads_.data() + param_off_[i], param_end(i) - param_off_[i]))
        check.flag();
    }
    g = dst;
    if (fuse) --i;  // the activation's backward is done
  }
  grads_finite_ = !check.found();
}

template <typename T>
bool Network<T>::gradients_finite() const {
  return grads_finite_;
}

template <typename T>
index_t Network<T>::param_end(std::size_t l) const {
  for (std::size_t j = l + 1; j < layers_.size(); ++j)
    if (param_off_[j] >= 0) return param_off_[j];
  return nparams_;
}

template <typename T>
double Network<T>::loss_and_dout(const T* out, index_t rows,
                                 const std::int32_t* y_idx, const T* y) {
  return loss_forward_backward(loss_, out, rows, out_, y_idx, y, dout_.data());
}

template <typename T>
void Network<T>::check_batch_rows(index_t rows, const char* fn) const {
  if (training_ && has_batchnorm_ && rows < 2)
    throw std::invalid_argument(
        std::string(fn) + ": batch norm in training mode needs batches of at least 2 rows "
        "(the variance of one row is undefined) but received " + std::to_string(rows));
}

template <typename T>
void Network<T>::layer_forward(std::size_t l, const T* src, T* dst, index_t rows,
                               bool training, bool keep, const T* packed_w) {
  const LayerSpec& L = layers_[l];
  const index_t C = width_[l];
  const T* p = param_off_[l] >= 0 ? params_.data() + param_off_[l] : nullptr;
  switch (L.kind) {
    case LayerSpec::Kind::Dense:
      // A predict (keep false) may take gemm's few-rows path (any_sum_order).
      dense_forward<T>(dst, src, p, p + L.out * L.in, rows, L.in, L.out, nullptr, nullptr, !keep,
                       packed_w);
      return;
    case LayerSpec::Kind::Activation:
      activation_forward(L.activation, L.act_params, src, dst, rows, C);
      return;
    case LayerSpec::Kind::Dropout:
      if (training)
        dropout_forward(dst, src, aux_[l].data(), rows * C, L.p, rng_);
      else if (dst != src)
        std::memcpy(dst, src, static_cast<std::size_t>(rows * C) * sizeof(T));
      return;
    case LayerSpec::Kind::BatchNorm: {
      T* stats = aux_[l].data() + (keep ? 0 : 2 * C);
      T* buf = buf_off_[l] >= 0 ? buffers_.data() + buf_off_[l] : nullptr;
      // Without running statistics eval mode normalises with the batch's too,
      // and leaves no trace.
      const bool batch_stats = training || !buf;
      // momentum=None: torch's cumulative average, 1/num_batches_tracked after
      // counting this batch (torch.nn.BatchNorm1d docs, _BatchNorm.forward).
      const double momentum = training && buf && L.cumulative_average
                                  ? 1.0 / (batch_count(buf + 2 * C) + 1.0) : L.momentum;
      T* running = buf && (training || !batch_stats) ? buf : nullptr;
      batchnorm_forward(dst, src, p, p ? p + C : nullptr, running,
                        running ? running + C : nullptr, stats, stats + C, rows, C,
                        L.eps, momentum, batch_stats);
      if (training && buf) increment_batch_count(buf + 2 * C);  // num_batches_tracked
      return;
    }
    case LayerSpec::Kind::LayerNorm: {
      T* stats = aux_[l].data() + (keep ? 0 : 2 * cap_);
      layernorm_forward(dst, src, p, p ? p + C : nullptr, stats, stats + cap_,
                        rows, C, L.eps);
      return;
    }
    case LayerSpec::Kind::PRelu:
      prelu_forward(dst, src, p, rows, C, L.slopes);
      return;
    case LayerSpec::Kind::Conv2d: {
      // Not in predict's weight cache (that packs dense weights only):
      // conv2d_forward reads its weight in place either way.
      const Conv2dShape shape = conv_shape(l);
      T* scratch = conv_scratch();
      conv2d_forward(dst, src, p, p + shape.out_c * shape.k(), rows, shape, scratch, conv_slots_);
      return;
    }
    case LayerSpec::Kind::MaxPool2d:
      maxpool2d_forward(dst, src, rows, L.channels, L.window);
      return;
    case LayerSpec::Kind::ConvTranspose2d: {
      const ConvTranspose2dShape shape = conv_transpose_shape(l);
      T* scratch = conv_scratch();
      conv_transpose2d_forward(dst, src, p, p + shape.in_c * shape.k(), rows, shape, scratch,
                               conv_slots_);
      return;
    }
  }
}

template <typename T>
void Network<T>::fused_activation_forward(std::size_t l, const T* src, T* z, T* y,
                                          index_t rows, bool any_sum_order,
                                          const T* packed_w) {
  const LayerSpec& D = layers_[l];
  const LayerSpec& A = layers_[l + 1];
  const T* p = params_.data() + param_off_[l];
  const ActivationTile<T> tile = activation_forward_tile(A.activation, A.act_params,
                                                         static_cast<const T*>(z), y);
  if (D.kind == LayerSpec::Kind::Conv2d) {
    const Conv2dShape shape = conv_shape(l);
    conv2d_forward(z, src, p, p + shape.out_c * shape.k(), rows, shape, conv_scratch(),
                   conv_slots_, &tile);
    return;
  }
  dense_forward(z, src, p, p + D.out * D.in, rows, D.in, D.out, tile.fn, &tile, any_sum_order,
                packed_w);
}

template <typename T>
void Network<T>::layer_backward(std::size_t l, const T* g, T* dst, index_t rows,
                                const ActivationTile<T>* grad) {
  const LayerSpec& L = layers_[l];
  const index_t C = width_[l];
  const index_t off = param_off_[l];
  const T* p = off >= 0 ? params_.data() + off : nullptr;
  T* dp = off >= 0 ? grads_.data() + off : nullptr;
  const T* x = segment(static_cast<index_t>(l));
  switch (L.kind) {
    case LayerSpec::Kind::Dropout:
      if (dst) {
        if (fwd_training_) dropout_backward(dst, g, aux_[l].data(), rows * C);
        else std::memcpy(dst, g, static_cast<std::size_t>(rows * C) * sizeof(T));
      }
      return;
    case LayerSpec::Kind::BatchNorm: {
      const T* stats = aux_[l].data();
      batchnorm_backward(dst, dp, dp ? dp + C : nullptr, g, x, p, stats, stats + C,
                         rows, C, fwd_training_ || !L.track_running_stats,
                         aux_[l].data() + 4 * C);
      return;
    }
    case LayerSpec::Kind::LayerNorm: {
      const T* stats = aux_[l].data();
      layernorm_backward(dst, dp, dp ? dp + C : nullptr, g, x, p, stats,
                         stats + cap_, rows, C);
      return;
    }
    case LayerSpec::Kind::PRelu:
      prelu_backward(dst, dp, g, x, p, rows, C, L.slopes);
      return;
    case LayerSpec::Kind::Conv2d: {
      // Writes dW and db (not accumulated); dst null (the first layer with
      // parameters): no input gradient.
      const Conv2dShape shape = conv_shape(l);
      T* scratch = conv_scratch();
      conv2d_backward(dst, dp, dp + shape.out_c * shape.k(), g, x, p, rows, shape, scratch,
                      conv_slots_, grad);
      return;
    }
    case LayerSpec::Kind::MaxPool2d:
      if (dst) maxpool2d_backward(dst, g, x, rows, L.channels, L.window);
      return;
    case LayerSpec::Kind::ConvTranspose2d: {
      // As conv2d: writes dW and db; dst null (the first layer with
      // parameters): no input gradient.
      const ConvTranspose2dShape shape = conv_transpose_shape(l);
      T* scratch = conv_scratch();
      conv_transpose2d_backward(dst, dp, dp + shape.in_c * shape.k(), g, x, p, rows, shape,
                                scratch, conv_slots_);
      return;
    }
    default:
      return;  // dense and activation are handled by backward()
  }
}

// network.cc instantiates the class and the members it defines; these are
// the members defined here.
#define FASTMLP_INSTANTIATE_PASSES(T)                                                      \
  template void Network<T>::predict(const T*, index_t, T*);                               \
  template const T* Network<T>::forward_from_input(index_t);                              \
  template const T* Network<T>::forward_train(const T*, index_t);                         \
  template void Network<T>::backward(const T*, index_t, T*);                              \
  template bool Network<T>::gradients_finite() const;                                      \
  template index_t Network<T>::param_end(std::size_t) const;                               \
  template double Network<T>::loss_and_dout(const T*, index_t, const std::int32_t*,       \
                                            const T*);                                    \
  template void Network<T>::check_batch_rows(index_t, const char*) const;                 \
  template void Network<T>::layer_forward(std::size_t, const T*, T*, index_t, bool, bool,  \
                                          const T*);                                      \
  template void Network<T>::fused_activation_forward(std::size_t, const T*, T*, T*,       \
                                                     index_t, bool, const T*);            \
  template void Network<T>::layer_backward(std::size_t, const T*, T*, index_t,            \
                                           const ActivationTile<T>*);
FASTMLP_INSTANTIATE_PASSES(float)
FASTMLP_INSTANTIATE_PASSES(double)
#undef FASTMLP_INSTANTIATE_PASSES

}  // namespace fastmlp
