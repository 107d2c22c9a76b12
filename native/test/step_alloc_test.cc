// DESIGN.md: "steady-state training: no allocation per step". Every operator
// new of this test binary is counted; after a warm-up step (which sizes the
// plan's buffers and the thread pool's), train_step, train_epoch and predict
// on a dense MLP (relu, dropout, batch norm; cross-entropy; Adam) must
// allocate nothing, at 1 and 2 threads and in both dtypes.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "allocation_counter.h"
#include "network.h"
#include "threads.h"

namespace {
int g_failures = 0;
}  // namespace

using namespace fastmlp;

namespace {

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      ++g_failures;                                       \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
      std::printf(__VA_ARGS__);                           \
      std::printf("\n");                                  \
    }                                                     \
  } while (0)

template <typename T>
void check_steps(int threads) {
  set_num_threads(threads);
  const index_t rows = 64, in = 20, classes = 5;
  std::vector<LayerSpec> layers(5);
  layers[0].kind = LayerSpec::Kind::Dense, layers[0].in = in, layers[0].out = 48;
  layers[1].kind = LayerSpec::Kind::Activation, layers[1].activation = Activation::Relu;
  layers[2].kind = LayerSpec::Kind::Dropout, layers[2].p = 0.2;
  layers[3].kind = LayerSpec::Kind::BatchNorm, layers[3].features = 48;
  layers[4].kind = LayerSpec::Kind::Dense, layers[4].in = 48, layers[4].out = classes;
  Network<T> net(layers, rows);
  for (index_t i = 0; i < net.param_count(); ++i) net.params()[i] = T(((i * 37) % 19) - 9) / T(40);
  LossSpec loss;
  loss.kind = LossKind::CrossEntropy;
  net.set_loss(loss);
  OptimizerSpec adam;
  adam.kind = OptimizerKind::Adam;
  adam.lr = 1e-3;
  net.set_optimizer(adam);
  std::vector<T> x(rows * in), out(rows * classes);
  std::vector<std::int32_t> y(rows);
  for (index_t i = 0; i < rows * in; ++i) x[i] = T((i * 13) % 23) / T(23) - T(0.5);
  for (index_t r = 0; r < rows; ++r) y[r] = std::int32_t(r % classes);

  net.train_step(x.data(), rows, y.data(), nullptr);  // warm-up: sizes everything
  net.predict(x.data(), rows, out.data());
  net.train_epoch(x.data(), rows, y.data(), nullptr, 16, nullptr, nullptr, nullptr);
  const long before = g_allocations.load();
  for (int s = 0; s < 5; ++s) net.train_step(x.data(), rows, y.data(), nullptr);
  const long steps = g_allocations.load() - before;
  CHECK(steps == 0, "%s, %d threads: 5 train_steps allocated %ld times", sizeof(T) == 4 ? "float" : "double", threads, steps);
  const long before_epoch = g_allocations.load();
  net.train_epoch(x.data(), rows, y.data(), nullptr, 16, nullptr, nullptr, nullptr);
  const long epoch = g_allocations.load() - before_epoch;
  CHECK(epoch == 0, "%s, %d threads: a train_epoch of 4 batches allocated %ld times", sizeof(T) == 4 ? "float" : "double", threads, epoch);
  const long before_predict = g_allocations.load();
  net.predict(x.data(), rows, out.data());
  const long predict = g_allocations.load() - before_predict;
  CHECK(predict == 0, "%s, %d threads: predict allocated %ld times", sizeof(T) == 4 ? "float" : "double", threads, predict);
}

}  // namespace

int main() {
  for (int threads : {1, 2}) {
    check_steps<float>(threads);
    check_steps<double>(threads);
  }
  std::printf("%s (%d failures)\n", g_failures == 0 ? "OK" : "FAILED", g_failures);
  return g_failures == 0 ? 0 : 1;
}
