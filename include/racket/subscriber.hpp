// SPDX-License-Identifier: MIT
#pragma once

#include "racket/codec.hpp"
#include "racket/detail/chunked_vector.hpp"
#include "racket/detail/clock.hpp"
#include "racket/detail/config.hpp"
#include "racket/detail/earliest_timer.hpp"
#include "racket/detail/flat_index.hpp"
#include "racket/detail/hash.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/stream.hpp"
#include "racket/subject.hpp"
#include "racket/subscription_index.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace racket {

/// Options of a subscriber, filled with designated initialisers:
/// `racket::subscriber_options{.interfaces = {"lo"}, .expiry_factor = 3}`.
struct subscriber_options {
  /// Interfaces to join on; empty: every interface that is up and can carry multicast.
  std::vector<std::string> interfaces{};
  /// SO_RCVBUF requested per (group, port) socket.
  int receive_buffer_size = 4 << 20;
  /// How often the interface selection is re-run, so groups are joined on interfaces that
  /// appear (or come up) and dropped from ones that vanish; 0 disables.
  std::chrono::milliseconds rescan_interval{5000};
  /// A subject not refreshed within `expiry_factor` × its interval expires.
  unsigned expiry_factor = 3;
  /// Most subjects tracked per stream; past it the subject closest to expiry is evicted (counted).
  std::size_t max_subjects_per_stream = 1'000'000;
  /// Most publishers whose sequence is tracked per stream (for gap counting); past it the one
  /// seen longest ago is forgotten.
  std::size_t max_publishers_per_stream = 4096;
  /// How long a one-shot event's (publisher, sequence) is remembered to suppress the copies
  /// that arrive over several interfaces.
  std::chrono::milliseconds event_window{1000};
  /// Largest datagram accepted; larger ones are dropped as malformed.
  std::size_t max_datagram_size = wire::max_datagram_size_limit;
  /// Send a snapshot request when a subscription starts, and a repair request (the missing
  /// sequence ranges) when a publisher's sequence shows a gap, so that the current values
  /// arrive in about a round trip instead of a resend interval
  /// (docs/architecture.md, "Snapshots and gap repair").
  bool request_snapshots = true;
  /// How long gaps of one publisher are collected before one repair request goes out.
  std::chrono::milliseconds repair_holdoff{5};
  /// Repair requests per (stream, publisher) per second, at most (token bucket; 0: unlimited),
  /// and the bucket's size. Keep them below the publishers' `snapshot_requests_per_second`
  /// and `snapshot_request_burst` (20 and 10 by default): a request over the publisher's limit
  /// is dropped there, and what it asked for then waits for the periodic resends. Gaps seen
  /// while no token is left wait and merge into the next request.
  double repair_requests_per_second = 16;
  unsigned repair_request_burst = 8;
  /// Seed of the requester id this subscriber puts in its requests; 0 draws one from
  /// `std::random_device`.
  std::uint64_t seed = 0;
  /// Ask the kernel for UDP GRO where it has it (Linux 5.0+): datagrams it coalesced arrive
  /// in one read and are split again here, one handler call each. `false`: one per read.
  bool segmentation_offload = true;
  /// Busy polling for the lowest latency, at the price of a busy core: after its sockets are
  /// found empty the subscriber keeps reading them, without blocking, for up to this long
  /// before it waits on the event loop again (`transport_options::busy_poll`). Zero (the
  /// default): never poll. Best on an `io_context` (and a core) of the subscriber's own.
  std::chrono::microseconds busy_poll{0};
};

/// Why a subject's value went away.
enum class removal_reason {
  withdrawn,  ///< its publisher sent a tombstone
  expired,    ///< not refreshed within `expiry_factor` intervals: its publisher went away
  evicted,    ///< the per-stream cap on tracked subjects was reached
};

/// One delivered message, valid only during the handler call (views point into the datagram).
template <class T>
struct message {
  std::string_view stream;
  std::string_view subject;
  const T& value;              ///< the payload as decoded by the stream's codec
  byte_view payload;           ///< the payload's bytes
  std::uint64_t publisher_id;
  std::uint64_t sequence;
  std::uint64_t timestamp_ns;  ///< publisher's wall clock, ns since the Unix epoch
  std::chrono::milliseconds interval;
  bool is_new;                 ///< first value of this subject (or first since it went away)
  bool resend;                 ///< arrived as a periodic resend (or a replay to a new subscription)
};

/// Sequence numbers of one publisher on one stream that never arrived (`set_loss_handler`).
/// With `request_snapshots` a repair request for them follows within `repair_holdoff`.
struct loss_event {
  std::string_view stream;
  std::uint64_t publisher_id;
  std::uint64_t first;  ///< first missing sequence number
  std::uint64_t last;   ///< last missing sequence number (inclusive)
};

/// A subject that went away, for the removal handler.
struct removal {
  std::string_view stream;
  std::string_view subject;
  std::uint64_t publisher_id;
  removal_reason reason;
};

/// Counters of one stream on one subscriber (plain struct, copied out). Datagram-level
/// counters (`datagrams_received`, `malformed`, `foreign`) are those of the stream's (group,
/// port): a malformed datagram cannot be attributed to a stream.
struct subscriber_stream_stats {
  std::uint64_t datagrams_received = 0;  ///< on the stream's group and port (snapshot requests apart)
  std::uint64_t malformed = 0;           ///< datagrams dropped by the decoder, on that group and port
  std::uint64_t foreign = 0;             ///< valid datagrams of other streams sharing the group and port
  std::uint64_t received = 0;            ///< records of this stream
  std::uint64_t delivered = 0;           ///< handler calls
  std::uint64_t filtered = 0;            ///< records no subscription matched
  std::uint64_t duplicates = 0;          ///< same content hash as the last delivered
  std::uint64_t stale = 0;               ///< older than what was delivered
  std::uint64_t gaps = 0;                ///< sequence numbers missed, per publisher
  std::uint64_t repairs_requested = 0;   ///< repair (range) requests sent for missed sequence numbers
  std::uint64_t snapshot_requests_sent = 0;  ///< full snapshot requests sent (one per subscription start)
  std::uint64_t requests_seen = 0;       ///< snapshot requests heard on this group and port (ignored; requests reach a data group only where it is the request group of another group, `request_endpoint`)
  std::uint64_t withdrawn = 0;           ///< tombstones applied
  std::uint64_t expired = 0;             ///< subjects expired
  std::uint64_t evicted = 0;             ///< subjects evicted by the cap
  std::uint64_t decode_errors = 0;       ///< payloads the codec refused
  std::uint64_t handler_errors = 0;      ///< exceptions thrown by handlers
  std::uint64_t tracked_subjects = 0;    ///< subjects held now
};

