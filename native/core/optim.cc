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
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "cpu.h"
#include "finite.h"  // FloatBits: the probes of overflowing updates
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

// Subnormal state. State that decays geometrically (Adam's m by β1 and v by
// β2 per step, RMSprop's averages by α, momentum buffers by μ) on a weight
// whose gradient has become exactly 0 for good (a dead ReLU unit's rows, an
// always-zero input) passes through the subnormal range: v with β2 = 0.999
// spends ~16,000 steps between 1.2e-38 and 1.4e-45. x86 cores take a microcode
// assist on every multiply that reads or produces a subnormal: Adam on 5.8 M
// floats with v subnormal took 18.3 ms per update against 1.7 ms with v
// normal (measured by the lead; 80 against 3.8 ms in optim_bench on the
// shared benchmark machine; PyTorch 1.13 slows down alike). So each
// decaying state value is stored as 0 when |x| < the smallest normal number
// of T (FLT_MIN = 2⁻¹²⁶, DBL_MIN = 2⁻¹⁰²²), and the update uses the stored
// value. A compare and a blend per value in every ISA variant (they are one
// template, below); not the MXCSR flush-to-zero bits, which would change every
// operation on the thread, differ between threads and leave the TypeScript
// engine unable to follow. Adagrad's sum is left alone: it only grows
// (G ← G + g²), a zero gradient keeps it as it is, and it is subnormal only
// while every gradient so far was below ~1e-19; flushing it would discard
// those squares.
//
// Why the parameters do not change (float; for double read 2⁻¹⁰²² for 2⁻¹²⁶,
// 2⁻⁵¹¹ for 2⁻⁶³ and 2⁻⁵⁴ for 2⁻²⁵). Facts: for normal x, ½ulp(x) > |x|·2⁻²⁵,
// and a + b rounds to a when |b| < ½ulp(a). A flushed value s has |s| < 2⁻¹²⁶.
//  - Adam's v: the denominator is √v·(1/√bc2) + ε with bc2 = 1 − β2ᵗ ≥ 1 − β2,
//    and √v < 2⁻⁶³, so the first term is < 2⁻⁶³/√(1 − β2)·(1 + 2⁻²³) (3.4e-18
//    for β2 = 0.999). It is below ½ulp(ε) > ε·2⁻²⁵ whenever
//    ε > 2⁻³⁸/√(1 − β2)·(1 + 2⁻²³) — 1.2e-10 for β2 = 0.999 (≈ 1e-136 in
//    double) — so the denominator is exactly ε with the subnormal v and with
//    0: PyTorch's default 1e-8 qualifies. (amsgrad: max(v̂max, v) is v̂max when
//    that is normal, else both are flushed.)
//  - Adam's m: with m = 0 the update is exactly 0 and θ stays. With the
//    subnormal m it is |u| < (lr/(1 − β1))·2⁻¹²⁶/ε (1.2e-32 for the defaults),
//    below ½ulp(θ) unless |θ| < 2²⁵·|u| (4e-25 for the defaults), so θ stays
//    too. Likewise SGD's and RMSprop's momentum buffer b (with a zero
//    gradient the step is lr·b or lr·μ·b, |u| < lr·2⁻¹²⁶: |θ| > lr·2⁻¹⁰¹ ≈
//    lr·3.9e-31 suffices).
//  - RMSprop's s: with g = 0 the step g/(√s + ε) is 0 either way; otherwise
//    √s < 2⁻⁶³ < ½ulp(ε) for ε > 2⁻³⁸ ≈ 3.6e-12 (the default is 1e-8). The
//    centered average a: a² underflows to 0 when |a| < 2⁻¹²⁶, so s − a² is
//    the same either way.
// So while the gradient stays 0 — the case that reaches the range — the
// parameters are bit-identical with and without the flush, step after step.
// When a gradient g returns, the next state β·s + (1 − β)·g equals the
// unflushed one whenever |(1 − β)·g| ≥ 2⁻¹⁰¹ (then β|s| < 2⁻¹²⁶ < ½ulp of
// it), i.e. |g| ≥ 3.9e-30 for m, |g| ≥ 2e-14 for v (β2 = 0.999); only a
// gradient below those can see a last-bit difference. The state differs only
// where it was subnormal (stored 0 instead). Tested in
// native/test/optim_flush_test.cc and test/optim-subnormal.test.ts.
template <typename T>
struct FlushSubnormal {
  T below;  // the smallest normal T, or 0 to store every value as computed
  explicit FlushSubnormal(bool on) : below(on ? std::numeric_limits<T>::min() : T(0)) {}
  T operator()(T x) const { return std::abs(x) < below ? T(0) : x; }
};

