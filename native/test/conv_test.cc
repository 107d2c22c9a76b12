// conv2d and maxpool2d kernels (conv.h) against direct double-precision
// references (conv_naive.h) on awkward geometries — strides > 1, padding,
// non-square kernels, kernel = image, 1×1 with and without padding, a kernel
// larger than the image but not than the padded image — in both dtypes, with
// 1 and 2 threads; two runs at one thread count give the same bits; max
// pooling's ties, NaNs and −∞ windows follow torch's CPU rule; images go
// through alone, in blocks (side by side in one gemm) and both in one call;
// a forward and backward allocate nothing (operator new counted). The
// network half (conv_network_test.cc) checks whole plans. ctest runs it once
// per gemm micro-kernel (FASTMLP_GEMM_KERNEL).
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "check.h"
#include "conv.h"
#include "conv_chunks.h"
#include "conv_naive.h"
#include "gemm.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

void test_conv_network();  // conv_network_test.cc

// Every allocation in this test binary is counted (allocation_counter.h,
// included here), so a kernel call or a training step can be shown to
// allocate nothing (conv_network_test.cc reads the count too).

namespace {

struct Geometry {
  const char* name;
  index_t in_c, out_c, h, w, kh, kw, sh, sw, ph, pw;
};

const Geometry kGeometries[] = {
    {"3x2 kernel, stride 2x1, pad 1x0", 2, 3, 7, 5, 3, 2, 2, 1, 1, 0},
    {"kernel = image", 1, 2, 4, 4, 4, 4, 1, 1, 0, 0},
    {"1x1 pointwise", 3, 4, 5, 6, 1, 1, 1, 1, 0, 0},
    {"3x3 stride 3x2 pad 2x1", 2, 2, 6, 7, 3, 3, 3, 2, 2, 1},
    {"1x1 image", 2, 3, 1, 1, 1, 1, 1, 1, 0, 0},
    {"1x1 kernel with stride and padding", 2, 3, 5, 5, 1, 1, 2, 2, 1, 1},
    {"5x5 kernel on a padded 3x3 image", 3, 2, 3, 3, 5, 5, 1, 1, 1, 1},
    {"wide 1x4 kernel, stride 1x3", 1, 5, 3, 11, 1, 4, 1, 3, 0, 2},
    // Window rows at stride 1 of every length im2col's copy_row moves
    // differently (conv.cc: 16-byte moves, 4 floats or 2 doubles each):
    // 26 (MNIST's first conv: eight moves in float32, std::copy in float64),
    // 17, 12 with padding, 5 and 40 (std::copy in both).
    {"rows of 26", 1, 2, 5, 28, 3, 3, 1, 1, 0, 0},
    {"rows of 17", 2, 2, 4, 19, 3, 3, 1, 1, 0, 0},
    {"rows of 12, pad 1", 2, 3, 4, 12, 3, 3, 1, 1, 1, 1},
    {"rows of 5", 2, 2, 5, 7, 3, 3, 1, 1, 0, 0},
    {"rows of 40", 1, 2, 3, 42, 3, 3, 1, 1, 0, 0},
};

Conv2dShape shape_of(const Geometry& g) {
  Conv2dShape s;
  s.in_c = g.in_c;
  s.out_c = g.out_c;
  s.win.in_h = g.h;
  s.win.in_w = g.w;
  s.win.kernel_h = g.kh;
  s.win.kernel_w = g.kw;
  s.win.stride_h = g.sh;
  s.win.stride_w = g.sw;
  s.win.pad_h = g.ph;
  s.win.pad_w = g.pw;
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
void test_conv_geometry(const Geometry& g, const char* type, index_t block_limit) {
  Conv2dShape s = shape_of(g);
  s.block_limit = block_limit;
  validate_window(s.win, false, g.name);  // a geometry the core accepts
  const index_t rows = 5, slots = 2;
  const std::string what = std::string("conv2d ") + g.name + " " + type + " threads " +
                           std::to_string(num_threads()) + " block " + std::to_string(block_limit);
  const auto x = seeded_vec<double>(static_cast<std::size_t>(rows * s.in_size()), 1);
  const auto wt = seeded_vec<double>(static_cast<std::size_t>(s.out_c * s.k()), 2);
  const auto b = seeded_vec<double>(static_cast<std::size_t>(s.out_c), 3);
  const auto dy = seeded_vec<double>(static_cast<std::size_t>(rows * s.out_size()), 4);
  // The double reference from values already rounded to T, so only the
  // kernel's own rounding is measured.
  const auto xt = cast<T>(x), wtt = cast<T>(wt), bt = cast<T>(b), dyt = cast<T>(dy);
  const auto y_ref = naive_conv2d(widen(xt), widen(wtt), widen(bt), rows, s);
  std::vector<double> dx_ref, dw_ref, db_ref;
  naive_conv2d_backward(widen(xt), widen(wtt), widen(dyt), rows, s, dx_ref, dw_ref, db_ref);

  std::vector<T> scratch(static_cast<std::size_t>(slots * s.slot_size()), T(7));  // not zero: must not be read first
  std::vector<T> y(static_cast<std::size_t>(rows * s.out_size()), T(-3));
  conv2d_forward(y.data(), xt.data(), wtt.data(), bt.data(), rows, s, scratch.data(), slots);
  check_close(y, y_ref, tolerance<T>(), what + " y");

  // Gradients are written, not accumulated: start from garbage.
  std::vector<T> dx(static_cast<std::size_t>(rows * s.in_size()), T(5));
  std::vector<T> dw(wt.size(), T(9)), db(b.size(), T(-9));
  conv2d_backward(dx.data(), dw.data(), db.data(), dyt.data(), xt.data(), wtt.data(), rows, s,
                  scratch.data(), slots);
  check_close(dx, dx_ref, tolerance<T>(), what + " dx");
  check_close(dw, dw_ref, tolerance<T>(), what + " dweight");
  check_close(db, db_ref, tolerance<T>(), what + " dbias");

  // Again, with dx skipped (the first layer's backward): the same parameter
  // gradients, bit for bit, and the same bits as the first run.
  std::vector<T> dw2(wt.size(), T(1)), db2(b.size(), T(1));
  conv2d_backward<T>(nullptr, dw2.data(), db2.data(), dyt.data(), xt.data(), wtt.data(), rows, s,
                     scratch.data(), slots);
  CHECK(same_bits(dw, dw2));
  CHECK(same_bits(db, db2));
  std::vector<T> y2(y.size());
  conv2d_forward(y2.data(), xt.data(), wtt.data(), bt.data(), rows, s, scratch.data(), slots);
  CHECK(same_bits(y, y2));

  // One slot (one chunk whatever the thread count): still right.
  std::vector<T> dw1(wt.size()), db1(b.size()), dx1(dx.size());
  conv2d_backward(dx1.data(), dw1.data(), db1.data(), dyt.data(), xt.data(), wtt.data(), rows, s,
                  scratch.data(), 1);
  check_close(dw1, dw_ref, tolerance<T>(), what + " dweight, one slot");
  check_close(dx1, dx_ref, tolerance<T>(), what + " dx, one slot");
}

// im2col's columns against the definition, and col2im as its adjoint:
// <col2im(d), x> = <d, im2col(x)> for random d and x. As image `m` of a
// block of `nb` (row stride nb·P, from column m·P): the columns of the
// other images are neither written nor read.
void test_im2col_adjoint(const Geometry& g, index_t nb, index_t m) {
  const Conv2dShape s = shape_of(g);
  const index_t OW = s.win.out_w(), P = s.p(), ld = nb * P;
  const auto x = seeded_vec<double>(static_cast<std::size_t>(s.in_size()), 5);
  auto d = seeded_vec<double>(static_cast<std::size_t>(s.k() * ld), 6);
  std::vector<double> col(d.size(), 99.0), back(x.size(), 99.0);
  im2col(col.data() + m * P, ld, x.data(), s.in_c, s.win);
  // The other images' columns of d are NaN: col2im must not read them.
  for (index_t r = 0; r < s.k(); ++r)
    for (index_t j = 0; j < ld; ++j)
      if (j / P != m) d[static_cast<std::size_t>(r * ld + j)] = std::nan("");
  col2im(back.data(), d.data() + m * P, ld, s.in_c, s.win);
  double lhs = 0, rhs = 0;
  for (std::size_t i = 0; i < x.size(); ++i) lhs += back[i] * x[i];
  for (index_t r = 0; r < s.k(); ++r)
    for (index_t p = 0; p < P; ++p)
      rhs += d[static_cast<std::size_t>(r * ld + m * P + p)] * col[static_cast<std::size_t>(r * ld + m * P + p)];
  CHECK_NEAR(lhs, rhs, 1e-12 * (1 + std::fabs(rhs)));
  bool untouched = true;
  for (index_t r = 0; r < s.k(); ++r)
    for (index_t j = 0; j < ld; ++j)
      if (j / P != m) untouched = untouched && col[static_cast<std::size_t>(r * ld + j)] == 99.0;
  CHECK(untouched);
  bool ok = true;
  for (index_t c = 0; c < s.in_c; ++c)
    for (index_t kh = 0; kh < s.win.kernel_h; ++kh)
      for (index_t kw = 0; kw < s.win.kernel_w; ++kw)
        for (index_t p = 0; p < P; ++p) {
          const index_t ih = (p / OW) * s.win.stride_h - s.win.pad_h + kh;
          const index_t iw = (p % OW) * s.win.stride_w - s.win.pad_w + kw;
          const double want = at_or_zero(x, 0, c, ih, iw, s.in_c, s.win);
          ok = ok && col[static_cast<std::size_t>(((c * s.win.kernel_h + kh) * s.win.kernel_w + kw) * ld + m * P + p)] == want;
        }
  CHECK(ok);
}

// The scratch is all a call needs: after a first call (the thread pool and
// gemm's own buffers warmed up), forward and backward allocate nothing.
template <typename T>
void test_no_allocation(const Geometry& g, index_t block_limit) {
  Conv2dShape s = shape_of(g);
  s.block_limit = block_limit;
  const index_t rows = 7, slots = 2;
  const auto x = seeded_vec<T>(static_cast<std::size_t>(rows * s.in_size()), 1);
  const auto wt = seeded_vec<T>(static_cast<std::size_t>(s.out_c * s.k()), 2);
  const auto b = seeded_vec<T>(static_cast<std::size_t>(s.out_c), 3);
  const auto dy = seeded_vec<T>(static_cast<std::size_t>(rows * s.out_size()), 4);
  std::vector<T> scratch(static_cast<std::size_t>(slots * s.slot_size())), y(dy.size()), dx(x.size());
  std::vector<T> dw(wt.size()), db(b.size());
  const auto pass = [&] {
    conv2d_forward(y.data(), x.data(), wt.data(), b.data(), rows, s, scratch.data(), slots);
    conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), wt.data(), rows, s,
                    scratch.data(), slots);
  };
  pass();
  const long before = g_allocations.load();
  pass();
  pass();
  const long made = g_allocations.load() - before;
  if (made != 0)
    std::fprintf(stderr, "conv2d %s: %ld allocations in two passes (threads %d, block %lld)\n", g.name,
                 made, num_threads(), static_cast<long long>(block_limit));
  CHECK(made == 0);
}

