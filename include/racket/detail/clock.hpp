// SPDX-License-Identifier: MIT
#pragma once

// The publisher's clock helpers: the wall-clock stamp derived from steady readings, a
// splitmix64 generator and a random seed. Knows nothing of what is stamped or drawn.

#include <chrono>
#include <cstdint>
#include <random>
#include <type_traits>

namespace racket::detail {

// The timestamp a publisher stamps on a message: nanoseconds since the Unix epoch. With the
// real steady clock (used for timers, it never jumps) it is the system clock's time, derived
// from the steady readings the publisher takes anyway: the system clock's offset to the steady
// clock, read again once a second, plus the steady reading. One clock read fewer
// per publish on the idle path (~35 ns on the project's VM, where each read is a vDSO call);
// Linux slews both clocks alike, so between two reads the offset moves only when the system
// clock is set (a step shows in the stamps within a second). Executor only: not thread safe.
// A virtual clock's own reading is the stamp (its epoch taken as the Unix epoch).
template <class Clock>
class wall_stamper {
 public:
  static constexpr std::int64_t resync_ns = 1'000'000'000;

  // `now`: a reading of Clock just taken.
  std::uint64_t operator()(typename Clock::time_point now) noexcept {
    using namespace std::chrono;
    const std::int64_t s = duration_cast<nanoseconds>(now.time_since_epoch()).count();
    if constexpr (std::is_same_v<Clock, steady_clock>) {
      if (!synced_ || s - synced_at_ >= resync_ns) {
        offset_ = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() - s;
        synced_at_ = s;
        synced_ = true;
      }
      return static_cast<std::uint64_t>(s + offset_);
    } else {
      return static_cast<std::uint64_t>(s);
    }
  }

 private:
  std::int64_t offset_ = 0;
  std::int64_t synced_at_ = 0;
  bool synced_ = false;
};

// The clock of a transport (its clock_type), or the steady clock for one that names none (the
// tests' fakes): what the seal timestamps read.
template <class Transport>
struct transport_clock {
  using type = std::chrono::steady_clock;
};
template <class Transport>
  requires requires { typename Transport::clock_type; }
struct transport_clock<Transport> {
  using type = typename Transport::clock_type;
};
template <class Transport>
using transport_clock_t = typename transport_clock<Transport>::type;

// splitmix64: a tiny, fast generator with a fixed output on every platform (std's
// distributions differ between standard libraries, which would break reproducible runs).
class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

inline std::uint64_t random_seed() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

}  // namespace racket::detail
