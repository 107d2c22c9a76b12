// Helpers the conv2d, convtranspose2d and pooling kernels share (conv.cc,
// conv_transpose.cc): how rows are split into per-thread chunks and each
// chunk into blocks of images, the images of a block gathered side by side
// and scattered back, a fixed-order double sum for the bias gradients, and
// the chunks' partial gradients added in order; an element-wise activation
// applied on the way (activations.h ActivationTile). Internal to the core.
#pragma once

#include <algorithm>

#include "activations.h"
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

// body(c, n0, count, first) for every block of `count` consecutive rows
// n0..n0+count−1 (1 ≤ count ≤ max_block): the rows split into `chunks`
// contiguous chunks run in parallel (one per thread: the gemms inside then
// run on that thread, threads.h running a nested loop serially, or on the
// pool when there is one chunk), each chunk's rows into ⌈rows/max_block⌉
// blocks of near-equal size (64 rows, at most 10 a block: 7 blocks of 9 or
// 10, not 6 of 10 and one of 4) run in order; first: the chunk's first
// block, where its sums start.
template <typename Body>
void for_each_block(index_t rows, index_t chunks, index_t max_block, const Body& body) {
  parallel_for(chunks, 1, [&](index_t c0, index_t c1) {
    for (index_t c = c0; c < c1; ++c) {
      const index_t begin = chunk_begin(c, rows, chunks), end = chunk_begin(c + 1, rows, chunks);
      const index_t n = end - begin, blocks = (n + max_block - 1) / max_block;
      for (index_t b = 0; b < blocks; ++b) {
        const index_t b0 = begin + n * b / blocks, b1 = begin + n * (b + 1) / blocks;
        body(c, b0, b1 - b0, b == 0);
      }
    }
  });
}

// dst[0, n) = src[0, n) ⊙ f'(x, y), x and y read at src's position in the
// array `grad` (a backward tile, activations.h) was made for (grad.c): the
// copy, then grad's tile function in place while the n values are in L1 —
// the same functor and product as activation_backward, so the same bits.
template <typename T>
void copy_times_derivative(T* dst, const T* src, index_t n, const ActivationTile<T>& grad) {
  std::copy(src, src + n, dst);
  const index_t off = src - grad.c;
  ActivationTile<T> here = grad;  // located at dst, reading x and y at src's position
  here.c = dst;
  here.x = grad.x + off;
  here.y = grad.y + off;
  grad.fn(dst, n, 1, n, &here);
}

// block (channels × count·P) = rows n0..n0+count−1 of src (row stride
// row_size, channel o of a row at o·P) side by side: image m's P values of
// channel o at block[o·count·P + m·P] — the layout im2col gives a block.
// grad (a backward tile made for src, or null): src holds dL/d(an
// activation's output), and each value is multiplied by that activation's
// derivative as it is copied (copy_times_derivative), so the activation's
// backward needs no pass of its own.
template <typename T>
void gather_images(T* block, const T* src, index_t row_size, index_t count, index_t channels,
                   index_t P, const ActivationTile<T>* grad = nullptr) {
  const index_t N = count * P;
  for (index_t m = 0; m < count; ++m)
    for (index_t o = 0; o < channels; ++o) {
      const T* from = src + m * row_size + o * P;
      if (grad == nullptr) std::copy(from, from + P, block + o * N + m * P);
      else copy_times_derivative(block + o * N + m * P, from, P, *grad);
    }
}

// The inverse: rows of dst (row stride row_size) = the block's images, plus
// bias[o] on channel o when bias is non-null. act (a forward tile made for
// dst, or null): then f of each row of P values is written where act says
// (act.y_out, possibly dst itself) as soon as the row is, while it is in L1.
template <typename T>
void scatter_images(T* dst, index_t row_size, const T* block, index_t count, index_t channels,
                    index_t P, const T* bias, const ActivationTile<T>* act = nullptr) {
  const index_t N = count * P;
  for (index_t m = 0; m < count; ++m)
    for (index_t o = 0; o < channels; ++o) {
      const T* from = block + o * N + m * P;
      T* to = dst + m * row_size + o * P;
      if (bias == nullptr) {
        std::copy(from, from + P, to);
      } else {
        const T b = bias[o];
        for (index_t p = 0; p < P; ++p) to[p] = from[p] + b;
      }
      if (act != nullptr) act->fn(to, P, 1, P, act);
    }
}

// db[o] = (first ? 0 : db[o]) + Σ of channel o's `positions` values of dy_n,
// summed in double: one row's (or, with positions = count·P, one gathered
// block's) share of the bias gradient.
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
