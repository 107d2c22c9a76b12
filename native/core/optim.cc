// Optimizer updates over flat buffers (optim.h), PyTorch's formulas:
//  - torch.optim.SGD: https://pytorch.org/docs/stable/generated/torch.optim.SGD.html
//    (momentum buffer = g on the first step, no dampening then; nesterov
//    uses g + μv).
//  - torch.optim.Adagrad: .../torch.optim.Adagrad.html (lr decayed as
//    lr / (1 + (t−1)·lr_decay); the sum starts at initial_accumulator_value).
//  - torch.optim.RMSprop: .../torch.optim.RMSprop.html (centered subtracts
//    the squared mean gradient; momentum buffers g/(√s + ε)).
//  - torch.optim.Adam / AdamW: .../torch.optim.Adam.html, .../torch.optim.AdamW.html
//    (ε added outside the square root; AdamW decays θ by lr·λ before the
//    Adam step; amsgrad keeps the running maximum of v, Reddi et al. 2018).
//    The Adam step is evaluated in PyTorch's own arrangement,
//    θ −= (lr/bc1) · m / (√v/√bc2 + ε), bc_i = 1 − β_iᵗ, which equals the
//    header's formula up to rounding.
//  - clipping: torch.nn.utils.clip_grad_norm_ (coefficient max_norm /
//    (‖g‖ + 1e-6), clamped to 1) and clip_grad_value_.
//
// Each update is one pass over contiguous memory, split across the thread
// pool. Per-element arithmetic is in T so that it vectorises 4 (float) or 2
// (double) wide even in the SSE2 baseline build (computing float updates in
// double made Adam ~35 % of a 784-512-256-10 training step); float32 results
// stay within a few roundings of the TypeScript engine's, which the parity
// tests bound at 1e-5. Options that change the loop's shape (centered,
// momentum, amsgrad) are template parameters, so the inner loops stay
// branch-free.
#include "optim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "cpu.h"
#include "gemm_kernels.h"  // FASTMLP_TARGET_*, FASTMLP_FLATTEN and FASTMLP_GEMM_X86
#include "threads.h"

// No FMA contraction in this file, so that the AVX-512 and AVX2 variants below
// round exactly as the baseline build does (a·b + c stays a multiply and an
// add). The compilers' defaults differ: g++ contracts across statements
// (-ffp-contract=fast, its default for C++), clang within one expression
// (=on), so without this each gave different bits on AVX2/AVX-512 machines,
// and neither matched the baseline (native/test/fingerprint.cc showed it).
// Cost, measured with AVX-512 on one thread: none at the 784-512-256-10
// network's 536 k parameters (Adam 0.30 ms either way); on 5.8 M floats,
// where the update leaves the caches, Adam ~4.8 → ~5.3 ms and SGD with
// momentum ~2.7 → ~2.9 ms (medians of 60 updates on a shared machine).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// The buffers of one update never overlap (distinct slices of the flat
// parameter, gradient and state buffers); saying so lets g++ vectorise the
// loops that touch five arrays, where its runtime alias checks give up
// (amsgrad and centered RMSprop ran ~4x slower without it).
#if defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#define FASTMLP_RESTRICT __restrict
#else
#define FASTMLP_RESTRICT
#endif

// On each update's per-element formula, a lambda: see update_in_blocks.
#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FASTMLP_ALWAYS_INLINE
#endif

