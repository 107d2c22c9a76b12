// Fully connected layer on top of gemm (dense.h). Weight is out×in, as
// torch.nn.Linear, so the forward product multiplies by the transposed weight;
// gemm's packing (gemm_blocked.cc) absorbs the transposes, no copy is made.
// Vectorised forms from the notes (001, SPEC.md §1):
//   Z = A·Wᵀ + b,   dW = dZᵀ·A,   db = colSums(dZ),   dA = dZ·W.
#include "dense.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "gemm.h"

namespace fastmlp {
namespace {

void check_dense(const void* inp, const void* weight, index_t B, index_t C,
                 index_t OC, const char* fn) {
  require_or(B >= 0 && C >= 1 && OC >= 1, [&] {
    return std::string(fn) + ": expected B >= 0, C >= 1, OC >= 1 but received " +
           std::to_string(B) + ", " + std::to_string(C) + ", " + std::to_string(OC);
  });
  require_or(B == 0 || (inp != nullptr && weight != nullptr),
             [&] { return std::string(fn) + ": null input or weight"; });
}

// Whether dense_backward proves dweight = doutᵀ·inp finite from a bound
// instead of reading it back: every partial sum of dW(i,j) = Σ_b dout(b,i)·inp(b,j)
// is at most B·max|dout|·max|inp| in magnitude, times (1 + 2B·u) for the
// rounding of B additions in T (u its unit roundoff; Higham, "Accuracy and
// Stability of Numerical Algorithms", 2nd ed., §3.1); below T's largest
// value nothing can overflow. max|dout| comes with the bias sums, which read
// dout anyway; max|inp| is one pass over the B·C inputs just before the gemm
// reads them. That beats reading the OC·C gradient back tile by tile after the
// micro-kernel stored it (rows ldc apart alias in L1: measured ~0.4 ns a
// value, 11 % of the 784-2048-2048-10 weight-gradient products) wherever the
// inputs are smaller than the gradient; elsewhere the tiles are checked.
// With accumulate the old dweight is unbounded, so the tiles are checked.
bool bound_is_cheaper(index_t B, index_t C, index_t OC, bool accumulate) {
  return !accumulate && static_cast<double>(B) * static_cast<double>(C) <
                            static_cast<double>(C) * static_cast<double>(OC);
}

// dbias (OC) = Σ_b dout (b,·) (+= when accumulate), also returning
// max|dout| (+Infinity for a NaN/±Infinity) from the same reads, as
// max_abs_or_inf does (finite.h): the bit patterns as signed integers.
template <typename T>
double bias_sums_and_max(T* dbias, const T* dout, index_t B, index_t OC, bool accumulate) {
  using U = typename FloatBits<T>::U;
  using S = std::make_signed_t<U>;
  constexpr S kMagnitude = static_cast<S>(~U(0) >> 1);
  if (!accumulate) std::fill(dbias, dbias + OC, T(0));
  S top = 0;
  for (index_t b = 0; b < B; ++b) {
    const T* d = dout + b * OC;
    S m = 0;
    for (index_t j = 0; j < OC; ++j) {
      dbias[j] += d[j];
      S bits;
      std::memcpy(&bits, d + j, sizeof bits);
      const S a = bits & kMagnitude;
      m = a > m ? a : m;
    }
    top = m > top ? m : top;
  }
  if (static_cast<U>(top) >= FloatBits<T>::kExponent) return std::numeric_limits<double>::infinity();
  T value;
  std::memcpy(&value, &top, sizeof value);
  return static_cast<double>(value);
}

}  // namespace

// out (B,OC) = inp (B,C) · weight (OC,C)ᵀ + bias (OC)
template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias,
                   index_t B, index_t C, index_t OC, GemmTileFn<T> then_fn,
                   const void* then_ctx, bool any_sum_order, const T* packed_weight) {
  check_dense(inp, weight, B, C, OC, "dense_forward");
  if (B == 0) return;
  require(out != nullptr, "dense_forward: null output");
  // beta = 0: out may hold anything (even NaN) before the call. The bias is
  // added by gemm's epilogue while each tile is in registers, then_fn runs
  // while it is in L1.
  GemmEpilogue<T> epilogue;
  epilogue.bias = bias;
  epilogue.tile_fn = then_fn;
  epilogue.ctx = then_ctx;
  epilogue.any_sum_order = any_sum_order;
  epilogue.packed_b = packed_weight;
  gemm<T>(false, true, B, OC, C, T(1), inp, C, weight, C, T(0), out, OC,
          epilogue);
}

