// convtranspose2d kernels (conv_transpose.h) against the direct scatter of
// its definition (conv_naive.h) on awkward geometries — output padding in
// one or both directions, strides > 1, padding, a kernel larger than the
// input, 1×1 pointwise, a 1×1 input — in both dtypes with 1 and 2 threads;
// the forward as the adjoint of conv2d (<convT_W(x), y> = <x, conv2d_W(y)>,
// the same weight buffer: torch's layouts agree); repeated runs give the
// same bits; a forward and backward allocate nothing (operator new counted);
// the validator's refusals name the field. The network half
// (conv_transpose_network_test.cc) checks whole plans. ctest runs it once
// per gemm micro-kernel (FASTMLP_GEMM_KERNEL).
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "check.h"
#include "conv.h"
#include "conv_naive.h"
#include "conv_transpose.h"
#include "gemm.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

void test_conv_transpose_network();  // conv_transpose_network_test.cc

// Every allocation in this test binary is counted (allocation_counter.h,
// included here), so a kernel call can be shown to allocate nothing.

namespace {

struct Geometry {
  const char* name;
  index_t in_c, out_c, h, w, kh, kw, sh, sw, ph, pw, oph, opw;
};

const Geometry kGeometries[] = {
    {"3x3 stride 1 (full)", 1, 2, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0},
    {"3x2 stride 2x1 pad 1x0 outPad 1x0", 2, 3, 4, 3, 3, 2, 2, 1, 1, 0, 1, 0},
    {"4x4 stride 2 pad 1 outPad 0x1", 3, 2, 2, 5, 4, 4, 2, 2, 1, 1, 0, 1},
    {"2x2 stride 2 (upsampling)", 2, 2, 3, 4, 2, 2, 2, 2, 0, 0, 0, 0},
    {"1x1 pointwise", 3, 4, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0},
    {"1x1 kernel stride 3 outPad 2", 2, 3, 3, 2, 1, 1, 3, 3, 0, 0, 2, 2},
    {"5x5 kernel on a 1x1 input", 4, 2, 1, 1, 5, 5, 1, 1, 0, 0, 0, 0},
    {"3x3 stride 3x2 pad 2x1 outPad 2x1", 2, 2, 4, 5, 3, 3, 3, 2, 2, 1, 2, 1},
    {"padding that crops to 1x1", 1, 1, 3, 3, 3, 3, 1, 1, 2, 2, 0, 0},
};

ConvTranspose2dShape shape_of(const Geometry& g) {
  ConvTranspose2dShape s;
  s.in_c = g.in_c, s.out_c = g.out_c;
  s.win.in_h = g.h, s.win.in_w = g.w, s.win.kernel_h = g.kh, s.win.kernel_w = g.kw;
  s.win.stride_h = g.sh, s.win.stride_w = g.sw, s.win.pad_h = g.ph, s.win.pad_w = g.pw;
  s.out_pad_h = g.oph, s.out_pad_w = g.opw;
  return s;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <typename T>
std::vector<double> widen(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// |got − want| ≤ tol·(1 + max|want|) for every element; reports the first miss.
template <typename T>
void check_close(const std::vector<T>& got, const std::vector<double>& want, double tol,
                 const std::string& what) {
  ++g_checks;
  double scale = 1;
  for (double v : want) scale = std::max(scale, 1 + std::fabs(v));
  if (got.size() != want.size()) {
    ++g_failures;
    std::fprintf(stderr, "%s: size %zu vs %zu\n", what.c_str(), got.size(), want.size());
    return;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(double(got[i]) - want[i]) <= tol * scale)) {
      ++g_failures;
      std::fprintf(stderr, "%s: element %zu is %.17g, expected %.17g\n", what.c_str(), i,
                   double(got[i]), want[i]);
      return;
    }
  }
}

template <typename T>
double tolerance() {
  return sizeof(T) == 4 ? 2e-5 : 1e-12;
}

// block_limit: images per block at most (0: the budget's choice, every
// chunk's rows in one block here; 1: each image alone, the gemms in place on
// the rows; 2: blocks of 1 and 2 in one call).
template <typename T>
void test_geometry(const Geometry& g, const char* type, index_t block_limit) {
  ConvTranspose2dShape s = shape_of(g);
  s.block_limit = block_limit;
  validate_conv_transpose(s, g.name);  // a geometry the core accepts
  CHECK(s.grid().out_h() == s.win.in_h && s.grid().out_w() == s.win.in_w);
  const index_t rows = 5, slots = 2;
  const std::string what = std::string("convtranspose2d ") + g.name + " " + type + " threads " +
                           std::to_string(num_threads()) + " block " + std::to_string(block_limit);
  const auto x = seeded_vec<double>(static_cast<std::size_t>(rows * s.in_size()), 1);
  const auto wt = seeded_vec<double>(static_cast<std::size_t>(s.in_c * s.k()), 2);
  const auto b = seeded_vec<double>(static_cast<std::size_t>(s.out_c), 3);
  const auto dy = seeded_vec<double>(static_cast<std::size_t>(rows * s.out_size()), 4);
  // The references from values already rounded to T: only the kernel's own
  // rounding is measured.
  const auto xt = cast<T>(x), wtt = cast<T>(wt), bt = cast<T>(b), dyt = cast<T>(dy);
  const auto y_ref = naive_conv_transpose2d(widen(xt), widen(wtt), widen(bt), rows, s);
  std::vector<double> dx_ref, dw_ref, db_ref;
  naive_conv_transpose2d_backward(widen(xt), widen(wtt), widen(dyt), rows, s, dx_ref, dw_ref, db_ref);

  std::vector<T> scratch(static_cast<std::size_t>(slots * s.slot_size()), T(7));  // not zero: must not be read first
  std::vector<T> y(static_cast<std::size_t>(rows * s.out_size()), T(-3));
  conv_transpose2d_forward(y.data(), xt.data(), wtt.data(), bt.data(), rows, s, scratch.data(), slots);
  check_close(y, y_ref, tolerance<T>(), what + " y");

  // Gradients are written, not accumulated: start from garbage.
  std::vector<T> dx(static_cast<std::size_t>(rows * s.in_size()), T(5));
  std::vector<T> dw(wt.size(), T(9)), db(b.size(), T(-9));
  conv_transpose2d_backward(dx.data(), dw.data(), db.data(), dyt.data(), xt.data(), wtt.data(), rows,
                            s, scratch.data(), slots);
  check_close(dx, dx_ref, tolerance<T>(), what + " dx");
  check_close(dw, dw_ref, tolerance<T>(), what + " dweight");
  check_close(db, db_ref, tolerance<T>(), what + " dbias");

  // Again with dx skipped (the first layer's backward): the same bits.
  std::vector<T> dw2(wt.size(), T(1)), db2(b.size(), T(1));
  conv_transpose2d_backward<T>(nullptr, dw2.data(), db2.data(), dyt.data(), xt.data(), wtt.data(),
                               rows, s, scratch.data(), slots);
  CHECK(same_bits(dw, dw2));
  CHECK(same_bits(db, db2));
  std::vector<T> y2(y.size());
  conv_transpose2d_forward(y2.data(), xt.data(), wtt.data(), bt.data(), rows, s, scratch.data(), slots);
  CHECK(same_bits(y, y2));

  // One slot (one chunk whatever the thread count): still right.
  std::vector<T> dw1(wt.size()), db1(b.size()), dx1(dx.size());
  conv_transpose2d_backward(dx1.data(), dw1.data(), db1.data(), dyt.data(), xt.data(), wtt.data(),
                            rows, s, scratch.data(), 1);
  check_close(dw1, dw_ref, tolerance<T>(), what + " dweight, one slot");
  check_close(dx1, dx_ref, tolerance<T>(), what + " dx, one slot");
  check_close(db1, db_ref, tolerance<T>(), what + " dbias, one slot");

  // Zero rows: empty sums.
  conv_transpose2d_backward<T>(nullptr, dw1.data(), db1.data(), nullptr, nullptr, nullptr, 0, s,
                               nullptr, 0);
  bool zero = true;
  for (T v : dw1) zero = zero && v == T(0);
  for (T v : db1) zero = zero && v == T(0);
  CHECK(zero);
}

// The scratch is all a call needs: after a first call (the thread pool and
// gemm's own buffers warmed up), forward and backward allocate nothing.
template <typename T>
void test_no_allocation(const Geometry& g, index_t block_limit) {
  ConvTranspose2dShape s = shape_of(g);
  s.block_limit = block_limit;
  const index_t rows = 4, slots = 2;
  const auto x = seeded_vec<T>(static_cast<std::size_t>(rows * s.in_size()), 1);
  const auto wt = seeded_vec<T>(static_cast<std::size_t>(s.in_c * s.k()), 2);
  const auto b = seeded_vec<T>(static_cast<std::size_t>(s.out_c), 3);
  const auto dy = seeded_vec<T>(static_cast<std::size_t>(rows * s.out_size()), 4);
  std::vector<T> scratch(static_cast<std::size_t>(slots * s.slot_size())), y(dy.size()), dx(x.size());
  std::vector<T> dw(wt.size()), db(b.size());
  const auto pass = [&] {
    conv_transpose2d_forward(y.data(), x.data(), wt.data(), b.data(), rows, s, scratch.data(), slots);
    conv_transpose2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), wt.data(), rows, s,
                              scratch.data(), slots);
  };
  pass();
  const long before = g_allocations.load();
  pass();
  pass();
  const long made = g_allocations.load() - before;
  if (made != 0)
    std::fprintf(stderr, "convtranspose2d %s: %ld allocations in two passes (threads %d, block %lld)\n",
                 g.name, made, num_threads(), static_cast<long long>(block_limit));
  CHECK(made == 0);
}

