// A compiled MLP plan (network.h), laid out as in karpathy/llm.c: one flat
// allocation each for parameters, gradients, optimizer state and activations,
// layers addressing them through offsets. Consequences:
//  - the optimizer step is one loop over contiguous memory (optim.cc);
//  - nothing is allocated per step: buffers are sized for cap_ rows and only
//    grow in reserve() (and train_epoch's gather buffers once per epoch);
//  - every layer keeps its own output segment, so backward has each layer's
//    input and output (gelu' needs x, sigmoid/tanh/softmax need y), except
//    a relu, sigmoid or tanh right after a dense layer: its derivative reads
//    only y, so its input segment is not written (network_passes.cc).
//
// The plan is split by job, one file each:
//   network.cc          construction, sizes, reserve, settings and state
//   network_passes.cc   predict and the training forward and backward passes
//   network_epoch.cc    the training step and the epoch loop (train_epoch)
#include "network.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  // sysconf: physical memory
#endif

#include "activations.h"
#include "threads.h"

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
// memory: the large buffers are granted lazily (large_buffer.h; overcommit),
// so such a size would otherwise be accepted now and touched page by page by
// the first step until the process is killed, instead of failing with a clear
// error. Where the size of physical memory is unknown, only kMaxElems applies.
std::uint64_t physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return std::uint64_t(pages) * std::uint64_t(page);
#endif
  return UINT64_MAX;
}

void require_fits_in_memory(index_t elems, std::size_t elem_size, const char* what) {
  static const std::uint64_t limit = physical_memory_bytes();
  require_or(std::uint64_t(elems) <= limit / elem_size, [&] {
    return std::string("network: ") + what + " needs " + std::to_string(elems) + " values of " +
           std::to_string(elem_size) + " bytes, more than this machine's memory";
  });
}

void require_channels(index_t c, const char* name, const std::string& at) {
  require(c >= 1 && c <= 2147483647, at + ": expected " + name + " in [1, 2147483647] but received " +
                                         std::to_string(c));
}

// The width of a row holding `channels` images of h × w.
index_t image_width(index_t channels, index_t h, index_t w) {
  return checked_mul(checked_mul(channels, h, "image size"), w, "image size");
}

}  // namespace

