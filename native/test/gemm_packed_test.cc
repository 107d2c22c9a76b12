// op(B) = Bᵀ packed ahead (gemm_packed.h, GemmEpilogue::packed_b) and the
// predict weight cache built on it (predict_cache.h, Network::predict).
//
// gemm: with packed_b the result must be the one without it bit for bit, on
// every path that packs B (the small path's strips, the blocked path's k
// blocks, one and several threads, ragged last strips, k past a KC block)
// and on the dot path (which reads B in place either way). And packed_b must
// really be read: panels packed from another matrix B2 give the product with
// B2, bit for bit.
// Network: predict with the cache equals predict without it bit for bit,
// the cache built at the second predict with the same weights,
// at every batch size (dot path, small path, blocked path, several passes);
// every write of the parameters (params(), step() through train_step and
// train_epoch) is seen by the next predict; the memory is held only after a
// predict that packs, and freed when training starts and when disabled.
//
// Run once per micro-kernel (CMakeLists.txt), as gemm_test.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "gemm.h"
#include "gemm_blocked.h"
#include "gemm_kernels.h"
#include "gemm_packed.h"
#include "gemm_small.h"
#include "network.h"
#include "threads.h"

using namespace fastmlp;
using namespace fastmlp_test;

namespace {

template <typename T>
void relu_tile(T* c, index_t ldc, index_t rows, index_t cols, const void*) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) c[i * ldc + j] = c[i * ldc + j] > T(0) ? c[i * ldc + j] : T(0);
}

// C = A·Bᵀ (+ beta·C) + bias, relu, with and without B packed ahead.
template <typename T>
void packed_case(index_t m, index_t n, index_t k, int threads, T beta, bool any_order) {
  set_num_threads(threads);
  const auto A = seeded_vec<T>(static_cast<std::size_t>(m * k), 7 + unsigned(m));
  const auto B = seeded_vec<T>(static_cast<std::size_t>(n * k), 8 + unsigned(n));
  const auto B2 = seeded_vec<T>(static_cast<std::size_t>(n * k), 9 + unsigned(k));
  const auto bias = seeded_vec<T>(static_cast<std::size_t>(n), 10);
  const auto C0 = seeded_vec<T>(static_cast<std::size_t>(m * n), 11);
  const std::size_t size = gemm_packed_bt_size<T>(n, k);
  CHECK(size > 0);  // every kernel in this build has the one layout
  std::vector<T> P(size, T(7)), P2(size, T(7));  // non-zero: the padding must be written
  gemm_pack_bt<T>(B.data(), n, k, k, P.data());
  gemm_pack_bt<T>(B2.data(), n, k, k, P2.data());
  GemmEpilogue<T> ep;
  ep.bias = bias.data();
  ep.tile_fn = &relu_tile<T>;
  ep.any_sum_order = any_order;
  std::vector<T> plain = C0, packed = C0, plain2 = C0, packed2 = C0;
  gemm<T>(false, true, m, n, k, T(1), A.data(), k, B.data(), k, beta, plain.data(), n, ep);
  gemm<T>(false, true, m, n, k, T(1), A.data(), k, B2.data(), k, beta, plain2.data(), n, ep);
  GemmEpilogue<T> with = ep;
  with.packed_b = P.data();
  gemm<T>(false, true, m, n, k, T(1), A.data(), k, B.data(), k, beta, packed.data(), n, with);
  with.packed_b = P2.data();
  // B itself is passed: the result shows that the panels, not B, were read.
  gemm<T>(false, true, m, n, k, T(1), A.data(), k, B.data(), k, beta, packed2.data(), n, with);
  const bool ok = same_bits(plain, packed);
  CHECK(ok);
  const bool dot = gemm_detail::use_dot_path<T>(gemm_detail::kernel_config<T>(), false, true, m, &ep);
  if (any_order) CHECK(gemm_packs_bt<T>(m) == !dot);
  // The dot path reads B in place; every other path reads the panels.
  const bool read_panels = same_bits(dot ? plain : plain2, packed2);
  CHECK(read_panels);
  if (!ok || !read_panels)
    std::fprintf(stderr, "  %lldx%lldx%lld, %d threads, beta %g, any order %d\n",
                 static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(k), threads,
                 static_cast<double>(beta), any_order);
  set_num_threads(1);
}

template <typename T>
void test_packed_gemm() {
  // Rows: the dot path (≤ 8 with any order), the small path, the blocked
  // path; columns: whole and ragged strips of every kernel's width; k: short,
  // past one KC block (384/256) and ragged, past the small path's 2048.
  for (index_t m : {1, 5, 9, 13, 32, 97, 256})
    for (index_t n : {1, 10, 31, 33, 100, 512})
      for (index_t k : {1, 17, 300, 785}) {
        packed_case<T>(m, n, k, 1, T(0), true);
        packed_case<T>(m, n, k, 1, T(0), false);
      }
  packed_case<T>(256, 2048, 784, 1, T(0), true);   // the blocked path, whole A packed once
  packed_case<T>(40, 700, 2100, 1, T(0), true);    // k > 2048: blocked at few rows
  packed_case<T>(600, 130, 300, 1, T(1), true);    // several row blocks, beta 1
  for (int threads : {2, 3}) {                     // thread grids split the panels' columns
    packed_case<T>(256, 1000, 500, threads, T(0), true);
    packed_case<T>(64, 2048, 784, threads, T(0.5), true);
    packed_case<T>(33, 90, 90, threads, T(0), true);
  }
}

// 20-64-ReLU-48-Tanh-7 (ragged widths for every kernel).
template <typename T>
Network<T> make_net(index_t max_batch) {
  std::vector<LayerSpec> layers(5);
  layers[0].kind = LayerSpec::Kind::Dense; layers[0].in = 20; layers[0].out = 64;
  layers[1].kind = LayerSpec::Kind::Activation; layers[1].activation = Activation::Relu;
  layers[2].kind = LayerSpec::Kind::Dense; layers[2].in = 64; layers[2].out = 48;
  layers[3].kind = LayerSpec::Kind::Activation; layers[3].activation = Activation::Tanh;
  layers[4].kind = LayerSpec::Kind::Dense; layers[4].in = 48; layers[4].out = 7;
  return Network<T>(layers, max_batch);
}

template <typename T>
std::vector<T> predict(Network<T>& net, const std::vector<T>& x, index_t rows) {
  std::vector<T> out(static_cast<std::size_t>(rows * net.output_size()));
  net.predict(x.data(), rows, out.data());
  return out;
}

// What `net` predicts without the cache (the path of every earlier build),
// turning the cache back on afterwards (empty: disabling freed it).
template <typename T>
std::vector<T> uncached(Network<T>& net, const std::vector<T>& x, index_t rows) {
  net.set_predict_cache(false);
  std::vector<T> out = predict(net, x, rows);
  net.set_predict_cache(true);
  return out;
}

template <typename T>
void test_network_cache() {
  Network<T> net = make_net<T>(100);
  const auto w = seeded_vec<T>(static_cast<std::size_t>(net.param_count()), 21);
  std::memcpy(net.params(), w.data(), w.size() * sizeof(T));
  const auto x = seeded_vec<T>(static_cast<std::size_t>(350 * 20), 22);
  CHECK(net.predict_cache_enabled());
  // Few rows take the dot path and pack nothing: no cache is built.
  for (index_t rows = 1; rows <= gemm_detail::kDotPathMaxRows; ++rows) CHECK(same_bits(predict(net, x, rows), uncached(net, x, rows)));
  CHECK(net.predict_cache_bytes() == 0);
  // More rows: one pass, and several passes of max_batch (100) with a last short one.
  // The first predict with new weights packs per call; the second builds the
  // cache (predict_cache.h says why), the third reads it.
  for (index_t rows : {9, 32, 100, 256, 350, 305}) {
    const std::vector<T> want = uncached(net, x, rows);
    CHECK(same_bits(predict(net, x, rows), want));
    CHECK(net.predict_cache_bytes() == 0 || rows > 100);  // 350 and 305 rows: passes of 100, built by the second
    CHECK(same_bits(predict(net, x, rows), want));
    CHECK(net.predict_cache_bytes() > 0);
    CHECK(same_bits(predict(net, x, rows), want));
  }
  const std::size_t bytes = net.predict_cache_bytes();
  // At least one copy of each dense weight.
  CHECK(bytes >= static_cast<std::size_t>(20 * 64 + 64 * 48 + 48 * 7) * sizeof(T));

  // A write through params(): seen by the next predict; the memory is kept for the rebuild.
  const std::vector<T> before = predict(net, x, 64);
  net.params()[5] += T(0.5);
  const std::vector<T> after = predict(net, x, 64);
  CHECK(net.predict_cache_bytes() == bytes);
  CHECK(!same_bits(before, after));
  CHECK(same_bits(after, uncached(net, x, 64)));
  // Even a write made after taking the pointer again after a predict.
  T* p = net.params();
  p[net.param_count() - 1] -= T(1);  // the last bias
  CHECK(same_bits(predict(net, x, 64), uncached(net, x, 64)));

  // Training: train_step frees the cache (forward_train) and its step writes.
  LossSpec mse;
  mse.kind = LossKind::Mse;
  net.set_loss(mse);
  const auto y = seeded_vec<T>(static_cast<std::size_t>(64 * 7), 23);
  const std::uint64_t v0 = net.params_version();
  predict(net, x, 64);
  const std::vector<T> pre = predict(net, x, 64);
  CHECK(net.predict_cache_bytes() > 0);
  net.train_step(x.data(), 64, nullptr, y.data());
  CHECK(net.params_version() != v0);
  CHECK(net.predict_cache_bytes() == 0);
  const std::vector<T> post = predict(net, x, 64);
  CHECK(net.predict_cache_bytes() == 0);  // the first predict after training packs per call
  CHECK(same_bits(predict(net, x, 64), post));
  CHECK(net.predict_cache_bytes() > 0);   // the second builds the cache
  CHECK(!same_bits(pre, post));
  CHECK(same_bits(post, uncached(net, x, 64)));
  // A custom-loss loop: forward_train frees it, backward + step write.
  predict(net, x, 32);
  const std::vector<T> post32 = predict(net, x, 32);
  CHECK(net.predict_cache_bytes() > 0);
  const T* out = net.forward_train(x.data(), 32);
  CHECK(net.predict_cache_bytes() == 0);
  std::vector<T> dout(static_cast<std::size_t>(32 * 7));
  for (std::size_t i = 0; i < dout.size(); ++i) dout[i] = out[i] - y[i];
  net.backward(dout.data(), 32);
  CHECK(same_bits(predict(net, x, 32), post32));  // no write yet: the old weights
  net.step();
  CHECK(!same_bits(predict(net, x, 32), post32));
  CHECK(same_bits(predict(net, x, 32), uncached(net, x, 32)));
  // An epoch.
  const std::vector<T> pre_epoch = predict(net, x, 64);
  const EpochResult r = net.train_epoch(x.data(), 64, nullptr, y.data(), 16, nullptr);
  CHECK(r.batches == 4);
  CHECK(net.predict_cache_bytes() == 0);
  const std::vector<T> post_epoch = predict(net, x, 64);
  CHECK(!same_bits(pre_epoch, post_epoch));
  CHECK(same_bits(post_epoch, uncached(net, x, 64)));
  // Disabled: freed, and predict still gives the same bits.
  net.set_predict_cache(false);
  CHECK(net.predict_cache_bytes() == 0);
  CHECK(same_bits(predict(net, x, 64), post_epoch));
  CHECK(net.predict_cache_bytes() == 0);
  // allocated_bytes counts the cache (what the binding reports to V8).
  const std::size_t without = net.allocated_bytes();
  net.set_predict_cache(true);
  predict(net, x, 64);
  predict(net, x, 64);
  CHECK(net.predict_cache_bytes() > 0);
  CHECK(net.allocated_bytes() == without + net.predict_cache_bytes());
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  set_num_threads(1);
  test_packed_gemm<float>();
  test_packed_gemm<double>();
  test_network_cache<float>();
  test_network_cache<double>();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
