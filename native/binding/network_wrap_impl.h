// What the files implementing NetworkWrap share (network_wrap.cc: the class,
// its construction, settings and lifetime; network_wrap_state.cc: copies of its
// state in and out; network_wrap_run.cc: the calls that run the network). Not
// for other code: it defines a private member template of NetworkWrap.
#pragma once

#include <type_traits>

#include "network_wrap.h"

namespace fastmlp::binding {

// The element type of a Network<T>, for the generic lambdas given to visit().
template <typename N> struct element_of;
template <typename T> struct element_of<Network<T>> { using type = T; };
template <typename N> using element_t = typename element_of<std::decay_t<N>>::type;

// The dtype as lib/engine.ts spells it.
inline const char* dtype_label(Dtype d) { return d == Dtype::Float32 ? "float32" : "float64"; }

// Calls f with the core network of this object's dtype.
template <typename F>
decltype(auto) NetworkWrap::visit(F&& f) {
  return dtype_ == Dtype::Float32 ? f(*f32_) : f(*f64_);
}

}  // namespace fastmlp::binding