namespace fastmlp {
namespace {

void require_finite(double v, const char* name) {
  require(std::isfinite(v), std::string("optimizer: expected a finite ") +
                                name + " but received " + std::to_string(v));
}

void require_range(bool ok, const char* name, const char* what, double v) {
  require(ok, std::string("optimizer: expected ") + name + " " + what +
                  " but received " + std::to_string(v));
}

// The gradient as the update reads it: scaled by the global-norm coefficient,
// then clamped (an unused half is scale 1 or bounds ±∞, which are exact and
// keep NaN as NaN). Without clipping the loops read the gradient as it is
// (NoClip): the min/max cost Adam ~10 % on a large network.
template <typename T>
struct Clip {
  T scale, lo, hi;
  T operator()(T g) const { return std::min(std::max(g * scale, lo), hi); }
};

template <typename T>
struct NoClip {
  T operator()(T g) const { return g; }
};

// Software prefetch for the streaming updates: Adam reads four arrays and
// writes three, each as long as the model (5.8 M floats for 784-2048-2048-10),
// and the hardware prefetcher alone left it ~12 % slower than asking for
// every stream's lines 2 KiB ahead (4.5 against 5.3 ms for that model in a
// standalone harness on the benchmark machine; 1 and 8 KiB ahead gained
// less). kStreamBlock bytes of each array are updated per request.
// SGD with momentum, Adagrad and RMSprop do the same: on 5.8 M floats, one
// thread (native/test/optim_bench.cc), medians of 8 interleaved before/after
// runs, SGD with momentum 3.5 → 3.0 ms, Adagrad 4.3 → 3.1, RMSprop
// 4.6 → 3.2, centered RMSprop with momentum 9.3 → 7.5, each faster in all 8
// pairs. Plain SGD (two streams) gained nothing measurable (1.98 against
// 1.96 ms), so it keeps its one plain loop.
constexpr index_t kStreamBlock = 256, kPrefetchAhead = 2048;

// Asks for the `bytes` bytes at array[at...] (whole lines).
template <typename P>
inline void prefetch_bytes([[maybe_unused]] const P* array, [[maybe_unused]] index_t at,
                           [[maybe_unused]] index_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
  const char* first = reinterpret_cast<const char*>(array + at);
  for (index_t line = 0; line < bytes; line += 64) __builtin_prefetch(first + line);
#endif
}

// A state slice that the options leave out (RMSprop's gradient average or
// momentum buffer, amsgrad's maximum), known so at compile time: nothing to
// prefetch, and the formula, which takes it as `auto*`, never reads it.
struct Absent;
inline void prefetch_bytes(const Absent*, index_t, index_t) {}

template <bool Present, typename T>
auto array_if(T* array) {
  if constexpr (Present) return array;
  else return static_cast<Absent*>(nullptr);
}

// The elements one call updates, relative to the arrays' pointers: `rows`
// runs of `cols` contiguous elements, `ld` apart, and where to prefetch:
// with each block of kStreamBlock bytes at i, the lines at i + ahead, if
// that block ends at or before `limit`. A range [begin, end) is one run that
// prefetches kPrefetchAhead bytes ahead, up to its end (make_range).
struct Runs {
  index_t rows, cols, ld;
  index_t ahead, limit;
};

template <typename T>
Runs make_range(index_t count) {
  return Runs{1, count, count, kPrefetchAhead / static_cast<index_t>(sizeof(T)), count};
}

// The loop every update shares: each run in blocks of kStreamBlock bytes,
// each block after asking for the lines kPrefetchAhead bytes further on in
// every array (a long range's streams), then update(i, arrays...) per
// element, so that each optimizer below states only its formula.
// The restrict that lets g++ vectorise without runtime alias checks is on
// this function's parameters, and g++ 12 gives it only to the loads and
// stores that sit in this function's body when it analyses it, before
// `flatten` inlines the rest. Hence the formula is a FASTMLP_ALWAYS_INLINE
// lambda that takes the arrays as plain pointer parameters, never capturing
// them (they carry the enclosing update's names, so the formula reads as the
// header's and cannot capture one by mistake), and reads each element itself,
// not through a reference parameter such as std::max's. A formula inlined
// only by `flatten` left 132 of the file's 267 vectorised loops versioned for
// aliasing (-fopt-info-vec), as with no restrict at all; so did __restrict on
// the lambda's own parameters, in a reduced test.
template <typename T, typename Update, typename... Arrays>
inline void update_in_blocks(const Runs& runs, const Update& update,
                             Arrays* FASTMLP_RESTRICT... arrays) {
  constexpr index_t kBlock = kStreamBlock / sizeof(T);
  for (index_t r = 0; r < runs.rows; ++r) {
    const index_t begin = r * runs.ld, end = begin + runs.cols;
    for (index_t i0 = begin; i0 < end; i0 += kBlock) {
      if (i0 + runs.ahead + kBlock <= runs.limit)
        (prefetch_bytes(arrays, i0 + runs.ahead, kStreamBlock), ...);
      const index_t i1 = std::min(end, i0 + kBlock);
      for (index_t i = i0; i < i1; ++i) update(i, arrays...);
    }
  }
}

template <typename T, typename C>
void sgd_update(const OptimizerStep<T>& s, const C& clip, T* FASTMLP_RESTRICT param,
                const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT velocity, const Runs& runs) {
  const T lr = s.lr, wd = s.weight_decay, mu = s.momentum;
  if (s.spec.momentum == 0.0) {
    for (index_t r = 0; r < runs.rows; ++r) {
      const index_t begin = r * runs.ld, end = begin + runs.cols;
      for (index_t i = begin; i < end; ++i) param[i] -= lr * (clip(grad[i]) + wd * param[i]);
    }
    return;
  }
  const T keep = s.keep;
  const bool first = s.first, nesterov = s.nesterov;
  update_in_blocks<T>(
      runs,
      [=](index_t i, T* param, const T* grad, T* velocity) FASTMLP_ALWAYS_INLINE {
        T g = clip(grad[i]) + wd * param[i];
        // PyTorch creates the buffer as a copy of g on the first step: no
        // dampening is applied to it.
        const T v = first ? g : mu * velocity[i] + keep * g;
        velocity[i] = v;
        g = nesterov ? g + mu * v : v;
        param[i] -= lr * g;
      },
      param, grad, velocity);
}

template <typename T, typename C>
void adagrad_update(const OptimizerStep<T>& s, const C& clip, T* FASTMLP_RESTRICT param,
                    const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT sum, const Runs& runs) {
  const T clr = s.lr, wd = s.weight_decay, eps = s.eps;
  // The state buffer starts at zero; torch fills it with the initial value,
  // so the first step reads that value instead of the buffer.
  const T init = s.init, keep = s.keep;
  update_in_blocks<T>(
      runs,
      [=](index_t i, T* param, const T* grad, T* sum) FASTMLP_ALWAYS_INLINE {
        const T p = param[i];
        const T g = clip(grad[i]) + wd * p;
        const T acc = keep * sum[i] + (T(1) - keep) * init + g * g;
        sum[i] = acc;
        param[i] = p - clr * g / (std::sqrt(acc) + eps);
      },
      param, grad, sum);
}

// grad_avg is null unless Centered, buffer unless Momentum.
template <typename T, bool Centered, bool Momentum, typename C>
void rmsprop_update(const OptimizerStep<T>& s, const C& clip, T* FASTMLP_RESTRICT param,
                    const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT square_avg,
                    T* FASTMLP_RESTRICT grad_avg, T* FASTMLP_RESTRICT buffer, const Runs& runs) {
  const T lr = s.lr, wd = s.weight_decay, eps = s.eps;
  const T alpha = s.alpha, one_minus_alpha = s.one_minus_alpha, mu = s.momentum;
  update_in_blocks<T>(
      runs,
      [=](index_t i, T* param, const T* grad, T* square_avg, auto* grad_avg,
          auto* buffer) FASTMLP_ALWAYS_INLINE {
        const T p = param[i];
        const T g = clip(grad[i]) + wd * p;
        const T sq = alpha * square_avg[i] + one_minus_alpha * g * g;
        square_avg[i] = sq;
        T var = sq;
        if constexpr (Centered) {
          const T ga = alpha * grad_avg[i] + one_minus_alpha * g;
          grad_avg[i] = ga;
          // s − a² ≥ 0 in exact arithmetic; rounding can push it just below,
          // where torch would take √ of a negative number and return NaN.
          var = std::max(sq - ga * ga, T(0));
        }
        const T d = g / (std::sqrt(var) + eps);
        if constexpr (Momentum) {
          const T b = mu * buffer[i] + d;
          buffer[i] = b;
          param[i] = p - lr * b;
        } else {
          param[i] = p - lr * d;
        }
      },
      param, grad, square_avg, array_if<Centered>(grad_avg), array_if<Momentum>(buffer));
}

// v_max is null unless Amsgrad. AdamW's decoupled decay is s.decay (1 for
// Adam), its coupled decay s.weight_decay (0 for AdamW): optimizer_prepare.
template <typename T, bool Amsgrad, typename C>
void adam_update(const OptimizerStep<T>& s, const C& clip, T* FASTMLP_RESTRICT param,
                 const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT m, T* FASTMLP_RESTRICT v,
                 T* FASTMLP_RESTRICT v_max, const Runs& runs) {
  const T b1 = s.beta1, b2 = s.beta2, eps = s.eps;
  const T one_minus_b1 = s.one_minus_beta1, one_minus_b2 = s.one_minus_beta2;
  const T step_size = s.step_size, inv_bc2_sqrt = s.inv_bc2_sqrt;
  const T decay = s.decay, coupled = s.weight_decay;
  update_in_blocks<T>(
      runs,
      [=](index_t i, T* param, const T* grad, T* m, T* v,
          auto* v_max) FASTMLP_ALWAYS_INLINE {
        const T p = param[i] * decay;
        const T g = clip(grad[i]) + coupled * p;
        const T mi = b1 * m[i] + one_minus_b1 * g;
        T vi = b2 * v[i] + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        if constexpr (Amsgrad) {
          // Read here, not through std::max's reference (update_in_blocks).
          const T seen = v_max[i];
          vi = std::max(seen, vi);
          v_max[i] = vi;
        }
        param[i] = p - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + eps);
      },
      param, grad, m, v, array_if<Amsgrad>(v_max));
}

// Chunks of the flat buffers per thread: the update is memory-bound on large
// networks, so a second core adds bandwidth; small ones stay on one thread.
constexpr index_t kUpdateGrain = 1 << 15;

// ‖grad‖₂ over all n values, accumulated in double per chunk.
template <typename T>
double global_norm(const T* grad, index_t n) {
  double total = 0.0;
  std::mutex mu;
  parallel_for(n, kUpdateGrain, [&](index_t begin, index_t end) {
    // Four independent sums: the loop is a latency-bound chain of adds
    // otherwise (g++ keeps a single double sum in order, without -ffast-math).
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    index_t i = begin;
    for (; i + 4 <= end; i += 4) {
      a0 += double(grad[i]) * double(grad[i]);
      a1 += double(grad[i + 1]) * double(grad[i + 1]);
      a2 += double(grad[i + 2]) * double(grad[i + 2]);
      a3 += double(grad[i + 3]) * double(grad[i + 3]);
    }
    for (; i < end; ++i) a0 += double(grad[i]) * double(grad[i]);
    std::lock_guard<std::mutex> lock(mu);
    total += (a0 + a1) + (a2 + a3);
  });
  return std::sqrt(total);
}

// The update of the elements `runs` covers from element `first` on
// (optim.h's state layout: each state slice is s.n long).
template <typename T, typename C>
inline void update_runs(const OptimizerStep<T>& s, const C& clip, index_t first,
                        const Runs& runs) {
  const index_t n = s.n;
  T* const p = s.param + first;
  const T* const g = s.grad + first;
  T* const state = s.state;
  const bool centered = s.spec.centered;
  const bool momentum = s.spec.momentum > 0;
  switch (s.spec.kind) {
    case OptimizerKind::Sgd:
      sgd_update(s, clip, p, g, state ? state + first : nullptr, runs);
      break;
    case OptimizerKind::Adagrad:
      adagrad_update(s, clip, p, g, state + first, runs);
      break;
    case OptimizerKind::RMSprop: {
      T* sq = state + first;
      // Slices that the options leave out are null, never past the end.
      T* ga = centered ? state + n + first : nullptr;
      T* buf = momentum ? state + n * (centered ? 2 : 1) + first : nullptr;
      if (centered && momentum) rmsprop_update<T, true, true>(s, clip, p, g, sq, ga, buf, runs);
      else if (centered) rmsprop_update<T, true, false>(s, clip, p, g, sq, ga, buf, runs);
      else if (momentum) rmsprop_update<T, false, true>(s, clip, p, g, sq, ga, buf, runs);
      else rmsprop_update<T, false, false>(s, clip, p, g, sq, ga, buf, runs);
      break;
    }
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      T* m = state + first;
      T* v = state + n + first;
      T* v_max = s.spec.amsgrad ? state + 2 * n + first : nullptr;
      if (s.spec.amsgrad) adam_update<T, true>(s, clip, p, g, m, v, v_max, runs);
      else adam_update<T, false>(s, clip, p, g, m, v, v_max, runs);
      break;
    }
  }
}

