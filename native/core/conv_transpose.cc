// convtranspose2d (col2im of Wᵀ·x, im2col of dy): conv_transpose.h.
#include "conv_transpose.h"

#include <algorithm>
#include <string>

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

constexpr index_t kMaxSize = 2147483647;  // as the binding's kMaxDim and conv.cc

// Messages built only on failure (require_or): these run every call.
void check_args(const void* y, const void* x, const void* weight, index_t rows,
                const ConvTranspose2dShape& s, const void* scratch, index_t slots, const char* fn) {
  require_or(rows >= 0, [&] { return std::string(fn) + ": expected rows >= 0"; });
  validate_conv_transpose(s, fn);
  require_or(rows == 0 || (y != nullptr && x != nullptr && weight != nullptr && scratch != nullptr &&
                           slots >= 1),
             [&] { return std::string(fn) + ": null buffer or no scratch slot"; });
}

// y_n (outC × HW) += bias[o] on channel o (bias may be null).
template <typename T>
void add_bias(T* yn, const T* bias, index_t channels, index_t HW) {
  if (bias == nullptr) return;
  for (index_t o = 0; o < channels; ++o) {
    T* yo = yn + o * HW;
    const T b = bias[o];
    for (index_t i = 0; i < HW; ++i) yo[i] += b;
  }
}

}  // namespace

void validate_conv_transpose(const ConvTranspose2dShape& s, const char* at) {
  const auto field = [&](index_t v, const char* name, index_t min, index_t max) {
    require_or(v >= min && v <= max, [&] {
      return std::string(at) + ": expected " + name + " in [" + std::to_string(min) + ", " +
             std::to_string(max) + "] but received " + std::to_string(v);
    });
  };
  const Window2d& w = s.win;
  field(s.in_c, "inChannels", 1, kMaxSize);
  field(s.out_c, "outChannels", 1, kMaxSize);
  field(w.in_h, "inHeight", 1, kMaxSize);
  field(w.in_w, "inWidth", 1, kMaxSize);
  field(w.kernel_h, "kernelHeight", 1, kMaxSize);
  field(w.kernel_w, "kernelWidth", 1, kMaxSize);
  field(w.stride_h, "strideHeight", 1, kMaxSize);
  field(w.stride_w, "strideWidth", 1, kMaxSize);
  field(w.pad_h, "padHeight", 0, kMaxSize);
  field(w.pad_w, "padWidth", 0, kMaxSize);
  // torch: "output padding must be smaller than either stride or dilation";
  // it is also what makes the grid's out_h() equal inHeight (conv_transpose.h).
  field(s.out_pad_h, "outPadHeight", 0, w.stride_h - 1);
  field(s.out_pad_w, "outPadWidth", 0, w.stride_w - 1);
  // Every term is below 2^31 here, so these fit in 64 bits.
  const auto size = [&](index_t v, const char* name, const char* formula) {
    require_or(v >= 1 && v <= kMaxSize, [&] {
      return std::string(at) + ": expected " + name + " = " + formula + " in [1, " +
             std::to_string(kMaxSize) + "] but received " + std::to_string(v);
    });
  };
  size(s.out_h(), "outHeight", "(inHeight - 1)*strideHeight - 2*padHeight + kernelHeight + outPadHeight");
  size(s.out_w(), "outWidth", "(inWidth - 1)*strideWidth - 2*padWidth + kernelWidth + outPadWidth");
}

template <typename T>
void conv_transpose2d_forward(T* y, const T* x, const T* weight, const T* bias, index_t rows,
                              const ConvTranspose2dShape& s, T* scratch, index_t slots) {
  check_args(y, x, weight, rows, s, scratch, slots, "conv_transpose2d_forward");
  if (rows == 0) return;
  const Window2d g = s.grid();
  const index_t K = s.k(), P = s.p(), HW = g.in_h * g.in_w;
  const index_t in_size = s.in_size(), out_size = s.out_size();
  const index_t max_block = s.block_images(), slot = s.slot_size();
  for_each_block(rows, chunk_count(rows, slots), max_block, [&](index_t c, index_t n0, index_t nb, bool) {
    // A slot: col (K' × max_block·P), then the block's inputs (inC × max_block·P).
    T* col = scratch + c * slot;
    const T* xn = x + n0 * in_size;
    T* yn = y + n0 * out_size;
    if (nb == 1) {  // one image: the gemm reads x_n in place
      if (s.pointwise()) {  // col is y_n: y_n = b + Wᵀ·x_n in one gemm
        if (bias != nullptr)
          for (index_t o = 0; o < s.out_c; ++o) std::fill(yn + o * HW, yn + (o + 1) * HW, bias[o]);
        gemm<T>(true, false, K, P, s.in_c, T(1), weight, K, xn, P, bias ? T(1) : T(0), yn, P);
        return;
      }
      // col (K' × P) = Wᵀ (K' × inC) · x_n (inC × P), scattered onto y_n's windows.
      gemm<T>(true, false, K, P, s.in_c, T(1), weight, K, xn, P, T(0), col, P);
      col2im(yn, col, P, s.out_c, g);
      add_bias(yn, bias, s.out_c, HW);
      return;
    }
    // col_block (K' × N) = Wᵀ · X_block (inC × N), each image's columns onto its windows
    // (pointwise: col2im on a 1×1 grid is a copy).
    const index_t N = nb * P;
    T* x_block = col + K * max_block * P;
    gather_images(x_block, xn, in_size, nb, s.in_c, P);
    gemm<T>(true, false, K, N, s.in_c, T(1), weight, K, x_block, N, T(0), col, N);
    for (index_t m = 0; m < nb; ++m) {
      col2im(yn + m * out_size, col + m * P, N, s.out_c, g);
      add_bias(yn + m * out_size, bias, s.out_c, HW);
    }
  });
}

