// SPDX-License-Identifier: MIT
#pragma once

// Reassembles large messages from fragments (docs/wire-format.md, "Fragmented messages" and
// its "Reassembly" part): keys (stream, publisher_id, sequence), memory caps per stream and per
// publisher, eviction of the message that progressed longest ago, timeouts, a short memory of
// completed messages, and what every dropped fragment was dropped for. Times are passed in;
// knows nothing of sockets, clocks, subscriptions nor handlers.

#include "racket/detail/hash.hpp"
#include "racket/detail/reassembly/partial_message.hpp"
#include "racket/wire/format.hpp"
#include "racket/wire/fragment.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace racket::detail {

// The reassembler's caps (defaults: docs/wire-format.md, "Reassembly").
struct reassembly_limits {
  std::size_t max_message_size = std::size_t{16} << 20;          // largest T taken (<= 64 MiB)
  std::size_t max_bytes_per_publisher = std::size_t{34} << 20;   // over all its streams
  std::size_t max_bytes_per_stream = std::size_t{64} << 20;      // over all its publishers
  std::size_t max_messages_per_stream = 64;                      // in progress at once
  std::size_t max_streams = 1024;                                // streams with state at once
  std::chrono::nanoseconds timeout = std::chrono::seconds{2};    // without a new fragment
};

// What `reassembler::add` did with a fragment.
enum class fragment_outcome : std::uint8_t {
  started,           // the first fragment of a message: held
  added,             // a new fragment of a message in progress: held
  completed,         // the last missing fragment: the message was handed out
  duplicate,         // a fragment held already, same bytes
  already_complete,  // a fragment of a message completed recently
  inconsistent,      // its message fields differ from the message's first fragment: dropped
  conflicting,       // a fragment held already with different bytes: dropped
  too_large,         // T over max_message_size, or a message that alone exceeds a cap: dropped
  hash_mismatch,     // completed, but the payload does not hash to the carried hash: dropped
  malformed,         // fields no decoder would have accepted (T, F, index, size): dropped
  no_room,           // a new stream past max_streams: dropped
};

// Why a message in progress was given up (reported to `on_lost`).
enum class loss_reason : std::uint8_t { timed_out, evicted, hash_mismatch };

// A message given up: what a subscriber tells its loss handler. Views valid during the call.
struct lost_message {
  std::string_view stream;
  std::uint64_t publisher_id = 0;
  std::uint64_t sequence = 0;
  std::string_view subject;
  std::size_t total_size = 0;
  std::size_t received_bytes = 0;
  loss_reason reason = loss_reason::timed_out;
};

struct reassembly_counters {
  std::uint64_t fragments = 0;  // every fragment given to add
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t already_complete = 0;
  std::uint64_t inconsistent = 0;
  std::uint64_t conflicting = 0;
  std::uint64_t too_large = 0;
  std::uint64_t hash_mismatch = 0;
  std::uint64_t malformed = 0;
  std::uint64_t no_room = 0;
  std::uint64_t evicted = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t buffers_reused = 0;  // messages started in a recycled buffer (no fresh memory)
};

template <class TimePoint = std::chrono::steady_clock::time_point>
class reassembler {
 public:
  // Completed messages each stream remembers (a later fragment of one is `already_complete`).
  static constexpr std::size_t recent_completions = 64;

  explicit reassembler(reassembly_limits limits = {}) : limits_(limits) {
    limits_.max_message_size = std::min(limits_.max_message_size, wire::max_message_size_limit);
    limits_.max_messages_per_stream = std::max<std::size_t>(limits_.max_messages_per_stream, 1);
  }

  const reassembly_limits& limits() const noexcept { return limits_; }
  const reassembly_counters& counters() const noexcept { return counters_; }

  // Where `add` found a stream's state: given back with the next fragment of the SAME stream,
  // it spares looking the name up again. Valid until a fragment of another stream is added
  // (which may forget streams) or the reassembler is destroyed; default: none yet.
  class stream_ref {
    friend class reassembler;
    void* s_ = nullptr;  // the stream_state
  };

  // Takes one decoded fragment of `stream` from `publisher_id`, received at `now`. On
  // `completed`, `out` holds the message (verified against its content hash). Messages given
  // up to make room are reported to on_lost(const lost_message&) first. Throws only
  // std::bad_alloc.
  template <class OnLost>
  fragment_outcome add(std::string_view stream, std::uint64_t publisher_id, const wire::fragment& f, TimePoint now,
                       assembled_message& out, OnLost&& on_lost) {
    stream_ref ref;
    return add(stream, publisher_id, f, now, out, on_lost, ref);
  }

