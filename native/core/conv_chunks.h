// Helpers the conv2d, convtranspose2d and pooling kernels share (conv.cc,
// conv_transpose.cc): how rows are split into per-thread chunks and run,
// a fixed-order double sum for the bias gradients, and the chunks' partial
// gradients added in order. Internal to the core.
#pragma once

#include <algorithm>

#include "common.h"
#include "threads.h"

namespace fastmlp {
namespace conv_detail {

// At most one chunk per thread, per slot of scratch and per row.
inline index_t chunk_count(index_t rows, index_t slots) {
  return std::max<index_t>(1, std::min<index_t>({rows, slots, index_t(num_threads())}));
}

// First row of chunk c when `rows` rows are split into `chunks` contiguous chunks.
inline index_t chunk_begin(index_t c, index_t rows, index_t chunks) { return rows * c / chunks; }

// Σ v[0..n) in double, in four interleaved partial sums (one chain of
// dependent adds was latency-bound: perf put it at a tenth of a conv2d
// backward); a fixed order, so the same bits every run.
template <typename T>
double sum_in_double(const T* v, index_t n) {
  double a[4] = {0, 0, 0, 0};
  index_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) a[j] += double(v[i + j]);
  for (; i < n; ++i) a[0] += double(v[i]);
  return (a[0] + a[1]) + (a[2] + a[3]);
}

// body(c, n, first) for every row n, the rows split into `chunks` contiguous
// chunks run in parallel (one per thread: the gemms inside then run on that
// thread, threads.h running a nested loop serially, or on the pool when
// there is one chunk); first: n is chunk c's first row, where its sums start.
template <typename Body>
void for_each_row(index_t rows, index_t chunks, const Body& body) {
  parallel_for(chunks, 1, [&](index_t c0, index_t c1) {
    for (index_t c = c0; c < c1; ++c) {
      const index_t begin = chunk_begin(c, rows, chunks), end = chunk_begin(c + 1, rows, chunks);
      for (index_t n = begin; n < end; ++n) body(c, n, n == begin);
    }
  });
}

// db[o] = (first ? 0 : db[o]) + Σ of channel o's `positions` values of dy_n,
// summed in double: one row's share of the bias gradient.
template <typename T>
void add_bias_gradient(T* db, const T* dyn, index_t channels, index_t positions, bool first) {
  for (index_t o = 0; o < channels; ++o) {
    const double sum = sum_in_double(dyn + o * positions, positions);
    db[o] = first ? T(sum) : T(db[o] + T(sum));
  }
}

// dweight (nw values) and dbias (nb) of chunk 0 plus the partial sums of
// chunks 1..chunks−1 (partial_dw(c), partial_db(c)), added in chunk order: the
// same bits every run for a given thread count.
template <typename T, typename PartialW, typename PartialB>
void add_chunk_partials(T* dweight, index_t nw, T* dbias, index_t nb, index_t chunks,
                        const PartialW& partial_dw, const PartialB& partial_db) {
  if (chunks == 1) return;
  parallel_for(nw, 4096, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      T acc = dweight[i];
      for (index_t c = 1; c < chunks; ++c) acc += partial_dw(c)[i];
      dweight[i] = acc;
    }
  });
  for (index_t o = 0; o < nb; ++o) {
    T acc = dbias[o];
    for (index_t c = 1; c < chunks; ++c) acc += partial_db(c)[o];
    dbias[o] = acc;
  }
}

}  // namespace conv_detail
}  // namespace fastmlp