template <typename T>
void conv_transpose2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x,
                               const T* weight, index_t rows, const ConvTranspose2dShape& s,
                               T* scratch, index_t slots) {
  check_args(dy, x, weight, rows, s, scratch, slots, "conv_transpose2d_backward");
  require(dweight != nullptr && dbias != nullptr, "conv_transpose2d_backward: null gradient buffer");
  const Window2d g = s.grid();
  const index_t K = s.k(), P = s.p(), HW = g.in_h * g.in_w;
  const index_t in_size = s.in_size(), out_size = s.out_size();
  if (rows == 0) {  // an empty sum
    std::fill(dweight, dweight + s.in_c * K, T(0));
    std::fill(dbias, dbias + s.out_c, T(0));
    return;
  }
  const index_t chunks = chunk_count(rows, slots);
  const index_t max_block = s.block_images(), slot = s.slot_size();
  // A slot: col (K' × max_block·P), the block's gathered x (inC × max_block·P,
  // then its dx; only when max_block > 1), partial dW (inC·K'), partial db
  // (outC). Chunk 0 writes its sums straight into dweight and dbias.
  const index_t sums = s.block_size();
  const auto partial_dw = [&](index_t c) { return c == 0 ? dweight : scratch + c * slot + sums; };
  const auto partial_db = [&](index_t c) {
    return c == 0 ? dbias : scratch + c * slot + sums + s.in_c * K;
  };
  for_each_block(rows, chunks, max_block, [&](index_t c, index_t n0, index_t nb, bool first) {
    T* col = scratch + c * slot;
    const T* xn = x + n0 * in_size;
    const T* dyn = dy + n0 * out_size;
    T* dxn = dx == nullptr ? nullptr : dx + n0 * in_size;
    if (nb == 1) {  // one image: the gemms read x_n and write dx_n in place
      const T* cn = dyn;  // the windows of dy_n (K' × P)
      if (!s.pointwise()) {
        im2col(col, P, dyn, s.out_c, g);
        cn = col;
      }
      // dW (inC × K') (+)= x_n (inC × P) · colᵀ
      gemm<T>(false, true, s.in_c, K, P, T(1), xn, P, cn, P, first ? T(0) : T(1), partial_dw(c), K);
      add_bias_gradient(partial_db(c), dyn, s.out_c, HW, first);
      // dx_n (inC × P) = W (inC × K') · col
      if (dxn != nullptr) gemm<T>(false, false, s.in_c, P, K, T(1), weight, K, cn, P, T(0), dxn, P);
      return;
    }
    const index_t N = nb * P;
    T* x_block = col + K * max_block * P;
    for (index_t m = 0; m < nb; ++m) {
      im2col(col + m * P, N, dyn + m * out_size, s.out_c, g);
      add_bias_gradient(partial_db(c), dyn + m * out_size, s.out_c, HW, first && m == 0);
    }
    gather_images(x_block, xn, in_size, nb, s.in_c, P);
    // dW (inC × K') (+)= X_block (inC × N) · col_blockᵀ
    gemm<T>(false, true, s.in_c, K, N, T(1), x_block, N, col, N, first ? T(0) : T(1), partial_dw(c), K);
    if (dxn == nullptr) return;
    // dX_block (inC × N) = W (inC × K') · col_block, into x_block (read already), then into the rows.
    gemm<T>(false, false, s.in_c, N, K, T(1), weight, K, col, N, T(0), x_block, N);
    scatter_images(dxn, in_size, x_block, nb, s.in_c, P, static_cast<const T*>(nullptr));
  });
  add_chunk_partials(dweight, s.in_c * K, dbias, s.out_c, chunks, partial_dw, partial_db);
}

#define FASTMLP_INSTANTIATE_CONV_TRANSPOSE(T)                                                 \
  template void conv_transpose2d_forward(T*, const T*, const T*, const T*, index_t,           \
                                         const ConvTranspose2dShape&, T*, index_t);           \
  template void conv_transpose2d_backward(T*, T*, T*, const T*, const T*, const T*, index_t,  \
                                          const ConvTranspose2dShape&, T*, index_t);
FASTMLP_INSTANTIATE_CONV_TRANSPOSE(float)
FASTMLP_INSTANTIATE_CONV_TRANSPOSE(double)
#undef FASTMLP_INSTANTIATE_CONV_TRANSPOSE

}  // namespace fastmlp
