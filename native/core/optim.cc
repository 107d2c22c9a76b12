// Optimizer updates over flat buffers (optim.h): the options checked as
// torch.optim checks them, the state layout, the step's gradient clipping,
// and the dispatch of each update: the flat buffers split across the thread
// pool, each chunk run by the widest instruction set the CPU has.
// The rest of this translation unit is in two files included below, inside
// the anonymous namespace and under the no-contraction pragma:
//  - optim_numerics.inc: what every loop shares: clipping functors, the flush
//    of subnormal state ("Subnormal state") and of tiny gradients' squares
//    ("Tiny gradients"), with their proofs that the parameters do not change;
//    the guarded commit ("Updates that overflow"); the prefetching block loop.
//  - optim_loops.inc: each optimizer's per-element formula, after PyTorch's
//    torch.optim (the formulas and citations are there).
// They are textual parts of this file, not headers: the ISA wrappers below
// must inline every loop (`flatten`), so the loops have to be compiled in this
// translation unit, under this file's pragma.
#include "optim.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "cpu.h"
#include "finite.h"  // FloatBits: the probes of overflowing updates
#include "gemm_kernels.h"  // FASTMLP_TARGET_*, FASTMLP_FLATTEN and FASTMLP_GEMM_X86
#include "threads.h"

// No FMA contraction in this translation unit (this file and the two .inc
// files it includes), so that the AVX-512 and AVX2 variants below round
// exactly as the baseline build does (a·b + c stays a multiply and an add).
// The compilers' defaults differ: g++ contracts across statements
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

// On each update's per-element formula, a lambda: see update_in_blocks
// (optim_numerics.inc).
#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FASTMLP_ALWAYS_INLINE
#endif

namespace fastmlp {
namespace {

// Messages built only on failure: the hyper-parameters are checked every step.
void require_finite(double v, const char* name) {
  require_or(std::isfinite(v), [&] {
    return std::string("optimizer: expected a finite ") + name + " but received " + std::to_string(v);
  });
}

void require_range(bool ok, const char* name, const char* what, double v) {
  require_or(ok, [&] {
    return std::string("optimizer: expected ") + name + " " + what + " but received " + std::to_string(v);
  });
}

// The loops and what they share (see the top of the file), here so that they
// are compiled under the pragma above and inlined by the ISA wrappers below.
#include "optim_numerics.inc"
#include "optim_loops.inc"

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

// The clipping of this step; `active` is false when neither bound is set.
template <typename T>
Clip<T> make_clip(const OptimizerSpec& s, const T* grad, index_t n) {
  const T inf = std::numeric_limits<T>::infinity();
  Clip<T> clip{T(1), -inf, inf};
  if (s.clip_norm > 0) {
    // torch: coef = max_norm / (total_norm + 1e-6), clamped to at most 1. A
    // non-finite norm gives a NaN/zero coefficient there too; the loss of such
    // a batch is not finite, so trainStep skips the step anyway.
    const double coef = s.clip_norm / (global_norm(grad, n) + 1e-6);
    clip.scale = T(std::min(coef, 1.0));
  }
  if (s.clip_value > 0) {
    clip.lo = T(-s.clip_value);
    clip.hi = T(s.clip_value);
  }
  if (s.maximize) clip.scale = -clip.scale;  // gradient ascent (optim.h)
  return clip;
}

// The update of elements [begin, end) of n parameters (optim.h's state
// layout: each state slice is n long); false when an element was refused.
template <typename T, typename C>
inline bool update_slice(const OptimizerSpec& spec, const C& clip, T* param, const T* grad,
                         T* state, index_t n, index_t begin, index_t end, std::int64_t step) {
  const index_t count = end - begin;
  T* const p = param + begin;
  const T* const g = grad + begin;
  const bool centered = spec.centered;
  const bool momentum = spec.momentum > 0;
  switch (spec.kind) {
    case OptimizerKind::Sgd:
      return sgd_update(spec, clip, p, g, state ? state + begin : nullptr, count, step);
    case OptimizerKind::Adagrad:
      return adagrad_update(spec, clip, p, g, state + begin, count, step);
    case OptimizerKind::RMSprop: {
      T* sq = state + begin;
      // Slices that the options leave out are null, never past the end.
      T* ga = centered ? state + n + begin : nullptr;
      T* buf = momentum ? state + n * (centered ? 2 : 1) + begin : nullptr;
      if (centered && momentum) return rmsprop_update<T, true, true>(spec, clip, p, g, sq, ga, buf, count);
      if (centered) return rmsprop_update<T, true, false>(spec, clip, p, g, sq, ga, buf, count);
      if (momentum) return rmsprop_update<T, false, true>(spec, clip, p, g, sq, ga, buf, count);
      return rmsprop_update<T, false, false>(spec, clip, p, g, sq, ga, buf, count);
    }
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      const bool decoupled = spec.kind == OptimizerKind::AdamW;
      T* m = state + begin;
      T* v = state + n + begin;
      T* v_max = spec.amsgrad ? state + 2 * n + begin : nullptr;
      if (spec.amsgrad) return adam_update<T, true>(spec, clip, p, g, m, v, v_max, count, step, decoupled);
      return adam_update<T, false>(spec, clip, p, g, m, v, v_max, count, step, decoupled);
    }
  }
  return true;  // unreachable: optimizer_update checked the kind
}

// The same loops compiled for wider vectors, chosen at run time by cpuid
// (cpu.h): `flatten` inlines every call, so the whole update is generated for
// the wrapper's instruction set. The arithmetic is the same IEEE operations
// in the same order (no FMA contraction here: see the top of the file), so the
// results are bit-identical to the baseline build's; only the speed differs
// (memory-bound Adam on 5.8 M floats: ~7 ms with SSE2, ~5.3 ms with
// AVX-512, measured on the benchmark machine).
#if FASTMLP_GEMM_X86

template <typename T, typename C>
FASTMLP_TARGET_AVX512 FASTMLP_FLATTEN bool update_slice_avx512(
    const OptimizerSpec& spec, const C& clip, T* param, const T* grad, T* state, index_t n,
    index_t begin, index_t end, std::int64_t step) {
  return update_slice<T, C>(spec, clip, param, grad, state, n, begin, end, step);
}

template <typename T, typename C>
FASTMLP_TARGET_AVX2 FASTMLP_FLATTEN bool update_slice_avx2(
    const OptimizerSpec& spec, const C& clip, T* param, const T* grad, T* state, index_t n,
    index_t begin, index_t end, std::int64_t step) {
  return update_slice<T, C>(spec, clip, param, grad, state, n, begin, end, step);
}
#endif  // FASTMLP_GEMM_X86

bool known_kind(OptimizerKind k) {
  return k == OptimizerKind::Sgd || k == OptimizerKind::Adam || k == OptimizerKind::AdamW ||
         k == OptimizerKind::Adagrad || k == OptimizerKind::RMSprop;
}

// All n elements with the step's clipping functor, in chunks over the
// threads, each chunk by the widest variant of the loops the CPU runs.
// False when any chunk refused an element.
template <typename T, typename C>
bool run_update(const OptimizerSpec& spec, const C& clip, T* param, const T* grad,
                T* state, index_t n, std::int64_t step) {
  [[maybe_unused]] const CpuFeatures& cpu = cpu_features();
  std::atomic<bool> all_committed{true};
  parallel_for(n, kUpdateGrain, [&](index_t b, index_t e) {
    bool committed;
#if FASTMLP_GEMM_X86
    if (cpu.avx512f) committed = update_slice_avx512<T, C>(spec, clip, param, grad, state, n, b, e, step);
    else if (cpu.avx2_fma) committed = update_slice_avx2<T, C>(spec, clip, param, grad, state, n, b, e, step);
    else
#endif
      committed = update_slice<T, C>(spec, clip, param, grad, state, n, b, e, step);
    // Only a refusal writes the shared flag.
    if (!committed) all_committed.store(false, std::memory_order_relaxed);
  });
  return all_committed.load(std::memory_order_relaxed);
}

}  // namespace

