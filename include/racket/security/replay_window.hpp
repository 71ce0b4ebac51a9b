// SPDX-License-Identifier: MIT
#pragma once

// racket::replay_window: which datagram counters of one sender a receiver has accepted, as
// the highest one and a bitmap of the 1,024 below it (docs/security.md, "Replay protection").
// A plain value with no I/O, no clock and no cryptography: it must NOT know keys, sockets or
// time (freshness is checked by its user).

#include <array>
#include <cstdint>

namespace racket {

/// The replay window of one sender: a datagram counter is accepted once, and only if it is
/// above the highest accepted or among the `size` below it. `check` decides without
/// changing anything (call it before the costly authentication); `accept` records a counter
/// that passed `check` and authentication. 152 bytes; not thread-safe (one per sender, on the
/// receiver's strand).
///
/// ```cpp
/// racket::replay_window w;
/// if (w.check(counter) == racket::replay_window::verdict::fresh && authentic) w.accept(counter);
/// ```
class replay_window {
 public:
  /// Counters below the highest accepted that are still remembered.
  static constexpr std::uint64_t size = 1024;

  enum class verdict {
    fresh,     ///< not seen, and new enough: accept it (after authentication)
    replayed,  ///< inside the window and already accepted
    too_old,   ///< `size` or more below the highest accepted, or 0 (counters start at 1)
  };

  /// What `accept(counter)` would mean now. Changes nothing.
  verdict check(std::uint64_t counter) const noexcept {
    if (counter == 0) return verdict::too_old;
    if (counter > highest_) return verdict::fresh;
    if (highest_ - counter >= size) return verdict::too_old;
    return seen(counter) ? verdict::replayed : verdict::fresh;
  }

  /// Records `counter`, which `check` found fresh. Moving the window forward forgets the
  /// counters that fall out of it.
  void accept(std::uint64_t counter) noexcept {
    if (check(counter) != verdict::fresh) return;
    if (counter > highest_) {
      const std::uint64_t jump = counter - highest_;
      if (jump >= size) {
        bits_.fill(0);
      } else {
        // Forget the slots the counters highest_+1 .. counter-1 will reuse (counter's own
        // slot is set below): word by word where whole words pass.
        for (std::uint64_t c = highest_ + 1; c < counter;) {
          const std::uint64_t bit = c % size;
          if (bit % 64 == 0 && counter - c >= 64) {
            bits_[bit / 64] = 0;
            c += 64;
          } else {
            bits_[bit / 64] &= ~(std::uint64_t{1} << (bit % 64));
            ++c;
          }
        }
      }
      highest_ = counter;
    }
    const std::uint64_t bit = counter % size;
    bits_[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }

  /// The highest counter accepted; 0 before the first.
  std::uint64_t highest() const noexcept { return highest_; }

 private:
  bool seen(std::uint64_t counter) const noexcept {
    const std::uint64_t bit = counter % size;
    return (bits_[bit / 64] >> (bit % 64)) & 1U;
  }

  std::uint64_t highest_ = 0;
  std::array<std::uint64_t, size / 64> bits_{};
};

}  // namespace racket
