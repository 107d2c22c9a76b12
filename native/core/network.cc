// A compiled MLP plan (network.h), laid out as in karpathy/llm.c: one flat
// allocation each for parameters, gradients, optimizer state and activations,
// layers addressing them through offsets. Consequences:
//  - the optimizer step is one loop over contiguous memory (optim.cc);
//  - nothing is allocated per step: buffers are sized for cap_ rows and only
//    grow in reserve() (and train_epoch's gather buffers once per epoch);
//  - every layer keeps its own output segment, so backward has each layer's
//    input and output (gelu' needs x, sigmoid/tanh/softmax need y), except
//    a relu, sigmoid or tanh right after a dense layer: its derivative reads
//    only y, so its input segment is not written (below).
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
#include "network.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // sysconf: physical memory
#endif

#include "activations.h"
#include "dense.h"
#include "dropout.h"
#include "norm.h"
#include "prelu.h"

namespace fastmlp {
namespace {

// Upper bound on any buffer's element count: keeps index arithmetic far from
// int64 overflow and turns absurd sizes into a clear error, not a bad_alloc
// after a wrapped multiplication.
constexpr index_t kMaxElems = index_t(1) << 40;

index_t checked_mul(index_t a, index_t b, const char* what) {
  require(a >= 0 && b >= 0 && (a == 0 || b <= kMaxElems / a),
          std::string("network: ") + what + " is too large");
  return a * b;
}

// Refuses, before allocating, buffers larger than the machine's physical
// memory: std::vector zero-fills what it allocates, so a size the OS grants
// lazily (overcommit) would otherwise be touched page by page until the
// process is killed, instead of failing with a clear error. Where the size of
// physical memory is unknown, only kMaxElems applies.
std::uint64_t physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return std::uint64_t(pages) * std::uint64_t(page);
#endif
  return UINT64_MAX;
}

void require_fits_in_memory(index_t elems, std::size_t elem_size, const char* what) {
  static const std::uint64_t limit = physical_memory_bytes();
  require(std::uint64_t(elems) <= limit / elem_size,
          std::string("network: ") + what + " needs " + std::to_string(elems) + " values of " +
              std::to_string(elem_size) + " bytes, more than this machine's memory");
}

}  // namespace