namespace detail {

struct delivery_record {
  std::string_view stream;
  std::string_view subject;
  byte_view payload;
  std::uint64_t publisher_id;
  std::uint64_t sequence;
  std::uint64_t timestamp_ns;
  std::uint32_t interval_ms;
  bool is_new;
  bool resend;
};

struct subscription_entry {
  std::uint64_t id = 0;
  std::string stream;
  endpoint ep;
  subject_filter filter;
  std::function<bool(const delivery_record&)> deliver;  // false: the codec refused the payload
  std::function<void(const removal&)> on_removed;
  std::atomic<bool> active{true};
  bool replayed = false;  // executor only: live deliveries start after the replay of held values
};

template <class Transport, class Clock>
class subscriber_impl : public std::enable_shared_from_this<subscriber_impl<Transport, Clock>> {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;
  using entry_ptr = std::shared_ptr<subscription_entry>;

  subscriber_impl(typename Transport::context_type& ctx, const subscriber_options& opts)
      : opts_(opts),
        transport_(ctx, transport_options{.interfaces = opts.interfaces,
                                          .receive_buffer_size = opts.receive_buffer_size,
                                          .rescan_interval = opts.rescan_interval,
                                          .segmentation_offload = opts.segmentation_offload,
                                          .busy_poll = opts.busy_poll}),
        timer_(transport_.make_timer()),
        repair_timer_(transport_.make_timer()) {
    if (opts_.expiry_factor == 0) opts_.expiry_factor = 1;
    splitmix64 ids(opts_.seed != 0 ? opts_.seed : random_seed());
    id_ = ids.next();
    if (id_ == 0) id_ = 1;
  }

  ~subscriber_impl() { transport_.close(); }

  Transport& transport() noexcept { return transport_; }
  const subscriber_options& options() const noexcept { return opts_; }

  void set_error_handler(std::function<void(const std::error_code&, std::string_view)> h) {
    if constexpr (error_reporting_transport<Transport>) transport_.set_error_handler(h);
    std::lock_guard lock(mutex_);
    error_handler_ = std::move(h);
  }

  void set_loss_handler(std::function<void(const loss_event&)> h) {
    std::lock_guard lock(mutex_);
    loss_handler_ = std::move(h);
  }

  std::uint64_t requester_id() const noexcept { return id_; }