  // As above, with `ref` (see stream_ref) filled in on the first call for a stream and used
  // by the next calls for the same stream.
  template <class OnLost>
  fragment_outcome add(std::string_view stream, std::uint64_t publisher_id, const wire::fragment& f, TimePoint now,
                       assembled_message& out, OnLost&& on_lost, stream_ref& ref) {
    ++counters_.fragments;
    if (!well_formed(f)) return count(fragment_outcome::malformed);
    if (f.total_size > limits_.max_message_size) return count(fragment_outcome::too_large);
    stream_state* s = ref.s_ != nullptr ? static_cast<stream_state*>(ref.s_) : find_stream(stream);
    if (s == nullptr) return count(fragment_outcome::no_room);
    ref.s_ = s;

    std::size_t at = find_message(*s, publisher_id, f.sequence);
    bool started = false;
    if (at == npos) {
      if (s->completed_recently(publisher_id, f.sequence)) return count(fragment_outcome::already_complete);
      const std::size_t charge = partial_message::charge_for(f);
      if (charge > limits_.max_bytes_per_stream || charge > limits_.max_bytes_per_publisher)
        return count(fragment_outcome::too_large);
      make_room(*s, publisher_id, charge, on_lost);
      // The spare buffer when it fits (and is not over twice the size: its excess is not
      // charged), so a stream of large messages reuses memory already mapped.
      std::unique_ptr<partial_message> m;
      if (spare_ != nullptr && spare_capacity_ >= f.total_size && spare_capacity_ / 2 <= f.total_size) {
        m = std::make_unique<partial_message>(publisher_id, f, std::move(spare_), spare_capacity_);
        spare_capacity_ = 0;
        ++counters_.buffers_reused;
      } else {
        m = std::make_unique<partial_message>(publisher_id, f);
      }
      s->messages.push_back(entry{std::move(m), now, 0});
      at = s->messages.size() - 1;
      s->bytes += charge;
      publisher_bytes_[publisher_id] += charge;
      total_bytes_ += charge;
      started = true;
      ++counters_.started;
    }
    s->last_hit = at;
    entry& e = s->messages[at];
    switch (e.message->add(f)) {
      case partial_message::added::duplicate: return count(fragment_outcome::duplicate);
      case partial_message::added::conflicting: return count(fragment_outcome::conflicting);
      case partial_message::added::inconsistent: return count(fragment_outcome::inconsistent);
      case partial_message::added::fresh: break;
    }
    e.progressed = now;
    e.touch = ++touch_;
    if (!e.message->complete()) return started ? fragment_outcome::started : fragment_outcome::added;

    const std::unique_ptr<partial_message> done = remove(*s, at);
    if (!done->verify(stream)) {
      on_lost(lost_message{stream, publisher_id, done->sequence(), done->subject(), done->total_size(),
                           done->received_bytes(), loss_reason::hash_mismatch});
      return count(fragment_outcome::hash_mismatch);
    }
    s->remember(publisher_id, f.sequence);
    out = done->take();
    ++counters_.completed;
    return fragment_outcome::completed;
  }

  // Keeps the buffer of a message handed out (`m.data`, once its reader is done with it) for
  // the next message that fits it: one buffer at most, the largest, up to the maximum message
  // size. What it holds is no message's: it counts against no cap.
  void recycle(assembled_message& m) noexcept {
    if (m.data != nullptr && m.capacity <= limits_.max_message_size && m.capacity > spare_capacity_) {
      spare_ = std::move(m.data);
      spare_capacity_ = m.capacity;
    }
    m.data.reset();
    m.size = m.capacity = 0;
  }
  // Bytes of the spare buffer held (0: none).
  std::size_t spare_bytes() const noexcept { return spare_capacity_; }

  fragment_outcome add(std::string_view stream, std::uint64_t publisher_id, const wire::fragment& f, TimePoint now,
                       assembled_message& out) {
    return add(stream, publisher_id, f, now, out, [](const lost_message&) noexcept {});
  }

