// maxpool2d's 2×2, stride 2, unpadded fast path (pool2x2.h): the planes, the
// choice of instruction set and the portable row kernels.
#include "pool2x2.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cpu.h"
#include "pool2x2_kernels.h"

namespace fastmlp {
namespace pool2x2 {
namespace {

using detail::RowKernels;

// The generic scan's rule (conv.cc, window_row): v replaces the running maximum m.
template <typename T>
inline bool takes(T v, T m) {
  return v > m || v != v;
}

// Each window's first element is its running maximum as it is: the generic
// scan starts from −∞ and takes it unless it is −∞ itself, the same value.
// Selects rather than branches: on real data each is a coin toss.
template <typename T>
void forward_row_portable(T* y, const T* x0, const T* x1, index_t ow) {
  for (index_t o = 0; o < ow; ++o) {
    const T b = x0[2 * o + 1], c = x1[2 * o], d = x1[2 * o + 1];
    T m = x0[2 * o];
    m = takes(b, m) ? b : m;
    m = takes(c, m) ? c : m;
    m = takes(d, m) ? d : m;
    y[o] = m;
  }
}

// The gradient g where `chosen`, else +0, through the bits (g & all-ones or
// & 0): as ternaries on floats, g++ kept branches here (mispredicted on
// random data: slower than the generic scan) and did not vectorise the loop.
template <typename T>
inline T keep_if(bool chosen, T g) {
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  U u;
  std::memcpy(&u, &g, sizeof u);
  u &= U(0) - U(chosen);
  std::memcpy(&g, &u, sizeof u);
  return g;
}

template <typename T>
void backward_row_portable(T* __restrict dx0, T* __restrict dx1, const T* __restrict dy,
                           const T* __restrict x0, const T* __restrict x1, index_t ow) {
  for (index_t o = 0; o < ow; ++o) {
    const T b = x0[2 * o + 1], c = x1[2 * o], d = x1[2 * o + 1];
    T m = x0[2 * o];
    const bool t1 = takes(b, m);
    m = t1 ? b : m;
    const bool t2 = takes(c, m);
    m = t2 ? c : m;
    const bool t3 = takes(d, m);
    // 0 + dy, not dy: the generic scan adds dy to a zeroed dx (−0 becomes +0).
    const T g = T(0) + dy[o];
    const bool later2 = t2 | t3;
    dx0[2 * o] = keep_if(!(t1 | later2), g);
    dx0[2 * o + 1] = keep_if(t1 & !later2, g);
    dx1[2 * o] = keep_if(t2 & !t3, g);
    dx1[2 * o + 1] = keep_if(t3, g);
  }
}

// The kernels of isa, or of the widest narrower set the CPU and build have.
template <typename T>
RowKernels<T> row_kernels(Isa isa) {
  const CpuFeatures& cpu = cpu_features();
  if (isa == Isa::kAvx512 && cpu.avx512f) {
    const RowKernels<T> k = detail::avx512_row_kernels<T>();
    if (k.forward != nullptr) return k;
  }
  if (isa != Isa::kPortable && cpu.avx2_fma) {
    const RowKernels<T> k = detail::avx2_row_kernels<T>();
    if (k.forward != nullptr) return k;
  }
  return {&forward_row_portable<T>, &backward_row_portable<T>};
}

}  // namespace

bool applies(const Window2d& w) {
  return w.kernel_h == 2 && w.kernel_w == 2 && w.stride_h == 2 && w.stride_w == 2 && w.pad_h == 0 &&
         w.pad_w == 0;
}

Isa widest_isa() {
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512f ? Isa::kAvx512 : cpu.avx2_fma ? Isa::kAvx2 : Isa::kPortable;
}

template <typename T>
void forward(T* y, const T* x, index_t planes, index_t h, index_t w, Isa isa) {
  const RowKernels<T> k = row_kernels<T>(isa);
  const index_t oh = h / 2, ow = w / 2;
  for (index_t p = 0; p < planes; ++p) {
    const T* xp = x + p * h * w;
    T* yp = y + p * oh * ow;
    for (index_t r = 0; r < oh; ++r) k.forward(yp + r * ow, xp + 2 * r * w, xp + (2 * r + 1) * w, ow);
  }
}

template <typename T>
void backward(T* dx, const T* dy, const T* x, index_t planes, index_t h, index_t w, Isa isa) {
  const RowKernels<T> k = row_kernels<T>(isa);
  const index_t oh = h / 2, ow = w / 2;
  for (index_t p = 0; p < planes; ++p) {
    const T* xp = x + p * h * w;
    const T* dyp = dy + p * oh * ow;
    T* dxp = dx + p * h * w;
    for (index_t r = 0; r < oh; ++r) {
      T* dx0 = dxp + 2 * r * w;
      T* dx1 = dx0 + w;
      k.backward(dx0, dx1, dyp + r * ow, xp + 2 * r * w, xp + (2 * r + 1) * w, ow);
      if (w % 2 != 0) dx0[w - 1] = dx1[w - 1] = T(0);  // the column no window covers
    }
    if (h % 2 != 0) std::fill(dxp + (h - 1) * w, dxp + h * w, T(0));  // likewise the row
  }
}

template void forward(float*, const float*, index_t, index_t, index_t, Isa);
template void forward(double*, const double*, index_t, index_t, index_t, Isa);
template void backward(float*, const float*, const float*, index_t, index_t, index_t, Isa);
template void backward(double*, const double*, const double*, index_t, index_t, index_t, Isa);

}  // namespace pool2x2
}  // namespace fastmlp
