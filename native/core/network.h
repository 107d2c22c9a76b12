// A compiled network plan (llm.c style): one flat buffer each for the
// parameters, the gradients, the optimizer state and the activations, sized for
// the largest batch seen. A training step — forward, loss, backward, optimizer —
// is one call, and a whole epoch is one call, so the binding crosses into C++
// once per step (or once per epoch).
//
// Parameter layout (also the TypeScript engine's): for each layer in order, its
// learnable tensors in PyTorch state_dict order — dense: weight (out×in,
// row-major, as torch.nn.Linear) then bias (out); conv2d: weight (outC × inC ×
// kH × kW, row-major, as torch.nn.Conv2d) then bias (outC); convtranspose2d: weight
// (inC × outC × kH × kW, row-major, as torch.nn.ConvTranspose2d) then bias
// (outC); batch/layer norm with affine:
// weight (C) then bias (C); prelu: weight (P). Non-learnable state lives in a
// second flat buffer, `buffers`: per batch-norm layer running_mean (C),
// running_var (C), num_batches_tracked (kCountSlots), starting at 0, 1 and 0.
// The count is three base-2^24 digits [low, middle, high] (count =
// (high·2^24 + middle)·2^24 + low): one float slot stops counting at 2^24,
// each digit stays below it, so the count is exact to 2^53 and beyond in
// float32 too, and copies of the buffers carry it like any other value
// (lib/batch-count.ts does the same for the TypeScript engine).
//
// Modes: training (default) or eval (set_training). predict is always eval;
// forward_train, compute_gradients, train_step and train_epoch use the mode.
// Dropout masks come from a Xoshiro128 stream (rng.h) seeded by set_seed and
// advanced by every training-mode forward; the TypeScript engine draws the
// same stream, so a seed gives identical masks in both engines.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "activations.h"
#include "common.h"
#include "conv.h"
#include "conv_transpose.h"
#include "large_buffer.h"
#include "losses.h"
#include "optim.h"
#include "predict_cache.h"
#include "rng.h"

namespace fastmlp {

// Slots of batch norm's num_batches_tracked in `buffers` (the layout above).
constexpr index_t kCountSlots = 3;

// The count held in digits d[0..2] (low first), exact in a double to 2^53.
template <typename T>
inline double batch_count(const T* d) {
  constexpr double base = 16777216.0;  // 2^24
  return (double(d[2]) * base + double(d[1])) * base + double(d[0]);
}

// Adds one batch, carrying into the next digit when one reaches 2^24.
template <typename T>
inline void increment_batch_count(T* d) {
  constexpr T base = T(16777216);  // 2^24: exact in float and double
  d[0] += T(1);
  for (int i = 0; i < 2 && d[i] == base; ++i) {
    d[i] = T(0);
    d[i + 1] += T(1);
  }
}

struct LayerSpec {
  enum class Kind { Dense, Activation, Dropout, BatchNorm, LayerNorm, PRelu, Conv2d, MaxPool2d,
                    ConvTranspose2d };
  Kind kind = Kind::Dense;
  index_t in = 0;   // dense only
  index_t out = 0;  // dense only
  double l1 = 0, l2 = 0;  // dense only: weight penalties (dense.h)
  fastmlp::Activation activation = fastmlp::Activation::Identity;  // activation only
  double p = 0;                     // dropout: drop probability in [0, 1)
  index_t features = 0;             // batch/layer norm: the width they normalise
  double eps = 1e-5;                // batch/layer norm
  double momentum = 0.1;            // batch norm, in [0, 1]
  bool cumulative_average = false;  // batch norm, torch's momentum=None: factor 1/num_batches_tracked
  bool track_running_stats = true;  // batch norm: false → no buffers, batch statistics in eval too
  bool affine = true;               // batch/layer norm: learnable weight and bias
  index_t slopes = 1;               // prelu: 1 or the width
  ActivationParams act_params;  // activation only: negative slope, α, β, ...
  index_t in_channels = 0, out_channels = 0;  // conv2d and convtranspose2d
  index_t channels = 0;                       // maxpool2d
  // conv2d, maxpool2d and convtranspose2d (conv.h); in_h/in_w: the input image.
  Window2d window;
  index_t out_pad_h = 0, out_pad_w = 0;       // convtranspose2d: torch's output_padding
};

struct EpochResult {
  double mean_loss = 0;    // mean of the batch losses weighted by batch rows
  index_t batches = 0;     // batches completed
  index_t bad_batch = -1;  // index of the first batch whose loss, gradients or statistics were not finite, or -1
  bool bad_gradients = false;  // bad_batch's loss was finite but its gradients were not
  bool bad_statistics = false;  // bad_batch's loss and gradients were finite but its running statistics were not
  bool bad_update = false;  // bad_batch's loss, gradients and statistics were finite but its update overflowed (step())
  bool cancelled = false;  // stopped early because `cancel` became true
};

// Called after each completed batch of train_epoch with its index, its rows and
// its loss (on the thread that runs the epoch).
using BatchObserver = std::function<void(index_t batch, index_t rows, double loss)>;

template <typename T>
class Network {
 public:
  // Validates the layer list (at least one dense, conv2d, convtranspose2d or
  // maxpool2d layer, consecutive widths agree, every size ≥ 1) and throws std::invalid_argument otherwise. Parameters start
  // at zero; the caller initialises them (seeded init lives in TypeScript so both
  // engines get bit-identical weights). No loss and an SGD(lr=0.01) optimizer
  // until set_loss / set_optimizer.
  explicit Network(const std::vector<LayerSpec>& layers, index_t max_batch = 32);

