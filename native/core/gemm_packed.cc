// op(B) = Bᵀ packed once (gemm_packed.h): the strips, their size, and
// whether gemm would pack at all at a given number of rows.
#include "gemm_packed.h"

#include <algorithm>

#include "gemm_blocked.h"
#include "gemm_kernels.h"
#include "gemm_small.h"

namespace fastmlp {
namespace {

// One layout serves the small path and the blocked path only when their strip
// widths agree (true of every kernel today: AVX-512 32, AVX2 16, NEON 12 for
// float); otherwise there is no cache.
template <typename T>
bool one_layout(const gemm_detail::KernelConfig<T>& cfg) {
  return cfg.nr == cfg.small_lanes * cfg.small_nv;
}

}  // namespace

template <typename T>
std::size_t gemm_packed_bt_size(index_t n, index_t k) {
  const gemm_detail::KernelConfig<T>& cfg = gemm_detail::kernel_config<T>();
  if (n <= 0 || k <= 0 || !one_layout(cfg)) return 0;
  const index_t strips = (n + cfg.nr - 1) / cfg.nr;
  return static_cast<std::size_t>(strips) * static_cast<std::size_t>(cfg.nr) *
         static_cast<std::size_t>(k);
}

template <typename T>
void gemm_pack_bt(const T* B, index_t n, index_t k, index_t ldb, T* dst) {
  const gemm_detail::KernelConfig<T>& cfg = gemm_detail::kernel_config<T>();
  require(one_layout(cfg) && n > 0 && k > 0 && ldb >= k && B != nullptr && dst != nullptr,
          "gemm_pack_bt: bad arguments or no packed layout for this kernel");
  const index_t NR = cfg.nr;
  // The transpose both paths apply to one strip (gemm_small's scratch strip,
  // gemm_blocked's pack_b), over the whole k at once.
  for (index_t j = 0; j < n; j += NR)
    cfg.pack_t(B + j * ldb, ldb, std::min(NR, n - j), k, NR, dst + j * k);
}

template <typename T>
bool gemm_packs_bt(index_t m) {
  const gemm_detail::KernelConfig<T>& cfg = gemm_detail::kernel_config<T>();
  GemmEpilogue<T> ep;
  ep.any_sum_order = true;
  return m > 0 && !gemm_detail::use_dot_path<T>(cfg, false, true, m, &ep);
}

template std::size_t gemm_packed_bt_size<float>(index_t, index_t);
template std::size_t gemm_packed_bt_size<double>(index_t, index_t);
template void gemm_pack_bt<float>(const float*, index_t, index_t, index_t, float*);
template void gemm_pack_bt<double>(const double*, index_t, index_t, index_t, double*);
template bool gemm_packs_bt<float>(index_t);
template bool gemm_packs_bt<double>(index_t);

}  // namespace fastmlp
