// conv2d (im2col + gemm) and maxpool2d on NCHW-flattened rows: conv.h.
#include "conv.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "conv_chunks.h"
#include "gemm.h"
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

// The running maximum of window (oh, ow) of one image xc (H × W): its value
// in `maxval` and its index in the image returned. torch's CPU scan: starts
// from −∞ at the first real element, replaced by a greater or NaN element.
// Without NaNs that is "replaced by a greater element", done here with
// selects (maxss and a mask) instead of branches: on real data the
// comparison is a coin toss, and a mispredicted branch per element made the
// branchy scan slower than the convolutions around it (perf). A window with
// a NaN is scanned again by the rule itself.
template <typename T>
inline index_t window_argmax(const T* xc, const Window2d& w, index_t oh, index_t ow, T& maxval) {
  const index_t W = w.in_w;
  index_t hs = oh * w.stride_h - w.pad_h, ws = ow * w.stride_w - w.pad_w;
  const index_t he = std::min(hs + w.kernel_h, w.in_h), we = std::min(ws + w.kernel_w, W);
  hs = std::max<index_t>(hs, 0);
  ws = std::max<index_t>(ws, 0);
  const index_t first = hs * W + ws;
  index_t best = first;
  T m = -std::numeric_limits<T>::infinity();
  bool nan = false;
  for (index_t ih = hs; ih < he; ++ih) {
    const T* xr = xc + ih * W;
    for (index_t iw = ws; iw < we; ++iw) {
      const T v = xr[iw];
      const index_t take = -index_t(v > m);  // all ones when v > m (false for NaN)
      best += (ih * W + iw - best) & take;
      m = v > m ? v : m;
      nan |= v != v;
    }
  }
  if (nan) {
    best = first;
    m = -std::numeric_limits<T>::infinity();
    for (index_t ih = hs; ih < he; ++ih)
      for (index_t iw = ws; iw < we; ++iw) {
        const T v = xc[ih * W + iw];
        if (v > m || std::isnan(v)) {
          m = v;
          best = ih * W + iw;
        }
      }
  }
  maxval = m;
  return best;
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

template <typename T>
void im2col(T* col, index_t ld, const T* x, index_t channels, const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w();
  for (index_t c = 0; c < channels; ++c) {
    const T* xc = x + c * w.in_h * w.in_w;
    for (index_t kh = 0; kh < w.kernel_h; ++kh) {
      for (index_t kw = 0; kw < w.kernel_w; ++kw) {
        T* row = col + ((c * w.kernel_h + kh) * w.kernel_w + kw) * ld;
        index_t lo, hi;
        valid_outputs(kw, w.stride_w, w.pad_w, w.in_w, OW, lo, hi);
        for (index_t oh = 0; oh < OH; ++oh) {
          T* dst = row + oh * OW;
          const index_t ih = oh * w.stride_h - w.pad_h + kh;
          if (ih < 0 || ih >= w.in_h || lo == hi) {
            std::fill(dst, dst + OW, T(0));
            continue;
          }
          std::fill(dst, dst + lo, T(0));
          const T* src = xc + ih * w.in_w + (lo * w.stride_w - w.pad_w + kw);
          if (w.stride_w == 1) {
            std::copy(src, src + (hi - lo), dst + lo);
          } else {
            for (index_t o = lo; o < hi; ++o) dst[o] = src[(o - lo) * w.stride_w];
          }
          std::fill(dst + hi, dst + OW, T(0));
        }
      }
    }
  }
}

template <typename T>
void col2im(T* dx, const T* dcol, index_t ld, index_t channels, const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w();
  std::fill(dx, dx + channels * w.in_h * w.in_w, T(0));
  for (index_t c = 0; c < channels; ++c) {
    T* dxc = dx + c * w.in_h * w.in_w;
    for (index_t kh = 0; kh < w.kernel_h; ++kh) {
      for (index_t kw = 0; kw < w.kernel_w; ++kw) {
        const T* row = dcol + ((c * w.kernel_h + kh) * w.kernel_w + kw) * ld;
        index_t lo, hi;
        valid_outputs(kw, w.stride_w, w.pad_w, w.in_w, OW, lo, hi);
        for (index_t oh = 0; oh < OH; ++oh) {
          const index_t ih = oh * w.stride_h - w.pad_h + kh;
          if (ih < 0 || ih >= w.in_h || lo == hi) continue;
          const T* src = row + oh * OW;
          T* dst = dxc + ih * w.in_w + (lo * w.stride_w - w.pad_w + kw);
          for (index_t o = lo; o < hi; ++o) dst[(o - lo) * w.stride_w] += src[o];
        }
      }
    }
  }
}

template <typename T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, index_t rows,
                    const Conv2dShape& s, T* scratch, index_t slots) {
  check_conv_args(y, x, weight, rows, s, scratch, slots, "conv2d_forward");
  if (rows == 0) return;
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
      gemm<T>(false, false, s.out_c, P, K, T(1), weight, K, cn, P, bias ? T(1) : T(0), yn, P);
      return;
    }
    // Y_block (outC × N) = W (outC × K) · col_block (K × N), then into the rows with the bias.
    const index_t N = nb * P;
    T* y_block = col + K * max_block * P;
    for (index_t m = 0; m < nb; ++m) im2col(col + m * P, N, xn + m * in_size, s.in_c, s.win);
    gemm<T>(false, false, s.out_c, N, K, T(1), weight, K, col, N, T(0), y_block, N);
    scatter_images(yn, out_size, y_block, nb, s.out_c, P, bias);
  });
}