template <typename T>
Network<T>::Network(const std::vector<LayerSpec>& layers, index_t max_batch)
    : layers_(layers) {
  require(max_batch >= 1, "network: expected max_batch >= 1 but received " +
                              std::to_string(max_batch));
  const auto first_dense =
      std::find_if(layers_.begin(), layers_.end(), [](const LayerSpec& l) {
        return l.kind == LayerSpec::Kind::Dense;
      });
  require(first_dense != layers_.end(),
          "network: expected at least one dense layer");
  in_ = first_dense->in;
  index_t cur = in_;
  max_width_ = in_;
  width_sum_ = in_;
  seg_off_.push_back(0);
  index_t nbuffers = 0;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerSpec& L = layers_[l];
    const std::string at = "network: layer " + std::to_string(l);
    if (L.kind == LayerSpec::Kind::Dense) {
      require(L.in >= 1 && L.out >= 1,
              at + ": expected in >= 1 and out >= 1 but received " +
                  std::to_string(L.in) + ", " + std::to_string(L.out));
      require(L.in == cur, at + ": expected in = " + std::to_string(cur) +
                               " (the previous width) but received " +
                               std::to_string(L.in));
      param_off_.push_back(nparams_);
      const index_t w = checked_mul(L.out, L.in + 1, "parameter count");
      require(nparams_ <= kMaxElems - w, "network: parameter count is too large");
      nparams_ += w;
      cur = L.out;
      require(L.l1 >= 0 && L.l2 >= 0 && std::isfinite(L.l1) && std::isfinite(L.l2),
              at + ": expected finite l1, l2 >= 0");
      buf_off_.push_back(-1);
      aux_.emplace_back();
    } else if (L.kind == LayerSpec::Kind::Activation) {
      try {
        validate_activation(L.activation, L.act_params);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(at + ": " + e.what());
      }
      param_off_.push_back(-1);
      buf_off_.push_back(-1);
      aux_.emplace_back();
    } else {
      index_t np = 0, nb = 0;
      if (L.kind == LayerSpec::Kind::Dropout) {
        require(L.p >= 0 && L.p < 1, at + ": expected dropout p in [0, 1) but received " +
                                         std::to_string(L.p));
      } else if (L.kind == LayerSpec::Kind::BatchNorm ||
                 L.kind == LayerSpec::Kind::LayerNorm) {
        require(L.features == cur, at + ": expected " + std::to_string(cur) +
                                       " features (the previous width) but received " +
                                       std::to_string(L.features));
        require(L.eps > 0 && std::isfinite(L.eps), at + ": expected eps > 0");
        if (L.kind == LayerSpec::Kind::BatchNorm) {
          require(L.momentum >= 0 && L.momentum <= 1,
                  at + ": expected momentum in [0, 1]");
          nb = 2 * cur + 1;
          has_batchnorm_ = true;
        }
        np = L.affine ? 2 * cur : 0;
      } else {
        require(L.kind == LayerSpec::Kind::PRelu, at + ": unknown layer kind");
        require(L.slopes == 1 || L.slopes == cur,
                at + ": expected prelu slopes 1 or " + std::to_string(cur) +
                    " (the width) but received " + std::to_string(L.slopes));
        np = L.slopes;
      }
      param_off_.push_back(np > 0 ? nparams_ : -1);
      require(nparams_ <= kMaxElems - np, "network: parameter count is too large");
      nparams_ += np;
      buf_off_.push_back(nb > 0 ? nbuffers : -1);
      nbuffers += nb;
      aux_.emplace_back();
    }
    width_.push_back(cur);
    seg_off_.push_back(width_sum_);
    require(width_sum_ <= kMaxElems - cur, "network: too many activations");
    width_sum_ += cur;
    max_width_ = std::max(max_width_, cur);
  }
  out_ = cur;
  fused_.assign(layers_.size(), 0);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    if (layers_[l].kind != LayerSpec::Kind::Activation ||
        !activation_is_elementwise(layers_[l].activation))
      continue;
    if (l > 0 && layers_[l - 1].kind == LayerSpec::Kind::Dense) {
      fused_[l] |= kFusedForward;
      if (!activation_grad_reads_input(layers_[l].activation)) fused_[l] |= kInputNotKept;
    }
    if (l + 1 < layers_.size() && layers_[l + 1].kind == LayerSpec::Kind::Dense)
      fused_[l] |= kFusedBackward;
  }
  require_fits_in_memory(2 * nparams_, sizeof(T), "the parameters and gradients");
  params_.assign(static_cast<std::size_t>(nparams_), T(0));
  grads_.assign(static_cast<std::size_t>(nparams_), T(0));
  buffers_.assign(static_cast<std::size_t>(nbuffers), T(0));
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    if (layers_[l].kind != LayerSpec::Kind::BatchNorm) continue;
    const index_t C = layers_[l].features;
    // running_var starts at 1 (torch.nn.BatchNorm1d.reset_running_stats)
    std::fill_n(buffers_.begin() + buf_off_[l] + C, C, T(1));
    aux_[l].assign(static_cast<std::size_t>(6 * C), T(0));  // stats twice, backward scratch
  }
  reserve(max_batch);
}

template <typename T>
index_t Network<T>::input_size() const { return in_; }
template <typename T>
index_t Network<T>::output_size() const { return out_; }
template <typename T>
index_t Network<T>::param_count() const { return nparams_; }
template <typename T>
index_t Network<T>::max_batch() const { return cap_; }
template <typename T>
T* Network<T>::params() { return params_.data(); }
template <typename T>
const T* Network<T>::params() const { return params_.data(); }
template <typename T>
const T* Network<T>::grads() const { return grads_.data(); }
template <typename T>
index_t Network<T>::buffer_count() const { return static_cast<index_t>(buffers_.size()); }
template <typename T>
T* Network<T>::buffers() { return buffers_.data(); }
template <typename T>
void Network<T>::set_training(bool training) { training_ = training; }
template <typename T>
bool Network<T>::training() const { return training_; }
template <typename T>
void Network<T>::set_seed(std::uint64_t seed) { rng_.reseed(seed); }

template <typename T>
T* Network<T>::segment(index_t s) {
  return acts_.data() + cap_ * seg_off_[static_cast<std::size_t>(s)];
}

template <typename T>
const T* Network<T>::activation_input(std::size_t l) {
  const index_t s = static_cast<index_t>(l);
  return segment((fused_[l] & kInputNotKept) ? s + 1 : s);
}

