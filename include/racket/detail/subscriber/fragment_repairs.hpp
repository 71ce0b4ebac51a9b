// SPDX-License-Identifier: MIT
#pragma once

// Which fragments of the large messages in progress a subscriber asks for, and when
// (docs/architecture.md, "Large messages"): a message that made no progress for `delay` has
// its missing fragments asked for from its publisher, its lowest `max_fragment_repair_runs`
// runs of missing indexes a round (the rest in the next rounds, as answers come in); while it
// stays stalled, again after 2, 4, 8, ... times the delay, at most
// `max_fragment_repair_rounds` rounds without progress and `max_fragment_repair_asks` in all.
// Time comes in as a parameter. Knows nothing of
// locks, timers, sockets or the wire (the caller encodes and sends what it is handed), nor of
// the reassembler's own rules (it only reads the messages in progress).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace racket::detail {

// Rounds of requests one message gets at most: with the default 20 ms delay the sixth is
// asked some 1.26 s after the message stalled, within the default 2 s reassembly timeout.
inline constexpr unsigned max_fragment_repair_rounds = 6;
// Runs of missing fragments one round asks for at most (four requests of 64 ranges).
inline constexpr std::size_t max_fragment_repair_runs = 256;
// Rounds one message gets in all (a 16 MiB message at 5 % loss takes three or four).
inline constexpr unsigned max_fragment_repair_asks = 64;

template <class TimePoint>
class fragment_repairs {
 public:
  using duration = typename TimePoint::duration;
  using run = std::pair<std::uint32_t, std::uint32_t>;  // inclusive fragment indexes

  // `delay` zero: never asks.
  explicit fragment_repairs(duration delay) : delay_(delay) {}

  bool enabled() const noexcept { return delay_ > duration::zero(); }
  std::size_t tracked() const noexcept { return asked_.size(); }

  // Looks at every message in progress of `r` (a reassembler: for_each_in_progress(f(stream,
  // const partial_message&, TimePoint progressed))) at `now`, and calls
  // ask(std::string_view stream, std::uint64_t publisher_id, std::uint64_t sequence,
  // std::span<const run> missing) for each one due. Returns when the next one may be due
  // (TimePoint::max(): none in progress, or none will be asked again).
  template <class Reassembler, class Ask>
  TimePoint scan(const Reassembler& r, TimePoint now, Ask&& ask) {
    TimePoint next = TimePoint::max();
    if (!enabled()) return next;
    for (auto& [k, st] : asked_) st.seen = false;
    r.for_each_in_progress([&](std::string_view stream, const auto& m, TimePoint progressed) {
      key k{std::string(stream), m.publisher_id(), m.sequence()};
      auto it = asked_.find(k);
      TimePoint due = progressed + delay_;
      if (it != asked_.end()) {
        state& st = it->second;
        st.seen = true;
        if (progressed > st.asked) st.rounds = 0;  // answers came: the back-off starts again
        if (st.rounds >= max_fragment_repair_rounds || st.asks >= max_fragment_repair_asks) return;
        if (st.rounds != 0) due = std::max(due, st.asked + delay_ * (std::int64_t{1} << st.rounds));
      }
      if (due > now) {
        next = std::min(next, due);
        return;
      }
      collect(m.fragments());
      if (runs_.empty()) return;
      ask(stream, m.publisher_id(), m.sequence(), std::span<const run>(runs_));
      if (it == asked_.end()) it = asked_.emplace(std::move(k), state{}).first;
      state& st = it->second;
      st.asked = now;
      st.seen = true;
      ++st.rounds;
      ++st.asks;
      if (st.rounds < max_fragment_repair_rounds && st.asks < max_fragment_repair_asks)
        next = std::min(next, now + delay_ * (std::int64_t{1} << st.rounds));
    });
    // Messages no longer in progress (completed, given up) are forgotten.
    std::erase_if(asked_, [](const auto& e) { return !e.second.seen; });
    return next;
  }

  void clear() noexcept { asked_.clear(); }

 private:
  using key = std::tuple<std::string, std::uint64_t, std::uint64_t>;  // stream, publisher, sequence
  struct state {
    TimePoint asked{};
    unsigned rounds = 0;  // asks since the message last made progress
    unsigned asks = 0;
    bool seen = false;
  };

  // The bitmap's lowest missing runs into runs_, at most max_fragment_repair_runs. (Merging
  // neighbours instead would ask for most of a message under random loss: at 5 % a 16 MiB
  // message has some 600 runs spread over all of it.)
  template <class Bitmap>
  void collect(const Bitmap& b) {
    runs_.clear();
    b.for_each_missing(max_fragment_repair_runs,
                       [&](std::uint32_t first, std::uint32_t last) { runs_.emplace_back(first, last); });
  }

  duration delay_;
  std::map<key, state> asked_;
  std::vector<run> runs_;
};

}  // namespace racket::detail
