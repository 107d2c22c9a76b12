// 2-D transposed convolution on rows of NCHW-flattened images (SPEC.md §6
// "CNN layers": output s(n − 1) + f − 2p), as
// torch.nn.functional.conv_transpose2d(x, weight, bias, stride, padding,
// output_padding) with no dilation and no groups.
//
// It is conv2d run backwards (the adjoint of conv2d's input gradient), so it
// reuses conv.h's im2col/col2im on the grid G of the *output* image seen as a
// conv2d's input: G = {in = outH × outW, the kernel, stride and padding}.
// Then G.out_h() = ⌊(outH + 2p − k)/s⌋ + 1 = inH, because outPad < stride.
// With W viewed as inC × K' (K' = outC·kH·kW, torch's ConvTranspose2d layout
// inC × outC × kH × kW row-major) and x_n as inC × P (P = inH·inW):
//   forward:  col = Wᵀ · x_n (K' × P),  y_n = col2im_G(col) + b
//   backward: col = im2col_G(dy_n),  dx_n = W · col,
//             dW = Σ_n x_n · colᵀ,  db = Σ_n,positions dy_n.
// A block of nb rows goes through each product at once, side by side, as in
// conv2d (conv.h): X_block = [x_n0 … x_n0+nb−1] (inC × nb·P), col likewise.
// With outPad > 0 the last outPad rows/columns of the output lie under no
// window: they get only the bias and send no gradient to x.
//
// Knows nothing of Node or of the network; the network owns the scratch.
#pragma once

#include "common.h"
#include "conv.h"

namespace fastmlp {

// Shape of one convtranspose2d layer. win.in_h/in_w are the layer's input
// image; kernel, stride and padding are torch's arguments of those names.
struct ConvTranspose2dShape {
  index_t in_c = 0, out_c = 0;
  Window2d win;
  index_t out_pad_h = 0, out_pad_w = 0;  // torch's output_padding, < stride
  // Images per block at most: 0 lets conv_block_images (conv.h) choose (the
  // network always does); tests set 1 (each image alone) or a few.
  index_t block_limit = 0;

  // (in − 1)·stride − 2·pad + kernel + outPad (torch.nn.ConvTranspose2d, no dilation).
  index_t out_h() const { return (win.in_h - 1) * win.stride_h - 2 * win.pad_h + win.kernel_h + out_pad_h; }
  index_t out_w() const { return (win.in_w - 1) * win.stride_w - 2 * win.pad_w + win.kernel_w + out_pad_w; }
  // The output image as a conv2d's input: its out_h()/out_w() are in_h/in_w.
  Window2d grid() const {
    Window2d g = win;
    g.in_h = out_h();
    g.in_w = out_w();
    return g;
  }
  index_t k() const { return out_c * win.kernel_h * win.kernel_w; }  // rows of col
  index_t p() const { return win.in_h * win.in_w; }                   // columns of col
  index_t in_size() const { return in_c * p(); }                      // input row width
  index_t out_size() const { return out_c * out_h() * out_w(); }      // output row width
  index_t param_count() const { return in_c * k() + out_c; }         // weight, bias
  // A 1×1 kernel, stride 1, no padding: col is y_n (forward) or dy_n (backward) itself.
  bool pointwise() const {
    return win.kernel_h == 1 && win.kernel_w == 1 && win.stride_h == 1 && win.stride_w == 1 &&
           win.pad_h == 0 && win.pad_w == 0;
  }
  // Images a block holds at most: col (K' × P) and the gathered input or
  // input gradient (inC × P) of each.
  index_t block_images() const { return conv_block_images(p(), (k() + in_c) * p(), block_limit); }
  // Scratch values of a block, at the start of a slot: col (K' × nb·P),
  // then its gathered inputs (inC × nb·P, the backward's dx block too; none
  // when nb = 1: then the gemms read and write the rows in place).
  index_t block_size() const {
    const index_t nb = block_images();
    return nb * k() * p() + (nb > 1 ? nb * in_c * p() : 0);
  }
  // Scratch values one worker needs: a block, a partial dW (inC × K') and a
  // partial db (outC).
  index_t slot_size() const { return block_size() + in_c * k() + out_c; }
};

// Throws std::invalid_argument (message starting with `at`, naming the field
// as lib/engine.ts spells it) unless channels, sizes and strides are ≥ 1,
// padding ≥ 0, outPad < stride (torch's rule) and the output is at least
// 1×1. Sizes up to 2^31 − 1, the output's too.
void validate_conv_transpose(const ConvTranspose2dShape& s, const char* at);

// y (rows × outC·outH·outW) = conv_transpose2d(x (rows × inC·inH·inW),
// weight, bias). `scratch` holds `slots` × s.slot_size() values; rows are
// split into at most that many contiguous chunks, one per thread, each with
// its own slot, and each chunk into blocks of at most s.block_images() rows.
// bias may be null (no bias).
template <typename T>
void conv_transpose2d_forward(T* y, const T* x, const T* weight, const T* bias, index_t rows,
                              const ConvTranspose2dShape& s, T* scratch, index_t slots);

// Gradients of sum(y · dy) for the forward above: writes (not accumulates)
// dweight (inC × K') and dbias (outC); dx (rows × inC·inH·inW) when non-null.
// Each chunk adds its blocks in row order and the chunks' partial dW and db
// are added in chunk order, so a given thread count gives the same bits
// every run.
template <typename T>
void conv_transpose2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x,
                               const T* weight, index_t rows, const ConvTranspose2dShape& s,
                               T* scratch, index_t slots);

}  // namespace fastmlp