// The clipping functor of the step, then the update: the loops are compiled
// once per functor, so an unclipped step pays no min/max.
template <typename T>
inline void update_runs_clipped(const OptimizerStep<T>& s, index_t first, const Runs& runs) {
  if (s.clipped) update_runs(s, Clip<T>{s.clip_scale, s.clip_lo, s.clip_hi}, first, runs);
  else update_runs(s, NoClip<T>{}, first, runs);
}

// The same loops compiled for wider vectors, chosen at run time by cpuid
// (cpu.h): `flatten` inlines every call, so the whole update is generated for
// the wrapper's instruction set. The arithmetic is the same IEEE operations
// in the same order (no FMA contraction here: see the top of the file), so the
// results are bit-identical to the baseline build's; only the speed differs
// (memory-bound Adam on 5.8 M floats: ~7 ms with SSE2, ~5.3 ms with
// AVX-512, measured on the benchmark machine).
#if FASTMLP_GEMM_X86

template <typename T>
FASTMLP_TARGET_AVX512 FASTMLP_FLATTEN void update_runs_avx512(const OptimizerStep<T>& s,
                                                              index_t first, const Runs& runs) {
  update_runs_clipped<T>(s, first, runs);
}

template <typename T>
FASTMLP_TARGET_AVX2 FASTMLP_FLATTEN void update_runs_avx2(const OptimizerStep<T>& s,
                                                          index_t first, const Runs& runs) {
  update_runs_clipped<T>(s, first, runs);
}
#endif  // FASTMLP_GEMM_X86