  // Any thread.
  std::uint64_t subscribe(const std::string& stream_name, const endpoint& ep, std::string_view filter_text,
                          std::function<bool(const delivery_record&)> deliver,
                          std::function<void(const removal&)> on_removed, std::error_code& ec) {
    subject_filter filter = subject_filter::parse(filter_text, ec);
    if (ec) return 0;
    auto entry = std::make_shared<subscription_entry>();
    entry->stream = stream_name;
    entry->ep = ep;
    entry->filter = std::move(filter);
    entry->deliver = std::move(deliver);
    entry->on_removed = std::move(on_removed);
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ec = make_error_code(errc::not_open);
        return 0;
      }
      channel* ch = find_or_open_channel(ep, ec);
      if (ec) return 0;
      stream_state& s = find_or_add_stream(*ch, stream_name);
      entry->id = s.index.insert(entry->filter, entry);
      // Ids are per index; make them unique per subscriber by pairing with a counter.
      const std::uint64_t handle = ++next_handle_;
      handles_.emplace(handle, handle_info{ch, &s, entry->id, entry});
      s.filters.emplace_back(handle, std::string(entry->filter.str()));
      ++ch->subscriptions;
      ec.clear();
      if (opts_.request_snapshots) {
        // Subscriptions made together on one stream share one request.
        s.request_filters.emplace_back(entry->filter.str());
        if (!s.request_posted) {
          s.request_posted = true;
          asio::post(transport_.get_executor(),
                     [self = this->shared_from_this(), ep, name = stream_name] { self->request_snapshot(ep, name); });
        }
      }
      asio::post(transport_.get_executor(), [self = this->shared_from_this(), entry] { self->replay(entry); });
      return handle;
    }
  }

  // Any thread, also from inside a handler.
  void unsubscribe(std::uint64_t handle) {
    std::lock_guard lock(mutex_);
    auto it = handles_.find(handle);
    if (it == handles_.end()) return;
    handle_info info = std::move(it->second);
    handles_.erase(it);
    info.entry->active.store(false, std::memory_order_release);
    // The executor's batch in progress holds plain pointers to entries: keep this one alive
    // until the batch is done (flush_callbacks releases it).
    if (in_flight_) retired_.push_back(info.entry);
    info.stream->index.erase(info.index_id);
    std::erase_if(info.stream->filters, [&](const auto& f) { return f.first == handle; });
    if (info.stream->index.empty()) {
      // Nobody listens to this stream any more: its state goes, and its datagrams are foreign.
      clear_stream(*info.stream);
      if (info.ch->last_stream == info.stream) info.ch->last_stream = nullptr;
      ++streams_dropped_;
      const std::string name = info.stream->name;
      info.ch->streams.erase(name);
    }
    if (--info.ch->subscriptions == 0) {
      transport_.close_receiver(info.ch->receiver);
      info.ch->open = false;
    }
  }

  subscriber_stream_stats stats(std::string_view stream_name, const endpoint& ep) const {
    std::lock_guard lock(mutex_);
    subscriber_stream_stats out;
    auto cit = channels_.find(ep);
    if (cit == channels_.end()) return out;
    const channel& ch = *cit->second;
    out.datagrams_received = ch.datagrams;
    out.malformed = ch.malformed;
    out.foreign = ch.foreign;
    out.requests_seen = ch.requests_seen;
    auto sit = ch.streams.find(stream_name);
    if (sit == ch.streams.end()) return out;
    out = sit->second->stats;
    out.datagrams_received = ch.datagrams;
    out.malformed = ch.malformed;
    out.foreign = ch.foreign;
    out.requests_seen = ch.requests_seen;
    out.tracked_subjects = sit->second->subjects.size();
    return out;
  }

  // Calls f(subject, payload) for every value held on the stream (tests, diagnostics).
  template <class F>
  void for_each_value(std::string_view stream_name, const endpoint& ep, F&& f) const {
    std::lock_guard lock(mutex_);
    auto cit = channels_.find(ep);
    if (cit == channels_.end()) return;
    auto sit = cit->second->streams.find(stream_name);
    if (sit == cit->second->streams.end()) return;
    for (const subject_state& st : sit->second->slots) {
      if (st.live && st.kind == state_kind::value) f(std::string_view(st.subject), byte_view(st.payload));
    }
  }

  void close() {
    std::vector<std::uint64_t> handles;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      for (auto& [h, info] : handles_) handles.push_back(h);
    }
    for (auto h : handles) unsubscribe(h);
    asio::post(transport_.get_executor(), [self = this->shared_from_this()] {
      self->timer_.cancel();
      self->repair_timer_.cancel();
    });
  }

 private:
  enum class state_kind : std::uint8_t { value, event, tombstone };

  // Per (stream, subject) state. Slots live in a chunked vector (stable addresses), so the index's
  // string_view keys can point at `subject`; a freed slot bumps its generation, which makes
  // every heap entry still naming it stale.
  struct subject_state {
    std::string subject;
    std::vector<std::byte> payload;
    std::uint64_t publisher_id = 0;
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
    std::uint32_t interval_ms = 0;
    std::uint32_t generation = 0;
    time_point expires_at{};
    time_point heap_due{};
    bool in_heap = false;
    bool live = false;
    state_kind kind = state_kind::value;
  };

  struct publisher_state {
    std::uint64_t highest_live = 0;  // highest sequence seen of a live or snapshot record
    time_point last_seen{};
    range_set missing{max_missing_ranges};  // gaps seen since the last repair request
    range_set head{4};  // before the first record seen, when that was an answer (not a loss)
    bool repair_queued = false;
    double tokens = -1;  // repair request pacing; < 0: not started (a full bucket)
    time_point tokens_at{};
  };

  struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(xxh3(s)); }
  };

  struct stream_state {
    std::string name;
    subscription_index<entry_ptr> index;
    flat_index subjects;  // subject -> index in slots (8-byte buckets; the key is the slot's subject)
    chunked_vector<subject_state> slots;
    std::vector<std::uint32_t> free_slots;
    std::unordered_map<std::uint64_t, publisher_state> publishers;
    std::vector<std::pair<std::uint64_t, std::string>> filters;  // (handle, filter) of each subscription
    std::vector<std::string> request_filters;  // of subscriptions whose full request is not sent yet
    bool request_posted = false;
    subscriber_stream_stats stats;
  };

  struct channel {
    endpoint ep;
    receiver_id receiver = 0;
    bool open = false;
    std::size_t subscriptions = 0;
    std::uint64_t datagrams = 0, malformed = 0, foreign = 0, requests_seen = 0;
    std::unordered_map<std::string, std::unique_ptr<stream_state>, sv_hash, std::equal_to<>> streams;
    // The stream of the last datagram: consecutive datagrams are mostly of one stream, and a
    // name compare is cheaper than hashing it. Reset when that stream goes.
    stream_state* last_stream = nullptr;
  };

  struct handle_info {
    channel* ch;
    stream_state* stream;
    std::uint64_t index_id;
    entry_ptr entry;
  };

  struct heap_item {
    time_point due;
    stream_state* stream;
    std::uint32_t slot;
    std::uint32_t generation;
    bool operator>(const heap_item& o) const noexcept { return due > o.due; }
  };

  struct pending_removal {
    entry_ptr entry;
    std::string subject;
    std::uint64_t publisher_id;
    removal_reason reason;
  };

  // A plain pointer: the entry is held by the index (and its handle) while the batch is
  // built under the lock, and by retired_ if it is dropped while the batch runs.
  //
  // Built in place in deliveries_ (emplace_back with these arguments): a delivery_record
  // made on the stack and copied in was read back with 16-byte loads over its 1-, 4- and
  // 8-byte stores, a stall the CPU cannot forward around (a fifth of process's time at 64 B
  // payloads), and a default-constructed one was zeroed first.
  struct pending_delivery {
    pending_delivery(subscription_entry* e, std::string_view stream, const wire::record& r, std::uint64_t publisher_id,
                     bool is_new) noexcept
        : entry(e),
          rec{stream,      r.subject,      r.payload,      publisher_id, r.sequence,
              r.timestamp_ns, r.interval_ms, is_new, r.resend() || r.snapshot()} {}
    subscription_entry* entry;
    delivery_record rec;
  };

  struct pending_loss {
    std::string stream;
    std::uint64_t publisher_id;
    std::uint64_t first;
    std::uint64_t last;
  };

  struct repair_item {
    time_point due;
    stream_state* stream;
    std::uint64_t publisher_id;
  };

  // Under mutex_.
  channel* find_or_open_channel(const endpoint& ep, std::error_code& ec) {
    auto it = channels_.find(ep);
    channel* ch;
    if (it == channels_.end()) {
      auto c = std::make_unique<channel>();
      c->ep = ep;
      ch = c.get();
      channels_.emplace(ep, std::move(c));
    } else {
      ch = it->second.get();
    }
    if (!ch->open) {
      transport_.open(ep.group.is_v6() ? address_family::v6 : address_family::v4, ec);
      if (ec) return nullptr;
      ch->receiver = transport_.open_receiver(
          ep,
          [this, ch](std::span<const std::byte> datagram, const receive_info&) { on_datagram(*ch, datagram); }, ec);
      if (ec) return nullptr;
      ch->open = true;
    }
    return ch;
  }

  stream_state& find_or_add_stream(channel& ch, const std::string& name) {
    auto it = ch.streams.find(std::string_view(name));
    if (it != ch.streams.end()) return *it->second;
    auto s = std::make_unique<stream_state>();
    s->name = name;
    auto& ref = *s;
    ch.streams.emplace(name, std::move(s));
    return ref;
  }

  // Before a stream_state is destroyed: no heap entry may point at it afterwards.
  void clear_stream(stream_state& s) {
    std::erase_if(repairs_, [&](const repair_item& r) { return r.stream == &s; });
    std::erase_if(heap_, [&](const heap_item& h) { return h.stream == &s; });
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
    tracked_total_ -= s.subjects.size();
    s.subjects.clear();
    s.slots.clear();
    s.free_slots.clear();
    s.publishers.clear();
  }

  // --- executor ---

  // One full snapshot request for the subscriptions just made on a stream: with their filter
  // if they all have the same, else for every subject.
  void request_snapshot(const endpoint& ep, const std::string& name) {
    std::lock_guard lock(mutex_);
    stream_state* s = find_stream_locked(ep, name);
    if (!s) return;
    s->request_posted = false;
    if (s->request_filters.empty()) return;
    std::string_view filter = s->request_filters.front();
    for (const auto& f : s->request_filters)
      if (f != filter) filter = {};
    if (send_request(ep, *s, wire::snapshot_request{.requester_id = id_, .stream = s->name, .filter = filter}))
      ++s->stats.snapshot_requests_sent;
    s->request_filters.clear();
  }

  // Under mutex_.
  bool send_request(const endpoint& ep, stream_state&, const wire::snapshot_request& r) {
    const auto bytes = wire::encode_request(request_buffer_, r);
    if (bytes.empty()) return false;
    const send_result res = transport_.send(request_endpoint(ep), bytes);
    return res.ok > 0;
  }

  // Under mutex_: sequence numbers [first, last] of a publisher have not arrived (yet: a
  // number that arrives within the holdoff, reordered, is taken back).
  void note_gap(stream_state& s, std::uint64_t publisher_id, publisher_state& p, std::uint64_t first,
                std::uint64_t last, time_point now) {
    s.stats.gaps += last - first + 1;
    p.missing.add(first, last);
    queue_repair(s, publisher_id, p, now);
  }

  // Under mutex_: one repair (and loss report) per (stream, publisher) per holdoff.
  void queue_repair(stream_state& s, std::uint64_t publisher_id, publisher_state& p, time_point now) {
    if (p.repair_queued) return;
    p.repair_queued = true;
    const time_point due = now + std::chrono::duration_cast<duration>(opts_.repair_holdoff);
    repairs_.push_back(repair_item{due, &s, publisher_id});
    arm_repair_timer(due);
  }

  void arm_repair_timer(time_point t) {
    repair_timer_.arm(t, this->weak_from_this(), [](subscriber_impl& self) { self.on_repair_timer(); });
  }

  // Sends the repair requests that are due: per (stream, publisher) the missing ranges, as
  // many as fit one request (past that, neighbouring ranges are merged: the publisher then
  // re-sends a little more than was lost, never less).
  void on_repair_timer() {
    losses_.clear();
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      const time_point now = Clock::now();
      const double rate = opts_.repair_requests_per_second;
      const double burst = std::max(1.0, static_cast<double>(opts_.repair_request_burst));
      for (std::size_t i = 0; i < repairs_.size();) {
        repair_item& item = repairs_[i];
        if (item.due > now) {
          ++i;
          continue;
        }
        stream_state& s = *item.stream;
        auto pit = s.publishers.find(item.publisher_id);
        if (pit == s.publishers.end()) {
          repairs_[i] = repairs_.back();
          repairs_.pop_back();
          continue;
        }
        publisher_state& p = pit->second;
        if (opts_.request_snapshots && rate > 0) {
          p.tokens = p.tokens < 0 ? burst
                                  : std::min(burst, p.tokens + rate * std::chrono::duration<double>(now - p.tokens_at).count());
          p.tokens_at = now;
          if (p.tokens < 1 - 1e-9) {  // wait for a token (at least 100 us); further gaps merge meanwhile
            const auto wait = std::chrono::ceil<duration>(std::chrono::duration<double>((1 - p.tokens) / rate));
            item.due = now + std::max(wait, std::chrono::duration_cast<duration>(std::chrono::microseconds{100}));
            ++i;
            continue;
          }
          p.tokens = std::max(0.0, p.tokens - 1);
        }
        const std::uint64_t publisher_id = item.publisher_id;
        repairs_[i] = repairs_.back();
        repairs_.pop_back();
        p.repair_queued = false;
        if (loss_handler_) {
          for (const auto& g : p.missing.ranges()) losses_.push_back(pending_loss{s.name, publisher_id, g.first, g.last});
        }
        if (!opts_.request_snapshots || (p.missing.empty() && p.head.empty())) {
          p.missing.clear();
          continue;
        }
        const std::string_view filter = s.filters.size() == 1 ? std::string_view(s.filters.front().second) : "";
        const std::size_t room = wire::default_max_datagram_size - wire::request_size(s.name.size(), filter.size(), 0);
        const std::size_t fit = std::min(wire::max_request_ranges, room / wire::request_range_size);
        range_set ranges{fit};
        for (const auto& g : p.head.ranges()) ranges.add(g);
        for (const auto& g : p.missing.ranges()) ranges.add(g);
        p.missing.clear();
        p.head.clear();
        const channel* ch = channel_of(s);
        if (!ch) continue;
        if (send_request(ch->ep, s, wire::snapshot_request{.requester_id = id_,
                                                           .stream = s.name,
                                                           .filter = filter,
                                                           .target_publisher = publisher_id,
                                                           .ranges = ranges.ranges()}))
          ++s.stats.repairs_requested;
      }
      if (!repairs_.empty()) {
        time_point next = repairs_.front().due;
        for (const auto& r : repairs_) next = std::min(next, r.due);
        arm_repair_timer(next);
      }
    }
    flush_callbacks();
  }

  const channel* channel_of(const stream_state& s) const {
    for (const auto& [ep, ch] : channels_) {
      auto it = ch->streams.find(std::string_view(s.name));
      if (it != ch->streams.end() && it->second.get() == &s) return ch.get();
    }
    return nullptr;
  }

  void replay(const entry_ptr& entry) {
    std::vector<subject_state> held;
    {
      std::lock_guard lock(mutex_);
      entry->replayed = true;
      if (!entry->active.load(std::memory_order_acquire)) return;
      auto cit = channels_.find(entry->ep);
      if (cit == channels_.end()) return;
      auto sit = cit->second->streams.find(std::string_view(entry->stream));
      if (sit == cit->second->streams.end()) return;
      const stream_state& s = *sit->second;
      for (const subject_state& st : s.slots) {
        if (st.live && st.kind == state_kind::value && entry->filter.matches(st.subject)) held.push_back(st);
      }
    }
    for (const subject_state& st : held) {
      if (!entry->active.load(std::memory_order_acquire)) return;
      const delivery_record rec{entry->stream,   st.subject,     byte_view(st.payload), st.publisher_id, st.sequence,
                                st.timestamp_ns, st.interval_ms, true,                  true};
      invoke(entry, rec);
    }
  }

  void on_datagram(channel& ch, std::span<const std::byte> bytes) {
    deliveries_.clear();
    removals_.clear();
    bool rearm = false;
    {
      std::lock_guard lock(mutex_);
      if (!ch.open) return;
      if (wire::peek_kind(bytes) == wire::kind::snapshot_request) {  // ours (looped back) or another subscriber's
        ++ch.requests_seen;
        return;
      }
      ++ch.datagrams;
      std::error_code ec;
      // The records come parsed from the validating pass (no second parse to walk them).
      const wire::datagram_view view = wire::decode(bytes, ec, opts_.max_datagram_size, records_);
      if (ec) {
        ++ch.malformed;
        return;
      }
      stream_state* sp = ch.last_stream;
      if (sp == nullptr || sp->name != view.stream()) {
        auto sit = ch.streams.find(view.stream());
        if (sit == ch.streams.end()) {
          ++ch.foreign;
          return;
        }
        sp = sit->second.get();
        ch.last_stream = sp;
      }
      stream_state& s = *sp;
      const time_point now = Clock::now();
      // Every record of a datagram has the datagram's publisher: looked up once (the pointer
      // stays valid: only inserting a publisher erases one, and that happens at most once).
      publisher_state* pub = nullptr;
      // With only lone-`*` subscriptions (the common "whole stream" case) every record of the
      // datagram matches the same set: it is looked up once, not per record.
      const bool catch_all = s.index.matches_everything();
      if (catch_all) {
        matches_.clear();
        s.index.for_each_catch_all([&](std::uint64_t, const entry_ptr& e) {
          if (e->replayed) matches_.push_back(e.get());  // live deliveries start after the replay
        });
      }
      for (const wire::record& r : records_) process(s, view.publisher_id(), pub, r, now, catch_all);
      if (!deliveries_.empty()) {
        in_flight_ = true;
        batch_stream_ = &s;
        batch_epoch_ = streams_dropped_;
      }
      // Moving the timer earlier may be a system call (timerfd_settime): it waits until the
      // handlers have run, so nothing but this processing sits between the datagram's
      // arrival and its handlers. Usually (a refresh only moves a due time later) there is
      // nothing to do.
      rearm = timer_needs_arming();
      if (rearm && deliveries_.empty() && removals_.empty() && losses_.empty()) {
        arm_timer();
        rearm = false;
      }
    }
    flush_callbacks();
    if (rearm) {
      std::lock_guard lock(mutex_);
      arm_timer();
    }
  }

  RACKET_HOT_INLINE void note_publisher(stream_state& s, std::uint64_t publisher_id, publisher_state*& pub,
                                        const wire::record& r, time_point now) {
    if (pub == nullptr) pub = &find_or_add_publisher(s, publisher_id, now);
    publisher_state& p = *pub;
    const std::uint64_t seq = r.sequence;
    if (p.highest_live == 0) {
      // Live and snapshot records take new sequence numbers; a resend carries an old one and
      // says nothing about what was sent since, so it cannot start the count.
      if (r.resend()) return;
      p.highest_live = seq;
      if (r.snapshot() && seq > 1 && opts_.request_snapshots) {
        // The first record heard is part of an answer: its first datagrams may have been lost
        // unnoticed. Ask for whatever is still numbered below it (only the cached subjects
        // not re-sent since); not a gap.
        p.head.add(1, seq - 1);
        queue_repair(s, publisher_id, p, now);
      }
      return;
    }
    if (seq > p.highest_live) {
      // Everything between was missed. A resend above the highest seen means its original
      // was missed too (a lost tail: publishers re-send their newest record when they fall
      // quiet); it is delivered below, so it is not part of the gap.
      if (seq > p.highest_live + 1) note_gap(s, publisher_id, p, p.highest_live + 1, seq - 1, now);
      p.highest_live = seq;
    } else if (!p.missing.empty() && p.missing.contains(seq)) {
      p.missing.remove(seq);  // arrived late (reordered), or a resend of a lost record
      if (s.stats.gaps > 0) --s.stats.gaps;
    } else if (!p.head.empty()) {
      p.head.remove(seq);
    }
  }

  publisher_state& find_or_add_publisher(stream_state& s, std::uint64_t publisher_id, time_point now) {
    auto it = s.publishers.find(publisher_id);
    if (it == s.publishers.end()) {
      if (s.publishers.size() >= opts_.max_publishers_per_stream) {
        // Rare (only past the cap): forget the publisher seen longest ago.
        auto oldest = std::min_element(s.publishers.begin(), s.publishers.end(), [](const auto& a, const auto& b) {
          return a.second.last_seen < b.second.last_seen;
        });
        s.publishers.erase(oldest);
      }
      it = s.publishers.emplace(publisher_id, publisher_state{}).first;
    }
    it->second.last_seen = now;
    return it->second;
  }

  // `matches_` already holds the datagram's matches when `catch_all`.
  void process(stream_state& s, std::uint64_t publisher_id, publisher_state*& pub, const wire::record& r,
               time_point now, bool catch_all) {
    ++s.stats.received;
    note_publisher(s, publisher_id, pub, r, now);

    if (!catch_all) {
      matches_.clear();
      bool matched = false;
      s.index.for_each_match(r.subject, [&](std::uint64_t, const entry_ptr& e) {
        matched = true;
        if (e->replayed) matches_.push_back(e.get());  // live deliveries start after the replay
      });
      if (!matched) {
        ++s.stats.filtered;
        return;
      }
    }

    const std::uint64_t h = xxh3(r.subject);
    std::uint32_t slot = s.subjects.find(h, [&](std::uint32_t i) { return same_bytes(s.slots[i].subject, r.subject); });
    const bool exists = slot != flat_index::npos;
    if (exists) {
      subject_state& st = s.slots[slot];
      // Stale: same publisher with an older sequence; another publisher with an older stamp.
      const bool same_publisher = st.publisher_id == publisher_id;
      if (same_publisher ? r.sequence < st.sequence
                         : (r.timestamp_ns < st.timestamp_ns ||
                            (r.timestamp_ns == st.timestamp_ns && publisher_id < st.publisher_id))) {
        ++s.stats.stale;
        return;
      }
      bool duplicate = false;
      switch (st.kind) {
        case state_kind::event: duplicate = same_publisher && r.sequence == st.sequence; break;
        case state_kind::value:
          // Same content: the subject (the key) and stream are the same, so the content hash
          // (over stream, subject and payload) is the same exactly when the payloads are; the
          // held payload is compared directly, which costs less than hashing the record and
          // does not trust the hash a sender stamped.
          duplicate = !r.tombstone() && r.interval_ms != 0 && std::ranges::equal(r.payload, st.payload);
          break;
        case state_kind::tombstone: duplicate = r.tombstone() && same_publisher && r.sequence == st.sequence; break;
      }
      if (duplicate) {
        ++s.stats.duplicates;
        st.sequence = same_publisher ? std::max(st.sequence, r.sequence) : r.sequence;
        st.publisher_id = publisher_id;
        if (r.timestamp_ns > st.timestamp_ns) st.timestamp_ns = r.timestamp_ns;
        if (st.kind == state_kind::value) refresh(s, slot, r.interval_ms, now);
        return;
      }
      if (same_publisher && r.sequence == st.sequence) {  // same sequence, other content: hostile or buggy
        ++s.stats.stale;
        return;
      }
    }

    if (r.tombstone()) {
      if (exists && s.slots[slot].kind == state_kind::value) {
        ++s.stats.withdrawn;
        queue_removals(s, s.slots[slot].subject, publisher_id, removal_reason::withdrawn);
      }
      if (!exists && !insert_subject(s, r.subject, h, slot)) return;
      subject_state& st = s.slots[slot];
      st.kind = state_kind::tombstone;
      st.payload.clear();
      st.payload.shrink_to_fit();
      assign(st, publisher_id, r);
      // Remember the tombstone as long as old resends may still be in flight.
      const auto keep = std::chrono::milliseconds(std::uint64_t{std::max<std::uint32_t>(r.interval_ms, 1000)} *
                                                  opts_.expiry_factor);
      schedule(s, slot, now + std::chrono::duration_cast<duration>(keep));
      return;
    }

    bool is_new = !exists || s.slots[slot].kind != state_kind::value;
    if (!exists && !insert_subject(s, r.subject, h, slot)) return;
    subject_state& st = s.slots[slot];
    assign(st, publisher_id, r);
    if (r.interval_ms == 0) {
      st.payload.clear();  // an event replaces a held value: the value is gone, the event is delivered
      st.kind = state_kind::event;
      schedule(s, slot, now + std::chrono::duration_cast<duration>(opts_.event_window));
      is_new = true;
    } else {
      st.kind = state_kind::value;
      st.payload.assign(r.payload.begin(), r.payload.end());
      refresh(s, slot, r.interval_ms, now);
    }
    // Views into the datagram, which outlives the batch: st.subject may be reassigned by an
    // eviction later in the same datagram, and s may go if a handler drops the last
    // subscription of the stream (the fuzzer found the first).
    for (subscription_entry* e : matches_) deliveries_.emplace_back(e, s.name, r, publisher_id, is_new);
  }

  static constexpr std::size_t max_missing_ranges = 128;  // per publisher, between two repair requests

  static void assign(subject_state& st, std::uint64_t publisher_id, const wire::record& r) {
    st.publisher_id = publisher_id;
    st.sequence = r.sequence;
    st.timestamp_ns = r.timestamp_ns;
    st.interval_ms = r.interval_ms;
  }

  // Makes a slot for a new subject, evicting one at the cap; false if none can be had.
  bool insert_subject(stream_state& s, std::string_view subject, std::uint64_t h, std::uint32_t& slot) {
    if (s.subjects.size() >= opts_.max_subjects_per_stream && !evict_one(s)) return false;
    if (!s.free_slots.empty()) {
      slot = s.free_slots.back();
      s.free_slots.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(s.slots.size());
      s.slots.emplace_back();
    }
    subject_state& st = s.slots[slot];
    st.subject.assign(subject);
    ++tracked_total_;
    st.live = true;
    st.in_heap = false;
    s.subjects.insert(h, slot);
    return true;
  }

  void free_slot(stream_state& s, std::uint32_t slot) {
    subject_state& st = s.slots[slot];
    s.subjects.erase(xxh3(st.subject), slot);
    --tracked_total_;
    st.live = false;
    ++st.generation;  // every heap entry naming this slot is now stale
    st.payload.clear();
    st.payload.shrink_to_fit();
    st.subject.clear();
    s.free_slots.push_back(slot);
  }

  // O(1): evicts a subject picked at random among the stream's slots (a flood of new subjects
  // then mostly evicts its own, and no scan is ever needed).
  bool evict_one(stream_state& s) {
    if (s.slots.empty()) return false;
    for (int attempt = 0; attempt < 64; ++attempt) {
      const auto slot = static_cast<std::uint32_t>(rng_.next() % s.slots.size());
      subject_state& st = s.slots[slot];
      if (!st.live) continue;
      ++s.stats.evicted;
      if (st.kind == state_kind::value) queue_removals(s, st.subject, st.publisher_id, removal_reason::evicted);
      free_slot(s, slot);
      return true;
    }
    return false;
  }

  void refresh(stream_state& s, std::uint32_t slot, std::uint32_t interval_ms, time_point now) {
    s.slots[slot].interval_ms = interval_ms;
    const auto life = std::chrono::milliseconds(std::uint64_t{interval_ms} * opts_.expiry_factor);
    schedule(s, slot, now + std::chrono::duration_cast<duration>(life));
  }

  void schedule(stream_state& s, std::uint32_t slot, time_point expires_at) {
    subject_state& st = s.slots[slot];
    st.expires_at = expires_at;
    if (st.in_heap && st.heap_due <= expires_at) return;  // the existing entry fires first and re-checks
    ++st.generation;
    st.in_heap = true;
    st.heap_due = expires_at;
    heap_.push_back(heap_item{expires_at, &s, slot, st.generation});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    // Entries of evicted or replaced subjects stay until their (possibly far) due time; when
    // they outnumber the live ones, sweep them, so the heap stays O(tracked subjects)
    // (amortised O(1) per schedule). A flood of unique subjects found this.
    if (heap_.size() > 2 * tracked_total_ + 64) {
      std::erase_if(heap_, [](const heap_item& h) {
        const subject_state& x = h.stream->slots[h.slot];
        return !x.live || x.generation != h.generation;
      });
      std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
    }
  }

  void queue_removals(stream_state& s, const std::string& subject, std::uint64_t publisher_id, removal_reason why) {
    s.index.for_each_match(subject, [&](std::uint64_t, const entry_ptr& e) {
      if (e->replayed && e->on_removed) removals_.push_back(pending_removal{e, subject, publisher_id, why});
    });
  }

  bool timer_needs_arming() const noexcept { return !heap_.empty() && timer_.would_move(heap_.front().due); }

  void arm_timer() {
    if (!timer_needs_arming()) return;
    timer_.arm(heap_.front().due, this->weak_from_this(), [](subscriber_impl& self) { self.on_timer(); });
  }

  void on_timer() {
    deliveries_.clear();
    removals_.clear();
    {
      std::lock_guard lock(mutex_);
      const time_point now = Clock::now();
      while (!heap_.empty() && heap_.front().due <= now) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
        const heap_item item = heap_.back();
        heap_.pop_back();
        stream_state& s = *item.stream;
        subject_state& st = s.slots[item.slot];
        if (!st.live || st.generation != item.generation) continue;
        if (st.expires_at > now) {  // refreshed since: move the entry
          st.heap_due = st.expires_at;
          heap_.push_back(heap_item{st.expires_at, &s, item.slot, st.generation});
          std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
          continue;
        }
        if (st.kind == state_kind::value) {
          ++s.stats.expired;
          queue_removals(s, st.subject, st.publisher_id, removal_reason::expired);
        }
        free_slot(s, item.slot);  // removal records hold a copy of the subject
      }
      arm_timer();
    }
    flush_callbacks();
  }

  void flush_callbacks() {
    // Handlers run without the lock, so they may subscribe or unsubscribe. The records'
    // views point into the datagram, which lives until on_datagram returns.
    if (!losses_.empty()) {
      std::function<void(const loss_event&)> h;
      {
        std::lock_guard lock(mutex_);
        h = loss_handler_;
      }
      for (const auto& l : losses_) {
        if (!h) break;
        try {
          h(loss_event{l.stream, l.publisher_id, l.first, l.last});
        } catch (...) {
        }
      }
      losses_.clear();
    }
    if (!deliveries_.empty()) {
      // Counted once for the batch, under one lock after the last handler (not a lock and two
      // map lookups per call).
      std::uint64_t delivered = 0, refused = 0;
      for (auto& d : deliveries_) {
        if (!d.entry->active.load(std::memory_order_acquire)) continue;
        d.rec.stream = d.entry->stream;  // the entry is held; the stream state may be gone
        bool ok = true;
        try {
          ok = d.entry->deliver(d.rec);
        } catch (...) {
          report_handler_error(*d.entry);
          continue;
        }
        ++(ok ? delivered : refused);
      }
      std::vector<entry_ptr> retired;
      {
        std::lock_guard lock(mutex_);
        stream_state* s = batch_stream_;
        if (streams_dropped_ != batch_epoch_) {  // a handler dropped a stream: look it up again
          const subscription_entry& e = *deliveries_.front().entry;
          s = find_stream_locked(e.ep, e.stream);
        }
        if (s != nullptr) {
          s->stats.delivered += delivered;
          s->stats.decode_errors += refused;
        }
        in_flight_ = false;
        batch_stream_ = nullptr;
        retired.swap(retired_);
      }
      // `retired` (entries dropped during the batch) is destroyed here, without the lock.
    }
    for (auto& r : removals_) {
      if (!r.entry->active.load(std::memory_order_acquire)) continue;
      try {
        r.entry->on_removed(removal{r.entry->stream, r.subject, r.publisher_id, r.reason});
      } catch (...) {
        report_handler_error(*r.entry);
      }
    }
    deliveries_.clear();
    removals_.clear();
  }

  // One delivery outside a datagram's batch (the replay to a new subscription).
  void invoke(const entry_ptr& e, const delivery_record& rec) {
    bool ok = true;
    try {
      ok = e->deliver(rec);
    } catch (...) {
      report_handler_error(*e);
      return;
    }
    std::lock_guard lock(mutex_);
    auto* s = find_stream_locked(e->ep, e->stream);
    if (!s) return;
    if (ok) {
      ++s->stats.delivered;
    } else {
      ++s->stats.decode_errors;
    }
  }

  void report_handler_error(const subscription_entry& e) {
    std::function<void(const std::error_code&, std::string_view)> h;
    {
      std::lock_guard lock(mutex_);
      if (auto* s = find_stream_locked(e.ep, e.stream)) ++s->stats.handler_errors;
      h = error_handler_;
    }
    if (h) {
      std::string what = "handler for stream '" + e.stream + "' threw";
      try {
        throw;
      } catch (const std::exception& ex) {
        what += std::string(": ") + ex.what();
      } catch (...) {
      }
      h(std::make_error_code(std::errc::operation_canceled), what);
    }
  }

  stream_state* find_stream_locked(const endpoint& ep, std::string_view name) {
    auto cit = channels_.find(ep);
    if (cit == channels_.end()) return nullptr;
    auto sit = cit->second->streams.find(name);
    return sit == cit->second->streams.end() ? nullptr : sit->second.get();
  }

  subscriber_options opts_;
  Transport transport_;
  earliest_timer<typename Transport::timer_type> timer_;  // expiry: the heap's first deadline

  mutable std::mutex mutex_;
  std::unordered_map<endpoint, std::unique_ptr<channel>, endpoint_hash> channels_;
  std::unordered_map<std::uint64_t, handle_info> handles_;
  std::uint64_t next_handle_ = 0;
  bool closed_ = false;
  std::function<void(const std::error_code&, std::string_view)> error_handler_;
  std::function<void(const loss_event&)> loss_handler_;
  std::uint64_t id_ = 0;  // requester id
  std::vector<repair_item> repairs_;  // one per (stream, publisher) with a repair to send
  std::array<std::byte, wire::max_datagram_size_limit> request_buffer_{};

  // Executor only.
  std::vector<heap_item> heap_;
  std::size_t tracked_total_ = 0;  // live subjects over all streams (bounds heap_)
  std::vector<subscription_entry*> matches_;  // of the record being processed, under mutex_
  // Batch bookkeeping: while in_flight_ (under mutex_) deliveries_ holds plain entry pointers,
  // and unsubscribe parks dropped entries in retired_ instead of destroying them. The stream
  // of the batch is batch_stream_, valid while streams_dropped_ == batch_epoch_.
  bool in_flight_ = false;
  std::vector<entry_ptr> retired_;
  std::uint64_t streams_dropped_ = 0;
  stream_state* batch_stream_ = nullptr;
  std::uint64_t batch_epoch_ = 0;
  std::vector<pending_delivery> deliveries_;
  std::vector<wire::record> records_;  // the datagram being processed (under mutex_)
  std::vector<pending_removal> removals_;
  std::vector<pending_loss> losses_;
  earliest_timer<typename Transport::timer_type> repair_timer_;  // the earliest due repair request
  splitmix64 rng_{0x5EEDBA5Eull};  // eviction choice: fixed seed, so simulations replay exactly
};

}  // namespace detail

