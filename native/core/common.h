// Shared vocabulary of the fastmlp core: index type, enums, error helpers.
// The core is plain C++17 and knows nothing of Node; errors are thrown as
// std::invalid_argument (bad shape or value) so the binding can map them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace fastmlp {

using index_t = std::int64_t;

// Appended values keep the existing ones' numbers. Parameters of the
// parameterised ones travel in ActivationParams (activations.h).
enum class Activation {
  Identity, Relu, Sigmoid, Tanh, Softmax,
  LeakyRelu, Elu, Selu, Softplus, Gelu, Silu, Swish, LogSoftmax,
  Hardtanh, Relu6, LogSigmoid
};
enum class LossKind {
  Mse, CrossEntropy,
  // SPEC.md §3, added with the losses area (losses.h documents each).
  Mae, Huber, Tukey, Quantile, Barron, Bce, BceWithLogits, Nll, KlDiv, Hinge,
  SquaredHinge, Dice, Focal
};
// None: unreduced values (never in training); BatchMean: kl-div only, sum / B.
enum class Reduction { Mean, Sum, None, BatchMean };
enum class OptimizerKind { Sgd, Adam, AdamW, Adagrad, RMSprop };

// Throws std::invalid_argument with `what` when `ok` is false. Used for checks
// that guard memory safety; they stay on in release builds.
inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}
// The same for a literal message: without this overload every call built a
// std::string first (a heap allocation past 15 characters), whether or not
// the check failed — on a one-row predict, checks like these cost ~1–2 µs a
// call in malloc/free and string appends (perf, bench/predict.mjs).
inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(what);
}
// The same with the message built only on failure, for messages with values
// in them on paths that run every call: make_what() → std::string.
template <class MakeWhat>
inline void require_or(bool ok, MakeWhat&& make_what) {
  if (!ok) throw std::invalid_argument(make_what());
}

}  // namespace fastmlp