// dinp (B,C)     += dout (B,OC) · weight (OC,C)
// dweight (OC,C) += dout (B,OC)ᵀ · inp (B,C)
// dbias (OC)     += Σ_b dout (b,·)
template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                    const T* weight, index_t B, index_t C, index_t OC, bool accumulate,
                    GemmTileFn<T> dinp_fn, const void* dinp_ctx,
                    const GradientCheck* check) {
  check_dense(inp, weight, B, C, OC, "dense_backward");
  require(!accumulate || dinp_fn == nullptr,
          "dense_backward: a tile function on dinp needs accumulate = false");
  if (B == 0) {
    if (!accumulate) {  // an empty sum is zero
      if (dinp != nullptr) std::fill(dinp, dinp + B * C, T(0));
      if (dweight != nullptr) std::fill(dweight, dweight + OC * C, T(0));
      if (dbias != nullptr) std::fill(dbias, dbias + OC, T(0));
    } else if (check != nullptr &&
               ((dweight != nullptr && any_nonfinite(dweight, OC * C)) ||
                (dbias != nullptr && any_nonfinite(dbias, OC)))) {
      check->flag();  // the gradients accumulated before were already bad
    }
    return;
  }
  require(dout != nullptr, "dense_backward: null dout");
  // beta = 0 writes C without reading it (gemm.h).
  const T beta = accumulate ? T(1) : T(0);
  if (dinp != nullptr) {
    GemmEpilogue<T> epilogue;
    epilogue.tile_fn = dinp_fn;
    epilogue.ctx = dinp_ctx;
    gemm<T>(false, false, B, C, OC, T(1), dout, OC, weight, C, beta, dinp, C, epilogue);
  }
  // The weight gradient's check: a bound from the inputs or the tiles (above).
  const bool by_bound = check != nullptr && dweight != nullptr && bound_is_cheaper(B, C, OC, accumulate);
  // Read before the gemm, which then finds inp in cache for its packing
  // (after it, the OC·C gradient it stored has pushed inp out).
  const double max_inp = by_bound ? max_abs_or_inf(inp, B * C) : 0.0;
  if (dweight != nullptr) {
    GemmEpilogue<T> epilogue;
    if (check != nullptr && !by_bound) {
      epilogue.tile_fn = &GradientCheck::tile<T>;
      epilogue.ctx = check;
    }
    gemm<T>(true, false, OC, C, B, T(1), dout, OC, inp, C, beta, dweight, C, epilogue);
  }
  double max_dout = 0;
  if (dbias != nullptr) {
    if (by_bound) {
      max_dout = bias_sums_and_max(dbias, dout, B, OC, accumulate);
    } else {
      if (!accumulate) std::copy(dout, dout + OC, dbias);
      // Row by row keeps the inner loop contiguous (vectorises over OC).
      for (index_t b = accumulate ? 0 : 1; b < B; ++b) {
        const T* d = dout + b * OC;
        for (index_t j = 0; j < OC; ++j) dbias[j] += d[j];
      }
    }
    if (check != nullptr && any_nonfinite(dbias, OC)) check->flag();
  } else if (by_bound) {
    max_dout = max_abs_or_inf(dout, B * OC);
  }
  if (by_bound) {
    const double u = std::numeric_limits<T>::epsilon() / 2;
    const double bound = static_cast<double>(B) * max_dout * max_inp *
                         (1 + 2 * static_cast<double>(B) * u);
    // Not proven (values near T's range, or a NaN/∞ among the inputs): the
    // exact answer from dweight itself — a pass only a diverging step pays.
    if (!(bound < static_cast<double>(std::numeric_limits<T>::max())) && any_nonfinite(dweight, OC * C))
      check->flag();
  }
}