// The transposed conv is conv2d's adjoint: with no bias,
// <convT_W(x), u> = <x, conv2d_W(u)> where conv2d runs on the output grid
// with inC' = outC, outC' = inC and the same weight buffer.
void test_adjoint_of_conv2d(const Geometry& g) {
  const ConvTranspose2dShape t = shape_of(g);
  Conv2dShape c;
  c.in_c = t.out_c, c.out_c = t.in_c, c.win = t.grid();
  const index_t rows = 2;
  const auto x = seeded_vec<double>(static_cast<std::size_t>(rows * t.in_size()), 11);
  const auto u = seeded_vec<double>(static_cast<std::size_t>(rows * t.out_size()), 12);
  const auto wt = seeded_vec<double>(static_cast<std::size_t>(t.in_c * t.k()), 13);
  std::vector<double> ty(u.size()), cy(x.size());
  std::vector<double> ts(static_cast<std::size_t>(t.slot_size())), cs(static_cast<std::size_t>(c.slot_size()));
  conv_transpose2d_forward<double>(ty.data(), x.data(), wt.data(), nullptr, rows, t, ts.data(), 1);
  conv2d_forward<double>(cy.data(), u.data(), wt.data(), nullptr, rows, c, cs.data(), 1);
  double a = 0, b = 0, scale = 0;
  for (std::size_t i = 0; i < u.size(); ++i) a += ty[i] * u[i], scale += std::fabs(ty[i] * u[i]);
  for (std::size_t i = 0; i < x.size(); ++i) b += x[i] * cy[i];
  CHECK(c.win.out_h() == t.win.in_h && c.win.out_w() == t.win.in_w);
  CHECK(std::fabs(a - b) <= 1e-12 * (1 + scale));
}