// Tiny gradients. A gradient that is not 0 but below ~1e-19 in magnitude
// (float; ~1e-154 in double) has a subnormal square: Adam's (1 − β2)·g·g,
// RMSprop's (1 − α)·g·g and Adagrad's g·g then take a microcode assist on
// every step, as the stored state's flush above cannot prevent (the product
// is subnormal before anything is stored). Measured with optim_bench tiny=P
// (5.8 M values, 1 thread, before this): with 1 % of the gradients tiny,
// spread out, Adam 6.2 → 7.5 ms, RMSprop 3.3 → 6.6, Adagrad 3.2 → 11.7; with
// 10 %, 23, 22 and 52 ms (double: 13 → 43, 10 → 40, 10 → 90); PyTorch 1.13
// slows down alike (README, Optimizers). So the square is taken of g, or of 0
// when |g| < `below`, a bound under which the product (c·g)·g, computed in T
// with c = 1 − β2, 1 − α or 1, is certainly below the smallest normal number
// N (2⁻¹²⁶ float, 2⁻¹⁰²² double): below = 0.999·√(N/c), and 0.999² leaves
// room for the rounding of c, of `below` and of the two products. Only
// squares that are subnormal or 0 are dropped; those in [0.998N, N) may still
// be computed (assists in a band of 0.1 % of magnitudes).
//
// Which results can change (float; double: read 2⁻¹⁰²² for 2⁻¹²⁶ and 2⁻⁹⁶⁹
// for 2⁻¹⁰²). The dropped term s has |s| < N = 2⁻¹²⁶, and the state it is
// added to is a = β·v (Adam), α·s (RMSprop) or the sum (Adagrad), ≥ 0.
//  - a = 0 (a state that was 0 or flushed, the case of gradients that stay
//    tiny): Adam's and RMSprop's new state is flush(s) = 0 either way, so
//    state and parameter are bit-identical. Adagrad's sum is never flushed:
//    it lacks the dropped squares, so after k such steps it is 0 where it
//    would be below k·N. Its parameter is the same while √(k·N) < ½ulp(ε)
//    (the denominator is ε both ways): k < 2¹⁰ for ε = 1e-10 (the default),
//    2²⁴ for 1e-8; beyond, the step lr·g/(√G + ε) is itself ~lr·1e-10 or
//    less, below ½ulp(θ) unless |θ| < ~lr·1e-3.
//  - a ≥ 2⁻¹⁰²: ½ulp(a) ≥ 2⁻¹²⁶ > |s|, so a + s rounds to a: bit-identical.
//  - 0 < a < 2⁻¹⁰² (≈ 2e-31: a state decaying towards the subnormal range
//    while the gradient is tiny): the new state may differ in its last bits
//    (by less than 2⁻¹²⁶), and so may the parameter's last bit through
//    √v/√bc2 + ε — state values below 2e-31, which the flush would store as
//    0 within ~50,000 more steps of β2 = 0.999 anyway.
// Centered RMSprop's a² is taken the same way (a = 0 when a² would be
// subnormal; s − a² is s either way unless 0 < s < 2⁻¹⁰², or s = 0 where
// max(−a², 0) = 0 too). Nothing else reads the dropped values: the first
// moment, the gradient average and the update itself use g as it is. Off with flush_subnormal = false
// (PyTorch's behaviour, for tests and benchmarks); tested in
// native/test/optim_flush_test.cc and test/optim-subnormal.test.ts.
template <typename T>
struct SquareInput {
  T below;  // |g| under which the square's input is 0 (0: never)
  SquareInput(double coefficient, bool on)
      : below(on && coefficient > 0
                  ? T(0.999 * std::sqrt(double(std::numeric_limits<T>::min()) / double(T(coefficient))))
                  : on ? std::numeric_limits<T>::infinity() : T(0)) {}
  // As an AND of the bit pattern, not a select of 0: g++ 12 turned the select
  // into "compute (c·g)·g anyway, then choose 0", which kept the assists
  // (centered RMSprop was still 4× slower with tiny gradients).
  T operator()(T g) const {
    using U = typename FloatBits<T>::U;
    U bits;
    std::memcpy(&bits, &g, sizeof bits);
    bits &= U(0) - U(!(std::abs(g) < below));
    T out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
  }
};

