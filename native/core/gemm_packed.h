// op(B) = Bᵀ packed once for many products (the prepacked weights of
// onnxruntime's MatMul; BLIS calls the idea "packed object reuse"): a dense
// layer's weight W (OC×C, row-major) is the transposed B of every forward
// product Z = X·Wᵀ, and gemm packs it again on every call — for a
// 2048×2048 layer, 16 MiB read and written per predict. gemm_pack_bt
// writes the panels once; gemm then reads them through
// GemmEpilogue::packed_b.
//
// Layout: ceil(n / NR) strips of NR columns of op(B) (NR the running
// kernel's micro-panel width), strip s at s·NR·k, each k rows of NR values
// (strip[p·NR + j] = B[(s·NR + j)·ldb + p], zero past column n). One strip is
// at once the small path's scratch strip (gemm_small.h: k×w, read with row
// stride NR) and, rows pc..pc+kc of it, the blocked path's micro-panel for
// that k block (gemm_blocked.cc: kc×NR, contiguous), so one copy serves every
// batch size. The values are those the paths would have packed, so a product
// with packed_b gives the same bits as one without.
#pragma once

#include <cstddef>

#include "common.h"
#include "gemm.h"

namespace fastmlp {

// Values gemm_pack_bt writes for op(B) = Bᵀ of n columns and k rows, for the
// running kernel; 0 when this kernel has no single layout for both paths
// (then there is nothing to cache: gemm packs as before).
template <typename T>
std::size_t gemm_packed_bt_size(index_t n, index_t k);

// dst (gemm_packed_bt_size values, any alignment the element type allows;
// 64 bytes is best) = the strips of op(B) = Bᵀ, B stored n×k with row stride
// ldb ≥ k.
template <typename T>
void gemm_pack_bt(const T* B, index_t n, index_t k, index_t ldb, T* dst);

// Whether gemm(false, true, m, ...) with an epilogue that allows any summation
// order (GemmEpilogue::any_sum_order) packs B at all: false where it reads B
// in place (the few-rows dot path), so a cache would only cost memory.
template <typename T>
bool gemm_packs_bt(index_t m);

}  // namespace fastmlp