void test_validate() {
  const ConvTranspose2dShape ok = shape_of(kGeometries[1]);
  const auto refuses = [](const ConvTranspose2dShape& s, const char* field) {
    ++g_checks;
    try {
      validate_conv_transpose(s, "layer 2 (test)");
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      if (m.find(field) != std::string::npos && m.find("layer 2 (test)") == 0) return;
      std::fprintf(stderr, "validate_conv_transpose: message '%s' does not name %s\n", m.c_str(), field);
      ++g_failures;
      return;
    }
    std::fprintf(stderr, "validate_conv_transpose: accepted a bad %s\n", field);
    ++g_failures;
  };
  ConvTranspose2dShape s = ok;
  s.in_c = 0;
  refuses(s, "inChannels");
  s = ok, s.out_c = -1;
  refuses(s, "outChannels");
  s = ok, s.win.in_h = 0;
  refuses(s, "inHeight");
  s = ok, s.win.in_w = index_t(1) << 31;
  refuses(s, "inWidth");
  s = ok, s.win.kernel_w = 0;
  refuses(s, "kernelWidth");
  s = ok, s.win.stride_h = 0;
  refuses(s, "strideHeight");
  s = ok, s.win.pad_w = -1;
  refuses(s, "padWidth");
  s = ok, s.out_pad_h = 2;  // stride 2: outPad must be below it
  refuses(s, "outPadHeight");
  s = ok, s.out_pad_w = 1;  // stride 1
  refuses(s, "outPadWidth");
  s = ok, s.out_pad_h = -1;
  refuses(s, "outPadHeight");
  s = ok, s.win.pad_h = 4;  // (4 − 1)·2 − 8 + 3 + 1 = 2 ≥ 1: fine; 5 crops to 0
  validate_conv_transpose(s, "ok");
  s.win.pad_h = 5;
  refuses(s, "outHeight");
  s = ok, s.win.pad_w = 2;  // (3 − 1)·1 − 4 + 2 = 0
  refuses(s, "outWidth");
  s = ok, s.win.in_h = 2147483647, s.win.stride_h = 2;  // far beyond 2^31 − 1
  refuses(s, "outHeight");
  CHECK(true);
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  for (const Geometry& g : kGeometries) test_adjoint_of_conv2d(g);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Geometry& g : kGeometries)
      for (index_t block_limit : {0, 1, 2}) {
        test_geometry<float>(g, "float32", block_limit);
        test_geometry<double>(g, "float64", block_limit);
        test_no_allocation<float>(g, block_limit);
        test_no_allocation<double>(g, block_limit);
      }
  }
  test_validate();
  test_conv_transpose_network();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