/// An RAII subscription: destroying it (or calling `unsubscribe`) stops delivery; the last
/// subscription on a group and port leaves the group on every interface. Move-only.
class subscription {
 public:
  subscription() = default;
  subscription(std::function<void(std::uint64_t)> cancel, std::uint64_t handle)
      : cancel_(std::move(cancel)), handle_(handle) {}
  subscription(subscription&& o) noexcept : cancel_(std::move(o.cancel_)), handle_(std::exchange(o.handle_, 0)) {}
  subscription& operator=(subscription&& o) noexcept {
    if (this != &o) {
      unsubscribe();
      cancel_ = std::move(o.cancel_);
      handle_ = std::exchange(o.handle_, 0);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription() { unsubscribe(); }

  /// Stops delivery; safe from any thread and from inside the subscription's own handler.
  void unsubscribe() {
    if (handle_ != 0 && cancel_) cancel_(handle_);
    handle_ = 0;
  }

  /// True until unsubscribed.
  bool active() const noexcept { return handle_ != 0; }

 private:
  std::function<void(std::uint64_t)> cancel_;
  std::uint64_t handle_ = 0;
};

/// Receives the streams it subscribes to, filters by subject, suppresses duplicates (same
/// content hash as the last delivered value of the subject) and stale messages (older
/// sequence from the same publisher, older stamp from another), applies tombstones, and
/// expires subjects not refreshed within `expiry_factor` intervals.
///
/// Handlers run on the transport's executor. A new subscription first receives the values
/// this subscriber already holds that match its filter (flagged `resend`), then live ones.
///
/// ```cpp
/// racket::subscriber sub{io, {.interfaces = {"lo"}}};
/// auto s = sub.subscribe(temperature, "plant.*", [](const racket::message<double>& m) {
///   std::cout << m.subject << " = " << m.value << '\n';
/// });
/// ```
template <transport Transport, class Clock = typename Transport::clock_type>
class basic_subscriber {
  static_assert(std::is_same_v<typename Clock::time_point, typename Transport::clock_type::time_point>,
                "the subscriber's Clock must be the clock of its transport's timers");

 public:
  using transport_type = Transport;
  using clock_type = Clock;
  using executor_type = typename Transport::executor_type;

  explicit basic_subscriber(typename Transport::context_type& ctx, const subscriber_options& opts = {})
      : impl_(std::make_shared<detail::subscriber_impl<Transport, Clock>>(ctx, opts)) {}

  basic_subscriber(const basic_subscriber&) = delete;
  basic_subscriber& operator=(const basic_subscriber&) = delete;
  basic_subscriber(basic_subscriber&&) noexcept = default;
  basic_subscriber& operator=(basic_subscriber&&) noexcept = default;

  ~basic_subscriber() {
    if (impl_) impl_->close();
  }

  /// Subscribes `handler` to the subjects of `s` that `filter` matches; `on_removed` (may be
  /// empty) hears of subjects withdrawn, expired or evicted. Errors: `invalid_filter`, and the
  /// transport's (`no_interfaces`, `unknown_interface`, socket errors). Any thread.
  template <class T, class C, class Handler, class Removed = std::function<void(const removal&)>>
    requires std::invocable<Handler&, const message<T>&> && std::invocable<Removed&, const removal&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       Removed on_removed, std::error_code& ec) {
    auto deliver = [h = std::move(handler)](const detail::delivery_record& r) mutable -> bool {
      std::error_code dec;
      T value = C::decode(r.payload, dec);
      if (dec) return false;
      const message<T> m{r.stream,       r.subject,    value,
                         r.payload,      r.publisher_id, r.sequence,
                         r.timestamp_ns, std::chrono::milliseconds(r.interval_ms), r.is_new,
                         r.resend};
      h(m);
      return true;
    };
    std::function<void(const removal&)> removed;
    if constexpr (std::is_same_v<Removed, std::function<void(const removal&)>>) {
      if (on_removed) removed = std::move(on_removed);
    } else {
      removed = std::move(on_removed);
    }
    const auto handle = impl_->subscribe(s.name(), s.endpoint(), filter, std::move(deliver), std::move(removed), ec);
    if (ec) return {};
    std::weak_ptr<detail::subscriber_impl<Transport, Clock>> weak = impl_;
    return subscription([weak](std::uint64_t h) {
      if (auto impl = weak.lock()) impl->unsubscribe(h);
    }, handle);
  }

  /// As above, without a removal handler.
  template <class T, class C, class Handler>
    requires std::invocable<Handler&, const message<T>&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       std::error_code& ec) {
    return subscribe(s, filter, std::move(handler), std::function<void(const removal&)>{}, ec);
  }

