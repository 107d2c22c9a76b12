// 2-D convolution and max pooling on rows of NCHW-flattened images
// (SPEC.md §6 "CNN layers"): each row holds C images of H×W, channel first,
// then image row, then column — torch's x.flatten(1) of an N×C×H×W tensor.
//
// conv2d is torch.nn.functional.conv2d (cross-correlation, zero padding, no
// dilation, no groups), computed by im2col + gemm (Chellapilla, Puri, Simard,
// "High Performance Convolutional Neural Networks for Document Processing",
// IWFHR 2006): per row n, the K = C·kH·kW input values under each of the
// P = outH·outW windows become a column of col_n (K × P), so that
//   forward:  Y_n (outC × P) = W (outC × K) · col_n + b
//   backward: dW = Σ_n dY_n · col_nᵀ,  db = Σ_n,p dY_n,  dcol_n = Wᵀ · dY_n,
//             dX_n = col2im(dcol_n) (each column scattered back onto its window).
// A block of nb rows goes through each product at once, side by side:
// col_block = [col_n0 … col_n0+nb−1] (K × nb·P), Y_block and dY_block likewise.
// maxpool2d is torch.nn.functional.max_pool2d (ceil_mode false, no dilation);
// its window scan follows torch's CPU kernel (aten/src/ATen/native/cpu/
// MaxPoolKernel.cpp): row-major, an element replaces the running maximum when
// it is greater or NaN, starting from −∞ at the window's first real element.
//
// Knows nothing of Node or of the network; the network owns the scratch.
#pragma once

#include <algorithm>
#include <string>

#include "activations.h"
#include "common.h"

namespace fastmlp {

// Image size, kernel, stride and zero padding of one conv2d or maxpool2d.
struct Window2d {
  index_t in_h = 0, in_w = 0;
  index_t kernel_h = 0, kernel_w = 0;
  index_t stride_h = 1, stride_w = 1;
  index_t pad_h = 0, pad_w = 0;

  // ⌊(in + 2·pad − kernel)/stride⌋ + 1 (torch.nn.Conv2d's shape formula, no dilation).
  index_t out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  index_t out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
};

// Throws std::invalid_argument (message starting with `at`, naming the field
// as lib/engine.ts spells it) unless sizes and strides are ≥ 1, padding ≥ 0,
// the kernel fits in the padded input, and — for pooling — padding is at most
// half the kernel (torch's rule for max_pool2d). Sizes up to 2^31 − 1.
void validate_window(const Window2d& w, bool pooling, const char* at);

// Images per block. Small images go through conv2d and convtranspose2d a
// block at a time, side by side in one gemm (as the pure-TS engine does,
// lib/engines/js/conv.ts): a product N = P columns wide is narrow for gemm
// when P is small. But a block costs a copy of its outputs (or gradients)
// out of or into the rows, outC·P values an image, which per-image gemms
// writing in place do not pay. Measured (conv2d_forward + conv2d_backward,
// 3×3 kernels, float32, batch 64, AVX-512, median process CPU time, block
// sizes interleaved; a shared, loaded machine: ±3%), against one image a
// gemm, one thread:
//   K 576, P 25,  outC 128:  −7% to −10% with 3 to 16 images a block
//   K 288, P 49,  outC 32:   −5% to −6% with 2 to 8
//   K 288, P 121, outC 64:   ±1% with 2 or 3 (−6% with two threads), +5% from 4
//   K 144, P 196, outC 32:   ±1% with 2, +7% from 3
//   K 9,   P 676, outC 32:   +17% with 2 or 3, +42% from 4 (MNIST's first conv)
// The steps up come where a block's product leaves gemm's unpacked path for
// the packed one (gemm_small.h, use_small_path; with one thread: m·n·k over
// 192³ or a row stride nb·P over 512, and a dW product's k = nb·P over 2048).
// So a block grows to about
// kConvBlockColumns columns and no further (an image that wide goes alone),
// and its scratch (col and the gathered block) stays within
// kConvBlockValues, near the L2 cache.
constexpr index_t kConvBlockColumns = 384;
constexpr index_t kConvBlockValues = index_t(1) << 17;

// Images per block for images of `columns` = P gemm columns needing
// `per_image` values of scratch each: at least 1; limit > 0 replaces the
// rule (tests).
inline index_t conv_block_images(index_t columns, index_t per_image, index_t limit) {
  if (limit > 0) return limit;
  const index_t by_width = columns >= kConvBlockColumns ? 1 : kConvBlockColumns / columns;
  const index_t by_scratch = per_image >= kConvBlockValues ? 1 : kConvBlockValues / per_image;
  return std::min(by_width, by_scratch);
}

// Shape of one conv2d layer.
struct Conv2dShape {
  index_t in_c = 0, out_c = 0;
  Window2d win;
  // Images per block at most: 0 lets conv_block_images choose (the network
  // always does); tests set 1 (each image alone) or a few.
  index_t block_limit = 0;

