// Not a test on its own: prints one hash per computation of the core (gemm
// on every path, each activation, loss and optimizer, a short training run,
// conv2d, convtranspose2d and maxpool2d forward and backward, and short
// training runs of image plans),
// so that two builds can be compared bit for bit. scripts/check-clang.sh runs
// it from the g++ build and the clang build, once per FASTMLP_GEMM_KERNEL,
// and fails on any line that differs: the kernels are meant to give the same
// bits whichever compiler built them (no FMA contraction where the code does
// not ask for an FMA, the same k order in the asm and intrinsics kernels).
//   fastmlp_fingerprint            every line
//   FASTMLP_GEMM_KERNEL=avx2 fastmlp_fingerprint
// The inputs come from a fixed splitmix64 stream (not <random>'s
// distributions, whose algorithms belong to the standard library), and the
// hash is FNV-1a over the result's bytes, so equal lines mean equal bits.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "activations.h"
#include "conv.h"
#include "conv_transpose.h"
#include "gemm.h"
#include "losses.h"
#include "layer_specs.h"
#include "network.h"
#include "optim.h"
#include "threads.h"

using namespace fastmlp;
using fastmlp_test::activation_spec;
using fastmlp_test::dense_spec;
using fastmlp_test::kind_spec;

namespace {

// splitmix64 (Steele, Lea and Flood 2014): a fixed sequence on every compiler.
struct Stream {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi), from the top 53 bits.
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
  }
};

template <typename T>
std::vector<T> random_vector(std::size_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
  Stream rng{seed};
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(rng.uniform(lo, hi));
  return v;
}

// FNV-1a, 64-bit, over the bytes of the values.
template <typename T>
std::uint64_t hash(const T* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n * sizeof(T); ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

template <typename T>
const char* type_name() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

template <typename T>
void print(const char* what, const std::vector<T>& v) {
  std::printf("%s %s: %016llx\n", type_name<T>(), what,
              static_cast<unsigned long long>(hash(v.data(), v.size())));
}

// Shapes that take each gemm path: the unpacked small kernels (a few dozen
// rows), the packed kernels with edge tiles on both sides, whole 12×32 tiles
// (the AVX-512 float asm kernel), and a k that leaves a k % 4 tail.
template <typename T>
void gemm_lines() {
  struct Shape { index_t m, n, k; };
  const Shape shapes[] = {{7, 13, 5}, {32, 64, 48}, {100, 75, 130}, {96, 256, 515},
                          {257, 129, 300}};
  const T alphas[] = {T(1), T(0.75)};
  const T betas[] = {T(0), T(1), T(0.5)};
  char what[128];
  for (const Shape& s : shapes) {
    for (int trans = 0; trans < 4; ++trans) {
      const bool ta = trans & 1, tb = trans & 2;
      const auto a = random_vector<T>(static_cast<std::size_t>(s.m * s.k), 1);
      const auto b = random_vector<T>(static_cast<std::size_t>(s.k * s.n), 2);
      const auto c0 = random_vector<T>(static_cast<std::size_t>(s.m * s.n), 3);
      const auto bias = random_vector<T>(static_cast<std::size_t>(s.n), 4);
      for (T alpha : alphas) {
        for (T beta : betas) {
          for (int with_bias = 0; with_bias < 2; ++with_bias) {
            std::vector<T> c(c0);
            GemmEpilogue<T> epi;
            if (with_bias) epi.bias = bias.data();
            gemm<T>(ta, tb, s.m, s.n, s.k, alpha, a.data(), ta ? s.m : s.k, b.data(),
                    tb ? s.k : s.n, beta, c.data(), s.n, epi);
            std::snprintf(what, sizeof what, "gemm %lldx%lldx%lld tA=%d tB=%d alpha=%g beta=%g bias=%d",
                          static_cast<long long>(s.m), static_cast<long long>(s.n),
                          static_cast<long long>(s.k), ta, tb, static_cast<double>(alpha),
                          static_cast<double>(beta), with_bias);
            print(what, c);
          }
        }
      }
    }
  }
}

template <typename T>
void activation_lines() {
  const index_t rows = 37, cols = 53;  // odd sizes: every loop has a tail
  const auto x = random_vector<T>(static_cast<std::size_t>(rows * cols), 5, -6, 6);
  const auto dy = random_vector<T>(x.size(), 6);
  ActivationParams tanh_gelu;
  tanh_gelu.approximate = GeluApproximation::Tanh;
  char what[64];
  for (int a = 0; a <= static_cast<int>(Activation::LogSoftmax); ++a) {
    for (int approx = 0; approx < (a == static_cast<int>(Activation::Gelu) ? 2 : 1); ++approx) {
      const auto act = static_cast<Activation>(a);
      const ActivationParams params = approx ? tanh_gelu : ActivationParams{};
      std::vector<T> y(x.size()), dx(x.size());
      activation_forward(act, params, x.data(), y.data(), rows, cols);
      activation_backward(act, params, x.data(), y.data(), dy.data(), dx.data(), rows, cols);
      std::snprintf(what, sizeof what, "activation %d%s forward", a, approx ? " tanh" : "");
      print(what, y);
      std::snprintf(what, sizeof what, "activation %d%s backward", a, approx ? " tanh" : "");
      print(what, dx);
    }
  }
}

// Every loss with its defaults, on predictions in (0, 1) (valid for the
// probability losses too) and class indices or dense targets as it needs:
// values in (0, 1), or ±1 labels for the hinge losses.
template <typename T>
void loss_lines() {
  const index_t B = 29, C = 7;
  const auto pred = random_vector<T>(static_cast<std::size_t>(B * C), 7, 0.05, 0.95);
  const auto target = random_vector<T>(pred.size(), 8, 0.05, 0.95);
  std::vector<T> labels(target.size());
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = target[i] < T(0.5) ? T(-1) : T(1);
  std::vector<std::int32_t> idx(static_cast<std::size_t>(B));
  for (index_t i = 0; i < B; ++i) idx[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 5) % C);
  char what[64];
  for (int k = 0; k <= static_cast<int>(LossKind::Focal); ++k) {
    const LossSpec spec = default_loss_spec(static_cast<LossKind>(k));
    const bool indices = spec.kind == LossKind::CrossEntropy || spec.kind == LossKind::Nll;
    const bool signs = spec.kind == LossKind::Hinge || spec.kind == LossKind::SquaredHinge;
    const T* dense = indices ? nullptr : signs ? labels.data() : target.data();
    std::vector<T> grad(pred.size());
    std::vector<double> value(1);
    value[0] = loss_forward_backward(spec, pred.data(), B, C, indices ? idx.data() : nullptr,
                                     dense, grad.data());
    std::snprintf(what, sizeof what, "loss %d value", k);
    print(what, value);
    std::snprintf(what, sizeof what, "loss %d gradient", k);
    print(what, grad);
  }
}

