// Predict's weight cache: each dense layer's W packed once into gemm's
// panels (gemm_packed.h) and reused by every predict until the weights
// change, as onnxruntime prepacks a MatMul's constant weights when it
// creates a session. Without it every predict packs all of W again:
// measured with perf at batch 32, 784-2048-2048-10, one thread, 36 % of a
// predict's time was that packing (pack_t_f32), and at batch 256 11 %.
//
// Built at the second predict pass with the same weights (refresh says
// why; Network::predict calls refresh once per pass of up to max_batch rows,
// so a predict of more rows builds it in its own second pass).
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

  // Makes the packed weights those of `params` at `version` and returns
  // true: nothing to do when they already are; else, at the second call
  // with this version, packs every registered layer (allocating on the first
  // build or after release()). Returns false, having done nothing, at the
  // first call with a new version (the caller packs per call, as without a
  // cache), when the cache is disabled, or when the running gemm kernel has
  // no packed layout.
  //
  // Why the second call: a build costs more than the per-call packing it
  // replaces (it packs all of W, and after release() its fresh pages fault
  // in: measured through Sequential.predict, 784-2048-2048-10 at 32 rows,
  // one thread, ~8 ms for the predict that builds into kept memory, ~60 ms
  // into fresh memory, against 6.4 ms for a predict that packs per call and
  // 4.5 ms from the cache). A loop that alternates trainStep and predict
  // would pay it at every predict; at the second call with the same weights
  // the weights are being served, and the build is paid once.
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
    index_t param_off, out, in;
    std::size_t offset = 0;  // into buf_, a multiple of 64 bytes
  };
  std::vector<Entry> entries_;
  std::vector<std::ptrdiff_t> by_layer_;  // layer → index into entries_, or -1
  LargeBuffer<T> buf_;
  std::size_t total_ = 0;  // values every entry needs (0: not computed yet)
  std::uint64_t version_ = 0;
  bool built_ = false;
  std::uint64_t seen_version_ = 0;  // the version of the last refresh call...
  bool seen_ = false;               // ...if there was one since the last build or release

  bool enabled_ = true;
};

}  // namespace fastmlp