  // Gives up every message without a new fragment for `limits().timeout` by `now`, reporting
  // each to on_lost(const lost_message&). Returns how many. Linear in the messages held.
  template <class OnLost>
  std::size_t expire(TimePoint now, OnLost&& on_lost) {
    std::size_t n = 0;
    for (auto& [name, s] : streams_) {
      for (std::size_t i = 0; i < s.messages.size();) {
        entry& e = s.messages[i];
        if (now - e.progressed < limits_.timeout) {
          ++i;
          continue;
        }
        report(name, *e.message, loss_reason::timed_out, on_lost);
        remove(s, i);
        ++counters_.timed_out;
        ++n;
      }
    }
    return n;
  }

  // Calls f(first, last) for each run of fragment indexes still missing from message
  // (stream, publisher_id, sequence), at most `max_runs` runs, lowest first; returns false if
  // no such message is in progress.
  template <class F>
  bool missing(std::string_view stream, std::uint64_t publisher_id, std::uint64_t sequence, std::size_t max_runs,
               F&& f) const {
    const auto it = streams_.find(stream);
    if (it == streams_.end()) return false;
    for (const entry& e : it->second.messages)
      if (e.message->publisher_id() == publisher_id && e.message->sequence() == sequence) {
        e.message->fragments().for_each_missing(max_runs, f);
        return true;
      }
    return false;
  }

  // Calls f(stream, const partial_message&, TimePoint progressed) for each message in
  // progress: what a subscriber scans to decide which repairs to ask for.
  template <class F>
  void for_each_in_progress(F&& f) const {
    for (const auto& [name, s] : streams_)
      for (const entry& e : s.messages) f(std::string_view{name}, *e.message, e.progressed);
  }

