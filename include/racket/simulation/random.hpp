// SPDX-License-Identifier: MIT
#pragma once

// The simulated network's PRNG: xoshiro256** seeded through splitmix64, with its own unbiased
// `below()` and `unit()` so that a seed gives the same numbers on every standard library.
// Knows nothing of networks, faults or time.

#include <array>
#include <cstdint>
#include <limits>

namespace racket::sim {

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64: the network's PRNG.
///
/// Satisfies `std::uniform_random_bit_generator`, but use its own `below()` and `unit()`
/// rather than `<random>` distributions when the result must be the same on every standard
/// library (the distributions' algorithms are unspecified and differ between implementations).
///
/// ```cpp
/// racket::sim::random_engine rng{42};
/// const auto die = 1 + rng.below(6);   // 1..6, the same on every platform
/// const bool heads = rng.unit() < 0.5;
/// ```
class random_engine {
 public:
  using result_type = std::uint64_t;

  /// Seeds the four state words with four successive splitmix64 outputs of `seed`.
  explicit random_engine(std::uint64_t seed) noexcept {
    for (auto& word : state_) word = splitmix64(seed);
  }

  /// Uses `state` as the raw generator state (must not be all zero).
  explicit random_engine(const std::array<std::uint64_t, 4>& state) noexcept : state_(state) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

  /// The next 64 random bits.
  result_type operator()() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in `[0, bound)`, without bias (rejection sampling); 0 when `bound` is 0.
  std::uint64_t below(std::uint64_t bound) noexcept {
    if (bound == 0) return 0;
    const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const std::uint64_t r = (*this)();
      if (r >= threshold) return r % bound;
    }
  }

  /// Uniform in `[0, 1)` with 53 random bits.
  double unit() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// One splitmix64 step: advances `x` and returns the mixed output.
  static constexpr std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  std::array<std::uint64_t, 4> state_{};
};

}  // namespace racket::sim
