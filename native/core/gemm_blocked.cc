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
// gemm_avx512.cc, gemm_neon.cc) and gemm_scalar.cc (the portable one), and
// are picked once by cpuid (gemm.cc).
// Packing reads op(A)/op(B) in any of the four transpose combinations and
// writes contiguous, zero-padded micro-panels, so the micro-kernel sees one
// layout only and edge tiles need no special kernel (they are computed into a
// local MR×NR tile and merged). A transposed B packed ahead of the call
// (GemmEpilogue::packed_b, gemm_packed.h: predict's weight cache) is not
// packed again: its strips already hold every k block's micro-panels. Threads split C into a grid of sub-blocks
// (gemm.cc), each run through the five loops below (gemm_blocked) with its
// own packing buffers.
#include "gemm_blocked.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

namespace fastmlp {
namespace gemm_detail {
namespace {

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
  PackBuffer<T> a, b, shared_a;
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

}  // namespace

// The five loops on one (sub-)problem, single-threaded. Pointers are already
// offset to the sub-block's first row/column. Only the first k block applies
// the caller's beta; later ones accumulate (beta 1).
template <typename T>
void gemm_blocked(const KernelConfig<T>& cfg, bool ta, bool tb, index_t m,
                  index_t n, index_t k, T alpha, const T* A, index_t lda,
                  const T* B, index_t ldb, T beta, T* C, index_t ldc,
                  const GemmEpilogue<T>* ep, const T* packed_a) {
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
  // A packed ahead has shared_a_layout's layout, which exists only in the
  // AResident order with one row block (m ≤ MC); elsewhere A is packed here.
  if (cfg.order != LoopOrder::AResident || m > MC) packed_a = nullptr;
  T* ap = packed_a ? nullptr : ws.a.get(static_cast<std::size_t>(mc_max * kc_max));
  // The AResident inner loops over one packed A block (rows ic.., mc of
  // them) and the packed B block in bp (columns jc.., nc): each A micro-panel
  // stays in L1 while the B micro-panels stream past it.
  // The B micro-panels of block (pc, jc): packed now into bp, panel jr/NR at
  // bp + jr·kc; or, prepacked (GemmEpilogue::packed_b, gemm_packed.h), rows
  // pc.. of the strips, panel jr/NR at base + jr·k. Either way a pointer and
  // the step per column (*bstep) between panels.
  const T* packed = ep ? ep->packed_b : nullptr;
  const auto b_block = [&](index_t pc, index_t jc, index_t kc, index_t nc, index_t* bstep) -> const T* {
    if (packed) {
      *bstep = k;
      return packed + jc * k + pc * NR;
    }
    pack_b(cfg, tb, B, ldb, pc, jc, kc, nc, bp);
    *bstep = kc;
    return bp;
  };
  const auto a_resident_tiles = [&](const T* apack, const T* bpack, index_t bstep, index_t ic,
                                    index_t mc, index_t jc, index_t nc, index_t kc, T beta_eff,
                                    const GemmEpilogue<T>* last) {
    for (index_t ir = 0; ir < mc; ir += MR)
      for (index_t jr = 0; jr < nc; jr += NR)
        run_tile(cfg, kc, alpha, apack + ir * kc, bpack + jr * bstep, beta_eff,
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
        index_t bstep = 0;
        const T* bpack = b_block(pc, jc, kc, nc, &bstep);
        for (index_t ic = 0; ic < m; ic += MC) {
          const index_t mc = std::min(MC, m - ic);
          pack_a(cfg, ta, A, lda, ic, pc, mc, kc, ap);
          for (index_t jr = 0; jr < nc; jr += NR)
            for (index_t ir = 0; ir < mc; ir += MR)
              run_tile(cfg, kc, alpha, ap + ir * kc, bpack + jr * bstep, beta_eff,
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
    const T* apall = packed_a;
    if (!apall) {
      T* dst = ws.a.get(static_cast<std::size_t>(mc_max * k));
      for (index_t pc = 0; pc < k; pc += KC)
        pack_a(cfg, ta, A, lda, 0, pc, m, std::min(KC, k - pc), dst + pc * mc_max);
      apall = dst;
    }
    for (index_t jc = 0; jc < n; jc += NC) {
      const index_t nc = std::min(NC, n - jc);
      for (index_t pc = 0; pc < k; pc += KC) {
        const index_t kc = std::min(KC, k - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
        const GemmEpilogue<T>* last = pc + kc == k ? ep : nullptr;
        index_t bstep = 0;
        const T* bpack = b_block(pc, jc, kc, nc, &bstep);
        a_resident_tiles(apall + pc * mc_max, bpack, bstep, 0, m, jc, nc, kc, beta_eff, last);
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
        const T* apack = packed_a ? packed_a + pc * mc_max : ap;
        if (!packed_a) pack_a(cfg, ta, A, lda, ic, pc, mc, kc, ap);
        for (index_t jc = 0; jc < n; jc += NC) {
          const index_t nc = std::min(NC, n - jc);
          index_t bstep = 0;
          const T* bpack = b_block(pc, jc, kc, nc, &bstep);
          a_resident_tiles(apack, bpack, bstep, ic, mc, jc, nc, kc, beta_eff, last);
        }
      }
    }
  }
}

template <typename T>
T* thread_pack_b(std::size_t n) {
  return workspace<T>().b.get(n);
}

// Micro-panels per piece of a shared A: 4 (48 rows for the AVX-512 kernel) make
// a few dozen pieces for a batch of 256, enough to balance two or three
// threads, each piece still a run of contiguous panels of one k block.
constexpr index_t kSharedAPanels = 4;

template <typename T>
SharedA shared_a_layout(const KernelConfig<T>& cfg, index_t m, index_t k) {
  SharedA s;
  if (cfg.order != LoopOrder::AResident || m <= 0 || k <= 0 || m > cfg.mc) return s;
  // The same block sizes gemm_blocked computes for this m and k: with m ≤ MC
  // there is one row block of round_up(m, MR) rows.
  s.mc_pad = round_up(m, cfg.mr);
  s.kc = balanced_block(k, cfg.kc, 1);
  if (s.mc_pad * k > kMaxWholeA) return s;
  const index_t pieces_per_block = (s.mc_pad / cfg.mr + kSharedAPanels - 1) / kSharedAPanels;
  s.units = (k + s.kc - 1) / s.kc * pieces_per_block;
  s.values = static_cast<std::size_t>(s.mc_pad * k);
  s.usable = true;
  return s;
}

template <typename T>
void pack_shared_a(const KernelConfig<T>& cfg, const SharedA& layout, bool ta, const T* A,
                   index_t lda, index_t m, index_t k, index_t unit, T* dst) {
  const index_t panels = layout.mc_pad / cfg.mr;
  const index_t pieces_per_block = (panels + kSharedAPanels - 1) / kSharedAPanels;
  const index_t pc = unit / pieces_per_block * layout.kc;
  const index_t kc = std::min(layout.kc, k - pc);
  const index_t i0 = unit % pieces_per_block * kSharedAPanels * cfg.mr;
  const index_t rows = std::min(kSharedAPanels * cfg.mr, m - i0);
  pack_a(cfg, ta, A, lda, i0, pc, rows, kc, dst + pc * layout.mc_pad + i0 * kc);
}

template <typename T>
T* thread_shared_a(std::size_t n) {
  return workspace<T>().shared_a.get(n);
}

template void gemm_blocked<float>(const KernelConfig<float>&, bool, bool, index_t, index_t,
                                  index_t, float, const float*, index_t, const float*,
                                  index_t, float, float*, index_t,
                                  const GemmEpilogue<float>*, const float*);
template void gemm_blocked<double>(const KernelConfig<double>&, bool, bool, index_t, index_t,
                                   index_t, double, const double*, index_t, const double*,
                                   index_t, double, double*, index_t,
                                   const GemmEpilogue<double>*, const double*);
template float* thread_pack_b<float>(std::size_t);
template double* thread_pack_b<double>(std::size_t);
template SharedA shared_a_layout<float>(const KernelConfig<float>&, index_t, index_t);
template SharedA shared_a_layout<double>(const KernelConfig<double>&, index_t, index_t);
template void pack_shared_a<float>(const KernelConfig<float>&, const SharedA&, bool,
                                   const float*, index_t, index_t, index_t, index_t, float*);
template void pack_shared_a<double>(const KernelConfig<double>&, const SharedA&, bool,
                                    const double*, index_t, index_t, index_t, index_t, double*);
template float* thread_shared_a<float>(std::size_t);
template double* thread_shared_a<double>(std::size_t);

}  // namespace gemm_detail
}  // namespace fastmlp
