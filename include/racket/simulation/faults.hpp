// SPDX-License-Identifier: MIT
#pragma once

// The fault model: `fault_profile` (loss, duplication, delay, jitter, reordering), which profile
// applies to a delivery, and `decide_faults`, the decision of what happens to one datagram on
// its way to one interface of one host, drawn from the PRNG it is given. Plain rules with no
// I/O: knows nothing of nodes, LANs, partitions, transports or the event queue.

#include "racket/simulation/random.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>

namespace racket::sim {

/// What happens to datagrams on their way to a receiving host. Every delivery of a datagram
/// to one interface of one host is decided independently, with the network's PRNG, at send time:
///
/// 1. with probability `loss` it is dropped;
/// 2. otherwise with probability `duplicate` it arrives twice (each copy on its own schedule);
/// 3. each copy arrives after `delay` plus a uniform draw in `[0, jitter]` (any `jitter`
///    larger than the gap between two sends reorders them naturally);
/// 4. with probability `reorder` a copy is held back a further `reorder_delay`.
///
/// Probabilities must lie in `[0, 1]` and durations must not be negative
/// (`std::invalid_argument` otherwise).
struct fault_profile {
  double loss = 0;
  double duplicate = 0;
  std::chrono::nanoseconds delay{50'000};
  std::chrono::nanoseconds jitter{0};
  double reorder = 0;
  std::chrono::nanoseconds reorder_delay{1'000'000};

  friend bool operator==(const fault_profile&, const fault_profile&) = default;
};

/// Throws `std::invalid_argument` unless every probability of `p` lies in `[0, 1]` (NaN does
/// not) and no duration is negative.
inline void validate(const fault_profile& p) {
  const auto probability = [](double v) { return v >= 0.0 && v <= 1.0; };  // false for NaN
  if (!probability(p.loss) || !probability(p.duplicate) || !probability(p.reorder)) {
    throw std::invalid_argument("sim::fault_profile: probabilities must lie in [0, 1]");
  }
  if (p.delay.count() < 0 || p.jitter.count() < 0 || p.reorder_delay.count() < 0) {
    throw std::invalid_argument("sim::fault_profile: durations must not be negative");
  }
}

/// The profile that applies to one delivery: the receiving host's own if it has one, else its
/// LAN's, else the global one (the most specific wins). Returns a reference to one of the three.
inline const fault_profile& most_specific_profile(const std::optional<fault_profile>& receiver,
                                                  const std::optional<fault_profile>& lan,
                                                  const fault_profile& global) noexcept {
  if (receiver) return *receiver;
  if (lan) return *lan;
  return global;
}

/// What the fault model decided for one datagram on its way to one interface of one host.
struct fault_verdict {
  /// One copy that arrives.
  struct copy {
    std::chrono::nanoseconds delay{0};  ///< from send to arrival, `reorder_delay` included
    bool reordered = false;             ///< held back by `fault_profile::reorder`
  };

  bool lost = false;        ///< dropped by `fault_profile::loss`: no copy arrives
  bool duplicated = false;  ///< made twice by `fault_profile::duplicate`: two copies arrive
  std::array<copy, 2> copies{};  ///< the first `count()` arrive, in the order they were drawn

  /// How many copies arrive: 0, 1 or 2.
  std::size_t count() const noexcept { return lost ? 0 : duplicated ? 2 : 1; }
  /// The copies that arrive.
  std::span<const copy> arrivals() const noexcept { return {copies.data(), count()}; }
};

/// Decides the fate of one datagram under `p`, drawing from `rng` in this fixed order (the
/// determinism of a simulated run rests on it): loss (`unit()`, only if `loss > 0`); if not
/// lost, duplication (`unit()`, only if `duplicate > 0`); then for each copy in turn, jitter
/// (`below(jitter + 1)` ns, only if `jitter > 0`) and reordering (`unit()`, only if
/// `reorder > 0`). A profile with no loss, duplication, jitter or reordering draws nothing.
///
/// ```cpp
/// racket::sim::random_engine rng{7};
/// const auto v = racket::sim::decide_faults({.loss = 0.1, .jitter = std::chrono::microseconds{50}}, rng);
/// for (const auto& c : v.arrivals()) schedule(c.delay);
/// ```
inline fault_verdict decide_faults(const fault_profile& p, random_engine& rng) noexcept {
  fault_verdict verdict;
  if (p.loss > 0 && rng.unit() < p.loss) {
    verdict.lost = true;
    return verdict;
  }
  if (p.duplicate > 0 && rng.unit() < p.duplicate) verdict.duplicated = true;
  for (std::size_t c = 0; c < verdict.count(); ++c) {
    auto delay = p.delay;
    if (p.jitter.count() > 0) {
      delay += std::chrono::nanoseconds{
          static_cast<std::chrono::nanoseconds::rep>(rng.below(static_cast<std::uint64_t>(p.jitter.count()) + 1))};
    }
    bool reordered = false;
    if (p.reorder > 0 && rng.unit() < p.reorder) {
      delay += p.reorder_delay;
      reordered = true;
    }
    verdict.copies[c] = fault_verdict::copy{delay, reordered};
  }
  return verdict;
}

}  // namespace racket::sim
