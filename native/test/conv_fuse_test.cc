// Fused conv2d + activation (conv.h conv2d_forward / conv2d_backward with an
// ActivationTile, network.cc kFusedForward / kFusedIntoConvBackward) against
// the unfused computation it replaces, bit for bit: every element-wise
// activation, float and double, 1 and 2 threads, images going through the
// gemm one at a time (the epilogue path; and a dY ⊙ f' gathered for one
// image) and in blocks (f during the copy into the rows, f' during the
// gather), padding, strides, a pointwise kernel. ctest runs it once per
// micro-kernel (FASTMLP_GEMM_KERNEL).
//
// Two levels, as fuse_test.cc for dense layers:
//  - kernels: conv2d_forward / conv2d_backward with the activation's tiles
//    against conv2d_forward + activation_forward and activation_backward +
//    conv2d_backward;
//  - networks: Network::forward_train, backward (gradients and dL/dinput) and
//    predict against the same layer-by-layer sequence written out here.
// Outputs start as NaN, so an element the fused path skipped cannot pass.
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "activation_cases.h"
#include "activations.h"
#include "check.h"
#include "conv.h"
#include "dense.h"
#include "layer_specs.h"
#include "network.h"
#include "threads.h"

using namespace fastmlp;
using fastmlp_test::ActCase;
using fastmlp_test::activation_spec;
using fastmlp_test::dense_spec;
using fastmlp_test::elementwise_cases;
using fastmlp_test::g_checks;
using fastmlp_test::g_failures;
using fastmlp_test::random_vec;
using fastmlp_test::same_bits;

namespace {

template <typename T>
std::vector<T> nans(std::size_t n) {
  return std::vector<T>(n, std::numeric_limits<T>::quiet_NaN());
}

int g_reported = 0;
void report(bool ok, const char* what, const char* act, const char* type, const char* where) {
  ++g_checks;
  if (ok) return;
  ++g_failures;
  if (++g_reported <= 20)
    std::fprintf(stderr, "%s differs: %s %s %s threads=%d\n", what, act, type, where,
                 num_threads());
}

Conv2dShape shape_of(index_t in_c, index_t out_c, index_t h, index_t w, index_t kh, index_t kw,
                     index_t sh, index_t sw, index_t ph, index_t pw, index_t block_limit) {
  Conv2dShape s;
  s.in_c = in_c, s.out_c = out_c;
  s.win.in_h = h, s.win.in_w = w, s.win.kernel_h = kh, s.win.kernel_w = kw;
  s.win.stride_h = sh, s.win.stride_w = sw, s.win.pad_h = ph, s.win.pad_w = pw;
  s.block_limit = block_limit;
  return s;
}

// One conv2d over `rows` images and the activation, forward and backward,
// fused and unfused, with `slots` scratch slots (chunks).
template <typename T>
void check_kernels(const ActCase& a, const Conv2dShape& s, index_t rows, const char* type,
                   const char* where) {
  const index_t slots = num_threads();
  const auto x = random_vec<T>(static_cast<std::size_t>(rows * s.in_size()), -2, 2);
  const auto w = random_vec<T>(static_cast<std::size_t>(s.out_c * s.k()), -0.5, 0.5);
  const auto b = random_vec<T>(static_cast<std::size_t>(s.out_c), -0.5, 0.5);
  const auto n_out = static_cast<std::size_t>(rows * s.out_size());
  std::vector<T> scratch(static_cast<std::size_t>(slots * s.slot_size()));

  // Forward: Z = conv(x), Y = f(Z); fused into separate Z and Y, and in place.
  auto z_ref = nans<T>(n_out), y_ref = nans<T>(n_out);
  conv2d_forward(z_ref.data(), x.data(), w.data(), b.data(), rows, s, scratch.data(), slots);
  activation_forward(a.act, a.params, z_ref.data(), y_ref.data(), rows, s.out_size());
  auto z = nans<T>(n_out), y = nans<T>(n_out);
  const ActivationTile<T> fwd =
      activation_forward_tile(a.act, a.params, static_cast<const T*>(z.data()), y.data());
  conv2d_forward(z.data(), x.data(), w.data(), b.data(), rows, s, scratch.data(), slots, &fwd);
  report(same_bits(z, z_ref), "forward Z", a.name, type, where);
  report(same_bits(y, y_ref), "forward f(Z)", a.name, type, where);
  auto inplace = nans<T>(n_out);
  const ActivationTile<T> fwd_in = activation_forward_tile(
      a.act, a.params, static_cast<const T*>(inplace.data()), inplace.data());
  conv2d_forward(inplace.data(), x.data(), w.data(), b.data(), rows, s, scratch.data(), slots,
                 &fwd_in);
  report(same_bits(inplace, y_ref), "in-place forward", a.name, type, where);

  // Backward from dL/dY: dZ = dY ⊙ f'(Z, Y), then the conv's gradients.
  const auto dy = random_vec<T>(n_out, -1, 1);
  auto dz = nans<T>(n_out);
  activation_backward(a.act, a.params, z_ref.data(), y_ref.data(), dy.data(), dz.data(), rows,
                      s.out_size());
  const auto n_in = static_cast<std::size_t>(rows * s.in_size());
  auto dx_ref = nans<T>(n_in), dw_ref = nans<T>(w.size()), db_ref = nans<T>(b.size());
  conv2d_backward(dx_ref.data(), dw_ref.data(), db_ref.data(), dz.data(), x.data(), w.data(),
                  rows, s, scratch.data(), slots);
  auto dx = nans<T>(n_in), dw = nans<T>(w.size()), db = nans<T>(b.size());
  const auto dy_before = dy;
  const ActivationTile<T> bwd =
      activation_backward_tile(a.act, a.params, dy.data(), z_ref.data(), y_ref.data());
  conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), rows, s,
                  scratch.data(), slots, &bwd);
  report(same_bits(dx, dx_ref), "backward dX", a.name, type, where);
  report(same_bits(dw, dw_ref) && same_bits(db, db_ref), "backward dW, db", a.name, type, where);
  report(same_bits(dy, dy_before), "dY left unwritten", a.name, type, where);
  // No input gradient (a first layer): the weight gradients alone.
  auto dw0 = nans<T>(w.size()), db0 = nans<T>(b.size());
  conv2d_backward<T>(nullptr, dw0.data(), db0.data(), dy.data(), x.data(), w.data(), rows, s,
                     scratch.data(), slots, &bwd);
  report(same_bits(dw0, dw_ref) && same_bits(db0, db_ref), "backward dW, db without dX", a.name,
         type, where);
}

