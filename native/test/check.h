// Minimal test vocabulary shared by the core test program's files: CHECK
// macros counting into two globals, a seeded generator and random vectors.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "common.h"

namespace fastmlp_test {

using fastmlp::index_t;

inline int g_checks = 0, g_failures = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    ++::fastmlp_test::g_checks;                                         \
    if (!(cond)) {                                                      \
      ++::fastmlp_test::g_failures;                                     \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,       \
                   __LINE__, #cond);                                    \
    }                                                                   \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                           \
  do {                                                                  \
    ++::fastmlp_test::g_checks;                                         \
    const double va_ = static_cast<double>(a);                          \
    const double vb_ = static_cast<double>(b);                          \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                             \
      ++::fastmlp_test::g_failures;                                     \
      std::fprintf(stderr, "%s:%d: CHECK_NEAR(%s, %s): %.10g vs %.10g\n", \
                   __FILE__, __LINE__, #a, #b, va_, vb_);               \
    }                                                                   \
  } while (0)

#define CHECK_THROWS(expr, Exc)                                         \
  do {                                                                  \
    ++::fastmlp_test::g_checks;                                         \
    bool thrown_ = false;                                               \
    try {                                                               \
      expr;                                                             \
    } catch (const Exc&) {                                              \
      thrown_ = true;                                                   \
    } catch (...) {                                                     \
    }                                                                   \
    if (!thrown_) {                                                     \
      ++::fastmlp_test::g_failures;                                     \
      std::fprintf(stderr, "%s:%d: %s did not throw %s\n", __FILE__,    \
                   __LINE__, #expr, #Exc);                              \
    }                                                                   \
  } while (0)

inline std::mt19937 rng(12345);

template <typename T>
std::vector<T> random_vec(std::size_t n, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(rng));
  return v;
}

// n values uniform in [-1, 1) from their own generator seeded with `seed`
// (the same vector whatever ran before), at least one element so that
// .data() is never null.
template <typename T>
std::vector<T> seeded_vec(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> v(n > 0 ? n : 1);
  for (auto& x : v) x = static_cast<T>(u(gen));
  return v;
}

// Bit-for-bit equality (NaNs and signed zeros included), the tests' check
// that two paths computed the same operations in the same order.
template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// The parts of the core test program, run by core_test.cc's main.
void test_activations();        // activations_test.cc
void test_vec_math();           // activations_test.cc
void test_cross_entropy_mse();  // losses_test.cc
void test_loss_kinds();         // losses_test.cc
void test_optim();              // optim_test.cc
void test_network();            // network_test.cc
void test_layers();             // layers_test.cc

}  // namespace fastmlp_test