// for_each_block visits every row once, in blocks of 1..max_block
// consecutive rows inside one chunk, each chunk's first block flagged, and
// near-equal blocks (sizes differ by at most one within a chunk).
void test_block_partition() {
  bool ok = true;
  for (index_t rows : {1, 2, 5, 7, 64, 65})
    for (index_t chunks : {1, 2, 3})
      for (index_t max_block : {1, 2, 3, 10, 100}) {
        if (chunks > rows) continue;
        std::vector<int> seen(static_cast<std::size_t>(rows), 0);
        std::vector<index_t> lo(static_cast<std::size_t>(chunks), rows), hi(static_cast<std::size_t>(chunks), 0);
        std::vector<int> firsts(static_cast<std::size_t>(chunks), 0);
        std::vector<index_t> smallest(static_cast<std::size_t>(chunks), rows + 1), largest(static_cast<std::size_t>(chunks), 0);
        std::vector<char> bad(static_cast<std::size_t>(chunks), 0);
        // Chunks may run on two threads: each writes only its own entries.
        conv_detail::for_each_block(rows, chunks, max_block, [&](index_t c, index_t n0, index_t count, bool first) {
          const auto ci = static_cast<std::size_t>(c);
          if (count < 1 || count > max_block) bad[ci] = 1;
          for (index_t n = n0; n < n0 + count; ++n) ++seen[static_cast<std::size_t>(n)];
          if (first) ++firsts[ci];
          if (first != (n0 < lo[ci])) bad[ci] = 1;  // the first block comes first
          lo[ci] = std::min(lo[ci], n0), hi[ci] = std::max(hi[ci], n0 + count);
          smallest[ci] = std::min(smallest[ci], count), largest[ci] = std::max(largest[ci], count);
        });
        for (int v : seen) ok = ok && v == 1;
        for (index_t c = 0; c < chunks; ++c) {
          const auto ci = static_cast<std::size_t>(c);
          ok = ok && !bad[ci] && firsts[ci] == 1 && largest[ci] - smallest[ci] <= 1 &&
               lo[ci] == conv_detail::chunk_begin(c, rows, chunks) &&
               hi[ci] == conv_detail::chunk_begin(c + 1, rows, chunks);
        }
        if (!ok) {
          std::fprintf(stderr, "for_each_block: rows %lld, chunks %lld, max_block %lld\n",
                       static_cast<long long>(rows), static_cast<long long>(chunks),
                       static_cast<long long>(max_block));
          CHECK(false);
          return;
        }
      }
  CHECK(ok);
}