// The runs by the widest variant of the loops the CPU runs.
template <typename T>
void update_runs_dispatch(const OptimizerStep<T>& s, index_t first, const Runs& runs) {
#if FASTMLP_GEMM_X86
  const CpuFeatures& cpu = cpu_features();
  if (cpu.avx512f) return update_runs_avx512<T>(s, first, runs);
  if (cpu.avx2_fma) return update_runs_avx2<T>(s, first, runs);
#endif
  update_runs_clipped<T>(s, first, runs);
}

bool known_kind(OptimizerKind k) {
  return k == OptimizerKind::Sgd || k == OptimizerKind::Adam || k == OptimizerKind::AdamW ||
         k == OptimizerKind::Adagrad || k == OptimizerKind::RMSprop;
}

}  // namespace

// Ranges as torch.optim checks them, with two deliberate tightenings: eps must
// be > 0 (torch accepts 0, which divides 0 by 0 on a zero gradient) and
// RMSprop's alpha ≤ 1 (above it, 1 − α < 0 makes the square average negative).
void validate_optimizer(const OptimizerSpec& s) {
  require(known_kind(s.kind), "optimizer: unknown optimizer kind");
  require_finite(s.lr, "lr");
  require_finite(s.momentum, "momentum");
  require_finite(s.dampening, "dampening");
  require_finite(s.weight_decay, "weight_decay");
  require_finite(s.beta1, "beta1");
  require_finite(s.beta2, "beta2");
  require_finite(s.eps, "eps");
  require_finite(s.alpha, "alpha");
  require_finite(s.lr_decay, "lr_decay");
  require_finite(s.initial_accumulator_value, "initial_accumulator_value");
  require_finite(s.clip_norm, "clip_norm");
  require_finite(s.clip_value, "clip_value");
  require_range(s.lr >= 0, "lr", ">= 0", s.lr);
  require_range(s.weight_decay >= 0, "weight_decay", ">= 0", s.weight_decay);
  require_range(s.clip_norm >= 0, "clip_norm", ">= 0 (0: off)", s.clip_norm);
  require_range(s.clip_value >= 0, "clip_value", ">= 0 (0: off)", s.clip_value);
  switch (s.kind) {
    case OptimizerKind::Sgd:
      require_range(s.momentum >= 0, "momentum", ">= 0", s.momentum);
      require_range(s.dampening >= 0 && s.dampening <= 1, "dampening", "in [0, 1]",
                    s.dampening);
      // As torch.optim.SGD: Nesterov momentum requires a momentum and zero
      // dampening.
      require(!s.nesterov || (s.momentum > 0 && s.dampening == 0),
              "sgd: nesterov requires momentum > 0 and dampening = 0");
      break;
    case OptimizerKind::Adagrad:
      require_range(s.lr_decay >= 0, "lr_decay", ">= 0", s.lr_decay);
      require_range(s.initial_accumulator_value >= 0, "initial_accumulator_value", ">= 0",
                    s.initial_accumulator_value);
      require_range(s.eps > 0, "eps", "> 0", s.eps);
      break;
    case OptimizerKind::RMSprop:
      require_range(s.momentum >= 0, "momentum", ">= 0", s.momentum);
      require_range(s.alpha >= 0 && s.alpha <= 1, "alpha", "in [0, 1]", s.alpha);
      require_range(s.eps > 0, "eps", "> 0", s.eps);
      break;
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW:
      require_range(s.beta1 >= 0 && s.beta1 < 1, "beta1", "in [0, 1)", s.beta1);
      require_range(s.beta2 >= 0 && s.beta2 < 1, "beta2", "in [0, 1)", s.beta2);
      require_range(s.eps > 0, "eps", "> 0", s.eps);
      break;
  }
}