template <typename T>
Network<T>::Network(const std::vector<LayerSpec>& layers, index_t max_batch)
    : layers_(layers) {
  require(max_batch >= 1, "network: expected max_batch >= 1 but received " +
                              std::to_string(max_batch));
  // The first layer that declares its input width — dense, conv2d,
  // convtranspose2d or maxpool2d — fixes the network's.
  const auto first_sized =
      std::find_if(layers_.begin(), layers_.end(), [](const LayerSpec& l) {
        return l.kind == LayerSpec::Kind::Dense || l.kind == LayerSpec::Kind::Conv2d ||
               l.kind == LayerSpec::Kind::ConvTranspose2d || l.kind == LayerSpec::Kind::MaxPool2d;
      });
  require(first_sized != layers_.end(),
          "network: expected at least one dense, conv2d, convtranspose2d or maxpool2d layer");
  if (first_sized->kind == LayerSpec::Kind::Dense) {
    in_ = first_sized->in;
  } else if (first_sized->kind == LayerSpec::Kind::ConvTranspose2d) {
    const std::string at = "network: layer " + std::to_string(first_sized - layers_.begin()) +
                           " (convtranspose2d)";
    validate_conv_transpose(conv_transpose_shape(first_sized - layers_.begin()), at.c_str());
    in_ = image_width(first_sized->in_channels, first_sized->window.in_h, first_sized->window.in_w);
  } else {
    const bool pool = first_sized->kind == LayerSpec::Kind::MaxPool2d;
    const std::string at = "network: layer " + std::to_string(first_sized - layers_.begin()) +
                           (pool ? " (maxpool2d)" : " (conv2d)");
    validate_window(first_sized->window, pool, at.c_str());
    const index_t channels = pool ? first_sized->channels : first_sized->in_channels;
    require_channels(channels, pool ? "channels" : "inChannels", at);
    in_ = image_width(channels, first_sized->window.in_h, first_sized->window.in_w);
  }
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
      predict_cache_.add_dense(l, param_off_.back(), L.out, L.in);
    } else if (L.kind == LayerSpec::Kind::Activation) {
      try {
        validate_activation(L.activation, L.act_params);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(at + ": " + e.what());
      }
      param_off_.push_back(-1);
      buf_off_.push_back(-1);
      aux_.emplace_back();
    } else if (L.kind == LayerSpec::Kind::Conv2d || L.kind == LayerSpec::Kind::MaxPool2d) {
      const bool conv = L.kind == LayerSpec::Kind::Conv2d;
      const std::string where = at + (conv ? " (conv2d)" : " (maxpool2d)");
      const Window2d& w = L.window;
      validate_window(w, !conv, where.c_str());
      const index_t in_c = conv ? L.in_channels : L.channels;
      const index_t out_c = conv ? L.out_channels : L.channels;
      require_channels(in_c, conv ? "inChannels" : "channels", where);
      require_channels(out_c, "outChannels", where);
      const index_t in_w = image_width(in_c, w.in_h, w.in_w);
      require(in_w == cur, where + ": expected " + (conv ? "inChannels" : "channels") +
                               "*inHeight*inWidth = " + std::to_string(cur) +
                               " (the previous width) but received " + std::to_string(in_w));
      index_t np = 0;
      if (conv) {
        Conv2dShape shape{in_c, out_c, w};
        const index_t k = checked_mul(checked_mul(in_c, w.kernel_h, "conv2d kernel"), w.kernel_w, "conv2d kernel");
        np = checked_mul(out_c, k + 1, "parameter count");
        // One image's col and output (K·P + outC·P) and the partial gradients
        // checked first: a block of several images holds at most
        // kConvBlockValues, so slot_size()'s own products then fit.
        const index_t kp = checked_mul(k, w.out_h() * w.out_w(), "conv2d scratch");
        const index_t op = checked_mul(out_c, w.out_h() * w.out_w(), "conv2d scratch");
        const index_t sums = checked_mul(out_c, k + 1, "conv2d scratch");
        require(kp <= kMaxElems - op - sums, "network: conv2d scratch is too large");
        conv_slot_size_ = std::max(conv_slot_size_, shape.slot_size());
      }
      param_off_.push_back(np > 0 ? nparams_ : -1);
      require(nparams_ <= kMaxElems - np, "network: parameter count is too large");
      nparams_ += np;
      buf_off_.push_back(-1);
      aux_.emplace_back();
      cur = image_width(out_c, w.out_h(), w.out_w());
    } else if (L.kind == LayerSpec::Kind::ConvTranspose2d) {
      const std::string where = at + " (convtranspose2d)";
      const ConvTranspose2dShape shape = conv_transpose_shape(l);
      validate_conv_transpose(shape, where.c_str());
      const Window2d& w = L.window;
      const index_t in_w = image_width(shape.in_c, w.in_h, w.in_w);
      require(in_w == cur, where + ": expected inChannels*inHeight*inWidth = " + std::to_string(cur) +
                               " (the previous width) but received " + std::to_string(in_w));
      // Every product checked before the shape's own (unchecked) formulas are used.
      const index_t k = checked_mul(checked_mul(shape.out_c, w.kernel_h, "convtranspose2d kernel"),
                                    w.kernel_w, "convtranspose2d kernel");
      const index_t weights = checked_mul(shape.in_c, k, "parameter count");
      const index_t np = weights + shape.out_c;
      // One image's col and input (K'·P + inC·P) and the partial gradients
      // (np values) checked first, as for conv2d above.
      const index_t p = checked_mul(w.in_h, w.in_w, "convtranspose2d scratch");
      const index_t kp = checked_mul(k, p, "convtranspose2d scratch");
      const index_t ip = checked_mul(shape.in_c, p, "convtranspose2d scratch");
      require(np == shape.param_count() && kp <= kMaxElems - ip - np,
              "network: convtranspose2d scratch is too large");
      conv_slot_size_ = std::max(conv_slot_size_, shape.slot_size());
      param_off_.push_back(nparams_);
      require(nparams_ <= kMaxElems - np, "network: parameter count is too large");
      nparams_ += np;
      buf_off_.push_back(-1);
      aux_.emplace_back();
      cur = image_width(shape.out_c, shape.out_h(), shape.out_w());
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
          require(L.cumulative_average || (L.momentum >= 0 && L.momentum <= 1),
                  at + ": expected momentum in [0, 1]");
          nb = L.track_running_stats ? 2 * cur + kCountSlots : 0;
          has_batchnorm_ = true;
          if (!L.track_running_stats) has_untracked_batchnorm_ = true;
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
    const bool after_dense = l > 0 && layers_[l - 1].kind == LayerSpec::Kind::Dense;
    const bool after_conv = l > 0 && layers_[l - 1].kind == LayerSpec::Kind::Conv2d;
    if (after_dense || after_conv) {
      fused_[l] |= kFusedForward;
      if (!activation_grad_reads_input(layers_[l].activation)) fused_[l] |= kInputNotKept;
    }
    if (l + 1 < layers_.size() && layers_[l + 1].kind == LayerSpec::Kind::Dense)
      fused_[l] |= kFusedBackward;
    else if (after_conv)
      fused_[l] |= kFusedIntoConvBackward;
  }
  require_fits_in_memory(2 * nparams_, sizeof(T), "the parameters and gradients");
  // Zero, and not written here: their pages are zeroed by the system when the
  // caller's weights or the first backward reach them (large_buffer.h).
  params_ = LargeBuffer<T>(static_cast<std::size_t>(nparams_));
  grads_ = LargeBuffer<T>(static_cast<std::size_t>(nparams_));
  buffers_.assign(static_cast<std::size_t>(nbuffers), T(0));
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    if (layers_[l].kind != LayerSpec::Kind::BatchNorm) continue;
    const index_t C = layers_[l].features;
    // running_var starts at 1 (torch.nn.BatchNorm1d.reset_running_stats)
    if (buf_off_[l] >= 0) std::fill_n(buffers_.begin() + buf_off_[l] + C, C, T(1));
    aux_[l].assign(static_cast<std::size_t>(6 * C), T(0));  // stats twice, backward scratch
  }
  reserve(max_batch);
  // FASTMLP_PREDICT_CACHE=0 in the environment: no predict weight cache in
  // this process (predict_cache.h; README "Inference" says when to use it).
  // Read once, as FASTMLP_GEMM_KERNEL is (cpu.h); lib/native.ts warns about
  // a value other than 0 and 1.
  static const bool cache_off = [] {
    const char* env = std::getenv("FASTMLP_PREDICT_CACHE");
    return env != nullptr && std::string(env) == "0";
  }();
  if (cache_off) predict_cache_.set_enabled(false);
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
T* Network<T>::params() {
  ++params_version_;  // the caller may write through the pointer
  return params_.data();
}
template <typename T>
const T* Network<T>::params() const { return params_.data(); }
template <typename T>
const T* Network<T>::grads() const { return grads_.data(); }
template <typename T>
index_t Network<T>::buffer_count() const { return static_cast<index_t>(buffers_.size()); }
template <typename T>
T* Network<T>::buffers() { return buffers_.data(); }
template <typename T>
const T* Network<T>::buffers() const { return buffers_.data(); }
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
  require_or(rows >= 0, [&] { return "reserve: expected rows >= 0 but received " + std::to_string(rows); });
  if (rows <= cap_) return;
  const auto acts = static_cast<std::size_t>(checked_mul(rows, width_sum_, "batch"));
  const auto scratch = static_cast<std::size_t>(checked_mul(rows, max_width_, "batch"));
  const auto dout = static_cast<std::size_t>(checked_mul(rows, out_, "batch"));
  require_fits_in_memory(index_t(acts + 2 * scratch + dout), sizeof(T), "the batch's activations");
  // Allocate everything before touching any member (strong exception
  // guarantee): if one allocation fails, the network is exactly as before.
  LargeBuffer<T> new_acts(acts), new_scratch0(scratch), new_scratch1(scratch);
  std::vector<T> new_dout(dout);
  std::vector<std::vector<T>> new_aux(aux_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerSpec& L = layers_[l];
    if (L.kind == LayerSpec::Kind::Dropout)
      new_aux[l].resize(static_cast<std::size_t>(checked_mul(rows, width_[l], "batch")));
    else if (L.kind == LayerSpec::Kind::LayerNorm)
      new_aux[l].resize(static_cast<std::size_t>(checked_mul(rows, 4, "batch")));
  }
  // conv2d's and convtranspose2d's scratch: one slot per thread that a batch this size can use.
  std::vector<T> new_conv;
  const index_t conv_slots = std::min<index_t>(num_threads(), rows);
  if (conv_slot_size_ > 0 && conv_slots > conv_slots_)
    new_conv.resize(static_cast<std::size_t>(checked_mul(conv_slots, conv_slot_size_, "conv2d scratch")));
  for (std::size_t l = 0; l < layers_.size(); ++l)
    if (!new_aux[l].empty()) aux_[l].swap(new_aux[l]);
  if (!new_conv.empty()) {
    conv_scratch_.swap(new_conv);
    conv_slots_ = conv_slots;
  }
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
T* Network<T>::conv_scratch() {
  // More threads than when the plan was built or reserved: more slots (the
  // one allocation outside reserve, and only when set_num_threads grows).
  const index_t want = std::min<index_t>(num_threads(), cap_);
  if (want > conv_slots_) {
    std::vector<T> grown(static_cast<std::size_t>(checked_mul(want, conv_slot_size_, "conv2d scratch")));
    conv_scratch_.swap(grown);
    conv_slots_ = want;
  }
  return conv_scratch_.data();
}