template <typename T>
void Network<T>::reserve(index_t rows) {
  require(rows >= 0, "reserve: expected rows >= 0 but received " +
                         std::to_string(rows));
  if (rows <= cap_) return;
  const auto acts = static_cast<std::size_t>(checked_mul(rows, width_sum_, "batch"));
  const auto scratch = static_cast<std::size_t>(checked_mul(rows, max_width_, "batch"));
  const auto dout = static_cast<std::size_t>(checked_mul(rows, out_, "batch"));
  require_fits_in_memory(index_t(acts + 2 * scratch + dout), sizeof(T), "the batch's activations");
  // Allocate everything before touching any member (strong exception
  // guarantee): if one allocation fails, the network is exactly as before.
  LargeBuffer new_acts(acts), new_scratch0(scratch), new_scratch1(scratch);
  std::vector<T> new_dout(dout);
  std::vector<std::vector<T>> new_aux(aux_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerSpec& L = layers_[l];
    if (L.kind == LayerSpec::Kind::Dropout)
      new_aux[l].resize(static_cast<std::size_t>(checked_mul(rows, width_[l], "batch")));
    else if (L.kind == LayerSpec::Kind::LayerNorm)
      new_aux[l].resize(static_cast<std::size_t>(checked_mul(rows, 4, "batch")));
  }
  for (std::size_t l = 0; l < layers_.size(); ++l)
    if (!new_aux[l].empty()) aux_[l].swap(new_aux[l]);
  // Segment offsets scale with cap_, so the stored activations no longer
  // line up: forget the last forward_train.
  fwd_rows_ = 0;
  acts_.swap(new_acts);
  scratch_[0].swap(new_scratch0);
  scratch_[1].swap(new_scratch1);
  dout_.swap(new_dout);
  cap_ = rows;
}

template <typename T>
void Network<T>::set_loss(const LossSpec& loss) {
  // The target form is only known per call; check the spec's own fields here.
  validate_loss_spec(loss);
  require(loss.reduction != Reduction::None,
          "set_loss: reduction 'none' has no single value to train on; use 'mean' or 'sum'");
  require(loss.class_weights.empty() ||
              static_cast<index_t>(loss.class_weights.size()) == out_,
          "set_loss: expected " + std::to_string(out_) + " class weights (one per output) but received " +
              std::to_string(loss.class_weights.size()));
  loss_ = loss;
  has_loss_ = true;
}

template <typename T>
void Network<T>::clear_loss() { has_loss_ = false; }
template <typename T>
bool Network<T>::has_loss() const { return has_loss_; }

template <typename T>
void Network<T>::set_optimizer(const OptimizerSpec& spec) {
  validate_optimizer(spec);
  const index_t size = optimizer_state_size(spec, nparams_);
  if (!optimizer_state_compatible(spec, opt_) ||
      size != static_cast<index_t>(opt_state_.size())) {
    opt_state_.assign(static_cast<std::size_t>(size), T(0));
    step_ = 0;
  }
  opt_ = spec;
}

template <typename T>
void Network<T>::reset_optimizer_state() {
  std::fill(opt_state_.begin(), opt_state_.end(), T(0));
  step_ = 0;
}

template <typename T>
std::int64_t Network<T>::step_count() const { return step_; }
template <typename T>
double Network<T>::penalty() const { return penalty_; }

template <typename T>
index_t Network<T>::opt_state_size() const {
  return static_cast<index_t>(opt_state_.size());
}
template <typename T>
const T* Network<T>::opt_state() const { return opt_state_.data(); }

template <typename T>
void Network<T>::set_opt_state(const T* src, index_t size, std::int64_t steps) {
  if (size != opt_state_size())
    throw std::invalid_argument("set_opt_state: expected " + std::to_string(opt_state_size()) +
                                " values for the current optimizer but received " +
                                std::to_string(size));
  if (steps < 0)
    throw std::invalid_argument("set_opt_state: expected a step count >= 0 but received " +
                                std::to_string(steps));
  std::copy(src, src + size, opt_state_.begin());
  step_ = steps;
}

template <typename T>
void Network<T>::require_loss(const char* fn) const {
  if (!has_loss_)
    throw std::logic_error(std::string(fn) +
                           ": no loss is set (custom-loss mode: use "
                           "forward_train, backward and step)");
}