  index_t input_size() const;
  index_t output_size() const;
  index_t param_count() const;
  index_t max_batch() const;
  // A batch norm without running statistics normalises with its input's own
  // statistics in eval mode too, so predict runs all its rows as one batch
  // (growing max_batch), and predictAsync must not split them either.
  bool predicts_in_one_pass() const { return has_untracked_batchnorm_; }

  // The writable pointer counts as a write (params_version): take it again
  // after a predict before writing more, or the predict cache serves the
  // values it packed. Read through the const overload.
  T* params();
  const T* params() const;
  // Bumped by every write of the parameters: params(), step(). Predict's
  // weight cache (predict_cache.h) is rebuilt when it differs.
  std::uint64_t params_version() const { return params_version_; }
  // Predict's weight cache on (the default, unless FASTMLP_PREDICT_CACHE=0)
  // or off (freed; predict packs W per call). Bit-identical results either way.
  void set_predict_cache(bool enabled);
  bool predict_cache_enabled() const { return predict_cache_.enabled(); }
  std::size_t predict_cache_bytes() const { return predict_cache_.allocated_bytes(); }
  const T* grads() const;
  // Non-learnable state (batch-norm running statistics), buffer_count() values.
  index_t buffer_count() const;
  T* buffers();
  const T* buffers() const;

  // Training (true, the default) or eval mode for the training-forward calls.
  void set_training(bool training);
  bool training() const;
  // Restarts the dropout mask stream (seed: an integer below 2^53).
  void set_seed(std::uint64_t seed);
  // The dropout mask stream itself, for saving and restoring its state (model
  // files resume training exactly). Inline: the generator is all header.
  Xoshiro128& dropout_rng() { return rng_; }

  // Grows the activation buffers so batches of up to `rows` fit (never shrinks).
  void reserve(index_t rows);

  // Bytes held by the plan's buffers (so a garbage-collected host can weigh it).
  std::size_t allocated_bytes() const;

  void set_loss(const LossSpec& loss);   // validates
  void clear_loss();                     // custom-loss mode: only forward_train/backward/step
  bool has_loss() const;
  // Replaces the optimizer. Its state is kept when the kind and state layout
  // are unchanged (optimizer_state_compatible: a learning-rate change), and
  // reset to zero otherwise.
  void set_optimizer(const OptimizerSpec& spec);
  void reset_optimizer_state();          // zero state, step count back to 0
  std::int64_t step_count() const;
  // The flat optimizer state (its layout belongs to the optimizer kind) and the
  // step count, so a saved model resumes training exactly where it stopped.
  index_t opt_state_size() const;
  const T* opt_state() const;
  // Copies `size` values (must equal opt_state_size()) and sets the step count
  // (≥ 0); throws std::invalid_argument otherwise, leaving the state unchanged.
  void set_opt_state(const T* src, index_t size, std::int64_t steps);
  // Copies `size` values into [offset, offset + size) of the state (within
  // opt_state_size()) and sets the step count (≥ 0): a restore in ranges
  // (lib/io's load yields between them). Throws std::invalid_argument
  // otherwise, leaving the state unchanged.
  void set_opt_state_range(index_t offset, const T* src, index_t size, std::int64_t steps);
  // The dense layers' L1/L2 penalty value computed by the last backward (with
  // its gradient); compute_gradients and train_epoch add it to their loss.
  double penalty() const;