namespace {

// One pass does both jobs: the weights are read once per step. Partial sums
// run in T over blocks of 256 weights in 16 independent lanes (so the loop
// vectorises under strict floating-point ordering), then add up in double.
// The L1 terms cost compares and a fabs per weight, so the common L2-only
// case gets its own instantiation without them (measured ~2× faster).
// The exponent bits of every written gradient are OR-reduced too (finite.h):
// integer lanes, so the loop still vectorises.
template <bool kL1, typename T>
double penalty_pass(T* __restrict dweight, const T* __restrict weight, index_t n,
                    double l1, double l2, const GradientCheck* check) {
  using U = typename FloatBits<T>::U;
  constexpr U kExp = FloatBits<T>::kExponent;
  constexpr index_t kBlock = 256, kLanes = 16;
  const T a = T(l1), b = T(2.0 * l2);
  double abs_total = 0, sq_total = 0;
  U bad[kLanes] = {};
  for (index_t i0 = 0; i0 < n; i0 += kBlock) {
    const index_t end = std::min(n, i0 + kBlock);
    T pa[kLanes] = {}, pq[kLanes] = {};
    index_t i = i0;
    for (; i + kLanes <= end; i += kLanes) {
      for (index_t k = 0; k < kLanes; ++k) {
        const T w = weight[i + k];
        T g = b * w;
        if (kL1) {
          g += a * (T(w > T(0)) - T(w < T(0)));  // l1·sign(w), branch-free
          pa[k] += std::fabs(w);
        }
        const T d = dweight[i + k] + g;
        dweight[i + k] = d;
        pq[k] += w * w;
        U bits;
        std::memcpy(&bits, &d, sizeof bits);
        bad[k] |= static_cast<U>((bits & kExp) == kExp);
      }
    }
    for (; i < end; ++i) {
      const T w = weight[i];
      T g = b * w;
      if (kL1) {
        g += a * (T(w > T(0)) - T(w < T(0)));
        pa[0] += std::fabs(w);
      }
      const T d = dweight[i] + g;
      dweight[i] = d;
      pq[0] += w * w;
      U bits;
      std::memcpy(&bits, &d, sizeof bits);
      bad[0] |= static_cast<U>((bits & kExp) == kExp);
    }
    for (index_t k = 0; k < kLanes; ++k) {
      abs_total += pa[k];
      sq_total += pq[k];
    }
  }
  U any = 0;
  for (index_t k = 0; k < kLanes; ++k) any |= bad[k];
  if (check != nullptr && any != 0) check->flag();
  return l1 * abs_total + l2 * sq_total;
}

}  // namespace

template <typename T>
double dense_penalty_backward(T* dweight, const T* weight, index_t n, double l1,
                              double l2, const GradientCheck* check) {
  return l1 != 0 ? penalty_pass<true>(dweight, weight, n, l1, l2, check)
                 : penalty_pass<false>(dweight, weight, n, l1, l2, check);
}

template double dense_penalty_backward<float>(float*, const float*, index_t,
                                              double, double, const GradientCheck*);
template double dense_penalty_backward<double>(double*, const double*, index_t,
                                               double, double, const GradientCheck*);

template void dense_forward<float>(float*, const float*, const float*,
                                   const float*, index_t, index_t, index_t,
                                   GemmTileFn<float>, const void*, bool, const float*);
template void dense_forward<double>(double*, const double*, const double*,
                                    const double*, index_t, index_t, index_t,
                                    GemmTileFn<double>, const void*, bool, const double*);
template void dense_backward<float>(float*, float*, float*, const float*,
                                    const float*, const float*, index_t,
                                    index_t, index_t, bool, GemmTileFn<float>,
                                    const void*, const GradientCheck*);
template void dense_backward<double>(double*, double*, double*, const double*,
                                     const double*, const double*, index_t,
                                     index_t, index_t, bool, GemmTileFn<double>,
                                     const void*, const GradientCheck*);

}  // namespace fastmlp