// conv_block_images: MNIST's first conv (P = 676 columns) goes an image at
// a time; a 13×13 image's 11×11 output (P = 121) in blocks of
// kConvBlockColumns / P; tiny images with a long K as many as the scratch
// budget holds; a limit overrides the rule.
void test_block_images() {
  Conv2dShape mnist;  // 1→32 channels, 3×3 on 28×28: K = 9, P = 676
  mnist.in_c = 1, mnist.out_c = 32;
  mnist.win.in_h = mnist.win.in_w = 28, mnist.win.kernel_h = mnist.win.kernel_w = 3;
  CHECK(mnist.block_images() == 1);
  // col and room for one image's dY ⊙ f' (a fused activation's backward).
  CHECK(mnist.slot_size() == (mnist.k() + mnist.out_c) * mnist.p() + mnist.out_c * (mnist.k() + 1));
  Conv2dShape second = mnist;  // 32→64 on 13×13: K = 288, P = 121
  second.in_c = 32, second.out_c = 64, second.win.in_h = second.win.in_w = 13;
  CHECK(second.block_images() == kConvBlockColumns / 121 && second.block_images() > 1);
  CHECK(second.slot_size() ==
        second.block_images() * (second.k() + second.out_c) * second.p() + second.out_c * (second.k() + 1));
  Conv2dShape tiny = mnist;  // 64→64 on 5×5: K = 576, P = 9; the budget binds first
  tiny.in_c = 64, tiny.out_c = 64, tiny.win.in_h = tiny.win.in_w = 5;
  const index_t per_image = (tiny.k() + tiny.out_c) * tiny.p();
  CHECK(tiny.block_images() == kConvBlockValues / per_image && tiny.block_images() < kConvBlockColumns / 9);
  CHECK(tiny.block_images() * per_image <= kConvBlockValues);
  mnist.block_limit = 3;
  CHECK(mnist.block_images() == 3);
}