LayerSpec conv_spec(const Conv2dShape& s) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::Conv2d;
  l.in_channels = s.in_c;
  l.out_channels = s.out_c;
  l.window = s.win;
  return l;
}

// The unfused network, written out with the kernels: conv2d, dense and
// activation layers, each layer's output kept for backward.
template <typename T>
struct Reference {
  std::vector<LayerSpec> layers;
  std::vector<index_t> param_off;
  std::vector<std::vector<T>> acts;  // acts[l] = input of layer l
  std::vector<T> scratch;

  explicit Reference(const std::vector<LayerSpec>& ls) : layers(ls) {
    index_t off = 0, slot = 0;
    for (const LayerSpec& l : layers) {
      param_off.push_back(off);
      if (l.kind == LayerSpec::Kind::Dense) off += l.out * (l.in + 1);
      if (l.kind == LayerSpec::Kind::Conv2d) {
        const Conv2dShape s = shape(l);
        off += s.param_count();
        slot = std::max(slot, s.slot_size());
      }
    }
    scratch.resize(static_cast<std::size_t>(slot * num_threads()));
  }
  static Conv2dShape shape(const LayerSpec& l) {
    return Conv2dShape{l.in_channels, l.out_channels, l.window};
  }
  static index_t width_out(const LayerSpec& l, index_t in) {
    if (l.kind == LayerSpec::Kind::Dense) return l.out;
    if (l.kind == LayerSpec::Kind::Conv2d) return shape(l).out_size();
    return in;
  }

  // predict: the dense layers' gemm may take its few-rows order (any_sum_order).
  const std::vector<T>& forward(const T* params, const std::vector<T>& x, index_t rows, index_t in,
                                bool predict) {
    acts.assign(1, x);
    index_t width = in;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const LayerSpec& L = layers[l];
      const index_t out = width_out(L, width);
      std::vector<T> y = nans<T>(static_cast<std::size_t>(rows * out));
      const T* p = params + param_off[l];
      if (L.kind == LayerSpec::Kind::Dense) {
        dense_forward(y.data(), acts[l].data(), p, p + L.out * L.in, rows, L.in, L.out, GemmTileFn<T>(nullptr),
                      nullptr, predict);
      } else if (L.kind == LayerSpec::Kind::Conv2d) {
        const Conv2dShape s = shape(L);
        conv2d_forward(y.data(), acts[l].data(), p, p + s.out_c * s.k(), rows, s, scratch.data(),
                       num_threads());
      } else {
        activation_forward(L.activation, L.act_params, acts[l].data(), y.data(), rows, out);
      }
      acts.push_back(std::move(y));
      width = out;
    }
    return acts.back();
  }

  // Gradients (param_off layout) and dL/dinput of the last forward.
  void backward(const T* params, const std::vector<T>& dout, index_t rows, std::vector<T>& grads,
                std::vector<T>& dinput) {
    std::vector<T> g = dout;
    for (std::size_t l = layers.size(); l-- > 0;) {
      const LayerSpec& L = layers[l];
      std::vector<T> d = nans<T>(acts[l].size());
      const index_t width = static_cast<index_t>(acts[l].size()) / rows;
      const T* p = params + param_off[l];
      T* dp = grads.data() + param_off[l];
      if (L.kind == LayerSpec::Kind::Dense) {
        dense_backward(d.data(), dp, dp + L.out * L.in, g.data(), acts[l].data(), p, rows, L.in,
                       L.out, /*accumulate=*/false);
      } else if (L.kind == LayerSpec::Kind::Conv2d) {
        const Conv2dShape s = shape(L);
        conv2d_backward(l == 0 ? nullptr : d.data(), dp, dp + s.out_c * s.k(), g.data(),
                        acts[l].data(), p, rows, s, scratch.data(), num_threads());
      } else {
        activation_backward(L.activation, L.act_params, acts[l].data(), acts[l + 1].data(),
                            g.data(), d.data(), rows, width);
      }
      g = std::move(d);
    }
    dinput = std::move(g);
  }
};

template <typename T>
void check_network(const std::vector<LayerSpec>& layers, index_t in, index_t rows,
                   const char* where, const char* act, const char* type) {
  Network<T> net(layers, rows);
  const auto params = random_vec<T>(static_cast<std::size_t>(net.param_count()), -0.5, 0.5);
  std::copy(params.begin(), params.end(), net.params());
  const auto x = random_vec<T>(static_cast<std::size_t>(rows * in), -2, 2);
  Reference<T> ref(layers);
  const std::vector<T> y_ref = ref.forward(params.data(), x, rows, in, false);
  const T* y = net.forward_train(x.data(), rows);
  report(same_bits(std::vector<T>(y, y + y_ref.size()), y_ref), "network forward", act, type,
         where);
  const auto dout = random_vec<T>(y_ref.size(), -1, 1);
  std::vector<T> grads_ref = nans<T>(params.size()), dinput_ref;
  ref.backward(params.data(), dout, rows, grads_ref, dinput_ref);
  // dL/dinput only where the first layer is not a conv2d (none is computed there).
  const bool has_dinput = layers[0].kind != LayerSpec::Kind::Conv2d;
  std::vector<T> dinput = nans<T>(x.size());
  net.backward(dout.data(), rows, has_dinput ? dinput.data() : nullptr);
  report(same_bits(std::vector<T>(net.grads(), net.grads() + params.size()), grads_ref),
         "network gradients", act, type, where);
  if (has_dinput) report(same_bits(dinput, dinput_ref), "network dL/dinput", act, type, where);
  const std::vector<T> p_ref = ref.forward(params.data(), x, rows, in, true);
  std::vector<T> out = nans<T>(p_ref.size());
  net.predict(x.data(), rows, out.data());
  report(same_bits(out, p_ref), "network predict", act, type, where);
}

template <typename T>
void test_type(const char* type) {
  // Blocks of images (P = 7·4 = 28 columns): padding, unequal strides and
  // kernel sides; each image alone (block_limit 1: the gemm's epilogue);
  // blocks of 3 with a ragged last one; a pointwise kernel both ways; an
  // image too wide for a block (P = 400 ≥ kConvBlockColumns) by the rule.
  const Conv2dShape blocks = shape_of(2, 3, 7, 6, 3, 2, 1, 2, 1, 1, 0);
  const Conv2dShape alone = shape_of(2, 3, 7, 6, 3, 2, 1, 2, 1, 1, 1);
  const Conv2dShape threes = shape_of(3, 5, 6, 6, 2, 3, 2, 1, 0, 2, 3);
  const Conv2dShape point_blocks = shape_of(4, 6, 5, 5, 1, 1, 1, 1, 0, 0, 0);
  const Conv2dShape point_alone = shape_of(4, 6, 5, 5, 1, 1, 1, 1, 0, 0, 1);
  const Conv2dShape wide = shape_of(2, 4, 20, 20, 3, 3, 1, 1, 1, 1, 0);
  for (const ActCase& a : elementwise_cases()) {
    check_kernels<T>(a, blocks, 11, type, "blocks");
    check_kernels<T>(a, alone, 5, type, "one image a gemm");
    check_kernels<T>(a, threes, 7, type, "blocks of 3");
    check_kernels<T>(a, point_blocks, 9, type, "pointwise blocks");
    check_kernels<T>(a, point_alone, 4, type, "pointwise, one image a gemm");
    check_kernels<T>(a, wide, 3, type, "wide images");
    // conv → act → conv → act: the second conv's backward runs the first
    // activation's and writes dL/d(its input); the last activation's
    // backward is run by the conv before it from the loss gradient itself.
    const LayerSpec act = activation_spec(a.act, a.params);
    const Conv2dShape c2 = shape_of(3, 4, 7, 4, 2, 2, 1, 1, 0, 0, 0);  // blocks' output: 7 × 4
    check_network<T>({conv_spec(blocks), act, conv_spec(c2), act}, blocks.in_size(), 9,
                     "conv, act, conv, act", a.name, type);
    // A wide conv first (one image a gemm, no dL/dinput) → act → strided conv
    // → act → dense: that activation's backward belongs to the dense layer.
    const Conv2dShape c3 = shape_of(4, 3, 20, 20, 3, 3, 2, 2, 0, 0, 0);  // 9 × 9
    check_network<T>({conv_spec(wide), act, conv_spec(c3), act, dense_spec(c3.out_size(), 5)},
                     wide.in_size(), 6, "wide conv, act, conv, act, dense", a.name, type);
    // dense → act → conv → act: an activation after a dense layer, then one
    // after the conv whose backward the conv runs, with dL/dinput.
    const Conv2dShape c4 = shape_of(2, 3, 4, 5, 3, 3, 1, 1, 1, 1, 0);
    check_network<T>({dense_spec(7, c4.in_size()), act, conv_spec(c4), act}, 7, 10,
                     "dense, act, conv, act", a.name, type);
  }
}

// A tile made for another array than the conv's is refused, not misread.
void test_contract() {
  const Conv2dShape s = shape_of(1, 2, 4, 4, 3, 3, 1, 1, 0, 0, 0);
  std::vector<float> x(16), w(18), b(2), y(8), other(8), scratch(static_cast<std::size_t>(s.slot_size()));
  const ActivationTile<float> fwd =
      activation_forward_tile<float>(Activation::Relu, {}, other.data(), other.data());
  CHECK_THROWS(conv2d_forward(y.data(), x.data(), w.data(), b.data(), 2, s, scratch.data(), 1,
                              &fwd),
               std::invalid_argument);
  std::vector<float> dw(18), db(2);
  const ActivationTile<float> bwd =
      activation_backward_tile<float>(Activation::Relu, {}, other.data(), y.data(), y.data());
  CHECK_THROWS(conv2d_backward<float>(nullptr, dw.data(), db.data(), y.data(), x.data(), w.data(),
                                      2, s, scratch.data(), 1, &bwd),
               std::invalid_argument);
}

}  // namespace

int main() {
  std::printf("gemm kernel: %s\n", gemm_kernel_name());
  test_contract();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    test_type<float>("float");
    test_type<double>("double");
  }
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
