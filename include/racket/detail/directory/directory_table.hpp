// SPDX-License-Identifier: MIT
#pragma once

// What a directory has heard and the rules it keeps it by: an entry per (role, sender id,
// stream), made by the first announcement that lists it (unless `max_entries` are held),
// refreshed by each later one, and dropped `expiry_factor` of its sender's periods after it
// was last heard. A plain class on time points handed in: knows nothing of clocks, timers,
// threads, sockets or handlers.

#include "racket/directory_options.hpp"
#include "racket/wire/announce.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace racket::detail {

template <class TimePoint>
class directory_table {
 public:
  using time_point = TimePoint;

  directory_table(unsigned expiry_factor, std::size_t max_entries) noexcept
      : factor_(std::max(1u, expiry_factor)), max_entries_(max_entries) {}

  // Takes in a decoded announcement heard at `now`; calls `appeared(const directory_entry&)`
  // for each entry it makes. Returns the entries it refused (the table was full).
  template <class Appeared>
  std::size_t heard(const wire::announcement_view& a, time_point now, Appeared&& appeared) {
    std::size_t refused = 0;
    const wire::announce_header h = a.header();
    const participant_role role = h.role == wire::announce_role::publisher ? participant_role::publisher
                                                                           : participant_role::subscriber;
    const auto touch = [&](std::string_view stream, auto&& fill) {
      key k{role, h.sender_id, std::string(stream)};
      auto it = entries_.find(k);
      const bool is_new = it == entries_.end();
      if (is_new) {
        if (entries_.size() >= max_entries_) {
          ++refused;
          return;
        }
        it = entries_.emplace(std::move(k), slot{}).first;
        it->second.entry.role = role;
        it->second.entry.stream = std::string(stream);
        it->second.entry.id = h.sender_id;
      }
      slot& s = it->second;
      s.entry.host = std::string(h.host);
      s.entry.pid = h.pid;
      s.entry.program = std::string(h.program);
      s.entry.period = std::chrono::milliseconds{h.period_ms};
      ++s.entry.announcements;
      fill(s.entry);
      s.last_heard = now;
      s.expires = now + std::chrono::duration_cast<typename time_point::duration>(s.entry.period * factor_);
      if (is_new) {
        s.entry.age = {};
        appeared(s.entry);
      }
    };
    a.for_each_publication([&](const wire::announced_publication& p) {
      touch(p.stream, [&](directory_entry& e) {
        e.subjects = p.subject_count;
        e.rate = static_cast<double>(p.rate_milli) / 1000.0;
      });
    });
    a.for_each_subscription([&](const wire::announced_subscription& sub) {
      touch(sub.stream, [&](directory_entry& e) {
        e.filters.assign(sub.filters.begin(), sub.filters.begin() + static_cast<std::ptrdiff_t>(sub.filter_count));
      });
    });
    return refused;
  }

  // Drops every entry whose time is up at `now`, calling `gone(const directory_entry&)` for each.
  template <class Gone>
  std::size_t expire(time_point now, Gone&& gone) {
    std::size_t n = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.expires <= now) {
        it->second.entry.age = std::chrono::duration_cast<std::chrono::nanoseconds>(now - it->second.last_heard);
        gone(it->second.entry);
        it = entries_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  // The earliest time an entry expires; time_point::max() when empty.
  time_point next_expiry() const noexcept {
    time_point t = time_point::max();
    for (const auto& [k, s] : entries_) t = std::min(t, s.expires);
    return t;
  }

  // Every entry, ordered by stream, then role (publishers first), then id; ages as of `now`.
  std::vector<directory_entry> snapshot(time_point now) const {
    std::vector<directory_entry> out;
    out.reserve(entries_.size());
    for (const auto& [k, s] : entries_) {
      out.push_back(s.entry);
      out.back().age = std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.last_heard);
    }
    return out;
  }

  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t max_entries() const noexcept { return max_entries_; }

 private:
  struct key {
    participant_role role;
    std::uint64_t id;
    std::string stream;
    // By stream first, so that a snapshot lists a stream's publishers and subscribers together.
    friend bool operator<(const key& a, const key& b) noexcept {
      return std::tie(a.stream, a.role, a.id) < std::tie(b.stream, b.role, b.id);
    }
  };
  struct slot {
    directory_entry entry;
    time_point last_heard{};
    time_point expires{};
  };

  unsigned factor_;
  std::size_t max_entries_;
  std::map<key, slot> entries_;
};

}  // namespace racket::detail