struct PoolGeometry {
  const char* name;
  index_t c, h, w, kh, kw, sh, sw, ph, pw;
};

const PoolGeometry kPools[] = {
    {"2x2 stride 2", 2, 6, 6, 2, 2, 2, 2, 0, 0},
    {"3x3 stride 2 pad 1 (overlapping)", 3, 7, 5, 3, 3, 2, 2, 1, 1},
    {"3x2 stride 1x2 pad 1x1", 1, 5, 6, 3, 2, 1, 2, 1, 1},
    {"kernel = image", 2, 3, 4, 3, 4, 1, 1, 0, 0},
    {"1x1", 2, 3, 3, 1, 1, 1, 1, 0, 0},
    {"odd size, stride 3 drops the edge", 1, 8, 7, 2, 2, 3, 3, 1, 0},
};

template <typename T>
void test_pool_geometry(const PoolGeometry& g, const char* type) {
  Window2d w;
  w.in_h = g.h, w.in_w = g.w, w.kernel_h = g.kh, w.kernel_w = g.kw;
  w.stride_h = g.sh, w.stride_w = g.sw, w.pad_h = g.ph, w.pad_w = g.pw;
  validate_window(w, true, g.name);
  const index_t rows = 4, in_size = g.c * g.h * g.w, out_size = g.c * w.out_h() * w.out_w();
  const std::string what = std::string("maxpool2d ") + g.name + " " + type + " threads " +
                           std::to_string(num_threads());
  // Small integers: ties in most windows.
  std::vector<double> x = seeded_vec<double>(static_cast<std::size_t>(rows * in_size), 7);
  for (auto& v : x) v = std::floor(v * 2.5);
  const auto dy = seeded_vec<double>(static_cast<std::size_t>(rows * out_size), 8);
  std::vector<index_t> argmax;
  const auto y_ref = naive_maxpool2d(x, rows, g.c, w, argmax);
  const auto xt = cast<T>(x), dyt = cast<T>(dy);
  std::vector<double> dx_ref(x.size(), 0.0);
  for (std::size_t o = 0; o < argmax.size(); ++o) dx_ref[static_cast<std::size_t>(argmax[o])] += double(dyt[o]);
  std::vector<T> y(y_ref.size(), T(3)), dx(x.size(), T(3));
  maxpool2d_forward(y.data(), xt.data(), rows, g.c, w);
  check_close(y, y_ref, 0, what + " y");
  maxpool2d_backward(dx.data(), dyt.data(), xt.data(), rows, g.c, w);
  check_close(dx, dx_ref, sizeof(T) == 4 ? 1e-6 : 1e-15, what + " dx");
}

// Hand-made windows: ties go to the first maximum, a NaN wins (the last NaN
// of the window: each one replaces the running maximum), a window of −∞ picks
// its first real element.
template <typename T>
void test_pool_special_values() {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  Window2d w;
  w.in_h = 2, w.in_w = 2, w.kernel_h = 2, w.kernel_w = 2, w.stride_h = 1, w.stride_w = 1;
  struct Case {
    T x[4];
    int argmax;
  } cases[] = {
      {{1, 1, 1, 1}, 0},
      {{0, 2, 2, 1}, 1},
      {{1, nan, 3, nan}, 3},
      {{nan, 5, 6, 7}, 0},
      {{-inf, -inf, -inf, -inf}, 0},
      {{-inf, -inf, -2, -inf}, 2},
  };
  for (const Case& c : cases) {
    T y = 0;
    T dx[4] = {9, 9, 9, 9};
    const T dy = T(0.5);
    maxpool2d_forward(&y, c.x, 1, 1, w);
    maxpool2d_backward(dx, &dy, c.x, 1, 1, w);
    const T want = c.x[c.argmax];
    CHECK((std::isnan(want) && std::isnan(y)) || y == want);
    for (int i = 0; i < 4; ++i) CHECK(dx[i] == (i == c.argmax ? dy : T(0)));
  }
  // Padding is −∞, never a maximum: a window of one real −∞ and padding.
  Window2d p;
  p.in_h = 1, p.in_w = 1, p.kernel_h = 3, p.kernel_w = 3, p.stride_h = 1, p.stride_w = 1,
  p.pad_h = 1, p.pad_w = 1;
  const T x = -inf, dy = 2;
  T y = 0, dx = 5;
  maxpool2d_forward(&y, &x, 1, 1, p);
  maxpool2d_backward(&dx, &dy, &x, 1, 1, p);
  CHECK(y == -inf);
  CHECK(dx == dy);
}

void test_validate_window() {
  Window2d ok;
  ok.in_h = 4, ok.in_w = 5, ok.kernel_h = 3, ok.kernel_w = 2;
  const auto refuses = [](Window2d w, bool pool, const char* field) {
    ++g_checks;
    try {
      validate_window(w, pool, "layer 2 (test)");
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      if (m.find(field) != std::string::npos && m.find("layer 2 (test)") == 0) return;
      std::fprintf(stderr, "validate_window: message '%s' does not name %s\n", m.c_str(), field);
      ++g_failures;
      return;
    }
    std::fprintf(stderr, "validate_window: accepted a bad %s\n", field);
    ++g_failures;
  };
  Window2d w = ok;
  w.in_h = 0;
  refuses(w, false, "inHeight");
  w = ok, w.in_w = -1;
  refuses(w, false, "inWidth");
  w = ok, w.kernel_h = 0;
  refuses(w, false, "kernelHeight");
  w = ok, w.kernel_w = 6;
  refuses(w, false, "kernelWidth");  // larger than the padded input
  w = ok, w.kernel_h = 5;
  refuses(w, false, "kernelHeight");
  w = ok, w.stride_h = 0;
  refuses(w, false, "strideHeight");
  w = ok, w.stride_w = -2;
  refuses(w, false, "strideWidth");
  w = ok, w.pad_h = -1;
  refuses(w, false, "padHeight");
  w = ok, w.pad_w = int64_t(1) << 32;
  refuses(w, false, "padWidth");
  w = ok, w.pad_h = 2;  // pooling: more than half of a 3-tall kernel
  refuses(w, true, "padHeight");
  w = ok, w.pad_w = 2;
  refuses(w, true, "padWidth");
  w = ok, w.kernel_w = 8, w.pad_w = 1;  // 8 > 5 + 2
  refuses(w, false, "kernelWidth");
  w = ok, w.pad_h = 1, w.kernel_h = 6;  // 6 = 4 + 2: fits
  validate_window(w, false, "ok");
  w = ok, w.pad_h = 1, w.pad_w = 1;  // pooling, 1 <= 3/2 and 1 <= 2/2
  validate_window(w, true, "ok");
  CHECK(true);
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  for (const Geometry& g : kGeometries) {
    test_im2col_adjoint(g, 1, 0);
    test_im2col_adjoint(g, 3, 1);
    test_im2col_adjoint(g, 2, 1);
  }
  test_block_images();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    test_block_partition();
    for (const Geometry& g : kGeometries)
      for (index_t block_limit : {0, 1, 2}) {
        test_conv_geometry<float>(g, "float32", block_limit);
        test_conv_geometry<double>(g, "float64", block_limit);
        test_no_allocation<float>(g, block_limit);
        test_no_allocation<double>(g, block_limit);
      }
    for (const PoolGeometry& g : kPools) {
      test_pool_geometry<float>(g, "float32");
      test_pool_geometry<double>(g, "float64");
    }
  }
  test_pool_special_values<float>();
  test_pool_special_values<double>();
  test_validate_window();
  test_conv_network();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
