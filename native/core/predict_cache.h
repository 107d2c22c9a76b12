// Predict's weight cache: each dense layer's W packed once into gemm's
// panels (gemm_packed.h) and reused by every predict until the weights
// change, as onnxruntime prepacks a MatMul's constant weights when it
// creates a session. Without it every predict packs all of W again:
// measured with perf at batch 32, 784-2048-2048-10, one thread, 36 % of a
// predict's time was that packing (pack_t_f32), and at batch 256 11 %.
//
// Never stale: the cache remembers the parameter version it was built from
// (Network::params_version, bumped by every write of the parameters) and
// rebuilds when it differs. Memory: one more copy of the dense weights
// (rounded up to whole panels), in one buffer. A stale cache keeps its
// memory for the rebuild (a setWeights or load between predicts makes no
// new allocation, so no fresh page faults); release() gives it back, which
// the network does when training starts (the weights will change at every
// step: a cache would be rebuilt after each) and which a dispose does by
// destroying the network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"
#include "large_buffer.h"

namespace fastmlp {

template <typename T>
class PredictCache {
 public:
  // Registers dense layer `layer`: its weight (out×in) starts at parameter
  // offset param_off. Called once per dense layer when the network is built.
  void add_dense(std::size_t layer, index_t param_off, index_t out, index_t in);

  // Makes the packed weights those of `params` at `version`: nothing when
  // they already are, else packs every registered layer (allocating on the
  // first build or after release()). Returns false, having done nothing,
  // when the cache is disabled or the running gemm kernel has no packed
  // layout.
  bool refresh(const T* params, std::uint64_t version);

  // Layer `layer`'s packed weight after a successful refresh, else null.
  const T* packed(std::size_t layer) const;

  void release();  // frees the memory; the next refresh rebuilds
  // Off: release() and refresh() does nothing, so predict packs W on every
  // call as before (tests compare the two paths; FASTMLP_PREDICT_CACHE=0
  // turns it off for a process, network.cc).
  void set_enabled(bool on);
  bool enabled() const { return enabled_; }
  std::size_t allocated_bytes() const { return buf_.size() * sizeof(T); }

 private:
  struct Entry {
    std::size_t layer;
    index_t param_off, out, in;
    std::size_t offset = 0;  // into buf_, a multiple of 64 bytes
  };
  std::vector<Entry> entries_;
  std::vector<std::ptrdiff_t> by_layer_;  // layer → index into entries_, or -1
  LargeBuffer<T> buf_;
  std::size_t total_ = 0;  // values every entry needs (0: not computed yet)
  std::uint64_t version_ = 0;
  bool built_ = false;
  bool enabled_ = true;
};

}  // namespace fastmlp