  // Eval-mode forward of any number of rows (processed in chunks of max_batch).
  // x (rows, in) → out (rows, out).
  void predict(const T* x, index_t rows, T* out);

  // Training forward of one batch (rows ≤ max_batch, call reserve first): copies x
  // into the plan's input buffer and keeps every activation for backward.
  // Returns the output (rows, out), valid until the next call.
  const T* forward_train(const T* x, index_t rows);

  // Backward of the last forward_train from dout = dLoss/dOutput (rows, out):
  // overwrites the gradients; writes dLoss/dInput (rows, in) when dinput is non-null.
  // Also records whether every gradient it wrote is finite (gradients_finite).
  void backward(const T* dout, index_t rows, T* dinput = nullptr);

  // False when the last backward wrote a NaN/±Infinity into the gradients —
  // in float32 a finite loss (summed in double) can still overflow them. True
  // before any backward. Found inside the passes that write the gradients
  // (dense weights in their gemm's epilogue, finite.h), not by a second pass.
  bool gradients_finite() const;

  // forward_train + loss + backward; gradients ready, parameters unchanged.
  double compute_gradients(const T* x, index_t rows, const std::int32_t* y_idx,
                           const T* y);

  // One optimizer update with the current gradients. Skipped — parameters,
  // optimizer state and step count unchanged — when they are not all finite
  // (gradients_finite), or the buffers (running statistics) are not, so no
  // path can apply an overflowed step; returns
  // whether the update was applied. An update that would make a parameter or
  // state value non-finite leaves those elements exactly as they were,
  // updates the others, and returns false without counting the step
  // (optimizer_update).
  bool step();

  // compute_gradients + step; returns the batch loss (before the update).
  // When the loss, a gradient or a buffer (running statistics) is not finite the step is skipped
  // (parameters unchanged; step_count() tells).
  double train_step(const T* x, index_t rows, const std::int32_t* y_idx,
                    const T* y);

  // One epoch of mini-batches of `batch` rows over X (rows, in) and y, taking
  // rows in `order` (a permutation of 0..rows-1, validated; null = natural order).
  // The last batch may be smaller. Stops at the first batch whose loss is not
  // finite (EpochResult::bad_batch) and, between batches, when `cancel` becomes
  // true. A batch whose gradients are not finite though its loss is stops the
  // epoch the same way (EpochResult::bad_gradients says which), and so does one
  // whose running statistics overflowed though its loss and gradients did not
  // (EpochResult::bad_statistics), and so does one whose update overflowed
  // for some parameters (EpochResult::bad_update; step() kept those).
  // `on_batch` (optional) observes each completed batch.
  // `outputs` (optional, rows × out): each completed batch's training-mode
  // output rows, taken after its forward and before its step, written at the
  // rows' own indices in X (row order[r] gets its output), so after the epoch
  // outputs lines up with X and Y. Rows of batches that did not complete (a
  // cancellation, the bad batch and after) are left untouched. The bad batch's
  // forward leaves no trace: the running statistics are those before it.
  EpochResult train_epoch(const T* X, index_t rows, const std::int32_t* y_idx,
                          const T* Y, index_t batch, const std::int32_t* order,
                          const std::atomic<bool>* cancel = nullptr,
                          const BatchObserver* on_batch = nullptr,
                          T* outputs = nullptr);

 private:
  T* segment(index_t s);  // activation segment s: 0 = input, l+1 = layer l's output
  // What activation layer l's backward gets as its input x: segment l, or its
  // output where that segment is not kept (kInputNotKept; x is not read).
  const T* activation_input(std::size_t l);
  const T* forward_from_input(index_t rows);  // input segment already filled
  // One layer's forward. keep: a training-forward whose statistics backward
  // will use (aux first half); otherwise a predict (aux second half, eval).
  void layer_forward(std::size_t l, const T* src, T* dst, index_t rows,
                     bool training, bool keep, const T* packed_w = nullptr);
  // grad: for a conv2d layer whose activation is fused into its backward
  // (kFusedIntoConvBackward), that activation's backward tile made for g.
  void layer_backward(std::size_t l, const T* g, T* dst, index_t rows,
                      const ActivationTile<T>* grad = nullptr);
  // Dense or conv2d layer l and the element-wise activation l + 1 in one
  // pass: z gets layer l's output, y the activation's (y may be z: in place).
  // any_sum_order: a predict's pass (dense.h dense_forward).
  // packed_w: a dense layer's weight from the predict cache, or null (packed per call).
  void fused_activation_forward(std::size_t l, const T* src, T* z, T* y, index_t rows,
                                bool any_sum_order, const T* packed_w = nullptr);
  void check_batch_rows(index_t rows, const char* fn) const;
  index_t param_end(std::size_t l) const;  // one past layer l's last parameter
  double loss_and_dout(const T* out, index_t rows, const std::int32_t* y_idx,
                       const T* y);
  void require_loss(const char* fn) const;

