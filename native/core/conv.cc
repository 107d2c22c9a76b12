// conv2d (im2col + gemm) and maxpool2d on NCHW-flattened rows: conv.h.
#include "conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "conv_chunks.h"
#include "gemm.h"
#include "pool2x2.h"
#include "threads.h"

namespace fastmlp {
namespace {

using conv_detail::add_bias_gradient;
using conv_detail::add_chunk_partials;
using conv_detail::chunk_count;
using conv_detail::for_each_block;
using conv_detail::gather_images;
using conv_detail::scatter_images;

constexpr index_t kMaxSize = 2147483647;  // as the binding's kMaxDim

// The outputs o in [0, out) whose input index o·stride − pad + kk lies in
// [0, in): the half-open range [lo, hi) (empty when none does).
void valid_outputs(index_t kk, index_t stride, index_t pad, index_t in, index_t out,
                   index_t& lo, index_t& hi) {
  const index_t first = pad - kk;        // o·stride ≥ pad − kk
  const index_t last = in - 1 + pad - kk;  // o·stride ≤ in − 1 + pad − kk
  lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
}

// Calls body(copy), where copy(dst, src) sets dst[0, n) = src[0, n), with
// the way to move n values chosen here, once: copy_row for one row,
// copy_rows for every row of a kernel offset. Short rows are inlined: im2col
// copies one window row of a small image at a time (11 floats on MNIST's
// second conv), and std::copy called memmove for each — perf put the calls at
// about a tenth of a small CNN's training step, im2col included. Up to eight
// 16-byte moves (one SSE2/NEON register each), the last ones overlapping the
// first when n is not a multiple of the move; no loop, which GCC would turn
// back into a memmove call. Rows longer than eight moves (32 floats) go to
// std::copy, where the call pays.
template <typename T, typename Body>
inline void with_row_copy(index_t n, Body&& body) {
  constexpr index_t kV = 16 / sizeof(T);  // values a move
  const auto moves = [](auto... at) {
    return [=](T* __restrict dst, const T* __restrict src) {
      (std::memcpy(dst + at, src + at, 16), ...);
    };
  };
  if (n > 8 * kV) {
    body([n](T* __restrict dst, const T* __restrict src) { std::copy(src, src + n, dst); });
  } else if (n >= 4 * kV) {  // MNIST's first conv: rows of 26
    body(moves(index_t(0), kV, 2 * kV, 3 * kV, n - 4 * kV, n - 3 * kV, n - 2 * kV, n - kV));
  } else if (n >= 2 * kV) {
    body(moves(index_t(0), kV, n - 2 * kV, n - kV));
  } else if (n >= kV) {
    body(moves(index_t(0), n - kV));
  } else {
    body([n](T* __restrict dst, const T* __restrict src) {
      for (index_t i = 0; i < n; ++i) dst[i] = src[i];
    });
  }
}

template <typename T>
inline void copy_row(T* dst, const T* src, index_t n) {
  with_row_copy<T>(n, [&](auto&& copy) { copy(dst, src); });
}

// copy_row(dst + r·dld, src + r·sld, n) for r < rows, with the choice among
// its cases made once: im2col's rows of one kernel offset at stride 1
// without horizontal padding (every row of a 3×3 conv's col), where the
// per-row branches and zero fills were most of im2col's remaining time.
template <typename T>
inline void copy_rows(T* dst, index_t dld, const T* src, index_t sld, index_t n, index_t rows) {
  with_row_copy<T>(n, [&](auto&& copy) {
    for (index_t r = 0; r < rows; ++r, dst += dld, src += sld) copy(dst, src);
  });
}

// dst[0, n) += src[0, n): col2im's rows at stride 1, which the compiler
// vectorises once it knows the two do not overlap (the strided loop it
// could not: col2im took 7 % of that step).
template <typename T>
inline void add_row(T* __restrict dst, const T* __restrict src, index_t n) {
  for (index_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Messages built only on failure (require_or): these run every call.
void check_conv_args(const void* y, const void* x, const void* weight, index_t rows,
                     const Conv2dShape& s, const void* scratch, index_t slots, const char* fn) {
  require_or(rows >= 0, [&] { return std::string(fn) + ": expected rows >= 0"; });
  require_or(s.in_c >= 1 && s.out_c >= 1, [&] { return std::string(fn) + ": expected channels >= 1"; });
  validate_window(s.win, false, fn);
  require_or(rows == 0 || (y != nullptr && x != nullptr && weight != nullptr && scratch != nullptr &&
                           slots >= 1),
             [&] { return std::string(fn) + ": null buffer or no scratch slot"; });
}

// Output columns whose windows window_row scans together: a tile on the
// stack, so that a row of windows of any width needs no allocation.
constexpr index_t kPoolTile = 64;

// The output columns [lo, hi) whose window's column kw is a real element,
// for the first kCached kernel columns: computed once per pooling pass, not
// per row of windows (two divisions a column, which cost more than the scan
// of a 2 × 2 window).
struct PoolColumns {
  static constexpr index_t kCached = 16;
  index_t lo[kCached], hi[kCached];
  explicit PoolColumns(const Window2d& w) {
    for (index_t kw = 0; kw < std::min(w.kernel_w, kCached); ++kw)
      valid_outputs(kw, w.stride_w, w.pad_w, w.in_w, w.out_w(), lo[kw], hi[kw]);
  }
  void get(const Window2d& w, index_t kw, index_t& l, index_t& h) const {
    if (kw < kCached) {
      l = lo[kw];
      h = hi[kw];
    } else {
      valid_outputs(kw, w.stride_w, w.pad_w, w.in_w, w.out_w(), l, h);
    }
  }
};

// The maxima of windows (oh, o0), ..., (oh, o1 − 1) of one image xc (H × W),
// o1 − o0 ≤ kPoolTile: their values in maxval[0 .. o1 − o0) and, with
// kIndices, their elements' indices in the image in best[...]. torch's CPU
// scan (aten/src/ATen/native/cpu/MaxPoolKernel.cpp): each window row-major,
// from −∞ at its first real element (padding is never chosen), an element
// replacing the maximum when it is greater or NaN — so the first maximum
// wins, and the last NaN. The same element (kh, kw) of every window of the
// tile goes in one loop: the windows are independent, so their
// compare-and-select chains overlap. Scanned one window at a time, each
// waiting on its own chain, pooling took a quarter of a small CNN's training
// step (perf, 2 × 2 windows of 26 × 26 and 11 × 11 images).
// Index: the type of best, int32_t when the image's H·W fits (four lanes of
// SSE2 instead of two for the index selects), else index_t.
template <bool kIndices, typename Index, typename T>
void window_row(const T* xc, const Window2d& w, const PoolColumns& columns, index_t oh, index_t o0,
                index_t o1, T* maxval, Index* best) {
  const index_t W = w.in_w, sw = w.stride_w;
  const index_t hs = oh * w.stride_h - w.pad_h;
  const index_t h0 = std::max<index_t>(hs, 0), h1 = std::min(hs + w.kernel_h, w.in_h);
  for (index_t o = o0; o < o1; ++o) {
    maxval[o - o0] = -std::numeric_limits<T>::infinity();
    if (kIndices) best[o - o0] = static_cast<Index>(h0 * W + std::max<index_t>(o * sw - w.pad_w, 0));
  }
  for (index_t ih = h0; ih < h1; ++ih) {
    const T* xr = xc + ih * W;
    const Index row = static_cast<Index>(ih * W);
    for (index_t kw = 0; kw < w.kernel_w; ++kw) {
      index_t lo, hi;  // the tile's windows whose column kw is a real element
      columns.get(w, kw, lo, hi);
      lo = std::max(lo, o0);
      hi = std::min(hi, o1);
      const index_t shift = kw - w.pad_w;
      for (index_t o = lo; o < hi; ++o) {
        const Index iw = static_cast<Index>(o * sw + shift);
        const T v = xr[iw];
        T& m = maxval[o - o0];
        // Selects by masks, not branches: on real data `take` is a coin
        // toss, and a mispredicted branch per element cost more than the scan.
        const bool take = v > m || v != v;
        m = take ? v : m;
        if (kIndices) best[o - o0] += (row + iw - best[o - o0]) & -Index(take);
      }
    }
  }
}

// Rows per parallel chunk of a pooling pass: about 32k window elements each.
index_t pool_grain(index_t channels, const Window2d& w) {
  const index_t per_row = channels * w.out_h() * w.out_w() * w.kernel_h * w.kernel_w;
  return std::max<index_t>(1, 32768 / std::max<index_t>(1, per_row));
}

}  // namespace

void validate_window(const Window2d& w, bool pooling, const char* at) {
  // Every message is built only on failure: the kernels check their window
  // each call, and the steady state allocates nothing.
  const auto field = [&](index_t v, const char* name, index_t min) {
    require_or(v >= min && v <= kMaxSize, [&] {
      return std::string(at) + ": expected " + name + " in [" + std::to_string(min) + ", " +
             std::to_string(kMaxSize) + "] but received " + std::to_string(v);
    });
  };
  field(w.in_h, "inHeight", 1);
  field(w.in_w, "inWidth", 1);
  field(w.kernel_h, "kernelHeight", 1);
  field(w.kernel_w, "kernelWidth", 1);
  field(w.stride_h, "strideHeight", 1);
  field(w.stride_w, "strideWidth", 1);
  field(w.pad_h, "padHeight", 0);
  field(w.pad_w, "padWidth", 0);
  require_or(w.kernel_h <= w.in_h + 2 * w.pad_h, [&] {
    return std::string(at) + ": expected kernelHeight <= inHeight + 2*padHeight (" +
           std::to_string(w.in_h + 2 * w.pad_h) + ") but received " + std::to_string(w.kernel_h);
  });
  require_or(w.kernel_w <= w.in_w + 2 * w.pad_w, [&] {
    return std::string(at) + ": expected kernelWidth <= inWidth + 2*padWidth (" +
           std::to_string(w.in_w + 2 * w.pad_w) + ") but received " + std::to_string(w.kernel_w);
  });
  if (!pooling) return;
  // torch.nn.functional.max_pool2d: "pad should be at most half of effective kernel size".
  require_or(2 * w.pad_h <= w.kernel_h, [&] {
    return std::string(at) + ": expected padHeight <= kernelHeight/2 (" + std::to_string(w.kernel_h / 2) +
           ") but received " + std::to_string(w.pad_h);
  });
  require_or(2 * w.pad_w <= w.kernel_w, [&] {
    return std::string(at) + ": expected padWidth <= kernelWidth/2 (" + std::to_string(w.kernel_w / 2) +
           ") but received " + std::to_string(w.pad_w);
  });
}

// im2col and col2im read the window's fields into locals first: their rows
// are moved with memcpy (copy_row), whose stores may alias anything, so the
// compiler reloaded every field of w from memory on each row of a window
// (perf annotate: most of im2col's time was that bookkeeping, not the copy).
// The rows of a kernel row kh whose input row is real, [oh_lo, oh_hi), are
// found once per kh instead of tested on every row.
template <typename T>
void im2col(T* col, index_t ld, const T* x, index_t channels, const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w();
  const index_t H = w.in_h, W = w.in_w, KH = w.kernel_h, KW = w.kernel_w;
  const index_t SH = w.stride_h, SW = w.stride_w, PH = w.pad_h, PW = w.pad_w;
  for (index_t c = 0; c < channels; ++c) {
    const T* xc = x + c * H * W;
    for (index_t kh = 0; kh < KH; ++kh) {
      index_t oh_lo, oh_hi;
      valid_outputs(kh, SH, PH, H, OH, oh_lo, oh_hi);
      for (index_t kw = 0; kw < KW; ++kw) {
        T* row = col + ((c * KH + kh) * KW + kw) * ld;
        index_t lo, hi;
        valid_outputs(kw, SW, PW, W, OW, lo, hi);
        // No real column: every row is padding.
        const index_t real_end = lo == hi ? oh_lo : oh_hi;
        std::fill(row, row + oh_lo * OW, T(0));
        if (SW == 1 && lo == 0 && hi == OW) {  // whole rows, read in one run of moves
          copy_rows(row + oh_lo * OW, OW, xc + (oh_lo * SH - PH + kh) * W + (kw - PW), SH * W, OW,
                    real_end - oh_lo);
          std::fill(row + real_end * OW, row + OH * OW, T(0));
          continue;
        }
        for (index_t oh = oh_lo; oh < real_end; ++oh) {
          T* dst = row + oh * OW;
          const T* src = xc + (oh * SH - PH + kh) * W + (lo * SW - PW + kw);
          for (index_t o = 0; o < lo; ++o) dst[o] = T(0);
          if (SW == 1) {
            copy_row(dst + lo, src, hi - lo);
          } else {
            for (index_t o = lo; o < hi; ++o) dst[o] = src[(o - lo) * SW];
          }
          for (index_t o = hi; o < OW; ++o) dst[o] = T(0);
        }
        std::fill(row + real_end * OW, row + OH * OW, T(0));
      }
    }
  }
}

template <typename T>
void col2im(T* dx, const T* dcol, index_t ld, index_t channels, const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w();
  const index_t H = w.in_h, W = w.in_w, KH = w.kernel_h, KW = w.kernel_w;
  const index_t SH = w.stride_h, SW = w.stride_w, PH = w.pad_h, PW = w.pad_w;
  std::fill(dx, dx + channels * H * W, T(0));
  for (index_t c = 0; c < channels; ++c) {
    T* dxc = dx + c * H * W;
    for (index_t kh = 0; kh < KH; ++kh) {
      index_t oh_lo, oh_hi;
      valid_outputs(kh, SH, PH, H, OH, oh_lo, oh_hi);
      for (index_t kw = 0; kw < KW; ++kw) {
        const T* row = dcol + ((c * KH + kh) * KW + kw) * ld;
        index_t lo, hi;
        valid_outputs(kw, SW, PW, W, OW, lo, hi);
        if (lo == hi) continue;
        for (index_t oh = oh_lo; oh < oh_hi; ++oh) {
          const T* src = row + oh * OW;
          T* dst = dxc + (oh * SH - PH + kh) * W + (lo * SW - PW + kw);
          if (SW == 1) {
            add_row(dst, src + lo, hi - lo);
          } else {
            for (index_t o = lo; o < hi; ++o) dst[(o - lo) * SW] += src[o];
          }
        }
      }
    }
  }
}

template <typename T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, index_t rows,
                    const Conv2dShape& s, T* scratch, index_t slots, const ActivationTile<T>* act) {
  check_conv_args(y, x, weight, rows, s, scratch, slots, "conv2d_forward");
  require(act == nullptr || (act->fn != nullptr && act->c == y && act->y_out != nullptr),
          "conv2d_forward: act must be a forward tile made for y");
  if (rows == 0) return;
  // f applied to each finished block of Y_n by the gemm that writes it.
  GemmEpilogue<T> then_act;
  if (act != nullptr) {
    then_act.tile_fn = act->fn;
    then_act.ctx = act;
  }
  const index_t K = s.k(), P = s.p(), in_size = s.in_size(), out_size = s.out_size();
  const index_t max_block = s.block_images(), slot = s.slot_size();
  for_each_block(rows, chunk_count(rows, slots), max_block, [&](index_t c, index_t n0, index_t nb, bool) {
    // A slot: col (K × max_block·P), then the block's output (outC × max_block·P).
    T* col = scratch + c * slot;
    const T* xn = x + n0 * in_size;
    T* yn = y + n0 * out_size;
    if (nb == 1) {  // one image: the gemm reads x_n (pointwise) and writes y_n in place
      const T* cn = xn;
      if (!s.pointwise()) {
        im2col(col, P, xn, s.in_c, s.win);
        cn = col;
      }
      if (bias != nullptr)
        for (index_t o = 0; o < s.out_c; ++o) std::fill(yn + o * P, yn + (o + 1) * P, bias[o]);
      gemm<T>(false, false, s.out_c, P, K, T(1), weight, K, cn, P, bias ? T(1) : T(0), yn, P,
              then_act);
      return;
    }
    // Y_block (outC × N) = W (outC × K) · col_block (K × N), then into the rows with the bias.
    const index_t N = nb * P;
    T* y_block = col + K * max_block * P;
    for (index_t m = 0; m < nb; ++m) im2col(col + m * P, N, xn + m * in_size, s.in_c, s.win);
    gemm<T>(false, false, s.out_c, N, K, T(1), weight, K, col, N, T(0), y_block, N);
    scatter_images(yn, out_size, y_block, nb, s.out_c, P, bias, act);
  });
}

template <typename T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                     index_t rows, const Conv2dShape& s, T* scratch, index_t slots,
                     const ActivationTile<T>* grad) {
  check_conv_args(dy, x, weight, rows, s, scratch, slots, "conv2d_backward");
  require(dweight != nullptr && dbias != nullptr, "conv2d_backward: null gradient buffer");
  require(grad == nullptr || (grad->fn != nullptr && grad->c == dy && grad->x != nullptr &&
                              grad->y != nullptr),
          "conv2d_backward: grad must be a backward tile made for dy");
  const index_t K = s.k(), P = s.p(), in_size = s.in_size(), out_size = s.out_size();
  if (rows == 0) {  // an empty sum
    std::fill(dweight, dweight + s.out_c * K, T(0));
    std::fill(dbias, dbias + s.out_c, T(0));
    return;
  }
  const index_t chunks = chunk_count(rows, slots);
  const index_t max_block = s.block_images(), slot = s.slot_size();
  // A slot: col (K × max_block·P; dcol after dW has read col), the block's
  // gathered dY (outC × max_block·P; one image's dY is read in place unless
  // grad asks for dY ⊙ f'), partial dW
  // (outC·K), partial db (outC). Chunk 0 writes its sums straight into
  // dweight and dbias.
  const index_t sums = s.block_size();
  const auto partial_dw = [&](index_t c) { return c == 0 ? dweight : scratch + c * slot + sums; };
  const auto partial_db = [&](index_t c) {
    return c == 0 ? dbias : scratch + c * slot + sums + s.out_c * K;
  };
  for_each_block(rows, chunks, max_block, [&](index_t c, index_t n0, index_t nb, bool first) {
    T* col = scratch + c * slot;
    const T* xn = x + n0 * in_size;
    const T* dyn = dy + n0 * out_size;
    T* dxn = dx == nullptr ? nullptr : dx + n0 * in_size;
    if (nb == 1 && grad != nullptr) {  // dY_n ⊙ f' into the slot, read from there
      T* dz = col + K * max_block * P;
      gather_images(dz, dyn, out_size, 1, s.out_c, P, grad);
      dyn = dz;
    }
    if (nb == 1) {  // one image: the gemms read dy_n (and x_n, pointwise) in place
      const T* cn = xn;
      if (!s.pointwise()) {
        im2col(col, P, xn, s.in_c, s.win);
        cn = col;
      }
      // dW (outC × K) (+)= dY_n (outC × P) · col_nᵀ
      gemm<T>(false, true, s.out_c, K, P, T(1), dyn, P, cn, P, first ? T(0) : T(1), partial_dw(c), K);
      add_bias_gradient(partial_db(c), dyn, s.out_c, P, first);
      if (dxn == nullptr) return;
      // dcol_n (K × P) = Wᵀ · dY_n (into col, read already), then scattered onto the windows.
      if (s.pointwise()) {
        gemm<T>(true, false, K, P, s.out_c, T(1), weight, K, dyn, P, T(0), dxn, P);
      } else {
        gemm<T>(true, false, K, P, s.out_c, T(1), weight, K, dyn, P, T(0), col, P);
        col2im(dxn, col, P, s.in_c, s.win);
      }
      return;
    }
    const index_t N = nb * P;
    T* dy_block = col + K * max_block * P;
    gather_images(dy_block, dyn, out_size, nb, s.out_c, P, grad);
    for (index_t m = 0; m < nb; ++m) im2col(col + m * P, N, xn + m * in_size, s.in_c, s.win);
    // dW (outC × K) (+)= dY_block (outC × N) · col_blockᵀ
    gemm<T>(false, true, s.out_c, K, N, T(1), dy_block, N, col, N, first ? T(0) : T(1), partial_dw(c), K);
    add_bias_gradient(partial_db(c), dy_block, s.out_c, N, first);
    if (dxn == nullptr) return;
    // dcol_block (K × N) = Wᵀ · dY_block, into col, then each image's columns onto its windows.
    gemm<T>(true, false, K, N, s.out_c, T(1), weight, K, dy_block, N, T(0), col, N);
    for (index_t m = 0; m < nb; ++m) col2im(dxn + m * in_size, col + m * P, N, s.in_c, s.win);
  });
  add_chunk_partials(dweight, s.out_c * K, dbias, s.out_c, chunks, partial_dw, partial_db);
}

template <typename T>
void maxpool2d_forward_generic(T* y, const T* x, index_t rows, index_t channels, const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w();
  const index_t in_size = channels * w.in_h * w.in_w, out_size = channels * OH * OW;
  const PoolColumns columns(w);
  parallel_for(rows, pool_grain(channels, w), [&](index_t b, index_t e) {
    for (index_t n = b; n < e; ++n) {
      for (index_t c = 0; c < channels; ++c) {
        const T* xc = x + n * in_size + c * w.in_h * w.in_w;
        T* yc = y + n * out_size + c * OH * OW;
        for (index_t oh = 0; oh < OH; ++oh)
          for (index_t o0 = 0; o0 < OW; o0 += kPoolTile)
            window_row<false, index_t>(xc, w, columns, oh, o0, std::min(o0 + kPoolTile, OW), yc + oh * OW + o0, nullptr);
      }
    }
  });
}

namespace {

// Each window's gradient goes to its maximum's element, added window by
// window in row-major order (overlapping windows may share an element).
template <typename Index, typename T>
void maxpool2d_backward_rows(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                             const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w(), HW = w.in_h * w.in_w;
  const index_t in_size = channels * HW, out_size = channels * OH * OW;
  const PoolColumns columns(w);
  parallel_for(rows, pool_grain(channels, w), [&](index_t b, index_t e) {
    T maxval[kPoolTile];
    Index best[kPoolTile];
    for (index_t n = b; n < e; ++n) {
      std::fill(dx + n * in_size, dx + (n + 1) * in_size, T(0));
      for (index_t c = 0; c < channels; ++c) {
        const T* xc = x + n * in_size + c * HW;
        const T* dyc = dy + n * out_size + c * OH * OW;
        T* dxc = dx + n * in_size + c * HW;
        for (index_t oh = 0; oh < OH; ++oh)
          for (index_t o0 = 0; o0 < OW; o0 += kPoolTile) {
            const index_t o1 = std::min(o0 + kPoolTile, OW);
            window_row<true>(xc, w, columns, oh, o0, o1, maxval, best);
            for (index_t o = o0; o < o1; ++o) dxc[best[o - o0]] += dyc[oh * OW + o];
          }
      }
    }
  });
}

}  // namespace

template <typename T>
void maxpool2d_backward_generic(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                                const Window2d& w) {
  if (w.in_h * w.in_w <= std::numeric_limits<std::int32_t>::max()) {
    maxpool2d_backward_rows<std::int32_t>(dx, dy, x, rows, channels, w);
  } else {
    maxpool2d_backward_rows<index_t>(dx, dy, x, rows, channels, w);
  }
}

// 2 × 2 windows at stride 2 (most nets' pooling) go to pool2x2.h: its rows
// of windows vectorise, while the generic scan reads with a stride (4–10×
// faster on a small CNN's shapes: pool2x2.h). Same chunks of rows per thread.
template <typename T>
void maxpool2d_forward(T* y, const T* x, index_t rows, index_t channels, const Window2d& w) {
  if (!pool2x2::applies(w)) return maxpool2d_forward_generic(y, x, rows, channels, w);
  const index_t in_size = channels * w.in_h * w.in_w, out_size = channels * w.out_h() * w.out_w();
  parallel_for(rows, pool_grain(channels, w), [&](index_t b, index_t e) {
    pool2x2::forward(y + b * out_size, x + b * in_size, (e - b) * channels, w.in_h, w.in_w);
  });
}

template <typename T>
void maxpool2d_backward(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                        const Window2d& w) {
  if (!pool2x2::applies(w)) return maxpool2d_backward_generic(dx, dy, x, rows, channels, w);
  const index_t in_size = channels * w.in_h * w.in_w, out_size = channels * w.out_h() * w.out_w();
  parallel_for(rows, pool_grain(channels, w), [&](index_t b, index_t e) {
    pool2x2::backward(dx + b * in_size, dy + b * out_size, x + b * in_size, (e - b) * channels,
                      w.in_h, w.in_w);
  });
}

#define FASTMLP_INSTANTIATE_CONV(T)                                                            \
  template void im2col(T*, index_t, const T*, index_t, const Window2d&);                       \
  template void col2im(T*, const T*, index_t, index_t, const Window2d&);                       \
  template void conv2d_forward(T*, const T*, const T*, const T*, index_t, const Conv2dShape&,  \
                               T*, index_t, const ActivationTile<T>*);                         \
  template void conv2d_backward(T*, T*, T*, const T*, const T*, const T*, index_t,             \
                                const Conv2dShape&, T*, index_t, const ActivationTile<T>*);    \
  template void maxpool2d_forward(T*, const T*, index_t, index_t, const Window2d&);            \
  template void maxpool2d_backward(T*, const T*, const T*, index_t, index_t, const Window2d&); \
  template void maxpool2d_forward_generic(T*, const T*, index_t, index_t, const Window2d&);    \
  template void maxpool2d_backward_generic(T*, const T*, const T*, index_t, index_t, const Window2d&);
FASTMLP_INSTANTIATE_CONV(float)
FASTMLP_INSTANTIATE_CONV(double)
#undef FASTMLP_INSTANTIATE_CONV

}  // namespace fastmlp