template <typename T>
void Network<T>::predict(const T* x, index_t rows, T* out) {
  require(rows >= 0, "predict: expected rows >= 0 but received " +
                         std::to_string(rows));
  if (rows == 0) return;
  require(x != nullptr && out != nullptr, "predict: null buffer");
  // Eval mode needs no stored activations: ping-pong through the scratch
  // buffers (leaving the last forward_train intact) and write the last
  // layer straight into `out`.
  const std::size_t last = layers_.size() - 1;
  for (index_t r0 = 0; r0 < rows; r0 += cap_) {
    const index_t nb = std::min(cap_, rows - r0);
    const T* src = x + r0 * in_;
    int pp = 0;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      // A dense layer and the activation after it write one buffer, the
      // activation's, in place.
      const bool fuse = l + 1 < layers_.size() && (fused_[l + 1] & kFusedForward);
      const std::size_t writes = fuse ? l + 1 : l;
      T* dst = writes == last ? out + r0 * out_ : scratch_[pp].data();
      pp ^= 1;
      if (fuse) dense_activation_forward(l++, src, dst, dst, nb);
      else layer_forward(l, src, dst, nb, false, false);
      src = dst;
    }
  }
}

template <typename T>
const T* Network<T>::forward_from_input(index_t rows) {
  fwd_rows_ = 0;  // stays 0 if a layer throws
  check_batch_rows(rows, "forward_train");
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const index_t s = static_cast<index_t>(l);
    if (l + 1 < layers_.size() && (fused_[l + 1] & kFusedForward)) {
      // Z and f(Z) in their own segments, as unfused, where the activation's
      // backward reads Z; otherwise f(Z) over Z in the activation's segment.
      T* z = segment((fused_[l + 1] & kInputNotKept) ? s + 2 : s + 1);
      dense_activation_forward(l++, segment(s), z, segment(s + 2), rows);
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
  require(rows >= 1 && rows <= cap_,
          "forward_train: expected 1 <= rows <= max_batch (" +
              std::to_string(cap_) + ") but received " + std::to_string(rows));
  require(x != nullptr, "forward_train: x is null");
  std::memcpy(segment(0), x, static_cast<std::size_t>(rows * in_) * sizeof(T));
  return forward_from_input(rows);
}

template <typename T>
void Network<T>::backward(const T* dout, index_t rows, T* dinput) {
  if (fwd_rows_ == 0)
    throw std::logic_error("backward: no forward_train to differentiate");
  require(rows == fwd_rows_, "backward: expected rows = " +
                                 std::to_string(fwd_rows_) +
                                 " (the last forward_train) but received " +
                                 std::to_string(rows));
  require(dout != nullptr, "backward: dout is null");
  // backward overwrites the gradients. Dense layers write theirs in place
  // (dense_backward with accumulate = false: no zero fill, and gemm need not
  // read C); the other layers with parameters accumulate, so theirs start at 0.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].kind == LayerSpec::Kind::Dense || param_off_[i] < 0) continue;
    index_t end = nparams_;
    for (std::size_t j = i + 1; j < layers_.size(); ++j)
      if (param_off_[j] >= 0) { end = param_off_[j]; break; }
    std::fill(grads_.begin() + param_off_[i], grads_.begin() + end, T(0));
  }
  penalty_ = 0;
  const T* g = dout;  // dLoss / d(output of layer l)
  int pp = 0;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const LayerSpec& L = layers_[i];
    const index_t l = static_cast<index_t>(i);
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
                     /*accumulate=*/false, tile.fn, &tile);
      if (L.l1 > 0 || L.l2 > 0)
        penalty_ += dense_penalty_backward(grads_.data() + off, params_.data() + off,
                                           L.out * L.in, L.l1, L.l2);
    } else if (L.kind == LayerSpec::Kind::Activation) {
      if (dst)
        activation_backward(L.activation, L.act_params, activation_input(i), segment(l + 1), g,
                            dst, rows, in_w);
    } else {
      layer_backward(i, g, dst, rows);
    }
    g = dst;
    if (fuse) --i;  // the activation's backward is done
  }
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
                               bool training, bool keep) {
  const LayerSpec& L = layers_[l];
  const index_t C = width_[l];
  const T* p = param_off_[l] >= 0 ? params_.data() + param_off_[l] : nullptr;
  switch (L.kind) {
    case LayerSpec::Kind::Dense:
      dense_forward(dst, src, p, p + L.out * L.in, rows, L.in, L.out);
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
      T* buf = buffers_.data() + buf_off_[l];
      batchnorm_forward(dst, src, p, p ? p + C : nullptr, buf, buf + C, stats,
                        stats + C, rows, C, L.eps, L.momentum, training);
      if (training) buf[2 * C] += T(1);  // num_batches_tracked
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
  }
}