  index_t k() const { return in_c * win.kernel_h * win.kernel_w; }   // rows of col
  index_t p() const { return win.out_h() * win.out_w(); }            // columns of col
  index_t in_size() const { return in_c * win.in_h * win.in_w; }     // input row width
  index_t out_size() const { return out_c * p(); }                   // output row width
  index_t param_count() const { return out_c * k() + out_c; }       // weight, bias
  // A 1×1 kernel, stride 1, no padding: col_n is x_n itself, no im2col needed.
  bool pointwise() const {
    return win.kernel_h == 1 && win.kernel_w == 1 && win.stride_h == 1 && win.stride_w == 1 &&
           win.pad_h == 0 && win.pad_w == 0;
  }
  // Images a block holds at most: col (K × P) and the gathered output or
  // gradient (outC × P) of each.
  index_t block_images() const { return conv_block_images(p(), (k() + out_c) * p(), block_limit); }
  // Scratch values of a block, at the start of a slot: col (K × nb·P, dcol
  // in the backward pass too), then its gathered outputs or gradients
  // (outC × nb·P). With nb = 1 the gemms read and write the rows in place,
  // but a backward through a fused activation still gathers dY ⊙ f' there.
  index_t block_size() const { return block_images() * (k() + out_c) * p(); }
  // Scratch values one worker needs: a block, a partial dW (outC × K) and a
  // partial db (outC).
  index_t slot_size() const { return block_size() + out_c * k() + out_c; }
};

// col (C·kH·kW × outH·outW, row stride ld ≥ outH·outW) of one row's images
// x (C × H × W); zeros where a window covers padding. ld = P for one image;
// image m of a block of nb sits at col + m·P with ld = nb·P.
template <typename T>
void im2col(T* col, index_t ld, const T* x, index_t channels, const Window2d& w);

// dx (C × H × W) = col2im(dcol) (dcol's row stride ld, as im2col's): every
// column's values added onto the input elements of its window (padding
// dropped). Overwrites dx.
template <typename T>
void col2im(T* dx, const T* dcol, index_t ld, index_t channels, const Window2d& w);

// y (rows × outC·P) = conv2d(x (rows × inC·H·W), weight, bias). `scratch`
// holds `slots` × s.slot_size() values; rows are split into at most that many
// contiguous chunks, one per thread (threads.h), each with its own slot, and
// each chunk into blocks of at most s.block_images() rows: one gemm a block,
// Y_block (outC × nb·P) = W · col_block, written back into the rows.
// act (optional): the element-wise activation after the conv, as a forward
// tile made for y (activations.h activation_forward_tile, c = y): f(Y) goes
// to act->y_out (y itself for in place) while each piece of Y is in cache —
// in the gemm's epilogue where the gemm writes y, during the copy into the
// rows otherwise — with the bits activation_forward would give.
template <typename T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, index_t rows,
                    const Conv2dShape& s, T* scratch, index_t slots,
                    const ActivationTile<T>* act = nullptr);

// Gradients of sum(y · dy) for the forward above: writes (not accumulates)
// dweight (outC × K) and dbias (outC); dx (rows × inC·H·W) when non-null.
// Blocks as in the forward: dW += dY_block · col_blockᵀ, dcol_block =
// Wᵀ · dY_block scattered back per image. Each chunk adds its blocks in row
// order and the chunks' partial dW and db are added in chunk order, so a
// given thread count gives the same bits every run.
// grad (optional): dy is the gradient of an element-wise activation's
// output, and grad a backward tile made for dy (activations.h
// activation_backward_tile, c = dy, with that activation's input x and
// output y): the conv uses dY ⊙ f' as it gathers each block of dy into the
// scratch (dy itself is not written), so the activation needs no backward
// pass of its own; the bits are those of activation_backward then this.
template <typename T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                     index_t rows, const Conv2dShape& s, T* scratch, index_t slots,
                     const ActivationTile<T>* grad = nullptr);

// y (rows × C·outH·outW) = max_pool2d(x (rows × C·H·W)).
template <typename T>
void maxpool2d_forward(T* y, const T* x, index_t rows, index_t channels, const Window2d& w);

// dx (rows × C·H·W) = each dy added to its window's maximum in x (the one
// the forward chose, found again from x). Overwrites dx.
template <typename T>
void maxpool2d_backward(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                        const Window2d& w);

// The generic window scan behind both, for any window: what they run unless
// the window is 2×2 at stride 2 without padding (pool2x2.h). Public so that
// tests can hold the fast path to the same bits.
template <typename T>
void maxpool2d_forward_generic(T* y, const T* x, index_t rows, index_t channels, const Window2d& w);
template <typename T>
void maxpool2d_backward_generic(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                                const Window2d& w);

}  // namespace fastmlp