// Five updates of every optimizer, plain and with the options that change the
// loop (momentum, nesterov, amsgrad, centered, clipping, weight decay). n is
// large enough to split across the pool's threads and odd for the tails.
template <typename T>
void optimizer_lines() {
  const index_t n = 70001;
  std::vector<OptimizerSpec> specs;
  for (OptimizerKind kind : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW,
                             OptimizerKind::Adagrad, OptimizerKind::RMSprop}) {
    OptimizerSpec plain;
    plain.kind = kind;
    specs.push_back(plain);
    OptimizerSpec rich = plain;
    rich.weight_decay = 0.01;
    rich.clip_norm = 5.0;
    rich.clip_value = 0.02;
    if (kind == OptimizerKind::Sgd) rich.momentum = 0.9, rich.nesterov = true;
    if (kind == OptimizerKind::Adam || kind == OptimizerKind::AdamW) rich.amsgrad = true;
    if (kind == OptimizerKind::RMSprop) rich.momentum = 0.5, rich.centered = true;
    if (kind == OptimizerKind::Adagrad) rich.lr_decay = 0.01;
    specs.push_back(rich);
  }
  char what[64];
  for (std::size_t s = 0; s < specs.size(); ++s) {
    std::vector<T> param = random_vector<T>(static_cast<std::size_t>(n), 9);
    std::vector<T> state(static_cast<std::size_t>(optimizer_state_size(specs[s], n)), T(0));
    for (int step = 1; step <= 5; ++step) {
      const auto grad = random_vector<T>(static_cast<std::size_t>(n), 10 + static_cast<std::uint64_t>(step), -0.1, 0.1);
      optimizer_update(specs[s], param.data(), grad.data(), state.data(), n, step);
    }
    std::snprintf(what, sizeof what, "optimizer %d %s", static_cast<int>(specs[s].kind),
                  s % 2 ? "options" : "plain");
    print(what, param);
  }
}

// A short training run through the whole plan: dense, batch norm, GELU,
// dropout, layer norm, tanh, cross-entropy, Adam; two epochs of four batches.
template <typename T>
void training_line() {
  LayerSpec dropout;
  dropout.kind = LayerSpec::Kind::Dropout;
  dropout.p = 0.2;
  const std::vector<LayerSpec> layers = {
      dense_spec(40, 64), kind_spec(LayerSpec::Kind::BatchNorm, 64),
      activation_spec(Activation::Gelu), dropout,
      dense_spec(64, 48), kind_spec(LayerSpec::Kind::LayerNorm, 48),
      activation_spec(Activation::Tanh),
      dense_spec(48, 10)};
  Network<T> net(layers, 64);
  net.set_seed(11);
  const auto init = random_vector<T>(static_cast<std::size_t>(net.param_count()), 12, -0.2, 0.2);
  std::memcpy(net.params(), init.data(), init.size() * sizeof(T));
  LossSpec loss;
  loss.kind = LossKind::CrossEntropy;
  net.set_loss(loss);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::Adam;
  opt.lr = 1e-3;
  net.set_optimizer(opt);
  const index_t rows = 256;
  const auto x = random_vector<T>(static_cast<std::size_t>(rows * 40), 13);
  std::vector<std::int32_t> y(static_cast<std::size_t>(rows));
  for (index_t i = 0; i < rows; ++i) y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7) % 10);
  for (int epoch = 0; epoch < 2; ++epoch) net.train_epoch(x.data(), rows, y.data(), nullptr, 64, nullptr);
  std::vector<T> params(net.params(), net.params() + net.param_count());
  print("training parameters", params);
  std::vector<T> out(static_cast<std::size_t>(rows * 10));
  net.predict(x.data(), rows, out.data());
  print("training predict", out);
}

// --- the image layers (conv.h, conv_transpose.h) -------------------------------
// Only their public functions, so the lines survive a rewrite of the kernels'
// loops (the bits may change then; the check compares compilers, not values).
// Nine rows and two scratch slots: with the pool's two threads each call runs
// two chunks and adds their partial dW and db (conv_chunks.h), the threaded
// path. The gemms inside take the unpacked small kernels, except those of
// the 16→32-channel 3×3 conv over 16×16 images (32 × 256 × 144 per row, above
// gemm_small.h's 96³ with two threads), which take the packed ones.

Window2d window(index_t in_h, index_t in_w, index_t kh, index_t kw, index_t sh, index_t sw,
                index_t ph, index_t pw) {
  Window2d w;
  w.in_h = in_h, w.in_w = in_w, w.kernel_h = kh, w.kernel_w = kw;
  w.stride_h = sh, w.stride_w = sw, w.pad_h = ph, w.pad_w = pw;
  return w;
}

// "11x9 k3x4 s2x3 p1x2": a window's image, kernel, stride and padding.
std::string window_name(const Window2d& w) {
  char s[96];
  std::snprintf(s, sizeof s, "%lldx%lld k%lldx%lld s%lldx%lld p%lldx%lld",
                static_cast<long long>(w.in_h), static_cast<long long>(w.in_w),
                static_cast<long long>(w.kernel_h), static_cast<long long>(w.kernel_w),
                static_cast<long long>(w.stride_h), static_cast<long long>(w.stride_w),
                static_cast<long long>(w.pad_h), static_cast<long long>(w.pad_w));
  return s;
}

constexpr index_t kImageRows = 9, kImageSlots = 2;

template <typename T>
void print_image_results(const std::string& what, const std::vector<T>& y, const std::vector<T>& dx,
                         const std::vector<T>& dweight, const std::vector<T>& dbias) {
  print((what + " forward").c_str(), y);
  print((what + " dx").c_str(), dx);
  print((what + " dweight").c_str(), dweight);
  print((what + " dbias").c_str(), dbias);
}

template <typename T>
void conv2d_line(index_t in_c, index_t out_c, const Window2d& win, std::uint64_t seed) {
  validate_window(win, false, "fingerprint conv2d");
  Conv2dShape s;
  s.in_c = in_c, s.out_c = out_c, s.win = win;
  const index_t rows = kImageRows;
  const auto x = random_vector<T>(static_cast<std::size_t>(rows * s.in_size()), seed);
  const auto weight = random_vector<T>(static_cast<std::size_t>(s.out_c * s.k()), seed + 1, -0.5, 0.5);
  const auto bias = random_vector<T>(static_cast<std::size_t>(s.out_c), seed + 2);
  const auto dy = random_vector<T>(static_cast<std::size_t>(rows * s.out_size()), seed + 3);
  std::vector<T> scratch(static_cast<std::size_t>(kImageSlots * s.slot_size()));
  std::vector<T> y(dy.size()), dx(x.size()), dweight(weight.size()), dbias(bias.size());
  conv2d_forward(y.data(), x.data(), weight.data(), bias.data(), rows, s, scratch.data(), kImageSlots);
  conv2d_backward(dx.data(), dweight.data(), dbias.data(), dy.data(), x.data(), weight.data(), rows,
                  s, scratch.data(), kImageSlots);
  char what[160];
  std::snprintf(what, sizeof what, "conv2d c%lld->%lld %s", static_cast<long long>(in_c),
                static_cast<long long>(out_c), window_name(win).c_str());
  print_image_results(what, y, dx, dweight, dbias);
}

template <typename T>
void conv_transpose2d_line(index_t in_c, index_t out_c, const Window2d& win, index_t out_pad_h,
                           index_t out_pad_w, std::uint64_t seed) {
  ConvTranspose2dShape s;
  s.in_c = in_c, s.out_c = out_c, s.win = win, s.out_pad_h = out_pad_h, s.out_pad_w = out_pad_w;
  validate_conv_transpose(s, "fingerprint convtranspose2d");
  const index_t rows = kImageRows;
  const auto x = random_vector<T>(static_cast<std::size_t>(rows * s.in_size()), seed);
  const auto weight = random_vector<T>(static_cast<std::size_t>(s.in_c * s.k()), seed + 1, -0.5, 0.5);
  const auto bias = random_vector<T>(static_cast<std::size_t>(s.out_c), seed + 2);
  const auto dy = random_vector<T>(static_cast<std::size_t>(rows * s.out_size()), seed + 3);
  std::vector<T> scratch(static_cast<std::size_t>(kImageSlots * s.slot_size()));
  std::vector<T> y(dy.size()), dx(x.size()), dweight(weight.size()), dbias(bias.size());
  conv_transpose2d_forward(y.data(), x.data(), weight.data(), bias.data(), rows, s, scratch.data(),
                           kImageSlots);
  conv_transpose2d_backward(dx.data(), dweight.data(), dbias.data(), dy.data(), x.data(),
                            weight.data(), rows, s, scratch.data(), kImageSlots);
  char what[160];
  std::snprintf(what, sizeof what, "convtranspose2d c%lld->%lld %s op%lldx%lld",
                static_cast<long long>(in_c), static_cast<long long>(out_c),
                window_name(win).c_str(), static_cast<long long>(out_pad_h),
                static_cast<long long>(out_pad_w));
  print_image_results(what, y, dx, dweight, dbias);
}

template <typename T>
void maxpool2d_line(index_t channels, const Window2d& win, std::uint64_t seed) {
  validate_window(win, true, "fingerprint maxpool2d");
  const index_t rows = kImageRows;
  const index_t out_size = channels * win.out_h() * win.out_w();
  const auto x = random_vector<T>(static_cast<std::size_t>(rows * channels * win.in_h * win.in_w), seed);
  const auto dy = random_vector<T>(static_cast<std::size_t>(rows * out_size), seed + 1);
  std::vector<T> y(dy.size()), dx(x.size());
  maxpool2d_forward(y.data(), x.data(), rows, channels, win);
  maxpool2d_backward(dx.data(), dy.data(), x.data(), rows, channels, win);
  const std::string what = "maxpool2d c" + std::to_string(channels) + " " + window_name(win);
  print((what + " forward").c_str(), y);
  print((what + " dx").c_str(), dx);
}

template <typename T>
void image_layer_lines() {
  conv2d_line<T>(3, 5, window(11, 9, 3, 4, 2, 3, 1, 2), 20);   // padded and strided, non-square
  conv2d_line<T>(16, 12, window(7, 9, 1, 1, 1, 1, 0, 0), 24);  // pointwise: no im2col
  conv2d_line<T>(16, 32, window(16, 16, 3, 3, 1, 1, 1, 1), 28); // gemm's packed path
  conv_transpose2d_line<T>(4, 3, window(5, 6, 3, 3, 2, 2, 1, 0), 1, 1, 32);  // strided, output padding
  conv_transpose2d_line<T>(12, 8, window(6, 7, 1, 1, 1, 1, 0, 0), 0, 0, 36); // pointwise
  maxpool2d_line<T>(3, window(11, 9, 3, 3, 2, 2, 1, 1), 40);   // padded (−∞ border), overlapping
  maxpool2d_line<T>(4, window(8, 10, 2, 3, 2, 2, 0, 1), 42);   // non-square, padded in w only
  maxpool2d_line<T>(5, window(9, 45, 2, 2, 2, 2, 0, 0), 44);   // pool2x2's path: odd sizes, vector tails
}

// Three Adam steps of an image plan with cross-entropy: the loss of each
// step, the parameters after them and the predict.
template <typename T>
void image_plan_lines(const char* name, const std::vector<LayerSpec>& layers, std::uint64_t seed) {
  const index_t rows = kImageRows;
  Network<T> net(layers, rows);
  const auto init = random_vector<T>(static_cast<std::size_t>(net.param_count()), seed, -0.3, 0.3);
  std::memcpy(net.params(), init.data(), init.size() * sizeof(T));
  LossSpec loss;
  loss.kind = LossKind::CrossEntropy;
  net.set_loss(loss);
  OptimizerSpec opt;
  opt.kind = OptimizerKind::Adam;
  opt.lr = 1e-2;
  net.set_optimizer(opt);
  const index_t classes = net.output_size();
  const auto x = random_vector<T>(static_cast<std::size_t>(rows * net.input_size()), seed + 1);
  std::vector<std::int32_t> y(static_cast<std::size_t>(rows));
  for (index_t i = 0; i < rows; ++i) y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 3) % classes);
  std::vector<double> losses;
  for (int step = 0; step < 3; ++step) losses.push_back(net.train_step(x.data(), rows, y.data(), nullptr));
  char what[96];
  // The losses are doubles whatever T (so their line starts "f64"): the
  // plan's own type goes in the name.
  std::snprintf(what, sizeof what, "%s training losses (%s plan)", name, type_name<T>());
  print(what, losses);
  std::vector<T> params(net.params(), net.params() + net.param_count());
  std::snprintf(what, sizeof what, "%s training parameters", name);
  print(what, params);
  std::vector<T> out(static_cast<std::size_t>(rows * classes));
  net.predict(x.data(), rows, out.data());
  std::snprintf(what, sizeof what, "%s training predict", name);
  print(what, out);
}

// conv2d (padded, strided) → maxpool2d → dense, and convtranspose2d (strided,
// output padding) → relu → conv2d (1×1) → dense.
template <typename T>
void image_training_lines() {
  LayerSpec conv;
  conv.kind = LayerSpec::Kind::Conv2d;
  conv.in_channels = 3, conv.out_channels = 6, conv.window = window(12, 10, 3, 3, 2, 1, 1, 1);
  LayerSpec pool;  // conv's output: 6 × 6×10
  pool.kind = LayerSpec::Kind::MaxPool2d;
  pool.channels = 6, pool.window = window(6, 10, 2, 2, 2, 2, 0, 0);
  image_plan_lines<T>("conv2d-maxpool2d-dense", {conv, pool, dense_spec(6 * 3 * 5, 7)}, 50);

  LayerSpec up;
  up.kind = LayerSpec::Kind::ConvTranspose2d;
  up.in_channels = 4, up.out_channels = 3, up.window = window(4, 5, 3, 3, 2, 2, 1, 1);
  up.out_pad_h = 1, up.out_pad_w = 0;  // output 8×9
  LayerSpec pointwise;
  pointwise.kind = LayerSpec::Kind::Conv2d;
  pointwise.in_channels = 3, pointwise.out_channels = 5, pointwise.window = window(8, 9, 1, 1, 1, 1, 0, 0);
  image_plan_lines<T>("convtranspose2d-relu-conv2d1x1-dense",
                          {up, activation_spec(Activation::Relu), pointwise, dense_spec(5 * 8 * 9, 6)}, 54);
}

template <typename T>
void all_lines() {
  gemm_lines<T>();
  activation_lines<T>();
  loss_lines<T>();
  optimizer_lines<T>();
  training_line<T>();
  image_layer_lines<T>();
  image_training_lines<T>();
}

}  // namespace

int main() {
  set_num_threads(2);  // the threaded splits too (their results must not depend on it)
  std::printf("kernel %s\n", gemm_kernel_name());
  all_lines<float>();
  all_lines<double>();
  set_num_threads(1);
  return 0;
}
