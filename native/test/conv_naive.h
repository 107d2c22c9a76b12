// Direct (naive) conv2d, conv_transpose2d and max_pool2d in double, written from their
// definitions (torch.nn.functional.conv2d / max_pool2d docs) with no im2col,
// as the references conv_test.cc checks the core's kernels against.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "conv.h"
#include "conv_transpose.h"

namespace fastmlp_test {

using fastmlp::Conv2dShape;
using fastmlp::ConvTranspose2dShape;
using fastmlp::index_t;
using fastmlp::Window2d;

// x[n][c][ih][iw] of a flat NCHW batch, 0 outside the image (zero padding).
inline double at_or_zero(const std::vector<double>& x, index_t n, index_t c, index_t ih, index_t iw,
                         index_t C, const Window2d& w) {
  if (ih < 0 || iw < 0 || ih >= w.in_h || iw >= w.in_w) return 0;
  return x[static_cast<std::size_t>(((n * C + c) * w.in_h + ih) * w.in_w + iw)];
}

// y = conv2d(x, weight, bias): every output a sum over channels and kernel taps.
inline std::vector<double> naive_conv2d(const std::vector<double>& x, const std::vector<double>& wt,
                                        const std::vector<double>& b, index_t rows, const Conv2dShape& s) {
  const Window2d& w = s.win;
  const index_t OH = w.out_h(), OW = w.out_w();
  std::vector<double> y(static_cast<std::size_t>(rows * s.out_c * OH * OW));
  for (index_t n = 0; n < rows; ++n)
    for (index_t o = 0; o < s.out_c; ++o)
      for (index_t oh = 0; oh < OH; ++oh)
        for (index_t ow = 0; ow < OW; ++ow) {
          double acc = b[static_cast<std::size_t>(o)];
          for (index_t c = 0; c < s.in_c; ++c)
            for (index_t kh = 0; kh < w.kernel_h; ++kh)
              for (index_t kw = 0; kw < w.kernel_w; ++kw)
                acc += wt[static_cast<std::size_t>(((o * s.in_c + c) * w.kernel_h + kh) * w.kernel_w + kw)] *
                       at_or_zero(x, n, c, oh * w.stride_h - w.pad_h + kh, ow * w.stride_w - w.pad_w + kw,
                                  s.in_c, w);
          y[static_cast<std::size_t>(((n * s.out_c + o) * OH + oh) * OW + ow)] = acc;
        }
  return y;
}

// Gradients of sum(y · dy): each term weight·x·dy differentiated directly.
inline void naive_conv2d_backward(const std::vector<double>& x, const std::vector<double>& wt,
                                  const std::vector<double>& dy, index_t rows, const Conv2dShape& s,
                                  std::vector<double>& dx, std::vector<double>& dw, std::vector<double>& db) {
  const Window2d& w = s.win;
  const index_t OH = w.out_h(), OW = w.out_w();
  dx.assign(static_cast<std::size_t>(rows * s.in_size()), 0.0);
  dw.assign(static_cast<std::size_t>(s.out_c * s.k()), 0.0);
  db.assign(static_cast<std::size_t>(s.out_c), 0.0);
  for (index_t n = 0; n < rows; ++n)
    for (index_t o = 0; o < s.out_c; ++o)
      for (index_t oh = 0; oh < OH; ++oh)
        for (index_t ow = 0; ow < OW; ++ow) {
          const double g = dy[static_cast<std::size_t>(((n * s.out_c + o) * OH + oh) * OW + ow)];
          db[static_cast<std::size_t>(o)] += g;
          for (index_t c = 0; c < s.in_c; ++c)
            for (index_t kh = 0; kh < w.kernel_h; ++kh)
              for (index_t kw = 0; kw < w.kernel_w; ++kw) {
                const index_t ih = oh * w.stride_h - w.pad_h + kh, iw = ow * w.stride_w - w.pad_w + kw;
                if (ih < 0 || iw < 0 || ih >= w.in_h || iw >= w.in_w) continue;
                const auto wi = static_cast<std::size_t>(((o * s.in_c + c) * w.kernel_h + kh) * w.kernel_w + kw);
                const auto xi = static_cast<std::size_t>(((n * s.in_c + c) * w.in_h + ih) * w.in_w + iw);
                dw[wi] += g * x[xi];
                dx[xi] += g * wt[wi];
              }
        }
}

// max_pool2d: each window's maximum over its real elements (padding is −∞);
// the first maximum in row-major order, a NaN beating everything (torch's
// CPU rule). argmax gets the flat input index chosen for every output.
inline std::vector<double> naive_maxpool2d(const std::vector<double>& x, index_t rows, index_t C,
                                           const Window2d& w, std::vector<index_t>& argmax) {
  const index_t OH = w.out_h(), OW = w.out_w();
  std::vector<double> y(static_cast<std::size_t>(rows * C * OH * OW));
  argmax.assign(y.size(), -1);
  for (index_t n = 0; n < rows; ++n)
    for (index_t c = 0; c < C; ++c)
      for (index_t oh = 0; oh < OH; ++oh)
        for (index_t ow = 0; ow < OW; ++ow) {
          double m = -std::numeric_limits<double>::infinity();
          index_t best = -1;
          for (index_t kh = 0; kh < w.kernel_h; ++kh)
            for (index_t kw = 0; kw < w.kernel_w; ++kw) {
              const index_t ih = oh * w.stride_h - w.pad_h + kh, iw = ow * w.stride_w - w.pad_w + kw;
              if (ih < 0 || iw < 0 || ih >= w.in_h || iw >= w.in_w) continue;
              const index_t i = ((n * C + c) * w.in_h + ih) * w.in_w + iw;
              const double v = x[static_cast<std::size_t>(i)];
              if (best < 0) best = i;  // an all −∞ window keeps its first real element
              if (v > m || std::isnan(v)) {
                m = v;
                best = i;
              }
            }
          const auto o = static_cast<std::size_t>(((n * C + c) * OH + oh) * OW + ow);
          y[o] = m;
          argmax[o] = best;
        }
  return y;
}

// y = conv_transpose2d(x, weight, bias) by its definition as a scatter
// (torch.nn.ConvTranspose2d docs): input pixel (ih, iw) of channel c adds
// x·W[c][o][kh][kw] onto output (ih·s − p + kh, iw·s − p + kw) of channel o
// when that lies in the output; weight is inC × outC × kH × kW.
inline std::vector<double> naive_conv_transpose2d(const std::vector<double>& x, const std::vector<double>& wt,
                                                  const std::vector<double>& b, index_t rows,
                                                  const ConvTranspose2dShape& s) {
  const Window2d& w = s.win;
  const index_t OH = s.out_h(), OW = s.out_w();
  std::vector<double> y(static_cast<std::size_t>(rows * s.out_c * OH * OW));
  for (index_t n = 0; n < rows; ++n)
    for (index_t o = 0; o < s.out_c; ++o)
      for (index_t i = 0; i < OH * OW; ++i) y[static_cast<std::size_t>((n * s.out_c + o) * OH * OW + i)] = b[static_cast<std::size_t>(o)];
  for (index_t n = 0; n < rows; ++n)
    for (index_t c = 0; c < s.in_c; ++c)
      for (index_t ih = 0; ih < w.in_h; ++ih)
        for (index_t iw = 0; iw < w.in_w; ++iw) {
          const double v = x[static_cast<std::size_t>(((n * s.in_c + c) * w.in_h + ih) * w.in_w + iw)];
          for (index_t o = 0; o < s.out_c; ++o)
            for (index_t kh = 0; kh < w.kernel_h; ++kh)
              for (index_t kw = 0; kw < w.kernel_w; ++kw) {
                const index_t oh = ih * w.stride_h - w.pad_h + kh, ow = iw * w.stride_w - w.pad_w + kw;
                if (oh < 0 || ow < 0 || oh >= OH || ow >= OW) continue;
                y[static_cast<std::size_t>(((n * s.out_c + o) * OH + oh) * OW + ow)] +=
                    v * wt[static_cast<std::size_t>(((c * s.out_c + o) * w.kernel_h + kh) * w.kernel_w + kw)];
              }
        }
  return y;
}

// Gradients of sum(y · dy) for the scatter above, term by term.
inline void naive_conv_transpose2d_backward(const std::vector<double>& x, const std::vector<double>& wt,
                                            const std::vector<double>& dy, index_t rows,
                                            const ConvTranspose2dShape& s, std::vector<double>& dx,
                                            std::vector<double>& dw, std::vector<double>& db) {
  const Window2d& w = s.win;
  const index_t OH = s.out_h(), OW = s.out_w();
  dx.assign(static_cast<std::size_t>(rows * s.in_size()), 0.0);
  dw.assign(static_cast<std::size_t>(s.in_c * s.k()), 0.0);
  db.assign(static_cast<std::size_t>(s.out_c), 0.0);
  for (index_t n = 0; n < rows; ++n)
    for (index_t o = 0; o < s.out_c; ++o)
      for (index_t i = 0; i < OH * OW; ++i)
        db[static_cast<std::size_t>(o)] += dy[static_cast<std::size_t>((n * s.out_c + o) * OH * OW + i)];
  for (index_t n = 0; n < rows; ++n)
    for (index_t c = 0; c < s.in_c; ++c)
      for (index_t ih = 0; ih < w.in_h; ++ih)
        for (index_t iw = 0; iw < w.in_w; ++iw) {
          const auto xi = static_cast<std::size_t>(((n * s.in_c + c) * w.in_h + ih) * w.in_w + iw);
          for (index_t o = 0; o < s.out_c; ++o)
            for (index_t kh = 0; kh < w.kernel_h; ++kh)
              for (index_t kw = 0; kw < w.kernel_w; ++kw) {
                const index_t oh = ih * w.stride_h - w.pad_h + kh, ow = iw * w.stride_w - w.pad_w + kw;
                if (oh < 0 || ow < 0 || oh >= OH || ow >= OW) continue;
                const double g = dy[static_cast<std::size_t>(((n * s.out_c + o) * OH + oh) * OW + ow)];
                const auto wi = static_cast<std::size_t>(((c * s.out_c + o) * w.kernel_h + kh) * w.kernel_w + kw);
                dx[xi] += g * wt[wi];
                dw[wi] += g * x[xi];
              }
        }
}

}  // namespace fastmlp_test