  std::vector<LayerSpec> layers_;
  index_t in_ = 0, out_ = 0, nparams_ = 0;
  index_t max_width_ = 0;   // widest of the input and every layer output
  index_t width_sum_ = 0;   // input width + every layer's output width
  index_t cap_ = 0;         // rows every buffer below is sized for
  std::vector<index_t> width_;      // per layer: output width
  std::vector<index_t> seg_off_;    // per segment: Σ widths of earlier segments
  std::vector<index_t> param_off_;  // per layer: first parameter's offset or -1
  std::vector<index_t> buf_off_;    // per layer: first buffer's offset or -1
  std::vector<T> buffers_;          // running statistics (see the layout above)
  std::vector<T> buffers_before_;   // train_epoch: buffers_ before the current batch
  // Per layer: what backward needs beyond the activations — dropout masks
  // (cap_ × C), batch-norm μ and 1/σ (2C, twice, then 2C of backward scratch), layer-norm μ and 1/σ per
  // row (2·cap_, twice). The second copy serves predict, so a predict between
  // forward_train and backward leaves the training statistics intact.
  std::vector<std::vector<T>> aux_;
  // Per layer: for an element-wise activation, whether its forward runs in
  // the dense or conv2d layer before it (kFusedForward: the gemm's epilogue,
  // or conv's copy of a block into the rows) and its backward in the
  // input-gradient gemm of the dense layer after it (kFusedBackward) or,
  // failing that, in the conv2d layer before it, which applies f' as it
  // gathers dY (kFusedIntoConvBackward);
  // kInputNotKept: its derivative reads only its output
  // (activation_grad_reads_input), so the fused forward writes f(Z) over Z in
  // the activation's output segment and never writes its input segment.
  static constexpr unsigned char kFusedForward = 1, kFusedBackward = 2, kInputNotKept = 4,
                                 kFusedIntoConvBackward = 8;
  std::vector<unsigned char> fused_;
  // conv2d's and convtranspose2d's scratch (conv.h, conv_transpose.h):
  // conv_slots_ slots of conv_slot_size_ values, one per thread, sized for
  // the largest such layer and shared by all of them (one layer runs at a
  // time). Grown only when the thread count grows.
  std::vector<T> conv_scratch_;
  index_t conv_slot_size_ = 0, conv_slots_ = 0;
  T* conv_scratch();  // grows to num_threads() slots if fewer
  Conv2dShape conv_shape(std::size_t l) const;
  ConvTranspose2dShape conv_transpose_shape(std::size_t l) const;
  bool has_batchnorm_ = false;
  bool has_untracked_batchnorm_ = false;  // predict then runs all rows in one pass (see predict)
  bool training_ = true;
  bool fwd_training_ = true;  // the mode of the last forward_train
  Xoshiro128 rng_;
  // The large buffers: zero when made, their pages zeroed by the system when
  // first touched, on huge pages where it grants them (large_buffer.h). Never
  // resized: a new size or a reset to zero moves a fresh buffer in.
  LargeBuffer<T> params_, grads_, opt_state_;  // flat, llm.c style
  LargeBuffer<T> acts_;        // cap_ × width_sum_: input copy, layer outputs
  LargeBuffer<T> scratch_[2];  // cap_ × max_width_: backward / predict ping-pong
  std::vector<T> dout_;        // cap_ × out_: dLoss/dOutput
  std::vector<std::int32_t> batch_idx_;  // train_epoch: gathered class indices
  std::vector<T> batch_y_;               // train_epoch: gathered target rows
  std::vector<unsigned char> seen_;      // train_epoch: permutation check
  LossSpec loss_;
  bool has_loss_ = false;
  OptimizerSpec opt_;
  std::int64_t step_ = 0;
  index_t fwd_rows_ = 0;  // rows of the last forward_train; 0 = none to use
  double penalty_ = 0;    // the L1/L2 penalties' value, computed by the last backward
  bool grads_finite_ = true;  // the last backward's gradients are all finite
  std::uint64_t params_version_ = 0;  // see params_version()
  PredictCache<T> predict_cache_;     // dense weights packed for predict (predict_cache.h)
};

}  // namespace fastmlp