template <typename T>
Conv2dShape Network<T>::conv_shape(std::size_t l) const {
  const LayerSpec& L = layers_[l];
  return Conv2dShape{L.in_channels, L.out_channels, L.window};
}

template <typename T>
ConvTranspose2dShape Network<T>::conv_transpose_shape(std::size_t l) const {
  const LayerSpec& L = layers_[l];
  return ConvTranspose2dShape{L.in_channels, L.out_channels, L.window, L.out_pad_h, L.out_pad_w};
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
    // A fresh zero buffer, not a fill: compile runs on the caller's thread
    // (large_buffer.h), and the first step touches the pages anyway.
    opt_state_ = LargeBuffer<T>(static_cast<std::size_t>(size));
    step_ = 0;
  }
  opt_ = spec;
}

template <typename T>
void Network<T>::reset_optimizer_state() {
  // Replaced rather than filled, as in set_optimizer: compile calls this right
  // after set_optimizer made the state, and a fill would touch every page of
  // the fresh buffer on the caller's thread. Allocated before anything
  // changes, so a bad_alloc leaves the state as it was.
  LargeBuffer<T> zeros(opt_state_.size());
  opt_state_.swap(zeros);
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
void Network<T>::set_opt_state_range(index_t offset, const T* src, index_t size, std::int64_t steps) {
  if (offset < 0 || size < 0 || offset > opt_state_size() || size > opt_state_size() - offset)
    throw std::invalid_argument("set_opt_state_range: expected a range within the " +
                                std::to_string(opt_state_size()) + " values of the current optimizer but received [" +
                                std::to_string(offset) + ", " + std::to_string(offset + size) + ")");
  if (steps < 0)
    throw std::invalid_argument("set_opt_state_range: expected a step count >= 0 but received " +
                                std::to_string(steps));
  std::copy(src, src + size, opt_state_.begin() + offset);
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
std::size_t Network<T>::allocated_bytes() const {
  std::size_t elems = params_.size() + grads_.size() + opt_state_.size() +
                      acts_.size() + scratch_[0].size() + scratch_[1].size() +
                      dout_.capacity() + batch_y_.capacity() + buffers_before_.capacity() +
                      conv_scratch_.capacity();
  return elems * sizeof(T) + batch_idx_.capacity() * sizeof(std::int32_t) + seen_.capacity() +
         predict_cache_.allocated_bytes();
}

template <typename T>
void Network<T>::set_predict_cache(bool enabled) {
  predict_cache_.set_enabled(enabled);
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp
