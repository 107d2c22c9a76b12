// Fused dense + activation (activations.h ActivationTile, network.cc) against
// the unfused computation it replaces, bit for bit: every element-wise
// activation, float and double, 1 and 2 threads, ragged shapes (rows not a
// multiple of the micro-kernel's MR = 12 or 6, widths not a multiple of its
// NR = 32 or 16; small enough for gemm's unpacked path and large enough for
// the packed one with several k blocks). ctest runs it once per micro-kernel
// (FASTMLP_GEMM_KERNEL), which also picks the activation loops' instruction set.
//
// Two levels:
//  - kernels: dense_forward / dense_backward with the activation's tile
//    function against dense_forward + activation_forward and dense_backward +
//    activation_backward;
//  - networks: Network::forward_train, backward (gradients and dL/dinput) and
//    predict against the same layer-by-layer sequence written out here.
// Outputs start as NaN, so an element the fused path skipped cannot pass.
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "activation_cases.h"
#include "activations.h"
#include "check.h"
#include "layer_specs.h"
#include "dense.h"
#include "gemm.h"
#include "network.h"
#include "threads.h"

using namespace fastmlp;
using fastmlp_test::same_bits;
using fastmlp_test::g_checks;
using fastmlp_test::g_failures;
using fastmlp_test::random_vec;
using fastmlp_test::activation_spec;
using fastmlp_test::dense_spec;
using fastmlp_test::ActCase;
using fastmlp_test::elementwise_cases;

namespace {

template <typename T>
std::vector<T> nans(std::size_t n) {
  return std::vector<T>(n, std::numeric_limits<T>::quiet_NaN());
}

int g_reported = 0;
void report(bool ok, const char* what, const char* act, const char* type, index_t B,
            index_t C, index_t OC) {
  ++g_checks;
  if (ok) return;
  ++g_failures;
  if (++g_reported <= 20)
    std::fprintf(stderr, "%s differs: %s %s B=%lld C=%lld OC=%lld threads=%d\n", what, act,
                 type, static_cast<long long>(B), static_cast<long long>(C),
                 static_cast<long long>(OC), num_threads());
}

// One dense layer (B,C)→(B,OC) and activation, forward and backward, fused
// and unfused.
template <typename T>
void check_kernels(const ActCase& a, index_t B, index_t C, index_t OC, const char* type) {
  const auto inp = random_vec<T>(static_cast<std::size_t>(B * C), -2, 2);
  const auto w = random_vec<T>(static_cast<std::size_t>(OC * C), -0.5, 0.5);
  const auto bias = random_vec<T>(static_cast<std::size_t>(OC), -0.5, 0.5);
  const auto n_out = static_cast<std::size_t>(B * OC);

  // Forward: Z = inp·wᵀ + b, Y = f(Z).
  auto z_ref = nans<T>(n_out), y_ref = nans<T>(n_out);
  dense_forward(z_ref.data(), inp.data(), w.data(), bias.data(), B, C, OC);
  activation_forward(a.act, a.params, z_ref.data(), y_ref.data(), B, OC);
  auto z = nans<T>(n_out), y = nans<T>(n_out);
  const ActivationTile<T> fwd =
      activation_forward_tile(a.act, a.params, static_cast<const T*>(z.data()), y.data());
  dense_forward(z.data(), inp.data(), w.data(), bias.data(), B, C, OC, fwd.fn, &fwd);
  report(same_bits(z, z_ref), "forward Z", a.name, type, B, C, OC);
  report(same_bits(y, y_ref), "forward f(Z)", a.name, type, B, C, OC);
  auto inplace = nans<T>(n_out);  // predict's form: f(Z) over Z
  const ActivationTile<T> fwd_in =
      activation_forward_tile(a.act, a.params, static_cast<const T*>(inplace.data()),
                              inplace.data());
  dense_forward(inplace.data(), inp.data(), w.data(), bias.data(), B, C, OC, fwd_in.fn,
                &fwd_in);
  report(same_bits(inplace, y_ref), "in-place forward", a.name, type, B, C, OC);

  // Backward through a dense layer (B,OC)→(B,C2) that follows the activation:
  // dY = dOut·w2, dZ = dY ⊙ f'(Z, Y), and the layer's own gradients.
  const index_t C2 = C;  // the next layer's width: ragged too
  const auto w2 = random_vec<T>(static_cast<std::size_t>(C2 * OC), -0.5, 0.5);
  const auto dout = random_vec<T>(static_cast<std::size_t>(B * C2), -1, 1);
  auto dz_ref = nans<T>(n_out), dw_ref = nans<T>(w2.size()), db_ref = nans<T>(C2);
  dense_backward(dz_ref.data(), dw_ref.data(), db_ref.data(), dout.data(), y_ref.data(),
                 w2.data(), B, OC, C2, /*accumulate=*/false);
  activation_backward(a.act, a.params, z_ref.data(), y_ref.data(), dz_ref.data(),
                      dz_ref.data(), B, OC);
  auto dz = nans<T>(n_out), dw = nans<T>(w2.size()), db = nans<T>(C2);
  const ActivationTile<T> bwd = activation_backward_tile(
      a.act, a.params, static_cast<const T*>(dz.data()), z_ref.data(), y_ref.data());
  dense_backward(dz.data(), dw.data(), db.data(), dout.data(), y_ref.data(), w2.data(), B,
                 OC, C2, /*accumulate=*/false, bwd.fn, &bwd);
  report(same_bits(dz, dz_ref), "backward dZ", a.name, type, B, C, OC);
  report(same_bits(dw, dw_ref) && same_bits(db, db_ref), "backward dW, db", a.name, type,
         B, C, OC);
}

// The unfused network, written out: each layer's output kept for backward.
template <typename T>
struct Reference {
  std::vector<LayerSpec> layers;
  std::vector<index_t> param_off;
  std::vector<std::vector<T>> acts;  // acts[l] = input of layer l

  explicit Reference(const std::vector<LayerSpec>& ls) : layers(ls) {
    index_t off = 0;
    for (const LayerSpec& l : layers) {
      param_off.push_back(l.kind == LayerSpec::Kind::Dense ? off : -1);
      if (l.kind == LayerSpec::Kind::Dense) off += l.out * (l.in + 1);
    }
  }

  index_t width_in(std::size_t l, index_t in) const {
    for (std::size_t j = l; j-- > 0;)
      if (layers[j].kind == LayerSpec::Kind::Dense) return layers[j].out;
    return in;
  }

  const std::vector<T>& forward(const T* params, const std::vector<T>& x, index_t rows,
                                index_t in) {
    acts.assign(1, x);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const LayerSpec& L = layers[l];
      const std::vector<T>& src = acts.back();
      if (L.kind == LayerSpec::Kind::Dense) {
        std::vector<T> dst = nans<T>(static_cast<std::size_t>(rows * L.out));
        const T* p = params + param_off[l];
        dense_forward(dst.data(), src.data(), p, p + L.out * L.in, rows, L.in, L.out);
        acts.push_back(std::move(dst));
      } else if (L.kind == LayerSpec::Kind::Dropout) {  // eval mode: the identity
        acts.push_back(src);
      } else {
        const index_t C = width_in(l, in);
        std::vector<T> dst = nans<T>(src.size());
        activation_forward(L.activation, L.act_params, src.data(), dst.data(), rows, C);
        acts.push_back(std::move(dst));
      }
    }
    return acts.back();
  }

  // grads (as the network's) and dL/dinput from dout.
  void backward(const T* params, const std::vector<T>& dout, index_t rows, index_t in,
                std::vector<T>& grads, std::vector<T>& dinput) {
    std::vector<T> g = dout;
    for (std::size_t l = layers.size(); l-- > 0;) {
      const LayerSpec& L = layers[l];
      std::vector<T> dst = nans<T>(acts[l].size());
      if (L.kind == LayerSpec::Kind::Dense) {
        const index_t off = param_off[l];
        dense_backward(dst.data(), grads.data() + off, grads.data() + off + L.out * L.in,
                       g.data(), acts[l].data(), params + off, rows, L.in, L.out,
                       /*accumulate=*/false);
      } else if (L.kind == LayerSpec::Kind::Dropout) {
        dst = g;
      } else {
        activation_backward(L.activation, L.act_params, acts[l].data(), acts[l + 1].data(),
                            g.data(), dst.data(), rows, width_in(l, in));
      }
      g = std::move(dst);
    }
    dinput = std::move(g);
  }
};

template <typename T>
void check_network(const std::vector<LayerSpec>& layers, index_t in, index_t rows,
                   const char* what, const char* act, const char* type, bool eval = false) {
  Network<T> net(layers, rows);
  net.set_training(!eval);
  for (index_t i = 0; i < net.param_count(); ++i)
    net.params()[i] = static_cast<T>(0.4 * std::sin(0.7 * static_cast<double>(i) + 0.3));
  const auto x = random_vec<T>(static_cast<std::size_t>(rows * in), -2, 2);
  Reference<T> ref(layers);
  const std::vector<T>& out_ref = ref.forward(net.params(), x, rows, in);
  const T* out = net.forward_train(x.data(), rows);
  const std::vector<T> out_fused(out, out + out_ref.size());
  const index_t out_w = net.output_size();
  report(same_bits(out_fused, out_ref), (std::string(what) + " forward_train").c_str(), act,
         type, rows, in, out_w);

  const auto dout = random_vec<T>(out_ref.size(), -1, 1);
  std::vector<T> grads_ref = nans<T>(static_cast<std::size_t>(net.param_count()));
  std::vector<T> dinput_ref;
  ref.backward(net.params(), dout, rows, in, grads_ref, dinput_ref);
  std::vector<T> dinput = nans<T>(dinput_ref.size());
  net.backward(dout.data(), rows, dinput.data());
  const std::vector<T> grads(net.grads(), net.grads() + net.param_count());
  report(same_bits(grads, grads_ref), (std::string(what) + " gradients").c_str(), act, type,
         rows, in, out_w);
  report(same_bits(dinput, dinput_ref), (std::string(what) + " dL/dinput").c_str(), act,
         type, rows, in, out_w);
  // Without dL/dinput (the training step's form) the gradients are the same.
  net.backward(dout.data(), rows, nullptr);
  const std::vector<T> grads2(net.grads(), net.grads() + net.param_count());
  report(same_bits(grads2, grads_ref), (std::string(what) + " gradients, no dinput").c_str(),
         act, type, rows, in, out_w);

  std::vector<T> pred = nans<T>(out_ref.size());
  net.predict(x.data(), rows, pred.data());
  report(same_bits(pred, out_ref), (std::string(what) + " predict").c_str(), act, type, rows,
         in, out_w);
}