  /// Throwing overload: `std::system_error` naming the stream and filter.
  template <class T, class C, class Handler, class Removed = std::function<void(const removal&)>>
    requires std::invocable<Handler&, const message<T>&> && std::invocable<Removed&, const removal&>
  [[nodiscard]] subscription subscribe(const stream<T, C>& s, std::string_view filter, Handler handler,
                                       Removed on_removed = {}) {
    std::error_code ec;
    auto sub = subscribe(s, filter, std::move(handler), std::move(on_removed), ec);
    if (ec) {
      std::string what = "subscribe to " + detail::quote_for_error("stream", s.name()) + " " +
                         detail::quote_for_error("filter", filter) + " on " + s.endpoint().to_string();
      if (ec == errc::unknown_interface || ec == errc::no_interfaces) {
        what += detail::interfaces_for_error(impl_->options().interfaces);
      }
      detail::throw_error(ec, what);
    }
    return sub;
  }

  /// Counters of one stream.
  template <class T, class C>
  subscriber_stream_stats stats(const stream<T, C>& s) const {
    return impl_->stats(s.name(), s.endpoint());
  }

  /// Calls `f(std::string_view subject, byte_view payload)` for every value held on `s` now.
  template <class T, class C, class F>
  void for_each_value(const stream<T, C>& s, F&& f) const {
    impl_->for_each_value(s.name(), s.endpoint(), std::forward<F>(f));
  }

  /// Called with a description when a handler throws (delivery goes on) or an interface fails.
  void set_error_handler(std::function<void(const std::error_code&, std::string_view)> h) {
    impl_->set_error_handler(std::move(h));
  }

  /// Called on the executor for every run of sequence numbers of a publisher that did not
  /// arrive (a gap), before the repair request for it goes out. Optional; any thread.
  void set_loss_handler(std::function<void(const loss_event&)> h) { impl_->set_loss_handler(std::move(h)); }

  /// The random id this subscriber puts in its snapshot requests.
  std::uint64_t requester_id() const noexcept { return impl_->requester_id(); }

  /// The transport's counters (kernel drops, join errors).
  transport_stats transport_statistics() const { return impl_->transport().stats(); }

  executor_type get_executor() noexcept { return impl_->transport().get_executor(); }

 private:
  std::shared_ptr<detail::subscriber_impl<Transport, Clock>> impl_;
};

}  // namespace racket