index_t optimizer_state_size(const OptimizerSpec& spec, index_t n) {
  switch (spec.kind) {
    case OptimizerKind::Sgd:
      return spec.momentum != 0.0 ? n : 0;
    case OptimizerKind::Adagrad:
      return n;
    case OptimizerKind::RMSprop:
      return n * (1 + (spec.centered ? 1 : 0) + (spec.momentum > 0 ? 1 : 0));
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW:
      return n * (spec.amsgrad ? 3 : 2);
  }
  throw std::invalid_argument("optimizer: unknown optimizer kind");
}

bool optimizer_state_compatible(const OptimizerSpec& a, const OptimizerSpec& b) {
  if (a.kind != b.kind || optimizer_state_size(a, 1) != optimizer_state_size(b, 1)) return false;
  // RMSprop's second slice is the gradient average or the momentum buffer.
  return a.kind != OptimizerKind::RMSprop ||
         (a.centered == b.centered && (a.momentum > 0) == (b.momentum > 0));
}

template <typename T>
OptimizerStep<T> optimizer_prepare(const OptimizerSpec& spec, T* param, const T* grad,
                                   T* state, index_t n, std::int64_t step) {
  require(n >= 0, "optimizer_update: expected n >= 0");
  require(step >= 1, "optimizer_update: expected step >= 1 but received " +
                         std::to_string(step));
  require(n == 0 || (param != nullptr && grad != nullptr),
          "optimizer_update: null param or grad");
  require(known_kind(spec.kind), "optimizer: unknown optimizer kind");
  require(n == 0 || optimizer_state_size(spec, n) == 0 || state != nullptr,
          "optimizer_update: null state");
  OptimizerStep<T> s;
  s.spec = spec;
  s.param = param;
  s.grad = grad;
  s.state = state;
  s.n = n;
  s.step = step;
  // The gradient as the update reads it: scaled by the global-norm
  // coefficient, then clamped (an unused half is scale 1 or bounds ±∞, which
  // are exact and keep NaN as NaN).
  if (spec.clip_norm > 0 || spec.clip_value > 0) {
    const T inf = std::numeric_limits<T>::infinity();
    s.clipped = true;
    s.clip_scale = T(1);
    s.clip_lo = -inf;
    s.clip_hi = inf;
    if (spec.clip_norm > 0 && n > 0) {
      // torch: coef = max_norm / (total_norm + 1e-6), clamped to at most 1. A
      // non-finite norm gives a NaN/zero coefficient there too; the loss of
      // such a batch is not finite, so trainStep skips the step anyway.
      const double coef = spec.clip_norm / (global_norm(grad, n) + 1e-6);
      s.clip_scale = T(std::min(coef, 1.0));
    }
    if (spec.clip_value > 0) {
      s.clip_lo = T(-spec.clip_value);
      s.clip_hi = T(spec.clip_value);
    }
  }
  // The per-element constants in T, each computed in double first.
  s.eps = T(spec.eps);
  s.momentum = T(spec.momentum);
  s.weight_decay = T(spec.weight_decay);
  switch (spec.kind) {
    case OptimizerKind::Sgd:
      s.lr = T(spec.lr);
      s.keep = T(1.0 - spec.dampening);
      s.first = step == 1;
      s.nesterov = spec.nesterov;
      break;
    case OptimizerKind::Adagrad:
      s.lr = T(spec.lr / (1.0 + static_cast<double>(step - 1) * spec.lr_decay));
      s.init = T(spec.initial_accumulator_value);
      s.keep = step == 1 ? T(0) : T(1);
      break;
    case OptimizerKind::RMSprop:
      s.lr = T(spec.lr);
      s.alpha = T(spec.alpha);
      s.one_minus_alpha = T(1.0 - spec.alpha);
      break;
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      // Scalars in double (β^t for large t), the per-element work in T.
      const double t = static_cast<double>(step);
      const double bc1 = 1.0 - std::pow(spec.beta1, t);
      const double bc2 = 1.0 - std::pow(spec.beta2, t);
      s.beta1 = T(spec.beta1);
      s.beta2 = T(spec.beta2);
      // 1 − β in double, then rounded: in float, 1 − float(0.999) is off by
      // 1.3e-5 relative, a bias on v that torch (which computes 1 − β in
      // Python floats) does not have.
      s.one_minus_beta1 = T(1.0 - spec.beta1);
      s.one_minus_beta2 = T(1.0 - spec.beta2);
      s.step_size = T(spec.lr / bc1);
      s.inv_bc2_sqrt = T(1.0 / std::sqrt(bc2));
      // AdamW: θ ← θ(1 − lr·λ) first; Adam: g ← g + λθ.
      const bool decoupled = spec.kind == OptimizerKind::AdamW;
      s.decay = T(decoupled ? 1.0 - spec.lr * spec.weight_decay : 1.0);
      s.weight_decay = T(decoupled ? 0.0 : spec.weight_decay);
      break;
    }
  }
  return s;
}

