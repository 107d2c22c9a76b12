// Predict's weight cache (predict_cache.h).
#include "predict_cache.h"

#include <new>
#include <utility>

#include "gemm_packed.h"

namespace fastmlp {

template <typename T>
void PredictCache<T>::add_dense(std::size_t layer, index_t param_off, index_t out, index_t in) {
  if (by_layer_.size() <= layer) by_layer_.resize(layer + 1, -1);
  by_layer_[layer] = static_cast<std::ptrdiff_t>(entries_.size());
  entries_.push_back({param_off, out, in});
  total_ = 0;
}

template <typename T>
bool PredictCache<T>::refresh(const T* params, std::uint64_t version) {
  if (!enabled_ || entries_.empty()) return false;
  if (built_ && version_ == version) return true;
  if (!seen_ || seen_version_ != version) {
    seen_ = true;
    seen_version_ = version;
    return false;
  }
  if (total_ == 0) {
    // Offsets on 64-byte boundaries (the packing buffers' alignment, which
    // the kernels' panel loads are tuned for).
    constexpr std::size_t kAlign = 64 / sizeof(T);
    std::size_t at = 0;
    for (Entry& e : entries_) {
      const std::size_t size = gemm_packed_bt_size<T>(e.out, e.in);
      if (size == 0) return false;  // this kernel has no packed layout
      e.offset = at;
      at += (size + kAlign - 1) / kAlign * kAlign;
    }
    total_ = at;
  }
  built_ = false;
  if (buf_.size() != total_) {
    // No memory for the cache is no reason to fail a predict: it packs W
    // per call, as without the cache.
    try {
      buf_ = LargeBuffer<T>(total_);
    } catch (const std::bad_alloc&) {
      release();
      return false;
    }
  }
  for (const Entry& e : entries_)
    gemm_pack_bt<T>(params + e.param_off, e.out, e.in, e.in, buf_.data() + e.offset);
  version_ = version;
  built_ = true;
  seen_ = false;
  return true;
}

template <typename T>
const T* PredictCache<T>::packed(std::size_t layer) const {
  if (!built_ || layer >= by_layer_.size() || by_layer_[layer] < 0) return nullptr;
  return buf_.data() + entries_[static_cast<std::size_t>(by_layer_[layer])].offset;
}

template <typename T>
void PredictCache<T>::release() {
  built_ = false;
  seen_ = false;
  LargeBuffer<T>().swap(buf_);
}

template <typename T>
void PredictCache<T>::set_enabled(bool on) {
  enabled_ = on;
  if (!on) release();
}

template class PredictCache<float>;
template class PredictCache<double>;

}  // namespace fastmlp