template <typename T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                     index_t rows, const Conv2dShape& s, T* scratch, index_t slots) {
  check_conv_args(dy, x, weight, rows, s, scratch, slots, "conv2d_backward");
  require(dweight != nullptr && dbias != nullptr, "conv2d_backward: null gradient buffer");
  const index_t K = s.k(), P = s.p(), in_size = s.in_size(), out_size = s.out_size();
  if (rows == 0) {  // an empty sum
    std::fill(dweight, dweight + s.out_c * K, T(0));
    std::fill(dbias, dbias + s.out_c, T(0));
    return;
  }
  const index_t chunks = chunk_count(rows, slots);
  const index_t max_block = s.block_images(), slot = s.slot_size();
  // A slot: col (K × max_block·P; dcol after dW has read col), the block's
  // gathered dY (outC × max_block·P, only when max_block > 1), partial dW
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
    gather_images(dy_block, dyn, out_size, nb, s.out_c, P);
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
void maxpool2d_forward(T* y, const T* x, index_t rows, index_t channels, const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w();
  const index_t in_size = channels * w.in_h * w.in_w, out_size = channels * OH * OW;
  parallel_for(rows, pool_grain(channels, w), [&](index_t b, index_t e) {
    for (index_t n = b; n < e; ++n) {
      for (index_t c = 0; c < channels; ++c) {
        const T* xc = x + n * in_size + c * w.in_h * w.in_w;
        T* yc = y + n * out_size + c * OH * OW;
        for (index_t oh = 0; oh < OH; ++oh)
          for (index_t ow = 0; ow < OW; ++ow) window_argmax(xc, w, oh, ow, yc[oh * OW + ow]);
      }
    }
  });
}

template <typename T>
void maxpool2d_backward(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                        const Window2d& w) {
  const index_t OH = w.out_h(), OW = w.out_w(), HW = w.in_h * w.in_w;
  const index_t in_size = channels * HW, out_size = channels * OH * OW;
  parallel_for(rows, pool_grain(channels, w), [&](index_t b, index_t e) {
    for (index_t n = b; n < e; ++n) {
      std::fill(dx + n * in_size, dx + (n + 1) * in_size, T(0));
      for (index_t c = 0; c < channels; ++c) {
        const T* xc = x + n * in_size + c * HW;
        const T* dyc = dy + n * out_size + c * OH * OW;
        T* dxc = dx + n * in_size + c * HW;
        T unused;
        for (index_t oh = 0; oh < OH; ++oh)
          for (index_t ow = 0; ow < OW; ++ow)
            dxc[window_argmax(xc, w, oh, ow, unused)] += dyc[oh * OW + ow];
      }
    }
  });
}

#define FASTMLP_INSTANTIATE_CONV(T)                                                            \
  template void im2col(T*, index_t, const T*, index_t, const Window2d&);                       \
  template void col2im(T*, const T*, index_t, index_t, const Window2d&);                       \
  template void conv2d_forward(T*, const T*, const T*, const T*, index_t, const Conv2dShape&,  \
                               T*, index_t);                                                   \
  template void conv2d_backward(T*, T*, T*, const T*, const T*, const T*, index_t,             \
                                const Conv2dShape&, T*, index_t);                              \
  template void maxpool2d_forward(T*, const T*, index_t, index_t, const Window2d&);            \
  template void maxpool2d_backward(T*, const T*, const T*, index_t, index_t, const Window2d&);
FASTMLP_INSTANTIATE_CONV(float)
FASTMLP_INSTANTIATE_CONV(double)
#undef FASTMLP_INSTANTIATE_CONV

}  // namespace fastmlp