template <typename T>
void optimizer_apply(const OptimizerStep<T>& step, index_t begin, index_t end) {
  require(begin >= 0 && begin <= end && end <= step.n,
          "optimizer_apply: expected 0 <= begin <= end <= n");
  parallel_for(end - begin, kUpdateGrain, [&](index_t b, index_t e) {
    update_runs_dispatch(step, begin + b, make_range<T>(e - b));
  });
}

// gemm calls rows_fn on blocks of whole tile rows: with AVX-512, 12 rows ×
// ~700 columns, rows ldc apart. (Updating each 12×32 tile in place instead
// ran 2.6× slower per element than a long range when ldc·sizeof(T) is a
// multiple of 4 KiB, as for a 2048-wide layer: each short row's loads share
// address bits 11..0 with the row before's stores, still in the store buffer,
// and wait for them — "4K aliasing", Intel's optimization manual.)
template <typename T>
void optimizer_apply_rows(T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
  const OptimizerStep<T>& step = *static_cast<const OptimizerStep<T>*>(ctx);
  const index_t first = c - step.grad;
  // No prefetch (limit 0): optimizer_prefetch_tile asked for these lines.
  update_runs_dispatch(step, first, Runs{rows, cols, ldc, 0, 0});
}

// Each finished tile's parameter and state lines, into L2 (locality 2: the
// micro-kernel's panels own L1), one request per line.
template <typename T>
void optimizer_prefetch_tile(T* c, index_t ldc, index_t rows, index_t cols, const void* ctx) {
#if defined(__GNUC__) || defined(__clang__)
  const OptimizerStep<T>& step = *static_cast<const OptimizerStep<T>*>(ctx);
  const index_t first = c - step.grad;
  const index_t slices = optimizer_state_size(step.spec, 1);
  const index_t bytes = cols * static_cast<index_t>(sizeof(T));
  for (index_t r = 0; r < rows; ++r) {
    const index_t at = first + r * ldc;
    const char* p = reinterpret_cast<const char*>(step.param + at);
    for (index_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 1, 2);
    for (index_t k = 0; k < slices; ++k) {
      const char* st = reinterpret_cast<const char*>(step.state + k * step.n + at);
      for (index_t b = 0; b < bytes; b += 64) __builtin_prefetch(st + b, 1, 2);
    }
  }
#else
  (void)c, (void)ldc, (void)rows, (void)cols, (void)ctx;
#endif
}