// Updates that overflow. A finite gradient can still give a non-finite new
// value: SGD with lr 1e30 and g = 1e10, weight decay on a parameter near the
// largest finite T, Adam's g² for |g| > ~1e19 (float), Adagrad's growing sum.
// Stored, it corrupts the model for good (an Infinity parameter turns every
// later output NaN) and only the next batch's loss would show it. So each
// update below computes an element's new parameter and state, and commits
// them only when every one of them is finite; otherwise that element's
// parameter and state are written back exactly as they were read, and the
// update reports the refusal (optimizer_update returns false).
//
// Why per element and not the whole step refused atomically: all-or-nothing
// needs to know before the first store whether any element will overflow,
// i.e. either a read-only pass computing every update first (Adam: 4 more
// streams of n values on top of the 7 it moves, ~1.5× the update's memory
// traffic on a network that does not fit in cache) or a copy of the old
// parameters and state to roll back from (as much again, every step, to
// serve a case that should never happen). The guarded commit is a subtraction
// and an add per new value and a compare and a blend per store, inside the
// loop that already holds the old and the new values in registers. Measured
// in alternating pairs of old/new builds (with the tiny-gradient change
// below): step_bench (784-2048-2048-10, batch 256, Adam, 1 thread) median
// pair ratio 0.997 over 12 pairs; optim_bench on 5.8 M values, median ratios
// float/double: Adam 1.03/1.01, SGD 0.94/0.92 (prefetched now), SGD with
// momentum 1.06/1.04, Adagrad 1.10/1.01, RMSprop 1.15/1.05 (its float loop is
// bound by √ and ÷, not memory), others 0.98-1.03. So the model always stays
// finite and every element is either updated or exactly as before; the
// caller learns that the step was not fully applied (Network::step returns
// false, does not count it, and training stops as for a bad batch).
//
// The test is a probe, Σ (x − x) over an element's new values: +0 when every
// one is finite (x − x is exactly +0 for finite x in round-to-nearest), NaN
// when any is ±∞ or NaN (∞ − ∞ and NaN − NaN are NaN; the core is never built
// with -ffast-math, which could fold x − x). The element commits when the
// probe is 0, and its bits are ORed into the loop's result, an integer
// reduction as wide as T that vectorises lane for lane (a bool flag ORed
// across the loop is a "condition reduction of multiple types" that g++ 12
// refused to vectorise at all).
template <typename T>
using ProbeBits = typename FloatBits<T>::U;

template <typename T, typename... More>
inline T nonfinite_probe(T x, More... more) {
  return ((x - x) + ... + (more - more));
}

// The probe's bits, for update_in_blocks to OR.
template <typename T>
inline ProbeBits<T> probe_bits(T probe) {
  ProbeBits<T> bits;
  std::memcpy(&bits, &probe, sizeof bits);
  return bits;
}

// True when the ORed probes of a loop saw no NaN (every element committed).
template <typename T>
inline bool all_committed(ProbeBits<T> ored) {
  return (ored & FloatBits<T>::kExponent) != FloatBits<T>::kExponent;
}

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
// pairs. Plain SGD (two streams) gained nothing measurable then (1.98 against
// 1.96 ms), but with the guarded commit below its plain loop was ~5 % (float)
// and ~12 % (double) slower than before, and prefetching won that back
// (standalone AVX-512 loop on 5.8 M doubles: 6.7 ms plain unguarded, 7.6
// plain guarded, 6.3 guarded and prefetched, medians of 31), so it shares
// the loop too.
constexpr index_t kStreamBlock = 256, kPrefetchAhead = 2048;

// Asks for the kStreamBlock bytes at array[at...].
template <typename P>
inline void prefetch_block([[maybe_unused]] const P* array, [[maybe_unused]] index_t at) {
#if defined(__GNUC__) || defined(__clang__)
  const char* bytes = reinterpret_cast<const char*>(array + at);
  for (index_t line = 0; line < kStreamBlock; line += 64) __builtin_prefetch(bytes + line);
#endif
}

// A state slice that the options leave out (RMSprop's gradient average or
// momentum buffer, amsgrad's maximum), known so at compile time: nothing to
// prefetch, and the formula, which takes it as `auto*`, never reads it.
struct Absent;
inline void prefetch_block(const Absent*, index_t) {}

template <bool Present, typename T>
auto array_if(T* array) {
  if constexpr (Present) return array;
  else return static_cast<Absent*>(nullptr);
}

// The loop every prefetching update shares: elements [0, n) in blocks of
// kStreamBlock bytes, each block after asking for the lines kPrefetchAhead
// bytes further on in every array, then update(i, arrays...) per element, so
// that each optimizer below states only its formula.
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
//
// update(i, ...) returns probe_bits of its element's probe (the guarded
// commit above); the loop ORs them and returns true when every element was
// committed.
template <typename T, typename Update, typename... Arrays>
inline bool update_in_blocks(index_t n, const Update& update,
                             Arrays* FASTMLP_RESTRICT... arrays) {
  constexpr index_t kBlock = kStreamBlock / sizeof(T), kAhead = kPrefetchAhead / sizeof(T);
  ProbeBits<T> probes = 0;
  for (index_t i0 = 0; i0 < n; i0 += kBlock) {
    if (i0 + kAhead + kBlock <= n) (prefetch_block(arrays, i0 + kAhead), ...);
    const index_t i1 = std::min(n, i0 + kBlock);
    // ORed per block first: a reduction carried across both loops left g++
    // unable to vectorise the inner one ("control flow in loop").
    ProbeBits<T> block_probes = 0;
    for (index_t i = i0; i < i1; ++i) block_probes |= update(i, arrays...);
    probes |= block_probes;
  }
  return all_committed<T>(probes);
}

// Each update returns true when every element was committed (see refused<T>).
template <typename T, typename C>
bool sgd_update(const OptimizerSpec& s, const C& clip, T* FASTMLP_RESTRICT param,
                const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT velocity, index_t n, std::int64_t step) {
  const T lr = T(s.lr), wd = T(s.weight_decay), mu = T(s.momentum);
  if (s.momentum == 0.0) {
    return update_in_blocks<T>(
        n,
        [=](index_t i, T* param, const T* grad) FASTMLP_ALWAYS_INLINE {
          const T p = param[i];
          const T next = p - lr * (clip(grad[i]) + wd * p);
          const T probe = nonfinite_probe(next);
          param[i] = probe == T(0) ? next : p;
          return probe_bits(probe);
        },
        param, grad);
  }
  const T keep = T(1.0 - s.dampening);
  const bool first = step == 1, nesterov = s.nesterov;
  const FlushSubnormal<T> flush(s.flush_subnormal);
  return update_in_blocks<T>(
      n,
      [=](index_t i, T* param, const T* grad, T* velocity) FASTMLP_ALWAYS_INLINE {
        const T p = param[i], v_old = velocity[i];
        T g = clip(grad[i]) + wd * p;
        // PyTorch creates the buffer as a copy of g on the first step: no
        // dampening is applied to it.
        const T v = flush(first ? g : mu * v_old + keep * g);
        g = nesterov ? g + mu * v : v;
        const T next = p - lr * g;
        const T probe = nonfinite_probe(next, v);
        velocity[i] = probe == T(0) ? v : v_old;
        param[i] = probe == T(0) ? next : p;
        return probe_bits(probe);
      },
      param, grad, velocity);
}

template <typename T, typename C>
bool adagrad_update(const OptimizerSpec& s, const C& clip, T* FASTMLP_RESTRICT param,
                    const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT sum, index_t n, std::int64_t step) {
  const T clr = T(s.lr / (1.0 + static_cast<double>(step - 1) * s.lr_decay));
  const T wd = T(s.weight_decay), eps = T(s.eps);
  // The state buffer starts at zero; torch fills it with the initial value,
  // so the first step reads that value instead of the buffer.
  const T init = T(s.initial_accumulator_value);
  const T keep = step == 1 ? T(0) : T(1);
  const SquareInput<T> square_input(1.0, s.flush_subnormal);
  return update_in_blocks<T>(
      n,
      [=](index_t i, T* param, const T* grad, T* sum) FASTMLP_ALWAYS_INLINE {
        const T p = param[i], sum_old = sum[i];
        const T g = clip(grad[i]) + wd * p;
        const T gs = square_input(g);
        const T acc = keep * sum_old + (T(1) - keep) * init + gs * gs;
        const T next = p - clr * g / (std::sqrt(acc) + eps);
        const T probe = nonfinite_probe(next, acc);
        sum[i] = probe == T(0) ? acc : sum_old;
        param[i] = probe == T(0) ? next : p;
        return probe_bits(probe);
      },
      param, grad, sum);
}

// grad_avg is null unless Centered, buffer unless Momentum.
template <typename T, bool Centered, bool Momentum, typename C>
bool rmsprop_update(const OptimizerSpec& s, const C& clip, T* FASTMLP_RESTRICT param,
                    const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT square_avg,
                    T* FASTMLP_RESTRICT grad_avg, T* FASTMLP_RESTRICT buffer, index_t n) {
  const T lr = T(s.lr), wd = T(s.weight_decay), eps = T(s.eps);
  const T alpha = T(s.alpha), one_minus_alpha = T(1.0 - s.alpha), mu = T(s.momentum);
  const FlushSubnormal<T> flush(s.flush_subnormal);
  const SquareInput<T> square_input(1.0 - s.alpha, s.flush_subnormal);
  const SquareInput<T> average_square_input(1.0, s.flush_subnormal);
  return update_in_blocks<T>(
      n,
      [=](index_t i, T* param, const T* grad, T* square_avg, auto* grad_avg,
          auto* buffer) FASTMLP_ALWAYS_INLINE {
        const T p = param[i], sq_old = square_avg[i];
        const T g = clip(grad[i]) + wd * p;
        const T gs = square_input(g);
        const T sq = flush(alpha * sq_old + one_minus_alpha * gs * gs);
        T var = sq;
        // The slices the options leave out are never read, probed or stored.
        T ga_old = T(0), ga = T(0), b_old = T(0), b = T(0);
        if constexpr (Centered) {
          ga_old = grad_avg[i];
          ga = flush(alpha * ga_old + one_minus_alpha * g);
          // s − a² ≥ 0 in exact arithmetic; rounding can push it just below,
          // where torch would take √ of a negative number and return NaN.
          // a² of a tiny average is dropped as a tiny g² is ("Tiny gradients"):
          // s − a² is then s, the same unless s is below 2⁻¹⁰².
          const T gas = average_square_input(ga);
          var = std::max(sq - gas * gas, T(0));
        }
        const T d = g / (std::sqrt(var) + eps);
        T next;
        if constexpr (Momentum) {
          b_old = buffer[i];
          b = flush(mu * b_old + d);
          next = p - lr * b;
        } else {
          next = p - lr * d;
        }
        T probe = nonfinite_probe(next, sq);
        if constexpr (Centered) probe += nonfinite_probe(ga);
        if constexpr (Momentum) probe += nonfinite_probe(b);
        square_avg[i] = probe == T(0) ? sq : sq_old;
        if constexpr (Centered) grad_avg[i] = probe == T(0) ? ga : ga_old;
        if constexpr (Momentum) buffer[i] = probe == T(0) ? b : b_old;
        param[i] = probe == T(0) ? next : p;
        return probe_bits(probe);
      },
      param, grad, square_avg, array_if<Centered>(grad_avg), array_if<Momentum>(buffer));
}

// v_max is null unless Amsgrad.
template <typename T, bool Amsgrad, typename C>
bool adam_update(const OptimizerSpec& s, const C& clip, T* FASTMLP_RESTRICT param,
                 const T* FASTMLP_RESTRICT grad, T* FASTMLP_RESTRICT m, T* FASTMLP_RESTRICT v,
                 T* FASTMLP_RESTRICT v_max, index_t n, std::int64_t step, bool decoupled) {
  // Scalars in double (β^t for large t), the per-element work in T.
  const double t = static_cast<double>(step);
  const double bc1 = 1.0 - std::pow(s.beta1, t);
  const double bc2 = 1.0 - std::pow(s.beta2, t);
  const T b1 = T(s.beta1), b2 = T(s.beta2), eps = T(s.eps);
  // 1 − β in double, then rounded: in float, 1 − float(0.999) is off by
  // 1.3e-5 relative, a bias on v that torch (which computes 1 − β in Python
  // floats) does not have.
  const T one_minus_b1 = T(1.0 - s.beta1), one_minus_b2 = T(1.0 - s.beta2);
  const T step_size = T(s.lr / bc1);
  const T inv_bc2_sqrt = T(1.0 / std::sqrt(bc2));
  // AdamW: θ ← θ(1 − lr·λ) first; Adam: g ← g + λθ.
  const T decay = T(decoupled ? 1.0 - s.lr * s.weight_decay : 1.0);
  const T coupled = T(decoupled ? 0.0 : s.weight_decay);
  const FlushSubnormal<T> flush(s.flush_subnormal);
  const SquareInput<T> square_input(1.0 - s.beta2, s.flush_subnormal);
  return update_in_blocks<T>(
      n,
      [=](index_t i, T* param, const T* grad, T* m, T* v,
          auto* v_max) FASTMLP_ALWAYS_INLINE {
        const T p_old = param[i], m_old = m[i], v_old = v[i];
        const T p = p_old * decay;
        const T g = clip(grad[i]) + coupled * p;
        const T mi = flush(b1 * m_old + one_minus_b1 * g);
        const T gs = square_input(g);
        const T vi = flush(b2 * v_old + one_minus_b2 * gs * gs);
        T denominator_v = vi;
        T seen = T(0);
        if constexpr (Amsgrad) {
          // Read here, not through std::max's reference (update_in_blocks).
          seen = v_max[i];
          denominator_v = flush(std::max(seen, vi));
        }
        const T next = p - step_size * mi / (std::sqrt(denominator_v) * inv_bc2_sqrt + eps);
        // max(v̂max, v) is finite when v is (v̂max was stored finite).
        const T probe = nonfinite_probe(next, mi, vi);
        m[i] = probe == T(0) ? mi : m_old;
        v[i] = probe == T(0) ? vi : v_old;
        if constexpr (Amsgrad) v_max[i] = probe == T(0) ? denominator_v : seen;
        param[i] = probe == T(0) ? next : p_old;
        return probe_bits(probe);
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
bool optimizer_update(const OptimizerSpec& spec, T* param, const T* grad,
                      T* state, index_t n, std::int64_t step) {
  require(n >= 0, "optimizer_update: expected n >= 0");
  require(step >= 1, "optimizer_update: expected step >= 1 but received " +
                         std::to_string(step));
  if (n == 0) return true;
  require(param != nullptr && grad != nullptr,
          "optimizer_update: null param or grad");
  require(known_kind(spec.kind), "optimizer: unknown optimizer kind");
  require(optimizer_state_size(spec, n) == 0 || state != nullptr,
          "optimizer_update: null state");
  if (spec.clip_norm > 0 || spec.clip_value > 0)
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
