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
// maxpool2d is torch.nn.functional.max_pool2d (ceil_mode false, no dilation);
// its window scan follows torch's CPU kernel (aten/src/ATen/native/cpu/
// MaxPoolKernel.cpp): row-major, an element replaces the running maximum when
// it is greater or NaN, starting from −∞ at the window's first real element.
//
// Knows nothing of Node or of the network; the network owns the scratch.
#pragma once

#include <string>

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

// Shape of one conv2d layer.
struct Conv2dShape {
  index_t in_c = 0, out_c = 0;
  Window2d win;

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
  // Scratch values one worker needs: col and dcol (K × P each), a partial
  // dW (outC × K) and a partial db (outC).
  index_t slot_size() const { return 2 * k() * p() + out_c * k() + out_c; }
};

// col (C·kH·kW × outH·outW) of one row's images x (C × H × W); zeros where a
// window covers padding.
template <typename T>
void im2col(T* col, const T* x, index_t channels, const Window2d& w);

// dx (C × H × W) = col2im(dcol): every column's values added onto the input
// elements of its window (padding dropped). Overwrites dx.
template <typename T>
void col2im(T* dx, const T* dcol, index_t channels, const Window2d& w);

// y (rows × outC·P) = conv2d(x (rows × inC·H·W), weight, bias). `scratch`
// holds `slots` × s.slot_size() values; rows are split into at most that many
// contiguous chunks, one per thread (threads.h), each with its own slot.
template <typename T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, index_t rows,
                    const Conv2dShape& s, T* scratch, index_t slots);

// Gradients of sum(y · dy) for the forward above: writes (not accumulates)
// dweight (outC × K) and dbias (outC); dx (rows × inC·H·W) when non-null.
// The chunks' partial dW and db are added in chunk order, so a given thread
// count gives the same bits every run.
template <typename T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                     index_t rows, const Conv2dShape& s, T* scratch, index_t slots);

// y (rows × C·outH·outW) = max_pool2d(x (rows × C·H·W)).
template <typename T>
void maxpool2d_forward(T* y, const T* x, index_t rows, index_t channels, const Window2d& w);

// dx (rows × C·H·W) = each dy added to its window's maximum in x (the one
// the forward chose, found again from x). Overwrites dx.
template <typename T>
void maxpool2d_backward(T* dx, const T* dy, const T* x, index_t rows, index_t channels,
                        const Window2d& w);

}  // namespace fastmlp