template <typename T>
void optimizer_update(const OptimizerSpec& spec, T* param, const T* grad,
                      T* state, index_t n, std::int64_t step) {
  const OptimizerStep<T> s = optimizer_prepare(spec, param, grad, state, n, step);
  optimizer_apply(s, 0, n);
}

template void optimizer_update<float>(const OptimizerSpec&, float*,
                                      const float*, float*, index_t,
                                      std::int64_t);
template void optimizer_update<double>(const OptimizerSpec&, double*,
                                       const double*, double*, index_t,
                                       std::int64_t);

#define FASTMLP_INSTANTIATE_OPTIM(T)                                                      \
  template OptimizerStep<T> optimizer_prepare<T>(const OptimizerSpec&, T*, const T*, T*, \
                                                 index_t, std::int64_t);                 \
  template void optimizer_apply<T>(const OptimizerStep<T>&, index_t, index_t);           \
  template void optimizer_apply_rows<T>(T*, index_t, index_t, index_t, const void*);   \
  template void optimizer_prefetch_tile<T>(T*, index_t, index_t, index_t, const void*);
FASTMLP_INSTANTIATE_OPTIM(float)
FASTMLP_INSTANTIATE_OPTIM(double)
#undef FASTMLP_INSTANTIATE_OPTIM

}  // namespace fastmlp