// Ranges as torch.optim checks them, with two deliberate tightenings: eps must
// be > 0 (torch accepts 0, which divides 0 by 0 on a zero gradient) and
// RMSprop's alpha ≤ 1 (above it, 1 − α < 0 makes the square average negative),
// and > 0 when centered.
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
      // Centered with α = 0: the variance estimate g² − g² is 0, so the step
      // is g/ε (torch 1.13 moves a weight of 1 to −2e6 in one step). Refused.
      require_range(!s.centered || s.alpha > 0, "alpha", "> 0 when centered", s.alpha);
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
bool optimizer_update(const OptimizerSpec& spec, T* param, const T* grad,
                      T* state, index_t n, std::int64_t step) {
  require(n >= 0, "optimizer_update: expected n >= 0");
  require_or(step >= 1, [&] { return "optimizer_update: expected step >= 1 but received " + std::to_string(step); });
  if (n == 0) return true;
  require(param != nullptr && grad != nullptr,
          "optimizer_update: null param or grad");
  require(known_kind(spec.kind), "optimizer: unknown optimizer kind");
  require(optimizer_state_size(spec, n) == 0 || state != nullptr,
          "optimizer_update: null state");
  if (spec.clip_norm > 0 || spec.clip_value > 0 || spec.maximize)
    return run_update(spec, make_clip(spec, grad, n), param, grad, state, n, step);
  return run_update(spec, NoClip<T>{}, param, grad, state, n, step);
}

template bool optimizer_update<float>(const OptimizerSpec&, float*,
                                      const float*, float*, index_t,
                                      std::int64_t);
template bool optimizer_update<double>(const OptimizerSpec&, double*,
                                       const double*, double*, index_t,
                                       std::int64_t);

}  // namespace fastmlp
