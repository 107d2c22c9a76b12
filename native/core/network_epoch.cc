// Training a compiled plan (network.h): one step (forward, loss, backward,
// optimizer) and the epoch loop that runs mini-batches over a data set in
// one call, gathering each batch into the input segment. A batch whose loss
// or gradients are not finite stops the epoch before its step, and the running statistics
// its forward updated are put back, so a bad batch leaves no trace.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "finite.h"
#include "network.h"

namespace fastmlp {

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
bool Network<T>::step() {
  // An overflowed gradient would turn every parameter it reaches NaN: the
  // update is refused on every path (train_step, train_epoch, a custom loss's
  // backward + step), as a non-finite loss is.
  if (!grads_finite_) return false;
  // So would running statistics that overflowed in this batch's forward (a huge
  // but finite input: its batch variance overflows, the output and loss stay
  // finite); 2·C values per batch norm layer, nothing for a model without them.
  if (any_nonfinite(buffers_.data(), static_cast<index_t>(buffers_.size()))) return false;
  // Finite gradients can still give an update that overflows (a huge learning
  // rate, weight decay near the largest float, Adam's g²): the elements it
  // would make non-finite keep their parameter and state exactly, the others
  // are updated (optim_numerics.inc, "Updates that overflow", says why not
  // all-or-nothing), and the step is not counted, so that every caller
  // reports it as a bad batch through the step count, as a refused step.
  // A write of the parameters, even a refused one (optimizer_update may
  // update some elements and then return false): predict's cache is stale.
  ++params_version_;
  predict_cache_.release();
  if (!optimizer_update(opt_, params_.data(), grads_.data(), opt_state_.data(), nparams_,
                        step_ + 1))
    return false;
  ++step_;
  return true;
}

template <typename T>
double Network<T>::train_step(const T* x, index_t rows,
                              const std::int32_t* y_idx, const T* y) {
  require_loss("train_step");
  const double loss = compute_gradients(x, rows, y_idx, y);
  // As train_epoch: a NaN/Inf loss leaves the parameters as they were, so the
  // caller can report it without the model already being ruined; so do
  // non-finite gradients (step() refuses them; step_count() tells).
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
  require_or(rows >= 1, [&] { return "train_epoch: expected rows >= 1 but received " + std::to_string(rows); });
  require_or(batch >= 1, [&] { return "train_epoch: expected batch >= 1 but received " + std::to_string(batch); });
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
    // A finite loss can still come with overflowed gradients (float32: the
    // loss sums in double): the same stop, flagged by backward at no extra pass.
    const bool bad_gradients = std::isfinite(loss) && !grads_finite_;
    // So can overflowed running statistics (step() refuses them too).
    const bool bad_statistics = std::isfinite(loss) && grads_finite_ && keep_buffers &&
                                any_nonfinite(buffers_.data(), static_cast<index_t>(buffers_.size()));
    if (!std::isfinite(loss) || bad_gradients || bad_statistics) {
      if (keep_buffers) std::copy(buffers_before_.begin(), buffers_before_.end(), buffers_.begin());
      res.bad_batch = bi;  // no update from a non-finite loss, gradient or statistic
      res.bad_gradients = bad_gradients;
      res.bad_statistics = bad_statistics;
      break;
    }
    if (!step()) {
      // The update overflowed for some parameters (step() above): they were
      // kept, the others updated; the epoch stops there as for a bad batch,
      // with the running statistics of before the batch, as a refused step.
      if (keep_buffers) std::copy(buffers_before_.begin(), buffers_before_.end(), buffers_.begin());
      res.bad_batch = bi;
      res.bad_update = true;
      break;
    }
    // The outputs the loss saw (backward only reads the activation segments,
    // and the step only the parameters), for training metrics over the epoch
    // without a second forward pass.
    if (outputs != nullptr) {
      const std::size_t row_bytes = static_cast<std::size_t>(out_) * sizeof(T);
      if (order == nullptr) {
        std::memcpy(outputs + r0 * out_, out, static_cast<std::size_t>(nb) * row_bytes);
      } else {
        for (index_t r = 0; r < nb; ++r)
          std::memcpy(outputs + static_cast<index_t>(order[r0 + r]) * out_, out + r * out_, row_bytes);
      }
    }
    total += loss * static_cast<double>(nb);
    done_rows += nb;
    ++res.batches;
    if (on_batch != nullptr && *on_batch) (*on_batch)(bi, nb, loss);
  }
  res.mean_loss = done_rows > 0 ? total / static_cast<double>(done_rows) : 0.0;
  return res;
}

// network.cc instantiates the class and the members it defines; these are
// the members defined here.
#define FASTMLP_INSTANTIATE_EPOCH(T)                                                         \
  template double Network<T>::compute_gradients(const T*, index_t, const std::int32_t*,     \
                                                const T*);                                  \
  template bool Network<T>::step();                                                         \
  template double Network<T>::train_step(const T*, index_t, const std::int32_t*, const T*); \
  template EpochResult Network<T>::train_epoch(const T*, index_t, const std::int32_t*,      \
                                               const T*, index_t, const std::int32_t*,      \
                                               const std::atomic<bool>*,                    \
                                               const BatchObserver*, T*);
FASTMLP_INSTANTIATE_EPOCH(float)
FASTMLP_INSTANTIATE_EPOCH(double)
#undef FASTMLP_INSTANTIATE_EPOCH

}  // namespace fastmlp
