// Non-finite gradients are found where they are written and never applied.
//  - kernels: gemm with GradientCheck::tile as its epilogue (finite.h) flags a
//    single overflowed or NaN element wherever it lands — first tile, ragged
//    edge tile, last k block — on the unpacked path and the packed one, with
//    1 and 2 threads, and leaves C bit-identical to a gemm without it; clean
//    products are never flagged. dense_backward (bias too) and
//    dense_penalty_backward report through the same flag.
//  - network: a float32 step whose loss is finite but whose gradients
//    overflow (SGD lr 1e6 on targets i·1e3, the bug's repro) leaves
//    parameters, optimizer state, step count and batch norm's running
//    statistics bit-identical, in train_step, train_epoch and step().
// ctest runs it once per gemm micro-kernel (FASTMLP_GEMM_KERNEL).
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "dense.h"
#include "finite.h"
#include "gemm.h"
#include "network.h"
#include "threads.h"

using namespace fastmlp;
using fastmlp_test::g_checks;
using fastmlp_test::g_failures;
using fastmlp_test::random_vec;

namespace {

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// A huge value whose square overflows T.
template <typename T>
T huge() {
  return sizeof(T) == 4 ? T(1e20) : T(1e200);
}

// C (m×n) = Aᵀ·B as dense_backward's dW product (transA, A stored k×m), with
// one poisoned element at (pi, pj) through k index pk: A(pk, pi) and
// B(pk, pj) huge (overflow) or A(pk, pi) NaN. pi < 0: clean.
template <typename T>
void check_gemm_case(index_t m, index_t n, index_t k, index_t pi, index_t pj, index_t pk,
                     bool nan, const std::string& what) {
  std::vector<T> A = random_vec<T>(static_cast<std::size_t>(k * m));
  std::vector<T> B = random_vec<T>(static_cast<std::size_t>(k * n));
  if (pi >= 0) {
    if (nan) {
      A[pk * m + pi] = std::numeric_limits<T>::quiet_NaN();
    } else {
      A[pk * m + pi] = huge<T>();
      B[pk * n + pj] = huge<T>();
    }
  }
  std::vector<T> plain(static_cast<std::size_t>(m * n)), checked(plain.size());
  gemm<T>(true, false, m, n, k, T(1), A.data(), m, B.data(), n, T(0), plain.data(), n);
  GradientCheck check;
  GemmEpilogue<T> ep;
  ep.tile_fn = &GradientCheck::tile<T>;
  ep.ctx = &check;
  gemm<T>(true, false, m, n, k, T(1), A.data(), m, B.data(), n, T(0), checked.data(), n, ep);
  const bool expect_bad = pi >= 0;
  if (check.found() != expect_bad || !same_bits(plain, checked)) {
    std::fprintf(stderr, "gemm check %s: m=%lld n=%lld k=%lld at (%lld,%lld) found=%d\n", what.c_str(),
                 static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k),
                 static_cast<long long>(pi), static_cast<long long>(pj), int(check.found()));
  }
  CHECK(check.found() == expect_bad);
  CHECK(same_bits(plain, checked));  // the check reads C, never changes it
  CHECK(any_nonfinite(checked.data(), m * n) == expect_bad);  // the reference answer
}

template <typename T>
void test_gemm_flag(const char* type) {
  // Ragged shapes: rows and columns not multiples of any MR/NR; k = 1, small
  // (unpacked path) and above KC (several k blocks: only the last one's tiles
  // are final, and the flag must still be found there).
  const index_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {13, 37, 9}, {50, 70, 33},
                               {97, 131, 300}, {200, 259, 700}};
  for (const auto& s : shapes) {
    const index_t m = s[0], n = s[1], k = s[2];
    const std::string base = std::string(type) + " " + std::to_string(m) + "x" + std::to_string(n);
    check_gemm_case<T>(m, n, k, -1, -1, 0, false, base + " clean");
    // First element, last element (a ragged edge tile), one in the middle.
    const index_t spots[][2] = {{0, 0}, {m - 1, n - 1}, {m / 2, n / 3}, {0, n - 1}, {m - 1, 0}};
    for (const auto& p : spots) {
      check_gemm_case<T>(m, n, k, p[0], p[1], k - 1, false, base + " overflow");
      check_gemm_case<T>(m, n, k, p[0], p[1], k / 2, true, base + " nan");
    }
  }
}

template <typename T>
void test_dense_and_penalty(const char* type) {
  const index_t B = 9, C = 11, OC = 5;
  std::vector<T> dout = random_vec<T>(B * OC), inp = random_vec<T>(B * C), w = random_vec<T>(OC * C);
  std::vector<T> dw(OC * C), db(OC), dinp(B * C);
  {
    GradientCheck check;
    dense_backward<T>(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), B, C, OC,
                      false, nullptr, nullptr, &check);
    CHECK(!check.found());
  }
  {
    // One NaN input poisons a whole column of dW (every output reads it).
    std::vector<T> bad = inp;
    bad[3 * C + 4] = std::numeric_limits<T>::quiet_NaN();
    GradientCheck check;
    dense_backward<T>(nullptr, dw.data(), db.data(), dout.data(), bad.data(), w.data(), B, C, OC,
                      false, nullptr, nullptr, &check);
    CHECK(check.found());
  }
  {
    // Only the bias overflows: dout columns that sum past the largest T.
    std::vector<T> big = dout;
    for (index_t b = 0; b < B; ++b) big[b * OC + 2] = std::numeric_limits<T>::max() / T(2);
    std::vector<T> zero_inp(B * C, T(0));  // dW = dZᵀ·0 stays finite
    GradientCheck check;
    dense_backward<T>(nullptr, dw.data(), db.data(), big.data(), zero_inp.data(), w.data(), B, C, OC,
                      false, nullptr, nullptr, &check);
    CHECK(!any_nonfinite(dw.data(), OC * C));
    CHECK(any_nonfinite(db.data(), OC));
    CHECK(check.found());
  }
  {
    // A wide layer (B·(C + OC) < C·OC): dense_backward proves dW finite from
    // max|dout|·max|inp| when it can, else checks the tiles exactly.
    const index_t b2 = 8, c2 = 64, o2 = 64;
    std::vector<T> d2 = random_vec<T>(b2 * o2), i2 = random_vec<T>(b2 * c2), w2 = random_vec<T>(o2 * c2);
    std::vector<T> g2(o2 * c2), gb(o2);
    GradientCheck clean;  // the bound holds: no tile is read, nothing flagged
    dense_backward<T>(nullptr, g2.data(), gb.data(), d2.data(), i2.data(), w2.data(), b2, c2, o2,
                      false, nullptr, nullptr, &clean);
    CHECK(!clean.found());
    // One product past T's range from finite inputs, in a ragged spot.
    std::vector<T> dbig = d2, ibig = i2;
    dbig[5 * o2 + 63] = huge<T>();
    ibig[5 * c2 + 17] = huge<T>();
    GradientCheck over;
    dense_backward<T>(nullptr, g2.data(), gb.data(), dbig.data(), ibig.data(), w2.data(), b2, c2, o2,
                      false, nullptr, nullptr, &over);
    CHECK(over.found());
    CHECK(any_nonfinite(g2.data(), o2 * c2));
    // Large but finite: the bound fails (B·max·max > max), the exact check passes.
    std::vector<T> dnear = d2, inear = i2;
    const T root = std::sqrt(std::numeric_limits<T>::max()) / T(4);
    dnear[2 * o2 + 1] = root;
    inear[2 * c2 + 3] = root;
    GradientCheck near;
    dense_backward<T>(nullptr, g2.data(), gb.data(), dnear.data(), inear.data(), w2.data(), b2, c2, o2,
                      false, nullptr, nullptr, &near);
    CHECK(!near.found());
    CHECK(!any_nonfinite(g2.data(), o2 * c2));
    CHECK(std::isinf(max_abs_or_inf(std::vector<T>{T(1), std::numeric_limits<T>::quiet_NaN()}.data(), 2)));
    CHECK(max_abs_or_inf(std::vector<T>{T(1), T(-3), T(2)}.data(), 3) == 3.0);
  }
  {
    // The penalty's sum overflows where both of its terms were finite.
    std::vector<T> g(300, T(0)), wt(300, T(1));
    g[277] = std::numeric_limits<T>::max();
    wt[277] = std::numeric_limits<T>::max();
    GradientCheck check;
    dense_penalty_backward<T>(g.data(), wt.data(), 300, 0.0, 0.5, &check);  // g += 1·w
    CHECK(check.found());
    std::vector<T> g2(300, T(0.5)), w2(300, T(0.25));
    GradientCheck clean;
    dense_penalty_backward<T>(g2.data(), w2.data(), 300, 0.1, 0.1, &clean);
    dense_penalty_backward<T>(g2.data(), w2.data(), 300, 0.0, 0.1, &clean);
    CHECK(!clean.found());
  }
  std::printf("dense/penalty flags %s ok\n", type);
}

