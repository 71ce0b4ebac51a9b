// SPDX-License-Identifier: MIT
#pragma once

// The fragment sends a publisher has under way: each a large message (live, a periodic
// resend, a snapshot answer) or some of its fragments (an answer to a request's fragment
// ranges) cut by `wire::fragmenter`, sent in index order a turn at a time. A turn writes at
// most `fragment_turn_datagrams` fragment datagrams, each as its head and trailer plus the
// slice of the message's payload where it lies (no copy: outgoing_datagram::rest), and hands
// them to the sender in one batch, cut into runs of full datagrams (at most 64 and 65507
// bytes, what one UDP GSO send takes); the publisher starts the next turn once the strand's
// other work, and the transport's send backlog, have gone (that is the pacing:
// docs/architecture.md, "Large messages"). Knows nothing of the cache, timers, locks or when a
// message is resent.

#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/large_values.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire/fragmenter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket::detail {

// Fragment datagrams one turn sends at most: about 370 KB at 1452-byte datagrams, under a
// tenth of the UDP transport's 4 MiB send backlog per interface and of a 4 MiB socket buffer.
inline constexpr std::size_t fragment_turn_datagrams = 256;
// Answers to fragment ranges queued at once at most (each for one message, at most 64
// ranges): past it a further answer is refused until some are sent.
inline constexpr std::size_t max_fragment_answers = 64;
// In a range given to add_ranges: the message's last fragment, whatever its count (a tail
// probe).
inline constexpr std::uint32_t last_fragment = 0xFFFFFFFFu;

// `Sender`: send_batch(std::span<outgoing_datagram>) (the transport gate); `Stream`: has
// `name`, `ep` and `counters`.
template <class Stream>
class fragment_outbox {
 public:
  fragment_outbox(std::uint64_t publisher_id, std::size_t max_datagram_size)
      : publisher_id_(publisher_id), max_datagram_size_(max_datagram_size) {}

  bool empty() const noexcept { return jobs_.empty(); }
  // Bytes of payload of the live sends not finished yet (what a publish is bounded by).
  std::size_t live_bytes() const noexcept { return live_bytes_; }
  // Live sends queued so far, and those of them whose every fragment was handed to the
  // sender (or dropped by `clear`): live sends finish in the order they were queued, so
  // live_finished() >= n means the first n have gone (what async_flush waits for).
  std::uint64_t live_queued() const noexcept { return live_queued_; }
  std::uint64_t live_finished() const noexcept { return live_finished_; }

  // Queues a message. `resend`: a periodic resend (flag resend, its own sequence), skipped
  // when a send of the same subject and sequence is still queued. False when the message
  // cannot be fragmented (names too long for the datagram size).
  bool add(Stream& s, std::string_view subject, shared_bytes payload, std::uint32_t interval_ms,
           std::uint64_t sequence, std::uint64_t timestamp_ns, std::uint64_t content_hash, bool resend) {
    if (resend) {
      for (const auto& j : jobs_)
        if (j->stream == &s && j->msg.sequence == sequence && j->subject == subject && j->whole) return true;
    }
    auto j = make_job(s, subject, std::move(payload), interval_ms, sequence, timestamp_ns, content_hash, resend);
    if (j == nullptr) return false;
    j->ranges.push_back({0, j->cut->fragment_count() - 1});
    j->next = 0;
    if (!resend) {
      live_bytes_ += j->payload->size();
      ++live_queued_;
    }
    jobs_.push_back(std::move(j));
    return true;
  }

  // Queues the fragments of a cached message named by `ranges` (inclusive indexes; `last`
  // clamped to the message's last fragment, a range starting past it ignored), flag resend.
  // A range a queued send of the same message will still send is left out. Returns how many
  // ranges were queued (0: none needed, or `max_fragment_answers` answers already queued).
  std::size_t add_ranges(Stream& s, std::string_view subject, shared_bytes payload, std::uint32_t interval_ms,
                         std::uint64_t sequence, std::uint64_t timestamp_ns, std::uint64_t content_hash,
                         std::span<const std::pair<std::uint32_t, std::uint32_t>> ranges) {
    if (answers_ >= max_fragment_answers || ranges.empty()) return 0;
    auto j = make_job(s, subject, std::move(payload), interval_ms, sequence, timestamp_ns, content_hash, true);
    if (j == nullptr) return 0;
    const std::uint32_t n = j->cut->fragment_count();
    for (auto [first, last] : ranges) {
      if (first == last_fragment) first = n - 1;
      if (first >= n || first > last) continue;
      last = std::min(last, n - 1);
      if (!still_queued(s, sequence, subject, first, last)) j->ranges.push_back({first, last});
    }
    if (j->ranges.empty()) return 0;
    std::sort(j->ranges.begin(), j->ranges.end());
    j->whole = false;
    j->next = j->ranges.front().first;
    const std::size_t queued = j->ranges.size();
    // Answers go before every other send, in the order they came (the first `answers_` jobs
    // are the answers queued): a few fragments that complete a message a subscriber holds
    // in part, ahead of the megabytes of the messages after it, which would otherwise push
    // it out of the subscriber's reassembly caps before its repair arrived. A send they
    // overtake in its middle goes on where it stopped.
    jobs_.insert(jobs_.begin() + static_cast<std::ptrdiff_t>(answers_), std::move(j));
    ++answers_;
    return queued;
  }

 private:
  struct job;