  std::size_t messages_in_progress() const noexcept {
    std::size_t n = 0;
    for (const auto& [name, s] : streams_) n += s.messages.size();
    return n;
  }
  // Bytes charged now: in all, on one stream, to one publisher.
  std::size_t bytes_in_use() const noexcept { return total_bytes_; }
  std::size_t stream_bytes(std::string_view stream) const noexcept {
    const auto it = streams_.find(stream);
    return it == streams_.end() ? 0 : it->second.bytes;
  }
  std::size_t publisher_bytes(std::uint64_t publisher_id) const noexcept {
    const auto it = publisher_bytes_.find(publisher_id);
    return it == publisher_bytes_.end() ? 0 : it->second;
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  struct entry {
    std::unique_ptr<partial_message> message;
    TimePoint progressed;     // when its last new fragment arrived
    std::uint64_t touch = 0;  // order of that arrival, for eviction (exact where times tie)
  };

  struct stream_state {
    std::vector<entry> messages;
    std::size_t bytes = 0;
    std::size_t last_hit = 0;  // index of the message the last fragment went to
    std::array<std::pair<std::uint64_t, std::uint64_t>, recent_completions> recent{};  // (publisher, sequence)
    std::size_t recent_next = 0;

    bool completed_recently(std::uint64_t publisher_id, std::uint64_t sequence) const noexcept {
      for (const auto& [p, q] : recent)
        if (q == sequence && p == publisher_id) return true;  // sequence 0 is never a message's
      return false;
    }
    void remember(std::uint64_t publisher_id, std::uint64_t sequence) noexcept {
      recent[recent_next] = {publisher_id, sequence};
      recent_next = (recent_next + 1) % recent.size();
    }
  };

  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  static bool well_formed(const wire::fragment& f) noexcept {
    return f.sequence != 0 && f.total_size != 0 && f.total_size <= wire::max_message_size_limit &&
           f.fragment_size >= wire::min_fragment_size && f.index < f.fragment_count() &&
           f.bytes.size() == wire::fragment_bytes(f.total_size, f.fragment_size, f.index) && !f.subject.empty() &&
           f.subject.size() <= wire::max_name_length;
  }

  fragment_outcome count(fragment_outcome o) noexcept {
    switch (o) {
      case fragment_outcome::duplicate: ++counters_.duplicates; break;
      case fragment_outcome::already_complete: ++counters_.already_complete; break;
      case fragment_outcome::inconsistent: ++counters_.inconsistent; break;
      case fragment_outcome::conflicting: ++counters_.conflicting; break;
      case fragment_outcome::too_large: ++counters_.too_large; break;
      case fragment_outcome::hash_mismatch: ++counters_.hash_mismatch; break;
      case fragment_outcome::malformed: ++counters_.malformed; break;
      case fragment_outcome::no_room: ++counters_.no_room; break;
      default: break;
    }
    return o;
  }

  stream_state* find_stream(std::string_view stream) {
    if (const auto it = streams_.find(stream); it != streams_.end()) return &it->second;
    if (streams_.size() >= limits_.max_streams) {
      // Forget streams with nothing in progress (and their recent completions) first.
      std::erase_if(streams_, [](const auto& kv) { return kv.second.messages.empty(); });
      if (streams_.size() >= limits_.max_streams) return nullptr;
    }
    return &streams_.try_emplace(std::string(stream)).first->second;
  }

  static std::size_t find_message(const stream_state& s, std::uint64_t publisher_id, std::uint64_t sequence) noexcept {
    const auto is = [&](const entry& e) {
      return e.message->sequence() == sequence && e.message->publisher_id() == publisher_id;
    };
    if (s.last_hit < s.messages.size() && is(s.messages[s.last_hit])) return s.last_hit;
    for (std::size_t i = 0; i < s.messages.size(); ++i)
      if (is(s.messages[i])) return i;
    return npos;
  }

  // Evicts messages (the one whose last new fragment is oldest first) until `charge` more
  // bytes fit the stream's and the publisher's caps and the stream has a free place.
  template <class OnLost>
  void make_room(stream_state& s, std::uint64_t publisher_id, std::size_t charge, OnLost& on_lost) {
    while (!s.messages.empty() &&
           (s.bytes + charge > limits_.max_bytes_per_stream || s.messages.size() >= limits_.max_messages_per_stream))
      evict(s, oldest_in(s), on_lost);
    while (publisher_bytes(publisher_id) + charge > limits_.max_bytes_per_publisher) {
      stream_state* victim_stream = nullptr;
      std::size_t victim = npos;
      std::uint64_t oldest = ~std::uint64_t{0};
      for (auto& [name, t] : streams_)
        for (std::size_t i = 0; i < t.messages.size(); ++i)
          if (t.messages[i].message->publisher_id() == publisher_id && t.messages[i].touch < oldest) {
            oldest = t.messages[i].touch;
            victim_stream = &t;
            victim = i;
          }
      if (victim_stream == nullptr) break;  // cannot happen: the publisher's bytes are its messages'
      evict(*victim_stream, victim, on_lost);
    }
  }

  static std::size_t oldest_in(const stream_state& s) noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < s.messages.size(); ++i)
      if (s.messages[i].touch < s.messages[best].touch) best = i;
    return best;
  }

  template <class OnLost>
  void evict(stream_state& s, std::size_t i, OnLost& on_lost) {
    report(name_of(s), *s.messages[i].message, loss_reason::evicted, on_lost);
    remove(s, i);
    ++counters_.evicted;
  }

  std::string_view name_of(const stream_state& s) const noexcept {
    for (const auto& [name, t] : streams_)
      if (&t == &s) return name;
    return {};
  }

  template <class OnLost>
  static void report(std::string_view stream, const partial_message& m, loss_reason why, OnLost& on_lost) {
    on_lost(lost_message{stream, m.publisher_id(), m.sequence(), m.subject(), m.total_size(), m.received_bytes(), why});
  }

  // Releases message i's charge and takes it out (the last message moves into its place).
  std::unique_ptr<partial_message> remove(stream_state& s, std::size_t i) noexcept {
    std::unique_ptr<partial_message> m = std::move(s.messages[i].message);
    const std::size_t charge = m->charge();
    s.bytes -= charge;
    total_bytes_ -= charge;
    if (const auto it = publisher_bytes_.find(m->publisher_id());
        it != publisher_bytes_.end() && (it->second -= charge) == 0)
      publisher_bytes_.erase(it);
    if (i + 1 != s.messages.size()) s.messages[i] = std::move(s.messages.back());
    s.messages.pop_back();
    s.last_hit = 0;
    return m;
  }

  reassembly_limits limits_;
  reassembly_counters counters_;
  std::unique_ptr<std::byte[]> spare_;  // a handed-out message's buffer, for reuse (recycle)
  std::size_t spare_capacity_ = 0;
  std::unordered_map<std::string, stream_state, name_hash, std::equal_to<>> streams_;
  std::unordered_map<std::uint64_t, std::size_t, id_hash> publisher_bytes_;
  std::size_t total_bytes_ = 0;
  std::uint64_t touch_ = 0;
};

}  // namespace racket::detail