template <typename T>
void test_type(const char* type) {
  // (B, C, OC): rows not multiples of 12 (or 6), widths not of 32 (or 16).
  // At one thread the first two take gemm's unpacked path for every
  // product; the last, the packed one (C over 1 MiB) with k > KC (several k
  // blocks), and at two threads it splits C between them.
  // The packed path's cases (the last shape, the "wide" network) cost ~20× the
  // rest together, and what they add — tile offsets across k and column
  // blocks and threads — does not depend on the activation's formula, only on
  // whether its derivative reads Z (kept beside f(Z)) or f(Z) (written over
  // Z): relu and gelu cover both, and every activation runs the smaller cases.
  // (All eleven made this test 499 s under qemu and 279 s under ASan.)
  const index_t shapes[][3] = {{7, 13, 45}, {37, 70, 33}, {130, 200, 301}, {261, 530, 1100}};
  for (const ActCase& a : elementwise_cases()) {
    const std::string name = a.name;
    const bool packed_cases = name == "relu" || name == "gelu";
    for (const auto& s : shapes)
      if (packed_cases || s[2] < 1000) check_kernels<T>(a, s[0], s[1], s[2], type);
    // dense -> act -> dense -> act -> dense, an activation first (its
    // backward fuses, its forward cannot) and one last (forward only), with
    // a softmax (never fused) after a dense layer.
    const LayerSpec act = activation_spec(a.act, a.params);
    LayerSpec softmax;
    softmax.kind = LayerSpec::Kind::Activation;
    softmax.activation = Activation::Softmax;
    const std::vector<LayerSpec> mlp = {dense_spec(29, 70), act, dense_spec(70, 45), act,
                                        dense_spec(45, 11)};
    const std::vector<LayerSpec> ends = {act, dense_spec(29, 301), act, dense_spec(301, 19),
                                         act, dense_spec(19, 5), softmax};
    const std::vector<LayerSpec> wide = {dense_spec(300, 1100), act, dense_spec(1100, 97),
                                         act};
    check_network<T>(mlp, 29, 37, "mlp", a.name, type);
    check_network<T>(ends, 29, 13, "activation first and last", a.name, type);
    if (packed_cases) check_network<T>(wide, 300, 261, "wide", a.name, type);
    // An activation between a dense layer and a dropout (eval mode: the
    // identity): its forward fuses, its backward does not.
    LayerSpec dropout;
    dropout.kind = LayerSpec::Kind::Dropout;
    dropout.p = 0.5;
    const std::vector<LayerSpec> split = {dense_spec(29, 70), act, dropout, dense_spec(70, 9)};
    check_network<T>(split, 29, 37, "dense, activation, dropout", a.name, type, /*eval=*/true);
  }
}

void test_contract() {
  std::vector<float> c(4), x(4), y(4);
  for (Activation act : {Activation::Identity, Activation::Softmax, Activation::LogSoftmax}) {
    CHECK(!activation_is_elementwise(act));
    CHECK_THROWS(activation_forward_tile<float>(act, {}, c.data(), y.data()),
                 std::invalid_argument);
    CHECK_THROWS(activation_backward_tile<float>(act, {}, c.data(), x.data(), y.data()),
                 std::invalid_argument);
  }
  CHECK(activation_is_elementwise(Activation::Relu));
  CHECK(activation_is_elementwise(Activation::Swish));
  // With accumulate (+=) the tile function would also scale the old dinp.
  const ActivationTile<float> t =
      activation_backward_tile<float>(Activation::Relu, {}, c.data(), x.data(), y.data());
  std::vector<float> w(4), dw(4), db(2);
  CHECK_THROWS(dense_backward(c.data(), dw.data(), db.data(), x.data(), y.data(), w.data(), 2,
                              2, 2, /*accumulate=*/true, t.fn, &t),
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
