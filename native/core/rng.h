// The seeded generator of dropout masks: xoshiro128** (Blackman & Vigna,
// "Scrambled linear pseudorandom number generators", 2018) seeded through
// splitmix32 — the same algorithm, bit for bit, as lib/rng.ts, so the native
// and the TypeScript engine draw identical masks from one seed and training
// runs with dropout can be compared exactly (float64 parity tests).
#pragma once

#include <cstdint>

namespace fastmlp {

class Xoshiro128 {
 public:
  explicit Xoshiro128(std::uint64_t seed = 0) { reseed(seed); }

  // seed: a non-negative integer below 2^53 (as lib/rng.ts's Rng constructor).
  void reseed(std::uint64_t seed) {
    std::uint32_t state = static_cast<std::uint32_t>(seed & 0xffffffffu);
    std::uint32_t hi = static_cast<std::uint32_t>(seed >> 32);
    std::uint32_t w[4];
    for (auto& word : w) {
      state = (state ^ hi) + 0x9e3779b9u;
      hi = 0;
      std::uint32_t z = state;
      z = (z ^ (z >> 16)) * 0x85ebca6bu;
      z = (z ^ (z >> 13)) * 0xc2b2ae35u;
      word = z ^ (z >> 16);
    }
    s_[0] = w[0]; s_[1] = w[1]; s_[2] = w[2]; s_[3] = w[3];
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // all-zero is a fixed point
  }

  std::uint32_t next_u32() {
    const std::uint32_t result = rotl(s_[1] * 5u, 7) * 9u;
    const std::uint32_t t = s_[1] << 9;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 11);
    return result;
  }

  // Uniform in [0, 1) with 32 bits of resolution (exact in double, as in JS).
  double uniform() { return static_cast<double>(next_u32()) / 4294967296.0; }

  // The four state words, in lib/rng.ts's RngState.words order (s0..s3), so a
  // model file can store the stream and a loaded model draw on where it stopped.
  void get_state(std::uint32_t out[4]) const {
    for (int i = 0; i < 4; i++) out[i] = s_[i];
  }
  // Restores get_state's words; all zero is refused (a fixed point of the generator).
  bool set_state(const std::uint32_t in[4]) {
    if ((in[0] | in[1] | in[2] | in[3]) == 0) return false;
    for (int i = 0; i < 4; i++) s_[i] = in[i];
    return true;
  }

 private:
  static std::uint32_t rotl(std::uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  std::uint32_t s_[4];
};

}  // namespace fastmlp