// Dense(4,8) → BatchNorm1d(8) → Dense(8,8) relu → Dense(8,1), mse, SGD lr 1e6,
// targets i·1e3: the repro. Batches of 16 rows.
std::vector<LayerSpec> repro_layers() {
  std::vector<LayerSpec> ls(5);
  ls[0].kind = LayerSpec::Kind::Dense; ls[0].in = 4; ls[0].out = 8;
  ls[1].kind = LayerSpec::Kind::BatchNorm; ls[1].features = 8;
  ls[2].kind = LayerSpec::Kind::Dense; ls[2].in = 8; ls[2].out = 8;
  ls[3].kind = LayerSpec::Kind::Activation; ls[3].activation = Activation::Relu;
  ls[4].kind = LayerSpec::Kind::Dense; ls[4].in = 8; ls[4].out = 1;
  return ls;
}

// The same starting parameters for every network of the test (fixed seed).
template <typename T>
Network<T> repro_network() {
  Network<T> n(repro_layers(), 16);
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<T> p(static_cast<std::size_t>(n.param_count()));
  for (auto& v : p) v = T(u(gen));
  // Batch norm's weight 1 and bias 0 (its parameters follow the first dense layer's 4·8 + 8).
  for (index_t j = 0; j < 8; ++j) { p[40 + j] = T(1); p[48 + j] = T(0); }
  std::memcpy(n.params(), p.data(), p.size() * sizeof(T));
  LossSpec mse;
  n.set_loss(mse);
  OptimizerSpec sgd;
  sgd.lr = 1e6;
  n.set_optimizer(sgd);
  return n;
}

struct Snapshot {
  std::vector<float> params, buffers;
  std::int64_t steps;
};

Snapshot snap(Network<float>& n) {
  return {std::vector<float>(n.params(), n.params() + n.param_count()),
          std::vector<float>(n.buffers(), n.buffers() + n.buffer_count()), n.step_count()};
}

bool same(const Snapshot& a, const Snapshot& b) {
  return same_bits(a.params, b.params) && same_bits(a.buffers, b.buffers) && a.steps == b.steps;
}

void test_network_repro() {
  const index_t rows = 64;
  std::vector<float> X = random_vec<float>(rows * 4);
  std::vector<float> Y(rows);
  for (index_t i = 0; i < rows; ++i) Y[i] = float(i) * 1e3f;

  // train_step, batch by batch: the first batch whose gradients overflow
  // while its loss is finite changes nothing (buffers aside: the caller
  // restores those around train_step, as Sequential.trainStep does).
  Network<float> a = repro_network<float>();
  index_t bad = -1;
  for (index_t b = 0; b < rows / 16 && bad < 0; ++b) {
    const Snapshot before = snap(a);
    const double loss = a.train_step(X.data() + b * 16 * 4, 16, nullptr, Y.data() + b * 16);
    if (!a.gradients_finite()) {
      CHECK(std::isfinite(loss));  // the case the loss check alone misses
      const Snapshot after = snap(a);
      CHECK(same_bits(before.params, after.params));
      CHECK(before.steps == after.steps);
      CHECK(!a.step());  // step() refuses the same gradients again
      CHECK(same_bits(before.params, snap(a).params));
      bad = b;
    }
  }
  CHECK(bad >= 1);  // a later batch, after good steps
  std::printf("train_step: gradients overflowed at batch %lld\n", static_cast<long long>(bad));

  // train_epoch stops at the same batch with bad_gradients, and the model is
  // the twin's after the batches before it, bit for bit (running stats too).
  Network<float> e = repro_network<float>(), twin = repro_network<float>();
  for (index_t b = 0; b < bad; ++b) twin.train_step(X.data() + b * 16 * 4, 16, nullptr, Y.data() + b * 16);
  const EpochResult r = e.train_epoch(X.data(), rows, nullptr, Y.data(), 16, nullptr);
  CHECK(r.bad_batch == bad);
  CHECK(r.bad_gradients);
  CHECK(r.batches == bad);
  CHECK(same(snap(e), snap(twin)));
  for (index_t i = 0; i < e.param_count(); ++i) CHECK(std::isfinite(e.params()[i]));

  // float64 has the range for these gradients: the same epoch runs on until
  // its loss overflows, never flagging gradients on the way.
  Network<double> d = repro_network<double>();
  std::vector<double> Xd(X.begin(), X.end()), Yd(Y.begin(), Y.end());
  const EpochResult rd = d.train_epoch(Xd.data(), rows, nullptr, Yd.data(), 16, nullptr);
  CHECK(!rd.bad_gradients || rd.bad_batch > bad);
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    test_gemm_flag<float>("float");
    test_gemm_flag<double>("double");
    test_dense_and_penalty<float>("float");
    test_dense_and_penalty<double>("double");
  }
  set_num_threads(1);
  test_network_repro();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