template <typename T>
void Network<T>::dense_activation_forward(std::size_t l, const T* src, T* z, T* y,
                                          index_t rows) {
  const LayerSpec& D = layers_[l];
  const LayerSpec& A = layers_[l + 1];
  const T* p = params_.data() + param_off_[l];
  const ActivationTile<T> tile = activation_forward_tile(A.activation, A.act_params,
                                                         static_cast<const T*>(z), y);
  dense_forward(z, src, p, p + D.out * D.in, rows, D.in, D.out, tile.fn, &tile);
}

template <typename T>
void Network<T>::layer_backward(std::size_t l, const T* g, T* dst, index_t rows) {
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
                         rows, C, fwd_training_, aux_[l].data() + 4 * C);
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
    default:
      return;  // dense and activation are handled by backward()
  }
}

template <typename T>
double Network<T>::compute_gradients(const T* x, index_t rows,
                                     const std::int32_t* y_idx, const T* y) {
  require_loss("compute_gradients");
  validate_loss(loss_, y_idx != nullptr, y != nullptr);
  const T* out = forward_train(x, rows);
  const double loss = loss_and_dout(out, rows, y_idx, y);
  backward(dout_.data(), rows, nullptr);
  return loss + penalty_;  // the penalties' value comes with their gradient
}

template <typename T>
void Network<T>::step() {
  ++step_;
  optimizer_update(opt_, params_.data(), grads_.data(), opt_state_.data(),
                   nparams_, step_);
}

template <typename T>
double Network<T>::train_step(const T* x, index_t rows,
                              const std::int32_t* y_idx, const T* y) {
  require_loss("train_step");
  const double loss = compute_gradients(x, rows, y_idx, y);
  // As train_epoch: a NaN/Inf loss leaves the parameters as they were, so the
  // caller can report it without the model already being ruined.
  if (std::isfinite(loss)) step();
  return loss;
}