  std::unique_ptr<job> make_job(Stream& s, std::string_view subject, shared_bytes payload, std::uint32_t interval_ms,
                                std::uint64_t sequence, std::uint64_t timestamp_ns, std::uint64_t content_hash,
                                bool resend) {
    auto j = std::make_unique<job>();
    j->stream = &s;
    j->subject.assign(subject);
    j->payload = std::move(payload);
    j->resend = resend;
    j->msg = wire::large_message{.flags = resend ? wire::flags::resend : std::uint8_t{0},
                                 .interval_ms = interval_ms,
                                 .sequence = sequence,
                                 .timestamp_ns = timestamp_ns,
                                 .subject = j->subject,
                                 .payload = std::span<const std::byte>(*j->payload)};
    j->cut.emplace(publisher_id_, s.name, j->msg, max_datagram_size_, content_hash);
    if (!j->cut->valid()) return nullptr;
    return j;
  }

  // Whether a queued send of the message will still send every fragment of [first, last].
  bool still_queued(const Stream& s, std::uint64_t sequence, std::string_view subject, std::uint32_t first,
                    std::uint32_t last) const {
    for (const auto& j : jobs_) {
      if (j->stream != &s || j->msg.sequence != sequence || j->subject != subject) continue;
      for (std::size_t r = j->range; r < j->ranges.size(); ++r) {
        const std::uint32_t from = r == j->range ? j->next : j->ranges[r].first;
        if (from <= first && last <= j->ranges[r].second) return true;
      }
    }
    return false;
  }

 public:

  // One turn: up to `fragment_turn_datagrams` fragments of the queued messages, oldest
  // first, handed to `sender` in one batch. True when fragments are left for another turn.
  template <class Sender>
  bool pump(Sender& sender) {
    if (jobs_.empty()) return false;
    const std::size_t m = max_datagram_size_;
    buffer_.resize(fragment_turn_datagrams * m);
    batch_.clear();
    stream_of_.clear();
    std::size_t used = 0;
    const std::size_t max_run = std::max<std::size_t>(1, std::min<std::size_t>(64, 65507 / m));
    while (!jobs_.empty() && used < fragment_turn_datagrams) {
      job& j = *jobs_.front();
      const std::size_t run_start = batch_.size();
      while (j.range < j.ranges.size() && used < fragment_turn_datagrams) {
        // Header-checksummed (docs/wire-format.md), in three pieces: its head and trailer
        // written here, its payload where the message lies. Not copied; read by the kernel.
        const auto parts = j.cut->encode_parts(j.next, std::span<std::byte>(buffer_.data() + used * m, m),
                                               j.resend ? wire::flags::resend : std::uint8_t{0});
        batch_.push_back(
            outgoing_datagram{.to = j.stream->ep, .bytes = parts.head, .rest = {parts.payload, parts.trailer}});
        stream_of_.push_back(j.stream);
        ++used;
        if (j.next++ == j.ranges[j.range].second && ++j.range < j.ranges.size()) j.next = j.ranges[j.range].first;
      }
      // Runs of full datagrams (all but a message's last are exactly m bytes).
      for (std::size_t i = run_start; i < batch_.size();) {
        std::size_t len = 1;
        while (i + len < batch_.size() && len < max_run && batch_[i + len - 1].size() == m) ++len;
        if (len > 1 && batch_[i].size() == m) batch_[i].run_length = static_cast<std::uint16_t>(len);
        i += len;
      }
      if (j.range == j.ranges.size()) {
        if (!j.resend) {
          live_bytes_ -= j.payload->size();
          ++live_finished_;
          finished_.emplace_back(j.stream, j.msg.sequence);
        }
        if (!j.whole) --answers_;
        done_.push_back(std::move(jobs_.front()));  // its payload in the batch until it is sent
        jobs_.pop_front();
      }
    }
    sender.send_batch(std::span<outgoing_datagram>(batch_));
    done_.clear();
    for (std::size_t k = 0; k < batch_.size(); ++k) {
      auto& c = stream_of_[k]->counters;
      const send_result& res = batch_[k].result;
      bump(c.datagrams_sent, res.ok);
      bump(c.bytes_sent, std::uint64_t{res.ok} * batch_[k].size());
      bump(c.send_errors, res.failed + res.would_block);
      bump(c.fragments_sent);
    }
    batch_.clear();
    return !jobs_.empty();
  }

  // Calls f(Stream&, std::uint64_t sequence) for each live send finished since the last call,
  // in order (the publisher's tail probes start from there).
  template <class F>
  void take_finished(F&& f) {
    for (auto [stream, sequence] : finished_) f(*stream, sequence);
    finished_.clear();
  }

  void clear() noexcept {
    jobs_.clear();
    finished_.clear();
    live_bytes_ = 0;
    live_finished_ = live_queued_;
    answers_ = 0;
  }

 private:
  struct job {
    Stream* stream = nullptr;
    std::string subject;
    shared_bytes payload;
    bool resend = false;
    wire::large_message msg;
    std::optional<wire::fragmenter> cut;  // views into subject and payload above (a job never moves)
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;  // the indexes to send, inclusive, in order
    std::size_t range = 0;                // the range under way (ranges.size(): done)
    std::uint32_t next = 0;               // the next fragment to send
    bool whole = true;                    // every fragment (not an answer to fragment ranges)
  };

  std::uint64_t publisher_id_;
  std::size_t max_datagram_size_;
  std::deque<std::unique_ptr<job>> jobs_;
  std::size_t live_bytes_ = 0;
  std::uint64_t live_queued_ = 0;
  std::uint64_t live_finished_ = 0;
  std::vector<std::pair<Stream*, std::uint64_t>> finished_;  // live sends finished, not yet taken
  std::size_t answers_ = 0;  // queued answers to fragment ranges
  std::vector<std::byte> buffer_;          // one turn's datagram heads and trailers
  std::vector<std::unique_ptr<job>> done_;  // jobs finished in this turn, kept until it is sent
  std::vector<outgoing_datagram> batch_;   // one turn's batch
  std::vector<Stream*> stream_of_;         // each batch entry's stream (counting)
};

}  // namespace racket::detail
