// monitor: what the monitor knows of the network, as plain data, and the rules that update
// it: streams, their publishers (from announcements and from the messages and losses heard)
// and their subjects (the last value of each, cut to a preview). The io thread updates it; the
// HTTP threads read it; the caller holds the lock (`shared_model`). Knows nothing of sockets,
// HTTP, JSON or threads beyond that one mutex.
// SPDX-License-Identifier: MIT
#pragma once

#include <racket/racket.hpp>

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace racket_examples::monitor {

/// Bounds: every input from the network is hostile.
inline constexpr std::size_t preview_bytes = 96;        // bytes of a value kept for its preview
inline constexpr std::size_t max_subjects_per_stream = 4096;
inline constexpr std::size_t max_publishers_per_stream = 256;
/// A publisher no longer announced and not heard for this long is forgotten (a restarted
/// process comes back under a new id).
inline constexpr std::chrono::seconds forget_publisher_after{60};

using clock = std::chrono::steady_clock;

/// The last value of one subject.
struct subject_state {
  std::string preview;  // the first preview_bytes bytes of the value
  std::size_t size = 0;
  std::uint64_t xxh3 = 0;
  std::uint64_t publisher = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;  // the publisher's wall clock
  std::int64_t interval_ms = 0;
  std::uint64_t updates = 0;       // messages delivered for the subject (resends of a same value are not)
  clock::time_point received{};
};

/// One publisher of a stream: what it announced, and what the monitor heard of it.
struct publisher_state {
  bool announced = false;  // heard in the directory
  std::string host;
  std::string program;
  std::uint32_t pid = 0;
  std::uint32_t announced_subjects = 0;
  double announced_rate = 0;
  std::uint64_t messages = 0;      // messages delivered from it
  std::uint64_t gaps = 0;          // sequence numbers missed (loss events)
  std::uint64_t loss_events = 0;   // runs of missed sequence numbers
  double rate = 0;                 // messages/s delivered, over the last tick
  std::uint64_t messages_at_tick = 0;
  clock::time_point last_heard{};
};

/// One stream the monitor watches.
struct stream_state {
  std::string endpoint;  // "group:port"
  bool subscribed = false;
  std::string error;     // why subscribing failed
  racket::subscriber_stream_stats counters{};
  double rate = 0;       // records received per second over the last tick
  std::uint64_t received_at_tick = 0;
  std::uint32_t subscribers = 0;  // other subscribers announced in the directory
  std::map<std::uint64_t, publisher_state> publishers;
  std::map<std::string, subject_state, std::less<>> subjects;
  std::uint64_t subjects_refused = 0;    // past max_subjects_per_stream
  std::uint64_t publishers_refused = 0;  // past max_publishers_per_stream
};

/// Everything the monitor shows. Update rules only: no I/O.
class model {
 public:
  std::map<std::string, stream_state, std::less<>> streams;
  racket::transport_stats transport{};
  racket::directory_stats directory{};
  clock::time_point started = clock::now();
  std::uint64_t ticks = 0;

  stream_state& add_stream(const std::string& name, const std::string& endpoint) {
    auto& s = streams[name];
    s.endpoint = endpoint;
    return s;
  }

  /// A delivered message.
  static void on_message(stream_state& s, std::string_view subject, racket::byte_view payload, std::uint64_t publisher,
                         std::uint64_t sequence, std::uint64_t timestamp_ns, std::int64_t interval_ms,
                         clock::time_point now) {
    if (auto* p = find_or_add_publisher(s, publisher)) {
      ++p->messages;
      p->last_heard = now;
    }
    auto it = s.subjects.find(subject);
    if (it == s.subjects.end()) {
      if (s.subjects.size() >= max_subjects_per_stream) {
        ++s.subjects_refused;
        return;
      }
      it = s.subjects.emplace(std::string(subject), subject_state{}).first;
    }
    auto& v = it->second;
    const auto* bytes = reinterpret_cast<const char*>(payload.data());
    v.preview.assign(bytes, std::min(payload.size(), preview_bytes));
    v.size = payload.size();
    v.xxh3 = XXH3_64bits(payload.data(), payload.size());
    v.publisher = publisher;
    v.sequence = sequence;
    v.timestamp_ns = timestamp_ns;
    v.interval_ms = interval_ms;
    ++v.updates;
    v.received = now;
  }

  /// A subject withdrawn, expired or evicted: it is no longer shown.
  static void on_removal(stream_state& s, std::string_view subject) {
    const auto it = s.subjects.find(subject);
    if (it != s.subjects.end()) s.subjects.erase(it);
  }

  /// Sequence numbers `first`..`last` of `publisher` never arrived.
  static void on_loss(stream_state& s, std::uint64_t publisher, std::uint64_t first, std::uint64_t last) {
    if (auto* p = find_or_add_publisher(s, publisher)) {
      p->gaps += last >= first ? last - first + 1 : 0;
      ++p->loss_events;
      p->last_heard = clock::now();
    }
  }

  /// Once a tick (about a second): the directory's entries (but the monitor's own
  /// subscriptions, announced under `self_id`), and the rates since the last tick.
  void on_tick(const std::vector<racket::directory_entry>& entries, std::uint64_t self_id, double seconds,
               clock::time_point now) {
    ++ticks;
    for (auto& [name, s] : streams) {
      s.subscribers = 0;
      for (auto& [id, p] : s.publishers) p.announced = false;
    }
    for (const auto& e : entries) {
      const auto it = streams.find(e.stream);
      if (it == streams.end()) continue;
      auto& s = it->second;
      if (e.role == racket::participant_role::subscriber) {
        if (e.id != self_id) ++s.subscribers;
        continue;
      }
      auto* p = find_or_add_publisher(s, e.id);
      if (p == nullptr) continue;
      p->announced = true;
      p->host = e.host;
      p->program = e.program;
      p->pid = e.pid;
      p->announced_subjects = e.subjects;
      p->announced_rate = e.rate;
      const auto heard = now - std::chrono::duration_cast<clock::duration>(e.age);
      p->last_heard = std::max(p->last_heard, heard);
    }
    for (auto& [name, s] : streams) {
      std::erase_if(s.publishers, [&](const auto& kv) {
        return !kv.second.announced && now - kv.second.last_heard > forget_publisher_after;
      });
      if (seconds > 0) s.rate = static_cast<double>(s.counters.received - s.received_at_tick) / seconds;
      s.received_at_tick = s.counters.received;
      for (auto& [id, p] : s.publishers) {
        if (seconds > 0) p.rate = static_cast<double>(p.messages - p.messages_at_tick) / seconds;
        p.messages_at_tick = p.messages;
      }
    }
  }

 private:
  static publisher_state* find_or_add_publisher(stream_state& s, std::uint64_t id) {
    const auto it = s.publishers.find(id);
    if (it != s.publishers.end()) return &it->second;
    if (s.publishers.size() >= max_publishers_per_stream) {
      ++s.publishers_refused;
      return nullptr;
    }
    return &s.publishers[id];
  }
};

/// The model and the one mutex that guards it: the io thread writes under it, the HTTP
/// threads read under it.
class shared_model {
 public:
  template <class F>
  decltype(auto) write(F&& f) {
    std::lock_guard lock(mutex_);
    return f(model_);
  }
  template <class F>
  decltype(auto) read(F&& f) const {
    std::lock_guard lock(mutex_);
    return f(static_cast<const model&>(model_));
  }

 private:
  mutable std::mutex mutex_;
  model model_;
};

}  // namespace racket_examples::monitor