template <typename T>
EpochResult Network<T>::train_epoch(const T* X, index_t rows,
                                    const std::int32_t* y_idx, const T* Y,
                                    index_t batch, const std::int32_t* order,
                                    const std::atomic<bool>* cancel,
                                    const BatchObserver* on_batch, T* outputs) {
  require_loss("train_epoch");
  validate_loss(loss_, y_idx != nullptr, Y != nullptr);
  require(rows >= 1, "train_epoch: expected rows >= 1 but received " +
                         std::to_string(rows));
  require(batch >= 1, "train_epoch: expected batch >= 1 but received " +
                          std::to_string(batch));
  require(X != nullptr, "train_epoch: X is null");
  // Every check happens before the first step, so bad input never leaves
  // the model half-trained.
  if (order != nullptr) {
    seen_.assign(static_cast<std::size_t>(rows), 0);
    for (index_t i = 0; i < rows; ++i) {
      const std::int32_t r = order[i];
      if (r < 0 || r >= rows || seen_[static_cast<std::size_t>(r)])
        throw std::invalid_argument(
            "train_epoch: expected order to be a permutation of 0.." +
            std::to_string(rows - 1) + " but order[" + std::to_string(i) +
            "] = " + std::to_string(r) +
            (r >= 0 && r < rows ? " repeats" : " is out of range"));
      seen_[static_cast<std::size_t>(r)] = 1;
    }
  }
  if (y_idx != nullptr) {
    for (index_t i = 0; i < rows; ++i)
      if (y_idx[i] < 0 || y_idx[i] >= out_)
        throw std::invalid_argument(
            "train_epoch: expected class index in [0, " + std::to_string(out_) +
            ") for y[" + std::to_string(i) + "] but received " +
            std::to_string(y_idx[i]));
  }
  const index_t bs = std::min(batch, rows);
  // A last batch of one row would stop batch norm part-way through the epoch.
  check_batch_rows(std::min(bs, rows - (rows - 1) / bs * bs), "train_epoch");
  reserve(bs);
  if (order != nullptr) {
    if (y_idx != nullptr) {
      if (batch_idx_.size() < static_cast<std::size_t>(bs))
        batch_idx_.resize(static_cast<std::size_t>(bs));
    } else if (batch_y_.size() < static_cast<std::size_t>(bs * out_)) {
      batch_y_.resize(static_cast<std::size_t>(bs * out_));
    }
  }

  // Batch norm's running statistics change in each batch's forward, before
  // its loss is known: a copy from before every batch puts them back when the
  // loss is not finite (as Sequential.trainStep does). Only a model with
  // buffers keeps one; a plain MLP's epoch copies nothing.
  const bool keep_buffers = !buffers_.empty();
  if (keep_buffers) buffers_before_.resize(buffers_.size());

  EpochResult res;
  double total = 0;
  index_t done_rows = 0;
  const index_t nbatches = (rows + bs - 1) / bs;
  for (index_t bi = 0; bi < nbatches; ++bi) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      res.cancelled = true;
      break;
    }
    const index_t r0 = bi * bs;
    const index_t nb = std::min(bs, rows - r0);
    const std::int32_t* yb_idx = nullptr;
    const T* yb = nullptr;
    T* xin = segment(0);
    if (order == nullptr) {
      std::memcpy(xin, X + r0 * in_, static_cast<std::size_t>(nb * in_) * sizeof(T));
      yb_idx = y_idx ? y_idx + r0 : nullptr;
      yb = Y ? Y + r0 * out_ : nullptr;
    } else {
      // Gather the batch's rows straight into the input segment.
      for (index_t r = 0; r < nb; ++r) {
        const index_t src = order[r0 + r];
        std::memcpy(xin + r * in_, X + src * in_,
                    static_cast<std::size_t>(in_) * sizeof(T));
        if (y_idx != nullptr) {
          batch_idx_[static_cast<std::size_t>(r)] = y_idx[src];
        } else {
          std::memcpy(batch_y_.data() + r * out_, Y + src * out_,
                      static_cast<std::size_t>(out_) * sizeof(T));
        }
      }
      yb_idx = y_idx ? batch_idx_.data() : nullptr;
      yb = Y ? batch_y_.data() : nullptr;
    }
    if (keep_buffers) std::copy(buffers_.begin(), buffers_.end(), buffers_before_.begin());
    // The same sequence as train_step: forward, loss, backward, step.
    const T* out = forward_from_input(nb);
    double loss = loss_and_dout(out, nb, yb_idx, yb);
    if (std::isfinite(loss)) {
      backward(dout_.data(), nb, nullptr);
      loss += penalty_;
    }
    if (!std::isfinite(loss)) {
      if (keep_buffers) std::copy(buffers_before_.begin(), buffers_before_.end(), buffers_.begin());
      res.bad_batch = bi;  // no update from a non-finite loss
      break;
    }
    // The outputs the loss saw (backward only reads the activation segments),
    // for training metrics over the epoch without a second forward pass.
    if (outputs != nullptr) {
      const std::size_t row_bytes = static_cast<std::size_t>(out_) * sizeof(T);
      if (order == nullptr) {
        std::memcpy(outputs + r0 * out_, out, static_cast<std::size_t>(nb) * row_bytes);
      } else {
        for (index_t r = 0; r < nb; ++r)
          std::memcpy(outputs + static_cast<index_t>(order[r0 + r]) * out_, out + r * out_, row_bytes);
      }
    }
    step();
    total += loss * static_cast<double>(nb);
    done_rows += nb;
    ++res.batches;
    if (on_batch != nullptr && *on_batch) (*on_batch)(bi, nb, loss);
  }
  res.mean_loss = done_rows > 0 ? total / static_cast<double>(done_rows) : 0.0;
  return res;
}

template <typename T>
std::size_t Network<T>::allocated_bytes() const {
  std::size_t elems = params_.capacity() + grads_.capacity() + opt_state_.capacity() +
                      acts_.capacity() + scratch_[0].capacity() + scratch_[1].capacity() +
                      dout_.capacity() + batch_y_.capacity() + buffers_before_.capacity();
  return elems * sizeof(T) + batch_idx_.capacity() * sizeof(std::int32_t) + seen_.capacity();
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp
