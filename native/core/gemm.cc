// Cache-blocked GEMM after BLIS (F. G. Van Zee, R. A. van de Geijn, "BLIS: A
// Framework for Rapidly Instantiating BLAS Functionality", ACM TOMS 41(3),
// 2015; and T. M. Low et al., "Analytical Modeling Is Enough for
// High-Performance BLIS", TOMS 43(2), 2016).
//
// The five loops around the micro-kernel (LoopOrder::BResident):
//   loop 5  jc over n in steps of NC   B block  (KC×NC) lives in L3
//   loop 4  pc over k in steps of KC   pack B[pc:pc+KC, jc:jc+NC] → Bp
//   loop 3  ic over m in steps of MC   pack A[ic:ic+MC, pc:pc+KC] → Ap (L2)
//   loop 2  jr over NC in steps of NR  one B micro-panel (KC×NR) in L1
//   loop 1  ir over MC in steps of MR  micro-kernel: C tile (MR×NR) += Ap·Bp
// Kernels with a wide NR (AVX-512) use the mirror image, LoopOrder::AResident
// (A block in L3, B block in L2, A micro-panel in L1), for the reason given
// in gemm_kernels.h. The micro-kernels live in per-ISA files (gemm_avx2.cc,
// gemm_avx512.cc) and are picked once by cpuid; kernel_scalar below is the
// portable one.
// Packing reads op(A)/op(B) in any of the four transpose combinations and
// writes contiguous, zero-padded micro-panels, so the micro-kernel sees one
// layout only and edge tiles need no special kernel (they are computed into a
// local MR×NR tile and merged). Threads split C into a grid of sub-blocks,
// each run through the five loops with its own packing buffers.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cpu.h"
#include "gemm_kernels.h"
#include "gemm_small.h"
#include "threads.h"

#if defined(__GNUC__) || defined(__clang__)
#define FASTMLP_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define FASTMLP_NOINLINE __declspec(noinline)
#else
#define FASTMLP_NOINLINE
#endif

namespace fastmlp {
namespace {

// ---------------------------------------------------------------------------
// Micro-kernels and their configurations (interface in gemm_kernels.h).

using gemm_detail::KernelConfig;
using gemm_detail::LoopOrder;
using gemm_detail::MicroKernel;

constexpr index_t kMaxTile = 32 * 32;  // largest MR×NR any kernel may use

// Portable kernel, in two parts. tile_accumulate keeps the MR×NR
// accumulators in a local array with compile-time bounds, so g++ -O3 unrolls
// the i/j loops and keeps them in vector registers (vectorised over j). It is
// kept out of line on purpose: when g++ inlines it into the store loop below
// (runtime ldc, three beta cases) its SLP vectoriser chooses a much worse
// shape for the hot loop (measured ~2× slower).
template <typename T, int MR, int NR>
FASTMLP_NOINLINE void tile_accumulate(index_t kc, const T* __restrict a,
                                      const T* __restrict b,
                                      T* __restrict out) {
  T acc[MR][NR];
  FASTMLP_UNROLL
  for (int i = 0; i < MR; ++i) {
    FASTMLP_UNROLL
    for (int j = 0; j < NR; ++j) acc[i][j] = T(0);
  }
  for (index_t p = 0; p < kc; ++p, a += MR, b += NR) {
    FASTMLP_UNROLL
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i];
      FASTMLP_UNROLL
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
  }
  FASTMLP_UNROLL
  for (int i = 0; i < MR; ++i) {
    FASTMLP_UNROLL
    for (int j = 0; j < NR; ++j) out[i * NR + j] = acc[i][j];
  }
}

template <typename T, int MR, int NR>
void kernel_scalar(index_t kc, T alpha, const T* a, const T* b, T beta,
                   T* __restrict c, index_t ldc, const T* __restrict bias) {
  alignas(64) T acc[MR * NR];
  tile_accumulate<T, MR, NR>(kc, a, b, acc);
  for (int i = 0; i < MR; ++i) {
    T* cr = c + i * ldc;
    const T* ar = acc + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < NR; ++j) cr[j] = alpha * ar[j];
    } else if (beta == T(1)) {
      for (int j = 0; j < NR; ++j) cr[j] += alpha * ar[j];
    } else {
      for (int j = 0; j < NR; ++j) cr[j] = alpha * ar[j] + beta * cr[j];
    }
    if (bias)
      for (int j = 0; j < NR; ++j) cr[j] += bias[j];
  }
}

// The portable small-product kernels: gemm_small_kernel.inc over a "vector"
// of N plain values (loops of constant length the compiler may vectorise
// for the baseline ISA; 32³ 16 → 26 GFLOP/s over the packed scalar kernel).
template <typename TT, int N>
struct PortableOps {
  using T = TT;
  struct V {
    T v[N];
  };
  static constexpr int kLanes = N;
  static V zero() { return set1(T(0)); }
  static V set1(T x) {
    V r;
    for (int i = 0; i < N; ++i) r.v[i] = x;
    return r;
  }
  static V load(const T* p) {
    V r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static void store(T* p, V x) { std::memcpy(p, x.v, sizeof x.v); }
  static V fma(V a, V b, V c) {
    for (int i = 0; i < N; ++i) c.v[i] += a.v[i] * b.v[i];
    return c;
  }
};

#define FASTMLP_SIMD_TARGET
#include "gemm_small_kernel.inc"
#undef FASTMLP_SIMD_TARGET

// Block sizes follow the BLIS analytical model: KC so that a B micro-panel
// (KC×NR) fits in half of a 32 KiB L1, MC so that the A block (MC×KC) fits in
// about half of a 256 KiB–1 MiB L2, NC large (L3).
template <typename T>
KernelConfig<T> scalar_config();

template <>
KernelConfig<float> scalar_config<float>() {
  KernelConfig<float> cfg{"scalar", 6, 16, 120, 256, 4080, LoopOrder::BResident,
                          &kernel_scalar<float, 6, 16>, &gemm_detail::pack_transposed<float>};
  set_small_kernels<PortableOps<float, 8>, 6, 2>(&cfg);
  return cfg;
}
template <>
KernelConfig<double> scalar_config<double>() {
  KernelConfig<double> cfg{"scalar", 6, 8, 96, 256, 2040, LoopOrder::BResident,
                           &kernel_scalar<double, 6, 8>, &gemm_detail::pack_transposed<double>};
  set_small_kernels<PortableOps<double, 4>, 6, 2>(&cfg);
  return cfg;
}

// The kernel is chosen once, at first use: the widest one the CPU supports,
// or, when FASTMLP_GEMM_KERNEL names one (scalar|avx2|avx512|neon), that one, so
// tests and benchmarks can compare kernels on one machine. A request the CPU
// (or build) cannot honour falls back to the next narrower kernel; an unknown
// name is ignored.
template <typename T>
KernelConfig<T> select_config() {
  // cpu_features() has already lowered what the CPU has to what
  // FASTMLP_GEMM_KERNEL allows.
  const CpuFeatures& cpu = cpu_features();
  KernelConfig<T> cfg;
  if (cpu.avx512f && gemm_detail::avx512_config(&cfg)) return cfg;
  if (cpu.avx2_fma && gemm_detail::avx2_config(&cfg)) return cfg;
  if (cpu.neon && gemm_detail::neon_config(&cfg)) return cfg;
  return scalar_config<T>();
}

template <typename T>
const KernelConfig<T>& active_config() {
  static const KernelConfig<T> cfg = select_config<T>();
  // Edge tiles go through a stack tile of kMaxTile elements.
  static_assert(kMaxTile >= 12 * 32, "tile buffer too small");
  if (cfg.mr * cfg.nr > kMaxTile || cfg.mc % cfg.mr != 0 || cfg.nc % cfg.nr != 0 ||
      (cfg.edge_mr > 0 && (cfg.edge_mr * 3 != cfg.mr || cfg.edge_nr * 2 != cfg.nr)) ||
      cfg.small_mr < 1 || cfg.small_nv < 1 || cfg.small_lanes * cfg.small_nv > 64)
    throw std::logic_error("gemm: inconsistent kernel configuration");
  return cfg;
}

// ---------------------------------------------------------------------------
// Packing buffers: 64-byte aligned, grow-only, one pair per thread and type,
// so steady-state calls allocate nothing.

template <typename T>
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }
  T* get(std::size_t n) {
    if (n > cap_) {
      release();
      p_ = static_cast<T*>(
          ::operator new(n * sizeof(T), std::align_val_t(64)));
      cap_ = n;
    }
    return p_;
  }

 private:
  void release() {
    if (p_) ::operator delete(p_, std::align_val_t(64));
    p_ = nullptr;
    cap_ = 0;
  }
  T* p_ = nullptr;
  std::size_t cap_ = 0;
};

template <typename T>
struct Workspace {
  PackBuffer<T> a, b;
};

template <typename T>
Workspace<T>& workspace() {
  thread_local Workspace<T> ws;
  return ws;
}

inline index_t round_up(index_t x, index_t m) { return (x + m - 1) / m * m; }

// The block size for splitting `total` into ceil(total / max_block) blocks of
// nearly equal size, rounded up to a multiple of `unit` (never above
// max_block, which is itself a multiple of unit).
inline index_t balanced_block(index_t total, index_t max_block, index_t unit) {
  if (total <= 0) return max_block;
  const index_t blocks = (total + max_block - 1) / max_block;
  return std::min(max_block, round_up((total + blocks - 1) / blocks, unit));
}

// d[0:n] = src[0:n], d[n:w] = 0: one row of a micro-panel. The full rows of
// the kernels' widths are copied with a constant size, which the compiler
// turns into a few vector moves instead of a loop with a run-time count
// (the copy runs once per k step of every panel).
template <typename T>
inline void copy_padded(T* d, const T* src, index_t n, index_t w) {
  if (n == w) {
    switch (w) {
      case 32: std::memcpy(d, src, 32 * sizeof(T)); return;
      case 16: std::memcpy(d, src, 16 * sizeof(T)); return;
      case 12: std::memcpy(d, src, 12 * sizeof(T)); return;
      case 8: std::memcpy(d, src, 8 * sizeof(T)); return;
      case 6: std::memcpy(d, src, 6 * sizeof(T)); return;
      default: break;
    }
  }
  for (index_t i = 0; i < n; ++i) d[i] = src[i];
  for (index_t i = n; i < w; ++i) d[i] = T(0);
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/mr) micro-panels, each kc
// columns of mr values (dst[p*mr + i]); rows past mc are zero.
// op(A)(i,p) = A[i*lda + p] (A stored m×k) or A[p*lda + i] (transA, k×m).
// The untransposed case is a transpose into the panel (cfg.pack_t).
template <typename T>
void pack_a(const KernelConfig<T>& cfg, bool trans, const T* A, index_t lda,
            index_t i0, index_t p0, index_t mc, index_t kc, T* dst) {
  const index_t mr = cfg.mr;
  for (index_t ir = 0; ir < mc; ir += mr) {
    const index_t rows = std::min(mr, mc - ir);
    if (!trans) {
      cfg.pack_t(A + (i0 + ir) * lda + p0, lda, rows, kc, mr, dst);
    } else if (cfg.copy_a) {
      cfg.copy_a(A + p0 * lda + i0 + ir, lda, rows, kc, mr, dst);
    } else {
      for (index_t p = 0; p < kc; ++p) {
        const T* src = A + (p0 + p) * lda + i0 + ir;
        T* d = dst + p * mr;
        copy_padded(d, src, rows, mr);
      }
    }
    dst += mr * kc;
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/nr) micro-panels, each kc rows
// of nr values (dst[p*nr + j]); columns past nc are zero.
// op(B)(p,j) = B[p*ldb + j] (B stored k×n) or B[j*ldb + p] (transB, n×k).
// The transposed case is a transpose into the panel (cfg.pack_t).
template <typename T>
void pack_b(const KernelConfig<T>& cfg, bool trans, const T* B, index_t ldb,
            index_t p0, index_t j0, index_t kc, index_t nc, T* dst) {
  const index_t nr = cfg.nr;
  if (!trans && cfg.copy_b_block) {
    cfg.copy_b_block(B + p0 * ldb + j0, ldb, nc, kc, dst);
    return;
  }
  for (index_t jr = 0; jr < nc; jr += nr) {
    const index_t cols = std::min(nr, nc - jr);
    if (!trans) {
      for (index_t p = 0; p < kc; ++p) {
        const T* src = B + (p0 + p) * ldb + j0 + jr;
        T* d = dst + p * nr;
        copy_padded(d, src, cols, nr);
      }
    } else {
      cfg.pack_t(B + (j0 + jr) * ldb + p0, ldb, cols, kc, nr, dst);
    }
    dst += nr * kc;
  }
}

// C (m×n) = beta·C, with beta == 0 writing zeros without reading C.
template <typename T>
void scale_c(index_t m, index_t n, T beta, T* C, index_t ldc) {
  if (beta == T(1)) return;
  for (index_t i = 0; i < m; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) {
      std::fill(c, c + n, T(0));
    } else {
      for (index_t j = 0; j < n; ++j) c[j] *= beta;
    }
  }
}

// One MR×NR tile of C from packed micro-panels. Edge tiles (mr < MR or
// nr < NR) are computed in full into a local tile (the packs are zero-padded)
// and the valid part merged, honouring beta == 0 (C not read).
// `ep` is null except on the last k block; its bias is already offset to the
// tile's first column.
template <typename T>
inline void run_tile(const KernelConfig<T>& cfg, index_t kc, T alpha,
                     const T* apanel, const T* bpanel, T beta, T* cc,
                     index_t ldc, index_t mr, index_t nr,
                     const GemmEpilogue<T>* ep, const T* bias) {
  if (mr == cfg.mr && nr == cfg.nr) {
    cfg.kernel(kc, alpha, apanel, bpanel, beta, cc, ldc, bias);
  } else {
    // The smallest kernel covering mr×nr; when it covers them exactly it
    // writes C itself, else through a local tile merged below.
    MicroKernel<T> kernel = cfg.kernel;
    index_t rows = cfg.mr, cols = cfg.nr;
    if (cfg.edge_mr > 0) {
      const index_t r = (mr + cfg.edge_mr - 1) / cfg.edge_mr;
      const index_t v = (nr + cfg.edge_nr - 1) / cfg.edge_nr;
      kernel = cfg.edge[r - 1][v - 1];
      rows = r * cfg.edge_mr;
      cols = v * cfg.edge_nr;
    }
    if (rows == mr && cols == nr) {
      kernel(kc, alpha, apanel, bpanel, beta, cc, ldc, bias);
      if (ep && ep->tile_fn) ep->tile_fn(cc, ldc, mr, nr, ep->ctx);
      return;
    }
    alignas(64) T tile[kMaxTile];
    kernel(kc, alpha, apanel, bpanel, T(0), tile, cfg.nr, nullptr);
    for (index_t i = 0; i < mr; ++i)
      for (index_t j = 0; j < nr; ++j) {
        T* cij = cc + i * ldc + j;
        T t = tile[i * cfg.nr + j];
        if (beta != T(0)) t += beta * *cij;
        *cij = bias ? t + bias[j] : t;
      }
  }
  if (ep && ep->tile_fn) ep->tile_fn(cc, ldc, mr, nr, ep->ctx);
}

// The largest A (values) packed whole by gemm_blocked's one-row-block order.
constexpr index_t kMaxWholeA = index_t(1) << 22;

// The five loops on one (sub-)problem, single-threaded. Pointers are already
// offset to the sub-block's first row/column. Only the first k block applies
// the caller's beta; later ones accumulate (beta 1).
template <typename T>
void gemm_blocked(const KernelConfig<T>& cfg, bool ta, bool tb, index_t m,
                  index_t n, index_t k, T alpha, const T* A, index_t lda,
                  const T* B, index_t ldb, T beta, T* C, index_t ldc,
                  const GemmEpilogue<T>* ep) {
  const index_t MR = cfg.mr, NR = cfg.nr;
  // Blocks of equal size rather than full blocks and a thin remainder: a last
  // k block of 16 or a last column block of one micro-panel runs the kernel
  // at a fraction of its speed (e.g. n = 512 in NC = 480 leaves a 32-column
  // block whose A micro-panels are each used once).
  const index_t KC = balanced_block(k, cfg.kc, 1);
  const index_t MC = balanced_block(m, cfg.mc, MR);
  // In the AResident order NC sizes the B block kept in L2 (KC×NC). When k
  // is short (a weight gradient dW = dZᵀ·X has k = batch) the same bytes
  // hold a wider block: keep KC·NC constant, so each A micro-panel sweeps
  // whole rows of C instead of 480-column strips of a C far larger than the
  // caches (measured: 4096×4096×32 TN ran at a third of OpenBLAS's speed).
  const index_t nc_cap =
      cfg.order == LoopOrder::AResident
          ? std::max(cfg.nc, round_up(cfg.nc * cfg.kc / std::max<index_t>(KC, 1), NR))
          : cfg.nc;
  const index_t NC = balanced_block(n, nc_cap, NR);
  const index_t kc_max = std::min(KC, k);
  const index_t mc_max = std::min(MC, round_up(m, MR));
  const index_t nc_max = std::min(NC, round_up(n, NR));
  Workspace<T>& ws = workspace<T>();
  T* bp = ws.b.get(static_cast<std::size_t>(kc_max * nc_max));
  T* ap = ws.a.get(static_cast<std::size_t>(mc_max * kc_max));
  // The AResident inner loops over one packed A block (rows ic.., mc of
  // them) and the packed B block in bp (columns jc.., nc): each A micro-panel
  // stays in L1 while the B micro-panels stream past it.
  const auto a_resident_tiles = [&](const T* apack, index_t ic, index_t mc, index_t jc,
                                    index_t nc, index_t kc, T beta_eff,
                                    const GemmEpilogue<T>* last) {
    for (index_t ir = 0; ir < mc; ir += MR)
      for (index_t jr = 0; jr < nc; jr += NR)
        run_tile(cfg, kc, alpha, apack + ir * kc, bp + jr * kc, beta_eff,
                 C + (ic + ir) * ldc + jc + jr, ldc, std::min(MR, mc - ir),
                 std::min(NR, nc - jr), last, last && last->bias ? last->bias + jc + jr : nullptr);
  };

  if (cfg.order == LoopOrder::BResident) {
    // jc (L3 B block) / pc / ic (L2 A block) / jr (B micro-panel in L1) / ir.
    for (index_t jc = 0; jc < n; jc += NC) {
      const index_t nc = std::min(NC, n - jc);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
        const GemmEpilogue<T>* last = pc + kc == k ? ep : nullptr;
        pack_b(cfg, tb, B, ldb, pc, jc, kc, nc, bp);
        for (index_t ic = 0; ic < m; ic += MC) {
          const index_t mc = std::min(MC, m - ic);
          pack_a(cfg, ta, A, lda, ic, pc, mc, kc, ap);
          for (index_t jr = 0; jr < nc; jr += NR)
            for (index_t ir = 0; ir < mc; ir += MR)
              run_tile(cfg, kc, alpha, ap + ir * kc, bp + jr * kc, beta_eff,
                       C + (ic + ir) * ldc + jc + jr, ldc,
                       std::min(MR, mc - ir), std::min(NR, nc - jr), last,
                       last && last->bias ? last->bias + jc + jr : nullptr);
        }
      }
    }
  } else if (m <= MC && k > KC && n > NC && mc_max * k <= kMaxWholeA) {
    // One row block (a batch of ≤ MC rows) and several k blocks: A is packed
    // whole, once, and jc goes outermost, so that the m×NC block of C stays
    // in L2 while the k blocks accumulate into it. In the order below each k
    // block sweeps all of C instead (2 MiB for a 256×2048 layer output, the
    // size of L2): the forward and input-gradient products of a 2048-wide
    // layer at batch 256 (256×2048×2048 NT and NN) ran 2–4 % faster this way
    // (C++ harness, one thread, alternating runs on the benchmark machine).
    // The whole of A is at most kMaxWholeA values (16 MiB of floats), so a
    // huge k does not double the caller's memory.
    T* apall = ws.a.get(static_cast<std::size_t>(mc_max * k));
    for (index_t pc = 0; pc < k; pc += KC)
      pack_a(cfg, ta, A, lda, 0, pc, m, std::min(KC, k - pc), apall + pc * mc_max);
    for (index_t jc = 0; jc < n; jc += NC) {
      const index_t nc = std::min(NC, n - jc);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
        const GemmEpilogue<T>* last = pc + kc == k ? ep : nullptr;
        pack_b(cfg, tb, B, ldb, pc, jc, kc, nc, bp);
        a_resident_tiles(apall + pc * mc_max, 0, m, jc, nc, kc, beta_eff, last);
      }
    }
  } else {
    // The mirror image: ic (L3 A block) / pc / jc (L2 B block) / ir (A
    // micro-panel in L1) / jr (B micro-panels streamed from L2).
    for (index_t ic = 0; ic < m; ic += MC) {
      const index_t mc = std::min(MC, m - ic);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
        const GemmEpilogue<T>* last = pc + kc == k ? ep : nullptr;
        pack_a(cfg, ta, A, lda, ic, pc, mc, kc, ap);
        for (index_t jc = 0; jc < n; jc += NC) {
          const index_t nc = std::min(NC, n - jc);
          pack_b(cfg, tb, B, ldb, pc, jc, kc, nc, bp);
          a_resident_tiles(ap, ic, mc, jc, nc, kc, beta_eff, last);
        }
      }
    }
  }
}

// The epilogue over all of C (the paths that do not go through run_tile).
template <typename T>
void apply_epilogue(index_t m, index_t n, T* C, index_t ldc,
                    const GemmEpilogue<T>* ep) {
  if (!ep) return;
  if (ep->bias)
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < n; ++j) C[i * ldc + j] += ep->bias[j];
  if (ep->tile_fn) ep->tile_fn(C, ldc, m, n, ep->ctx);
}

// Each thread should get at least this many multiply-adds, so that waking the
// pool (a few microseconds) stays small next to the work.
constexpr double kWorkPerThread = 1 << 18;

// The messages are built only on failure: building them eagerly (string
// concatenations, heap allocations) cost about as much as a whole 16³
// product (measured with fastmlp_gemm_bench).
void check_args(bool ta, bool tb, index_t m, index_t n, index_t k,
                const void* A, index_t lda, const void* B, index_t ldb,
                const void* C, index_t ldc) {
  if (!(m >= 0 && n >= 0 && k >= 0))
    require(false, "gemm: expected m, n, k >= 0 but received " + std::to_string(m) +
                       ", " + std::to_string(n) + ", " + std::to_string(k));
  const index_t a_cols = std::max<index_t>(1, ta ? m : k);
  const index_t b_cols = std::max<index_t>(1, tb ? k : n);
  const index_t c_cols = std::max<index_t>(1, n);
  if (lda < a_cols)
    require(false, "gemm: expected lda >= " + std::to_string(a_cols) +
                       " but received " + std::to_string(lda));
  if (ldb < b_cols)
    require(false, "gemm: expected ldb >= " + std::to_string(b_cols) +
                       " but received " + std::to_string(ldb));
  if (ldc < c_cols)
    require(false, "gemm: expected ldc >= " + std::to_string(c_cols) +
                       " but received " + std::to_string(ldc));
  const bool any_c = m > 0 && n > 0;
  require(!any_c || C != nullptr, "gemm: C is null");
  require(!any_c || k == 0 || (A != nullptr && B != nullptr),
          "gemm: A or B is null");
}

template <typename T>
void gemm_impl(bool transA, bool transB, index_t m, index_t n, index_t k,
               T alpha, const T* A, index_t lda, const T* B, index_t ldb,
               T beta, T* C, index_t ldc, const GemmEpilogue<T>* ep) {
  check_args(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
  if (m == 0 || n == 0) return;
  // BLAS: with k == 0 or alpha == 0, A and B are not referenced.
  if (k == 0 || alpha == T(0)) {
    scale_c(m, n, beta, C, ldc);
    apply_epilogue(m, n, C, ldc, ep);
    return;
  }
  const KernelConfig<T>& cfg = active_config<T>();
  if (gemm_detail::use_small_path<T>(transB, m, n, k, ldb)) {
    T* scratch = workspace<T>().b.get(static_cast<std::size_t>(
        gemm_detail::gemm_small_scratch(cfg, k)));
    gemm_detail::gemm_small(cfg, transA, transB, m, n, k, alpha, A, lda, B,
                            ldb, beta, C, ldc, ep, scratch);
    return;
  }
  const double work = static_cast<double>(m) * static_cast<double>(n) *
                      static_cast<double>(k);

  // Thread grid tm × tn over C, block edges on MR/NR multiples. Among grids
  // using the most threads, pick the one with the least packing per thread
  // (k·(m/tm + n/tn): the sub-block perimeter).
  const index_t m_units = (m + cfg.mr - 1) / cfg.mr;
  const index_t n_units = (n + cfg.nr - 1) / cfg.nr;
  const index_t max_blocks =
      static_cast<index_t>(std::max(1.0, work / kWorkPerThread));
  const index_t nt = std::min<index_t>(num_threads(), max_blocks);
  // Two blocks per thread, handed out from a shared counter: on a busy
  // machine a worker that wakes late then leaves its share to the others
  // instead of the caller running a whole second half alone (measured: 2T
  // runs at 1T speed under load). Which thread runs a block does not change
  // its arithmetic, so results stay bit-identical for a given thread count.
  const index_t target = nt > 1 ? std::min<index_t>(2 * nt, max_blocks) : 1;
  index_t tm = 1, tn = 1;
  double best_perim = static_cast<double>(m) + static_cast<double>(n);
  for (index_t a = 1; a <= target; ++a) {
    const index_t b = target / a;
    if (a > m_units || b > n_units || b < 1) continue;
    const double perim =
        static_cast<double>(m) / a + static_cast<double>(n) / b;
    const index_t used = a * b, best_used = tm * tn;
    if (used > best_used || (used == best_used && perim < best_perim)) {
      best_perim = perim;
      tm = a;
      tn = b;
    }
  }

  auto run_block = [&](index_t t) {
    const index_t bi = t / tn, bj = t % tn;
    const index_t m0 = std::min(m, bi * m_units / tm * cfg.mr);
    const index_t m1 = std::min(m, (bi + 1) * m_units / tm * cfg.mr);
    const index_t n0 = std::min(n, bj * n_units / tn * cfg.nr);
    const index_t n1 = std::min(n, (bj + 1) * n_units / tn * cfg.nr);
    if (m1 <= m0 || n1 <= n0) return;
    const T* a = transA ? A + m0 : A + m0 * lda;
    const T* b = transB ? B + n0 * ldb : B + n0;
    // The sub-block's own view of the epilogue: bias from its first column.
    GemmEpilogue<T> sub;
    if (ep) {
      sub = *ep;
      if (sub.bias) sub.bias += n0;
    }
    gemm_blocked(cfg, transA, transB, m1 - m0, n1 - n0, k, alpha, a, lda, b,
                 ldb, beta, C + m0 * ldc + n0, ldc, ep ? &sub : nullptr);
  };
  const index_t blocks = tm * tn;
  if (blocks == 1) {
    run_block(0);
  } else {
    std::atomic<index_t> next{0};
    parallel_for(std::min(nt, blocks), 1, [&](index_t, index_t) {
      for (index_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < blocks;)
        run_block(t);
    });
  }
}

}  // namespace

template <typename T>
void gemm(bool transA, bool transB, index_t m, index_t n, index_t k, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
          index_t ldc) {
  gemm_impl<T>(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
               nullptr);
}

template <typename T>
void gemm(bool transA, bool transB, index_t m, index_t n, index_t k, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
          index_t ldc, const GemmEpilogue<T>& epilogue) {
  const bool any = epilogue.bias != nullptr || epilogue.tile_fn != nullptr;
  gemm_impl<T>(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
               any ? &epilogue : nullptr);
}

template <typename T>
void gemm_ref(bool transA, bool transB, index_t m, index_t n, index_t k,
              T alpha, const T* A, index_t lda, const T* B, index_t ldb,
              T beta, T* C, index_t ldc) {
  check_args(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {  // BLAS: A and B not referenced
    scale_c(m, n, beta, C, ldc);
    return;
  }
  for (index_t i = 0; i < m; ++i) {
    for (index_t j = 0; j < n; ++j) {
      T s = T(0);
      for (index_t p = 0; p < k; ++p) {
        const T a = transA ? A[p * lda + i] : A[i * lda + p];
        const T b = transB ? B[j * ldb + p] : B[p * ldb + j];
        s += a * b;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * s : alpha * s + beta * c;
    }
  }
}

const char* gemm_kernel_name() { return active_config<float>().name; }

template void gemm<float>(bool, bool, index_t, index_t, index_t, float,
                          const float*, index_t, const float*, index_t, float,
                          float*, index_t);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double,
                           const double*, index_t, const double*, index_t,
                           double, double*, index_t);
template void gemm<float>(bool, bool, index_t, index_t, index_t, float,
                          const float*, index_t, const float*, index_t, float,
                          float*, index_t, const GemmEpilogue<float>&);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double,
                           const double*, index_t, const double*, index_t,
                           double, double*, index_t,
                           const GemmEpilogue<double>&);
template void gemm_ref<float>(bool, bool, index_t, index_t, index_t, float,
                              const float*, index_t, const float*, index_t,
                              float, float*, index_t);
template void gemm_ref<double>(bool, bool, index_t, index_t, index_t, double,
                               const double*, index_t, const double*, index_t,
                               double, double*, index_t);

}  // namespace fastmlp
