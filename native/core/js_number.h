// Numbers in error messages written as JavaScript writes them (Number's
// toString, ECMA-262 §6.1.6.1.20 Number::toString): 1.5 not "1.500000",
// NaN/Infinity/-Infinity spelled as in JS, exponents as in "1e-7" and
// "1.5e+300". The core's messages reach users through the binding, beside
// the TypeScript engine's messages for the same errors; both must read alike.
// The digits are the shortest that round-trip (std::to_chars, C++17), the
// same digits JS chooses (both are the shortest round-trip representation).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace fastmlp {

inline std::string js_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return "0";  // -0 prints as 0 in JS too
  char buf[64];
  // Scientific form: d[.ddd]e±x, shortest digits that round-trip.
  const auto res = std::to_chars(buf, buf + sizeof buf, std::abs(v), std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const std::size_t e = sci.find('e');
  std::string digits = sci.substr(0, 1) + (e > 1 ? sci.substr(2, e - 2) : "");
  const int exp10 = std::atoi(sci.c_str() + e + 1);
  const int k = static_cast<int>(digits.size()), n = exp10 + 1;  // value = 0.digits × 10^n
  std::string out = v < 0 ? "-" : "";
  if (k <= n && n <= 21) {
    out += digits + std::string(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
  } else {
    out += digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += (n - 1 >= 0 ? "e+" : "e-") + std::to_string(std::abs(n - 1));
  }
  return out;
}

}  // namespace fastmlp
