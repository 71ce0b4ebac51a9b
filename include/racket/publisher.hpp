// SPDX-License-Identifier: MIT
#pragma once

#include "racket/codec.hpp"
#include "racket/detail/chunked_vector.hpp"
#include "racket/detail/clock.hpp"
#include "racket/detail/config.hpp"
#include "racket/detail/earliest_timer.hpp"
#include "racket/detail/flat_index.hpp"
#include "racket/detail/slab.hpp"
#include "racket/detail/timer_wheel.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/stream.hpp"
#include "racket/subject.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace racket {

/// Options of a publisher, filled with designated initialisers:
/// `racket::publisher_options{.interfaces = {"lo"}, .ttl = 2}`.
struct publisher_options {
  /// Interfaces to send on; empty: every interface that is up and can carry multicast.
  std::vector<std::string> interfaces{};
  /// Multicast TTL (IPv4) or hop limit (IPv6).
  int ttl = 1;
  /// Deliver to receivers on this host too.
  bool loopback = true;
  /// Socket send buffer requested per interface.
  int send_buffer_size = 1 << 20;
  /// How often the interface selection is re-run, so interfaces that appear (or come up) are
  /// used and ones that vanish are dropped; 0 disables.
  std::chrono::milliseconds rescan_interval{5000};
  /// Largest datagram sent, in bytes (header, records and checksum); at most 65507.
  std::size_t max_datagram_size = wire::default_max_datagram_size;
  /// Each resend fires up to this fraction of the interval late, spread at random, so that
  /// subjects published together drift apart instead of resending in one burst forever.
  double resend_jitter = 0.05;
  /// Resends due within this window are sent together, packed, up to this much early (and
  /// never more than half their interval early). Wider windows mean fuller datagrams and fewer
  /// system calls.
  std::chrono::milliseconds resend_coalesce{20};
  /// Send a tombstone for every cached subject when the publisher closes (default: no;
  /// subscribers then expire the subjects after `expiry_factor` intervals).
  bool withdraw_on_close = false;
  /// Seed for the publisher id and the jitter; 0 draws one from `std::random_device`.
  std::uint64_t seed = 0;

  // Snapshots and gap repair (docs/architecture.md, "Snapshots and gap repair").

  /// Listen on each stream's group and port for snapshot requests and answer them by
  /// re-sending the matching cached subjects (flag `snapshot`, new sequence numbers).
  bool answer_snapshots = true;
  /// Pace of snapshot answers over all streams, in bytes per second (0: unpaced).
  std::size_t snapshot_rate_bytes = std::size_t{64} << 20;
  /// A full request is answered after a random delay in [0, this], so that the requests of
  /// many subscribers starting together merge into one answer.
  std::chrono::milliseconds snapshot_delay_max{10};
  /// A range (repair) request is answered after a random delay in [0, this].
  std::chrono::milliseconds repair_delay_max{2};
  /// Least time between the starts of two answer passes on one stream: a per-stream rate
  /// limit (requests that arrive meanwhile wait and merge; none is dropped).
  std::chrono::milliseconds snapshot_answer_spacing{10};
  /// Requests accepted per requester id and stream per second (token bucket; 0: unlimited) ...
  double snapshot_requests_per_second = 20;
  /// ... and the bucket's size: the burst one requester may send at once.
  unsigned snapshot_request_burst = 10;
  /// Most requester ids tracked per stream for rate limiting; when full (and none idle) new
  /// requesters are refused (counted as limited).
  std::size_t max_snapshot_requesters = 4096;
  /// When a stream falls quiet, its newest record is sent again (flag `resend`) this long
  /// after, then 3 and 9 times as long after that, so that subscribers detect the loss of
  /// the last datagrams of a burst or of an answer (a lost tail) and repair it. 0: off.
  std::chrono::milliseconds tail_probe_delay{10};
  /// Hand runs of a stream's datagrams to the kernel as one UDP GSO send where it has it
  /// (Linux 4.18+), padding them to one size (wire format, "Padding"); the kernel cuts them
  /// into the same datagrams on the wire. Refused by an interface, it falls back to one send
  /// per datagram by itself. `false`: never segment, never pad.
  bool segmentation_offload = true;
};

/// Counters of one stream on one publisher (plain struct, copied out).
struct publisher_stream_stats {
  std::uint64_t published = 0;       ///< messages published (tombstones included)
  std::uint64_t resent = 0;          ///< periodic resends of cached subjects
  std::uint64_t withdrawn = 0;       ///< tombstones sent
  std::uint64_t datagrams_sent = 0;  ///< datagrams handed to the network, counted per interface
  std::uint64_t bytes_sent = 0;      ///< their bytes, per interface
  std::uint64_t send_errors = 0;     ///< interface sends that failed or found the socket full
  std::uint64_t cached_subjects = 0; ///< subjects whose last value is resent
  std::uint64_t snapshot_requests = 0;          ///< valid snapshot requests for this stream (for this publisher)
  std::uint64_t snapshot_requests_limited = 0;  ///< of them, dropped by the per-requester rate limit
  std::uint64_t snapshot_answers = 0;           ///< answer passes run (each one merges many requests)
  std::uint64_t snapshot_records = 0;           ///< records re-sent in answers
  std::uint64_t tail_probes = 0;                ///< newest records re-sent after the stream fell quiet
};

namespace detail {

// The buffer a publishing thread encodes values into (reused: no allocation in steady state).
inline std::vector<std::byte>& encode_scratch() {
  thread_local std::vector<std::byte> scratch;
  return scratch;
}

// The size of the payload the calling thread last tried to publish (for error messages).
inline std::size_t& last_encoded_size() {
  thread_local std::size_t size = 0;
  return size;
}

// Bytes appended without being zero-filled first (std::vector::resize would write every byte
// twice); grows by doubling and keeps its capacity, so steady state allocates nothing.
class byte_queue {
 public:
  std::size_t size() const noexcept { return size_; }
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  void clear() noexcept { size_ = 0; }
  // Room for `n` more bytes at the end; returns where they go.
  std::byte* extend(std::size_t n) {
    if (capacity_ - size_ < n) {
      const std::size_t cap = std::max({std::size_t{4096}, capacity_ * 2, size_ + n});
      auto grown = std::make_unique_for_overwrite<std::byte[]>(cap);
      if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = cap;
    }
    std::byte* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void swap(byte_queue& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Everything the publisher shares with its posted handlers; see docs/architecture.md.
template <class Transport, class Clock>
class publisher_impl : public std::enable_shared_from_this<publisher_impl<Transport, Clock>> {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;

  publisher_impl(typename Transport::context_type& ctx, const publisher_options& opts)
      : opts_(opts),
        transport_(ctx, transport_options{.interfaces = opts.interfaces,
                                          .ttl = opts.ttl,
                                          .loopback = opts.loopback,
                                          .send_buffer_size = opts.send_buffer_size,
                                          .rescan_interval = opts.rescan_interval,
                                          .segmentation_offload = opts.segmentation_offload}),
        timer_(transport_.make_timer()),
        answer_timer_(transport_.make_timer()),
        rng_(opts.seed != 0 ? opts.seed : random_seed()) {
    id_ = rng_.next();
    if (id_ == 0) id_ = 1;
    opts_.max_datagram_size = std::clamp<std::size_t>(opts_.max_datagram_size, 64, wire::max_datagram_size_limit);
    batch_limit_ = batch_limit_for(opts_.max_datagram_size);  // once: a division per datagram showed in perf
  }

  std::uint64_t id() const noexcept { return id_; }
  Transport& transport() noexcept { return transport_; }
  const publisher_options& options() const noexcept { return opts_; }

  void set_error_handler(std::function<void(const std::error_code&, std::string_view)> h) {
    if constexpr (error_reporting_transport<Transport>) transport_.set_error_handler(std::move(h));
  }

  // Any thread. `payload` is already encoded.
  // `key`: the stream object's `key()` (0: none), which stands for `stream_name` and `ep`.
  void enqueue(std::uint64_t key, const std::string& stream_name, const endpoint& ep, std::string_view subject,
               byte_view payload, std::uint32_t interval_ms, bool withdraw, std::error_code& ec) {
    if (auto e = validate_subject(subject)) {
      ec = e;
      return;
    }
    if (payload.size() > wire::max_payload(opts_.max_datagram_size, stream_name.size(), subject.size())) {
      ec = make_error_code(errc::payload_too_large);
      return;
    }
    bool post = false;
    // On the executor with nothing queued (an idle publisher, or one publishing from its own
    // handlers), the record goes straight into its datagram and out: no copy into the queue,
    // no second lock, no hop through the executor. Anything queued by another thread first
    // keeps its place: then this record queues behind it.
    const bool on_executor = transport_.get_executor().running_in_this_thread();
    stream_state* direct = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ec = make_error_code(errc::not_open);
        return;
      }
      stream_state* s = find_or_add_stream(key, stream_name, ep, ec);
      if (ec) return;
      if (on_executor && !busy_ && !flush_posted_ && pending_ops_.empty() && !shut_down_) {
        direct = s;
      } else {
        queue(s, subject, payload, interval_ms, withdraw);
        if (!flush_posted_) {
          flush_posted_ = true;
          post = true;
        }
      }
    }
    ec.clear();
    if (direct != nullptr) {
      const time_point now = Clock::now();
      process(*direct, subject, payload, interval_ms, stamp_(now), withdraw, now);
      send_open_writers(now);
      arm_timer();
    } else if (post) {
      if (on_executor && !busy_) {
        flush();  // on the executor: send now, no hop through the queue
      } else {
        asio::post(transport_.get_executor(), [self = this->shared_from_this()] { self->flush(); });
      }
    }
  }

  publisher_stream_stats stats(std::string_view stream_name) const {
    std::lock_guard lock(mutex_);
    publisher_stream_stats out;
    auto it = streams_.find(stream_name);
    if (it == streams_.end()) return out;
    const auto& c = it->second->counters;
    out.published = c.published.load(std::memory_order_relaxed);
    out.resent = c.resent.load(std::memory_order_relaxed);
    out.withdrawn = c.withdrawn.load(std::memory_order_relaxed);
    out.datagrams_sent = c.datagrams_sent.load(std::memory_order_relaxed);
    out.bytes_sent = c.bytes_sent.load(std::memory_order_relaxed);
    out.send_errors = c.send_errors.load(std::memory_order_relaxed);
    out.cached_subjects = c.cached_subjects.load(std::memory_order_relaxed);
    out.snapshot_requests = c.snapshot_requests.load(std::memory_order_relaxed);
    out.snapshot_requests_limited = c.snapshot_requests_limited.load(std::memory_order_relaxed);
    out.snapshot_answers = c.snapshot_answers.load(std::memory_order_relaxed);
    out.snapshot_records = c.snapshot_records.load(std::memory_order_relaxed);
    out.tail_probes = c.tail_probes.load(std::memory_order_relaxed);
    return out;
  }

  // Any thread: refuses further publishes and posts the shutdown to the executor.
  void close() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
    }
    asio::post(transport_.get_executor(), [self = this->shared_from_this()] { self->shutdown(); });
  }

 private:
  struct counters_type {
    std::atomic<std::uint64_t> published{0}, resent{0}, withdrawn{0}, datagrams_sent{0}, bytes_sent{0},
        send_errors{0}, cached_subjects{0}, snapshot_requests{0}, snapshot_requests_limited{0},
        snapshot_answers{0}, snapshot_records{0}, tail_probes{0};
  };

  // A cached subject. One block of the publisher's slab holds the subject's bytes, then the
  // payload; the slot keeps it (and its capacity) when freed, for the next subject.
  struct slot {
    std::byte* data = nullptr;
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
    time_point due{};  // when the next resend is due; its wheel entry is due no later
    std::uint32_t interval_ms = 0;
    std::uint32_t generation = 0;
    std::uint32_t capacity = 0;
    std::uint16_t payload_len = 0;
    std::uint8_t subject_len = 0;
    bool live = false;

    std::string_view subject() const noexcept { return {reinterpret_cast<const char*>(data), subject_len}; }
    byte_view payload() const noexcept { return {data + subject_len, payload_len}; }
  };

  struct sv_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(xxh3(s)); }
  };

  struct token_bucket {
    double tokens;
    time_point at;
  };

  // The union of the filters of merged requests; past `max_filters` distinct ones, everything.
  struct filter_union {
    static constexpr std::size_t max_filters = 16;
    bool all = false;
    std::vector<subject_filter> filters;

    bool empty() const noexcept { return !all && filters.empty(); }
    void clear() noexcept {
      all = false;
      filters.clear();
    }
    void add(std::string_view f) {  // f: empty (every subject) or a valid filter
      if (all) return;
      if (f.empty() || filters.size() >= max_filters) {
        all = true;
        filters.clear();
        return;
      }
      for (const auto& g : filters)
        if (g.str() == f) return;
      std::error_code ec;
      auto parsed = subject_filter::parse(f, ec);
      if (!ec) filters.push_back(std::move(parsed));
    }
    bool matches(std::string_view subject) const noexcept {
      if (all) return true;
      for (const auto& g : filters)
        if (g.matches(subject)) return true;
      return false;
    }
  };

  // What one answer pass re-sends: cached subjects matching a full request's filter, and
  // cached subjects whose current sequence lies in a requested range (and matching the filter
  // of a range request). Merging over-approximates, never under-approximates.
  struct answer_set {
    static constexpr std::size_t max_ranges = 1024;
    filter_union full;
    filter_union repair;
    range_set ranges{max_ranges};

    bool empty() const noexcept { return full.empty() && ranges.empty(); }
    void clear() noexcept {
      full.clear();
      repair.clear();
      ranges.clear();
    }
    bool selects(const slot& sl) const noexcept {
      return (!full.empty() && full.matches(sl.subject())) ||
             (!ranges.empty() && ranges.contains(sl.sequence) && repair.matches(sl.subject()));
    }
  };

  struct stream_state {
    stream_state() = default;
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;
    ~stream_state() {
      for (slot& sl : slots) slab::deallocate_large(sl.data, sl.capacity);
    }

    std::string name;
    endpoint ep;
    std::uint32_t ordinal = 0;  // streams created before this one: an order that is the same every run
    std::uint64_t next_sequence = 1;
    // Cached subjects: the index maps a subject (by its XXH3) to its slot; slots live in a
    // chunked vector (stable, no doubling slack) and their bytes in the publisher's slab.
    flat_index subjects;
    chunked_vector<slot> slots;
    std::vector<std::uint32_t> free_slots;
    std::unique_ptr<std::byte[]> buffer;  // the datagram being filled (from the publisher's pool)
    wire::datagram_writer writer{std::span<std::byte>{}};
    bool writer_open = false;
    bool listener_checked = false;  // executor only
    counters_type counters;

    // Snapshot answers (executor only): requests merge into `pending`; a pass re-sends
    // `active`, walking the slots with `cursor`; `pending` then becomes the one follow-up pass.
    answer_set pending;
    answer_set active;
    time_point pending_due{};
    time_point last_pass{};  // when the last pass started
    std::unordered_map<std::uint64_t, token_bucket> requesters;  // rate limit per requester id
    time_point last_sweep{};
    std::size_t cursor = 0;
    bool answering = false;
    bool in_answer_list = false;

    // Tail probe (executor only): the newest live record sent, to send again once quiet.
    wire::record probe;  // subject and payload are re-pointed into probe_data when sent
    std::vector<std::byte> probe_data;
    time_point probe_due{};
    duration probe_step{};
    int probes_left = 0;
    bool probe_dirty = false;
    bool in_probe_list = false;
  };

  struct pending_op {
    stream_state* stream = nullptr;
    std::size_t offset = 0;
    std::uint8_t subject_len = 0;
    std::uint16_t payload_len = 0;
    std::uint32_t interval_ms = 0;
    bool withdraw = false;
  };

  // A resend deadline in the wheel: the slot's `due` is the exact time, the wheel's tick (1 ms)
  // only files it. An entry whose generation is not the slot's is stale and dropped.
  struct wheel_entry {
    stream_state* stream;  // streams live as long as the publisher
    std::uint32_t slot;
    std::uint32_t generation;
  };

  // A datagram of the outbox: its bytes are in `buffer`, `body` of them written (header and
  // records); the trailer (and any padding) is written when it is sent.
  struct finished_datagram {
    stream_state* stream = nullptr;
    std::unique_ptr<std::byte[]> buffer;
    std::size_t body = 0;
  };

  static constexpr std::size_t max_run_segments = 64;  // UDP_MAX_SEGMENTS of older kernels

  // Counters are written by the executor only: a plain load and store, not a locked
  // read-modify-write, so counting costs the hot path nothing; readers on other threads see
  // a value at most one update old.
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  static std::uint64_t tick_of(time_point t) noexcept {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
  }
  static time_point time_of_tick(std::uint64_t tick) noexcept {
    return time_point{std::chrono::duration_cast<duration>(std::chrono::milliseconds(static_cast<std::int64_t>(tick)))};
  }

  // Under mutex_: the record joins the queue that the next flush sends.
  void queue(stream_state* s, std::string_view subject, byte_view payload, std::uint32_t interval_ms, bool withdraw) {
    const std::size_t offset = pending_bytes_.size();
    std::byte* dst = pending_bytes_.extend(subject.size() + payload.size());
    std::memcpy(dst, subject.data(), subject.size());
    if (!payload.empty()) std::memcpy(dst + subject.size(), payload.data(), payload.size());
    // Written in place: an op built on the stack and copied in stalled on its narrow stores.
    pending_op& op = pending_ops_.emplace_back();
    op.stream = s;
    op.offset = offset;
    op.subject_len = static_cast<std::uint8_t>(subject.size());
    op.payload_len = static_cast<std::uint16_t>(payload.size());
    op.interval_ms = interval_ms;
    op.withdraw = withdraw;
  }

  // Under mutex_.
  stream_state* find_or_add_stream(std::uint64_t key, const std::string& name, const endpoint& ep,
                                   std::error_code& ec) {
    // Publishing threads mostly stay on one stream: the stream object's key (or, without one,
    // a byte compare) instead of a hash lookup.
    if (last_stream_ != nullptr &&
        (key != 0 ? key == last_key_ : last_stream_->name == name && last_stream_->ep == ep))
      return last_stream_;
    if (auto it = streams_.find(std::string_view(name)); it != streams_.end()) {
      if (it->second->ep != ep) {
        ec = make_error_code(errc::family_mismatch);
        return nullptr;
      }
      last_stream_ = it->second.get();
      last_key_ = key;
      return last_stream_;
    }
    const auto family = ep.group.is_v6() ? address_family::v6 : address_family::v4;
    {
      auto tlock = lock_transport();
      transport_.open(family, ec);
    }
    if (ec) return nullptr;
    auto s = std::make_unique<stream_state>();
    s->ordinal = static_cast<std::uint32_t>(streams_.size());
    s->name = name;
    s->ep = ep;
    stream_state* raw = s.get();
    streams_.emplace(std::string_view(raw->name), std::move(s));
    last_stream_ = raw;
    last_key_ = key;
    return raw;
  }

  // --- executor only from here on ---

  void flush() {
    {
      std::lock_guard lock(mutex_);
      flush_ops_.swap(pending_ops_);
      flush_bytes_.swap(pending_bytes_);
      flush_posted_ = false;
      if (shut_down_) {
        flush_ops_.clear();
        flush_bytes_.clear();
        return;
      }
    }
    const time_point now = Clock::now();
    // One stamp for the whole batch: the time the publisher takes the messages for sending.
    // A clock read per message cost ~35 ns on the project's VM, a sixth of a 64 B message's
    // whole path; and stamps taken here never go backwards along the sequence numbers given
    // here (stamps taken by several publishing threads could).
    const std::uint64_t stamp = stamp_(now);
    for (const pending_op& op : flush_ops_) {
      const std::byte* base = flush_bytes_.data() + op.offset;
      process(*op.stream, std::string_view(reinterpret_cast<const char*>(base), op.subject_len),
              byte_view(base + op.subject_len, op.payload_len), op.interval_ms, stamp, op.withdraw, now);
    }
    send_open_writers(now);  // before the bytes go: a tail probe copies its record from them
    flush_ops_.clear();
    flush_bytes_.clear();
    arm_timer();
  }

  // Opens the stream's listener for snapshot requests, once, when its first message goes out:
  // a request sent before the publisher ever sent on the stream is not heard (what it asks
  // for is in flight anyway). Best effort: without a listener the stream is not answered.
  void ensure_listener(stream_state& s) {
    s.listener_checked = true;
    const endpoint at = request_endpoint(s.ep);
    if (!opts_.answer_snapshots || listeners_.contains(at)) return;
    std::error_code ec;
    auto tlock = lock_transport();
    auto on_request = [this](std::span<const std::byte> d, const receive_info&) { on_listener_datagram(d); };
    receiver_id id;
    if constexpr (kind_filtering_transport<Transport>) {
      // Where the transport can filter in the kernel, only requests wake the listener: the
      // group's data (the publisher's own, looped back) never reaches it.
      id = transport_.open_receiver(at, on_request, ec, static_cast<int>(wire::kind::snapshot_request));
    } else {
      id = transport_.open_receiver(at, on_request, ec);
    }
    if (!ec) listeners_.emplace(at, id);
  }

  // One published record: into the stream's datagram, and into (or out of) the cache. The
  // views must stay valid until the next send_open_writers (a tail probe copies from them).
  void process(stream_state& s, std::string_view subject, byte_view payload, std::uint32_t interval_ms,
               std::uint64_t timestamp_ns, bool withdraw, time_point now) {
    if (!s.listener_checked) ensure_listener(s);

    // Built where append keeps it anyway, the stream's tail probe: a record built on the
    // stack and then copied there was read back with 16-byte loads over its 1-, 4- and 8-byte
    // stores, a stall the CPU cannot forward around (four fifths of append's time at 64 B).
    wire::record& r = s.probe;
    r.flags = 0;
    r.sequence = s.next_sequence++;
    r.timestamp_ns = timestamp_ns;
    r.subject = subject;
    bump(s.counters.published);

    // A stream that caches nothing (events only) needs no lookup.
    const std::uint64_t h = s.subjects.empty() ? 0 : xxh3(subject);
    const std::uint32_t found =
        s.subjects.empty() ? flat_index::npos
                           : s.subjects.find(h, [&](std::uint32_t i) { return same_bytes(s.slots[i].subject(), subject); });
    if (withdraw) {
      r.flags = wire::flags::tombstone;
      r.interval_ms = found != flat_index::npos ? s.slots[found].interval_ms : 0;
      r.payload = {};
      if (found != flat_index::npos) remove_slot(s, found, h);
      bump(s.counters.withdrawn);
      append(s, r);
      return;
    }
    r.interval_ms = interval_ms;
    r.payload = payload;
    append(s, r);

    if (interval_ms == 0) {
      // A one-shot event replaces whatever value was cached: no further resends of it.
      if (found != flat_index::npos) remove_slot(s, found, h);
      return;
    }
    const bool is_new = found == flat_index::npos;
    const std::uint32_t index = is_new ? allocate_slot(s) : found;
    slot& sl = s.slots[index];
    const std::size_t need = subject.size() + payload.size();
    if (sl.capacity < need) {
      std::byte* grown = values_.allocate(need);
      std::memcpy(grown, subject.data(), subject.size());
      values_.deallocate(sl.data, sl.capacity);
      sl.data = grown;
      sl.capacity = static_cast<std::uint32_t>(slab::capacity_for(need));
    } else if (is_new) {
      std::memcpy(sl.data, subject.data(), subject.size());
    }
    sl.subject_len = static_cast<std::uint8_t>(subject.size());
    if (is_new) s.subjects.insert(s.subjects.empty() ? xxh3(subject) : h, index);
    if (!payload.empty()) std::memcpy(sl.data + sl.subject_len, payload.data(), payload.size());
    sl.payload_len = static_cast<std::uint16_t>(payload.size());
    sl.interval_ms = interval_ms;
    sl.sequence = r.sequence;
    sl.timestamp_ns = r.timestamp_ns;
    const time_point old_due = sl.due;
    sl.due = now + std::chrono::duration_cast<duration>(std::chrono::milliseconds(interval_ms));
    if (!sl.live) {
      sl.live = true;
      bump(s.counters.cached_subjects);
      schedule_resend(s, index, sl.due);
    } else if (sl.due < old_due) {
      // Sooner than before (a shorter interval): the live wheel entry, due no sooner than the
      // old due time, may be too late; it goes stale and a new one is pushed.
      ++sl.generation;
      schedule_resend(s, index, sl.due);
    }
  }

  std::uint32_t allocate_slot(stream_state& s) {
    if (!s.free_slots.empty()) {
      auto i = s.free_slots.back();
      s.free_slots.pop_back();
      return i;
    }
    s.slots.emplace_back();
    return static_cast<std::uint32_t>(s.slots.size() - 1);
  }

  void remove_slot(stream_state& s, std::uint32_t index, std::uint64_t hash) {
    s.subjects.erase(hash, index);
    slot& sl = s.slots[index];
    sl.live = false;
    ++sl.generation;
    s.free_slots.push_back(index);
    s.counters.cached_subjects.store(s.counters.cached_subjects.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

  void schedule_resend(stream_state& s, std::uint32_t index, time_point due) {
    wheel_.add(tick_of(due), wheel_entry{&s, index, s.slots[index].generation});
  }

  void append(stream_state& s, const wire::record& r) {
    if (!r.resend() && opts_.tail_probe_delay.count() > 0) {
      // Only the views: send_open_writers copies the stream's last one, while they are valid.
      // A new message's record is built in s.probe already (process).
      if (&r != &s.probe) s.probe = r;
      s.probe_dirty = true;
    }
    if (!try_append(s, r)) {
      next_datagram(s);
      s.writer.append(r);  // fits: enqueue checked the size against an empty datagram
    }
  }

  // As `append` (for a resend: no tail probe), but a record that does not fit the stream's
  // open datagram is refused (false) instead of starting the next one.
  bool try_append(stream_state& s, const wire::record& r) {
    open_writer(s);
    return s.writer.append(r);
  }

  // The stream's open datagram is full: it joins the outbox and the next one begins.
  void next_datagram(stream_state& s) {
    finish_datagram(s);
    s.writer.begin(id_, s.name);
  }

  // Starts the stream's datagram unless one is open (sent by send_open_writers).
  void open_writer(stream_state& s) {
    if (s.writer_open) return;
    if (!s.buffer) {
      s.buffer = take_buffer();
      s.writer = wire::datagram_writer{std::span<std::byte>(s.buffer.get(), opts_.max_datagram_size)};
    }
    s.writer.begin(id_, s.name);
    s.writer_open = true;
    open_writers_.push_back(&s);
  }

  std::unique_ptr<std::byte[]> take_buffer() {
    if (free_buffers_.empty()) return std::make_unique_for_overwrite<std::byte[]>(opts_.max_datagram_size);
    auto b = std::move(free_buffers_.back());
    free_buffers_.pop_back();
    return b;
  }

  // The stream's datagram is complete: it joins the outbox (its buffer with it, not yet
  // sealed: the checksum is written when the outbox goes out, after any padding) and the
  // stream goes on in a fresh buffer. A full outbox goes out at once.
  void finish_datagram(stream_state& s) {
    const std::size_t body = s.writer.finish_unsealed();
    outbox_.push_back(finished_datagram{.stream = &s, .buffer = std::move(s.buffer), .body = body});
    s.buffer = take_buffer();
    s.writer = wire::datagram_writer{std::span<std::byte>(s.buffer.get(), opts_.max_datagram_size)};
    if (outbox_.size() >= batch_limit_) send_outbox();
  }

  // Datagrams per batch: up to 64, and up to 256 KiB of buffers.
  static std::size_t batch_limit_for(std::size_t max_datagram_size) noexcept {
    return std::clamp<std::size_t>((std::size_t{256} << 10) / max_datagram_size, 1, 64);
  }

  bool transport_segments() noexcept {
    if constexpr (segmenting_transport<Transport>) {
      return transport_.segmentation_offload();
    } else {
      return false;
    }
  }

  // Hands the outbox to the transport: one `send_batch` (one sendmmsg per interface) where
  // the transport has it, else one `send` per datagram; then counts per stream.
  //
  // Where the transport has segmentation offload (UDP GSO), each stream's datagrams go as runs
  // the kernel segments itself: a run's datagrams but the last are padded (wire format,
  // "Padding") to its largest size, as long as that pads none by more than 1/16 of it.
  void send_outbox() {
    if (outbox_.empty()) return;
    const std::size_t n = outbox_.size();
    if (n == 1) {
      // The idle publisher's datagram (the latency path): no order, no batch table.
      finished_datagram& d = outbox_[0];
      const auto bytes = wire::seal(std::span<std::byte>(d.buffer.get(), opts_.max_datagram_size), d.body, total_of(d));
      send_result res;
      {
        auto tlock = lock_transport();  // as below
        busy_ = true;
        res = transport_.send(d.stream->ep, bytes);
        busy_ = false;
      }
      count_sent(d, res, bytes.size());
      outbox_.clear();
      return;
    }
    order_.resize(n);
    for (std::size_t i = 0; i < n; ++i) order_[i] = static_cast<std::uint32_t>(i);
    const bool segment = n > 1 && transport_segments();
    if (segment) {
      // Each stream's datagrams side by side, in their order; the streams in the order they
      // were created (not by address: the same every run).
      std::stable_sort(order_.begin(), order_.end(),
                       [&](std::uint32_t a, std::uint32_t b) { return outbox_[a].stream->ordinal < outbox_[b].stream->ordinal; });
    }
    sending_.clear();
    for (std::size_t i = 0; i < n;) {
      const std::size_t len = segment ? run_at(i) : 1;
      std::size_t seg = 0;
      for (std::size_t k = i; k < i + len; ++k) seg = std::max(seg, total_of(outbox_[order_[k]]));
      for (std::size_t k = i; k < i + len; ++k) {
        finished_datagram& d = outbox_[order_[k]];
        const std::size_t total = k + 1 < i + len ? seg : total_of(d);
        sending_.push_back(outgoing_datagram{
            .to = d.stream->ep,
            .bytes = wire::seal(std::span<std::byte>(d.buffer.get(), opts_.max_datagram_size), d.body, total),
            .run_length = static_cast<std::uint16_t>(k == i && len > 1 ? len : 0)});
      }
      i += len;
    }
    {
      // The transport may call the application's error handler from inside the send; a
      // publish from there must queue, not re-enter (busy_ is read only on the executor).
      auto tlock = lock_transport();
      busy_ = true;
      if constexpr (batch_sending_transport<Transport>) {
        transport_.send_batch(std::span<outgoing_datagram>(sending_));
      } else {
        for (outgoing_datagram& d : sending_) d.result = transport_.send(d.to, d.bytes);
      }
      busy_ = false;
    }
    for (std::size_t k = 0; k < n; ++k) count_sent(outbox_[order_[k]], sending_[k].result, sending_[k].bytes.size());
    outbox_.clear();
    sending_.clear();
  }

  // Counts a sent datagram on its stream and takes its buffer back.
  void count_sent(finished_datagram& d, const send_result& res, std::size_t size) {
    counters_type& c = d.stream->counters;
    bump(c.datagrams_sent, res.ok);
    bump(c.bytes_sent, std::uint64_t{res.ok} * size);
    bump(c.send_errors, res.failed + res.would_block);
    free_buffers_.push_back(std::move(d.buffer));
  }

  static std::size_t total_of(const finished_datagram& d) noexcept { return d.body + wire::trailer_size; }

  // How many datagrams from order_[i] on form one run: the same stream, at most 64 and
  // 65507 bytes, every one but the last within 1/16 of the run's largest (so padding them to
  // it wastes little); a much shorter one ends the run as its last, a much longer one starts
  // the next.
  std::size_t run_at(std::size_t i) const noexcept {
    const stream_state* s = outbox_[order_[i]].stream;
    std::size_t lo = total_of(outbox_[order_[i]]), hi = lo, len = 1;
    while (i + len < order_.size() && len < max_run_segments) {
      const finished_datagram& d = outbox_[order_[i + len]];
      if (d.stream != s) break;
      const std::size_t t = total_of(d);
      const std::size_t nlo = std::min(lo, t), nhi = std::max(hi, t);
      if (nhi * (len + 1) > wire::max_datagram_size_limit) break;
      if ((nhi - nlo) * 16 <= nhi) {
        lo = nlo;
        hi = nhi;
        ++len;
        continue;
      }
      if (t < lo) ++len;  // shorter: the run's unpadded last datagram
      break;
    }
    return len;
  }

  // `now`: the caller's reading of the clock (tail probes are timed from it). The datagrams
  // go first and the tail probes' copies are taken after: the copying is not on the path of
  // a message to the network. The views they copy from stay valid until the caller returns.
  void send_open_writers(time_point now) {
    for (stream_state* s : open_writers_) {
      if (!s->writer.empty()) finish_datagram(*s);
      s->writer_open = false;
    }
    send_outbox();
    time_point probe_at{};
    bool probing = false;
    for (stream_state* s : open_writers_) {
      if (!s->probe_dirty) continue;
      s->probe_dirty = false;
      wire::record& p = s->probe;
      s->probe_data.resize(p.subject.size() + p.payload.size());
      std::memcpy(s->probe_data.data(), p.subject.data(), p.subject.size());
      if (!p.payload.empty()) std::memcpy(s->probe_data.data() + p.subject.size(), p.payload.data(), p.payload.size());
      p.subject = {reinterpret_cast<const char*>(s->probe_data.data()), p.subject.size()};
      p.payload = {s->probe_data.data() + p.subject.size(), p.payload.size()};
      if (!probing) {
        probing = true;
        probe_at = now + std::chrono::duration_cast<duration>(opts_.tail_probe_delay);
      }
      s->probes_left = probe_count;
      s->probe_step = std::chrono::duration_cast<duration>(opts_.tail_probe_delay);
      s->probe_due = probe_at;
      if (!s->in_probe_list) {
        s->in_probe_list = true;
        probe_streams_.push_back(s);
      }
    }
    open_writers_.clear();
    if (probing) arm_answer_timer(probe_at);
  }

  void arm_timer() {
    if (wheel_.empty() || shut_down_) return;
    // The first tick with a deadline, or sooner a short-interval resend that the last pass
    // held back to its own due time.
    const time_point top = std::min(time_of_tick(wheel_.next_tick()), held_due_);
    timer_.arm(top, this->weak_from_this(), [](publisher_impl& self) { self.on_timer(); });
  }

  duration jitter(std::uint32_t interval_ms) {
    const double j = std::clamp(opts_.resend_jitter, 0.0, 1.0) * rng_.unit() * interval_ms;
    return std::chrono::duration_cast<duration>(std::chrono::duration<double, std::milli>(j));
  }

  // Cached values are cold (a few hundred thousand of them): the wheel hands over the entries
  // ahead of the one firing, and their slots are fetched before the pass reads them. Their
  // bytes are fetched when the pass is packed (pack_resends), where they are copied; fetched
  // here as well, they made no difference (three alternating resend-scale pairs). Forced
  // inline: g++ split a prefetch step out as a separate function, found it free of side
  // effects and dropped the call.
  struct resend_look_ahead {
    RACKET_HOT_INLINE void operator()(const wheel_entry& item, int step) const noexcept {
      if (step == 0) prefetch(&item.stream->slots[item.slot]);
    }
  };

  // A resend the timer pass has taken: packed into datagrams when the pass is over.
  struct pass_resend {
    stream_state* stream;
    std::uint64_t key;  // the stream's ordinal, then its subject and payload bytes, largest first
    std::uint32_t slot;
  };

  void on_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    const time_point horizon = now + std::chrono::duration_cast<duration>(opts_.resend_coalesce);
    std::size_t budget = resend_budget;
    held_due_ = time_point::max();
    wheel_.advance(tick_of(horizon), budget, [&](const wheel_entry& item) {
      stream_state& s = *item.stream;
      slot& sl = s.slots[item.slot];
      if (!sl.live || sl.generation != item.generation) return;
      if (sl.due > horizon) {  // republished since: its entry moves to the new due time
        schedule_resend(s, item.slot, sl.due);
        return;
      }
      // A subject goes early by at most half its interval, so a short interval is never sent
      // twice in one pass; one not yet due within its own window waits for its due time.
      const auto own_window = std::min(std::chrono::duration_cast<duration>(opts_.resend_coalesce),
                                       std::chrono::duration_cast<duration>(std::chrono::milliseconds(sl.interval_ms)) / 2);
      if (sl.due > now + own_window) {
        held_due_ = std::min(held_due_, sl.due);
        schedule_resend(s, item.slot, sl.due);
        return;
      }
      const std::uint32_t bytes = std::uint32_t{sl.subject_len} + sl.payload_len;
      pass_resends_.push_back(pass_resend{&s, std::uint64_t{s.ordinal} << 32 | ~bytes, item.slot});
      bump(s.counters.resent);
      const auto interval = std::chrono::duration_cast<duration>(std::chrono::milliseconds(sl.interval_ms));
      time_point next = sl.due + interval + jitter(sl.interval_ms);
      if (next <= now) next = now + jitter(sl.interval_ms) + duration{1};  // we fell far behind: do not burst
      sl.due = next;
      // Filed within this pass's reach, the entry waits for the next pass: wake for it on time.
      if (next <= horizon) held_due_ = std::min(held_due_, next);
      schedule_resend(s, item.slot, next);
    }, resend_look_ahead{});
    pack_resends();
    send_open_writers(now);
    arm_timer();
  }

  // Puts the pass's resends into datagrams, each stream's largest first and every datagram
  // topped up with the largest that still fit (first-fit decreasing, one datagram at a time):
  // in the order the wheel fired them, the last record that did not fit ended each datagram,
  // 4.04 resends per 1452-byte datagram at the bench's 128-384 B payloads; packed this way, 4.25
  // (docs/performance.md). A stream with more than `pack_block` resends in the pass is packed
  // in blocks of that many, each taking every k-th of them (so spanning all sizes): linear in
  // a big backlog, and as full.
  void pack_resends() {
    if (pass_resends_.empty()) return;
    // By a key that is the same every run (not the stream's address): the simulation replays.
    std::sort(pass_resends_.begin(), pass_resends_.end(),
              [](const pass_resend& a, const pass_resend& b) { return a.key < b.key; });
    const std::size_t n = pass_resends_.size();
    std::array<std::uint32_t, pack_block> left{};
    for (std::size_t g = 0; g < n;) {
      stream_state& s = *pass_resends_[g].stream;
      std::size_t end = g + 1;
      while (end < n && pass_resends_[end].stream == &s) ++end;
      // Block j takes every blocks-th resend from g + j on: each block spans all the sizes.
      const std::size_t blocks = (end - g + pack_block - 1) / pack_block;
      for (std::size_t j = 0; j < blocks; ++j) {
        std::size_t count = 0;
        for (std::size_t i = g + j; i < end; i += blocks) {
          const slot& sl = s.slots[pass_resends_[i].slot];
          prefetch_bytes(sl.data, std::size_t{sl.subject_len} + sl.payload_len);
          left[count++] = static_cast<std::uint32_t>(i);
        }
        while (count > 0) {
          std::size_t kept = 0;
          for (std::size_t k = 0; k < count; ++k)
            if (!try_append(s, cached_record(s.slots[pass_resends_[left[k]].slot], wire::flags::resend))) left[kept++] = left[k];
          if (kept == count) {  // nothing fitted the stream's open datagram: a fresh one takes the largest
            if (s.writer.empty()) break;  // cannot be: enqueue checked each record against an empty one
            next_datagram(s);
          }
          count = kept;
        }
      }
      g = end;
    }
    pass_resends_.clear();
  }

  // A cached subject's record, re-sent with `flags` (resend: its own sequence; snapshot: the
  // caller gives it the next one).
  static wire::record cached_record(const slot& sl, std::uint8_t flags) noexcept {
    wire::record r;
    r.flags = flags;
    r.interval_ms = sl.interval_ms;
    r.sequence = sl.sequence;
    r.timestamp_ns = sl.timestamp_ns;
    r.subject = sl.subject();
    r.payload = sl.payload();
    return r;
  }

  void shutdown() {
    flush();  // whatever was published before close() still goes out
    if (opts_.withdraw_on_close) {
      const std::uint64_t stamp = stamp_(Clock::now());
      std::vector<stream_state*> streams;
      {
        std::lock_guard lock(mutex_);
        for (auto& [name, st] : streams_) streams.push_back(st.get());
      }
      for (stream_state* s : streams) {
        for (auto& sl : s->slots) {
          if (!sl.live) continue;
          wire::record r;
          r.flags = wire::flags::tombstone;
          r.interval_ms = sl.interval_ms;
          r.sequence = s->next_sequence++;
          r.timestamp_ns = stamp;
          r.subject = sl.subject();
          append(*s, r);
          bump(s->counters.withdrawn);
        }
      }
      send_open_writers(Clock::now());
    }
    {
      std::lock_guard lock(mutex_);
      shut_down_ = true;
    }
    timer_.cancel();
    wheel_.clear();
    answer_timer_.cancel();
    answer_streams_.clear();
    probe_streams_.clear();
    auto tlock = lock_transport();
    transport_.close();
  }

  // --- snapshot requests and answers (executor only) ---

  // Everything a stream's listener hears on the request group: data of streams that map
  // there is dropped after a look at six bytes (or in the kernel); requests are decoded and
  // merged.
  void on_listener_datagram(std::span<const std::byte> bytes) {
    if (wire::peek_kind(bytes) != wire::kind::snapshot_request) return;
    std::error_code ec;
    const wire::request_view req = wire::decode_request(bytes, ec);
    if (ec) return;
    if (req.target_publisher() != 0 && req.target_publisher() != id_) return;
    stream_state* sp = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (shut_down_) return;
      auto it = streams_.find(req.stream());
      if (it == streams_.end()) return;
      sp = it->second.get();
    }
    stream_state& s = *sp;
    bump(s.counters.snapshot_requests);
    const time_point now = Clock::now();
    if (!admit(s, req.requester_id(), now)) {
      bump(s.counters.snapshot_requests_limited);
      return;
    }
    const bool was_empty = s.pending.empty();
    const time_point due = now + random_delay(req.full() ? opts_.snapshot_delay_max : opts_.repair_delay_max);
    if (req.full()) {
      s.pending.full.add(req.filter());
    } else {
      s.pending.repair.add(req.filter());
      for (std::size_t i = 0; i < req.range_count(); ++i) s.pending.ranges.add(req.range(i));
    }
    // Requests arriving while an answer is pending join it (a repair may bring it forward);
    // while a pass is in progress they make up the one follow-up pass.
    if (was_empty || (!req.full() && due < s.pending_due)) s.pending_due = due;
    if (!s.in_answer_list) {
      s.in_answer_list = true;
      answer_streams_.push_back(&s);
    }
    if (!s.answering) arm_answer_timer(pass_start(s));
  }

  // When the pending answer of `s` may start: its due time, and not before the spacing.
  time_point pass_start(const stream_state& s) const {
    return std::max(s.pending_due, s.last_pass + std::chrono::duration_cast<duration>(opts_.snapshot_answer_spacing));
  }

  duration random_delay(std::chrono::milliseconds max) {
    if (max.count() <= 0) return duration{0};
    const auto d = std::chrono::duration<double, std::milli>(rng_.unit() * static_cast<double>(max.count()));
    return std::chrono::duration_cast<duration>(d);
  }

  // Per (stream, requester) token bucket; false: over the limit (or no room to track a new
  // requester).
  bool admit(stream_state& s, std::uint64_t requester, time_point now) {
    auto& table = s.requesters;
    const double rate = opts_.snapshot_requests_per_second;
    if (!(rate > 0)) return true;
    const double burst = std::max(1.0, static_cast<double>(opts_.snapshot_request_burst));
    auto it = table.find(requester);
    if (it == table.end()) {
      if (table.size() >= std::max<std::size_t>(opts_.max_snapshot_requesters, 1)) {
        // Forget requesters whose bucket is full again (idle); at most ten sweeps a second.
        if (now - s.last_sweep < std::chrono::duration_cast<duration>(std::chrono::milliseconds{100})) return false;
        s.last_sweep = now;
        std::erase_if(table, [&](const auto& kv) {
          return kv.second.tokens + rate * seconds_between(kv.second.at, now) >= burst;
        });
        if (table.size() >= std::max<std::size_t>(opts_.max_snapshot_requesters, 1)) return false;
      }
      it = table.emplace(requester, token_bucket{burst, now}).first;
    }
    token_bucket& b = it->second;
    b.tokens = std::min(burst, b.tokens + rate * seconds_between(b.at, now));
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  static double seconds_between(time_point a, time_point b) noexcept {
    return b <= a ? 0.0 : std::chrono::duration<double>(b - a).count();
  }

  void arm_answer_timer(time_point t) {
    if (shut_down_) return;
    answer_timer_.arm(t, this->weak_from_this(), [](publisher_impl& self) { self.on_answer_timer(); });
  }

  double answer_burst() const noexcept {
    return std::max(static_cast<double>(opts_.snapshot_rate_bytes) * 0.002, 4.0 * static_cast<double>(opts_.max_datagram_size));
  }

  // Runs due tail probes, then answer passes as far as the pacing allows; re-arms itself.
  void on_answer_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    time_point next = time_point::max();

    for (std::size_t i = 0; i < probe_streams_.size();) {
      stream_state& s = *probe_streams_[i];
      if (s.probes_left > 0 && s.probe_due <= now) {
        if (s.probe.sequence + 1 == s.next_sequence) send_probe(s);
        --s.probes_left;
        s.probe_step *= 3;
        s.probe_due = now + s.probe_step;
      }
      if (s.probes_left <= 0) {
        s.in_probe_list = false;
        probe_streams_[i] = probe_streams_.back();
        probe_streams_.pop_back();
        continue;
      }
      next = std::min(next, s.probe_due);
      ++i;
    }

    const double rate = static_cast<double>(opts_.snapshot_rate_bytes);
    const double burst = answer_burst();
    if (rate > 0) {
      tokens_ = std::min(burst, tokens_ + rate * seconds_between(tokens_at_, now));
    } else {
      tokens_ = std::numeric_limits<double>::infinity();
    }
    tokens_at_ = now;
    for (std::size_t i = 0; i < answer_streams_.size();) {
      stream_state& s = *answer_streams_[i];
      bool yielded = false;
      for (;;) {
        if (!s.answering) {
          if (s.pending.empty() || pass_start(s) > now) break;
          std::swap(s.active, s.pending);
          s.pending.clear();
          s.cursor = 0;
          s.answering = true;
          s.last_pass = now;
          bump(s.counters.snapshot_answers);
        }
        if (!answer_step(s)) {
          yielded = true;
          break;
        }
      }
      if (yielded) {
        // Out of tokens: wait until half a burst has built up; out of scan budget: at once.
        const double wait = tokens_ > 0 ? 0.0 : (burst / 2 - tokens_) / rate;
        next = std::min(next, now + std::chrono::duration_cast<duration>(std::chrono::duration<double>(wait)));
      } else if (!s.pending.empty()) {
        next = std::min(next, pass_start(s));
      } else {
        s.in_answer_list = false;
        answer_streams_[i] = answer_streams_.back();
        answer_streams_.pop_back();
        continue;
      }
      ++i;
    }
    send_open_writers(now);
    if (next != time_point::max()) arm_answer_timer(next);
  }

  // Continues the pass of `s`; true when it is complete, false when it yields (pacing, or
  // the scan budget of one timer pass).
  bool answer_step(stream_state& s) {
    std::size_t scanned = 0;
    while (s.cursor < s.slots.size()) {
      if (tokens_ <= 0 || scanned >= answer_scan_budget) return false;
      slot& sl = s.slots[s.cursor++];
      ++scanned;
      if (!sl.live || !s.active.selects(sl)) continue;
      sl.sequence = s.next_sequence++;  // a later range request names the subject by this number
      const wire::record r = cached_record(sl, wire::flags::snapshot);
      append(s, r);
      tokens_ -= static_cast<double>(wire::record_size(r.subject.size(), r.payload.size()));
      bump(s.counters.snapshot_records);
    }
    s.answering = false;
    s.active.clear();
    return true;
  }

  void send_probe(stream_state& s) {
    wire::record r = s.probe;
    r.flags = static_cast<std::uint8_t>((r.flags & wire::flags::tombstone) | wire::flags::resend);
    r.subject = {reinterpret_cast<const char*>(s.probe_data.data()), r.subject.size()};
    r.payload = {s.probe_data.data() + r.subject.size(), r.payload.size()};
    append(s, r);
    bump(s.counters.tail_probes);
  }

  static constexpr std::size_t resend_budget = 8192;  // per timer pass, then yield to other work
  static constexpr std::size_t pack_block = 64;        // resends of one stream packed together at most
  static constexpr std::size_t answer_scan_budget = 65536;  // slots looked at per stream per answer pass step
  static constexpr int probe_count = 3;

  publisher_options opts_;
  Transport transport_;
  earliest_timer<typename Transport::timer_type> timer_;         // resends (the wheel's next tick)
  earliest_timer<typename Transport::timer_type> answer_timer_;  // answer passes (delays, pacing) and tail probes
  splitmix64 rng_;
  wall_stamper<Clock> stamp_;  // executor only: the records' timestamps, from the steady readings
  std::uint64_t id_ = 0;
  std::size_t batch_limit_ = 1;  // batch_limit_for(opts_.max_datagram_size)

  mutable std::mutex mutex_;  // guards streams_, pending_*, flush_posted_, closed_, shut_down_
  std::mutex transport_mutex_;  // serialises calls into a transport that is not thread_safe

  std::unique_lock<std::mutex> lock_transport() {
    if constexpr (thread_safe_transport<Transport>) {
      return {};  // it locks inside
    } else {
      return std::unique_lock<std::mutex>(transport_mutex_);
    }
  }
  // The bytes of every stream's cached values (executor only), in one slab so that a large
  // cache grows in huge-page chunks however it spreads over streams; declared before the
  // streams, which free their large blocks when they go.
  slab values_;
  std::unordered_map<std::string_view, std::unique_ptr<stream_state>, sv_hash, std::equal_to<>> streams_;
  std::vector<pending_op> pending_ops_;
  stream_state* last_stream_ = nullptr;  // the stream of the last publish (streams are never removed)
  std::uint64_t last_key_ = 0;           // its stream object's key (0: none)
  detail::byte_queue pending_bytes_;
  bool flush_posted_ = false;
  bool busy_ = false;  // executor only: inside a transport send (see send_outbox)
  bool closed_ = false;
  bool shut_down_ = false;

  // Executor only.
  std::vector<pending_op> flush_ops_;
  detail::byte_queue flush_bytes_;
  std::vector<stream_state*> open_writers_;
  std::vector<finished_datagram> outbox_;  // finished datagrams not yet handed to the transport
  std::vector<std::uint32_t> order_;        // send_outbox scratch: the outbox, streams grouped
  std::vector<outgoing_datagram> sending_;  // send_outbox scratch: what the transport is given
  std::vector<std::unique_ptr<std::byte[]>> free_buffers_;
  // Resend deadlines of every cached subject (one timer for all): 4096 ticks of 1 ms.
  timer_wheel<wheel_entry> wheel_{4096};
  time_point held_due_ = time_point::max();  // earliest resend the last pass held back
  std::vector<pass_resend> pass_resends_;      // on_timer scratch: the pass's resends, to pack
  std::unordered_map<endpoint, receiver_id, endpoint_hash> listeners_;  // snapshot requests, per (group, port)
  std::vector<stream_state*> answer_streams_;  // streams with a pending or running answer
  std::vector<stream_state*> probe_streams_;   // streams with tail probes to send
  double tokens_ = 0;  // answer pacing, bytes
  time_point tokens_at_{};
};

}  // namespace detail

/// Publishes messages on streams: stamps them (publisher id, sequence, time, content hash),
/// sends each on every selected interface, and re-sends the last value of every subject
/// published with a non-zero interval until it is replaced, withdrawn, or the publisher closes.
///
/// `publish` and `withdraw` are safe from any thread and never block on the network: they
/// queue the record and the publisher's executor packs whatever queued up into as few
/// datagrams as fit. All resends are driven by one timer and one timing wheel, whatever the number of
/// subjects. Destroying the publisher closes it (see `close`).
///
/// ```cpp
/// asio::io_context io;
/// racket::publisher pub{io, {.interfaces = {"lo"}}};
/// racket::stream<double> temperature{"plant", racket::multicast_pool{}};
/// pub.publish(temperature, "plant.line3.temp", 21.5, std::chrono::seconds{1});
/// io.run();
/// ```
template <transport Transport, class Clock = typename Transport::clock_type>
class basic_publisher {
  static_assert(std::is_same_v<typename Clock::time_point, typename Transport::clock_type::time_point>,
                "the publisher's Clock must be the clock of its transport's timers");

 public:
  using transport_type = Transport;
  using clock_type = Clock;
  using executor_type = typename Transport::executor_type;

  /// Opens a publisher on `ctx` (an `asio::io_context` for UDP, a `sim::node` in simulation).
  explicit basic_publisher(typename Transport::context_type& ctx, const publisher_options& opts = {})
      : impl_(std::make_shared<detail::publisher_impl<Transport, Clock>>(ctx, opts)) {}

  basic_publisher(const basic_publisher&) = delete;
  basic_publisher& operator=(const basic_publisher&) = delete;
  basic_publisher(basic_publisher&&) noexcept = default;
  basic_publisher& operator=(basic_publisher&&) noexcept = default;

  /// Closes the publisher: see `close`.
  ~basic_publisher() {
    if (impl_) impl_->close();
  }

  /// Publishes `value` on `subject` of `s`. With `interval` > 0 the value is cached and
  /// re-sent every interval until replaced or withdrawn; with 0 it is a one-shot event (and a
  /// cached value of that subject is dropped). Errors: `invalid_subject`, `payload_too_large`,
  /// `not_open`, or the transport's (`no_interfaces`, `unknown_interface`). Any thread.
  template <class T, class C>
  void publish(const stream<T, C>& s, std::string_view subject, const T& value, std::chrono::milliseconds interval,
               std::error_code& ec) {
    byte_view payload;
    if constexpr (viewing_codec<C, T>) {
      payload = C::view(value);  // the value's own bytes: copied once, into the queue
    } else {
      auto& scratch = detail::encode_scratch();
      scratch.clear();
      C::encode(value, scratch);
      payload = byte_view(scratch);
    }
    detail::last_encoded_size() = payload.size();
    impl_->enqueue(s.key(), s.name(), s.endpoint(), subject, payload, to_interval(interval, ec), false, ec);
  }

  /// Throwing overload of `publish`: `std::system_error` naming the stream and subject.
  template <class T, class C>
  void publish(const stream<T, C>& s, std::string_view subject, const T& value,
               std::chrono::milliseconds interval = std::chrono::milliseconds{0}) {
    std::error_code ec;
    publish(s, subject, value, interval, ec);
    if (ec) detail::throw_error(ec, describe("publish", s.name(), subject, ec));
  }

  /// Stops re-sending `subject` and sends a tombstone, so subscribers drop it at once.
  template <class T, class C>
  void withdraw(const stream<T, C>& s, std::string_view subject, std::error_code& ec) {
    impl_->enqueue(s.key(), s.name(), s.endpoint(), subject, byte_view{}, 0, true, ec);
  }

  /// Throwing overload of `withdraw`.
  template <class T, class C>
  void withdraw(const stream<T, C>& s, std::string_view subject) {
    std::error_code ec;
    withdraw(s, subject, ec);
    if (ec) detail::throw_error(ec, describe("withdraw", s.name(), subject, ec));
  }

  /// Stops every resend and closes the sockets, after sending what was already published
  /// (and, with `withdraw_on_close`, a tombstone per cached subject). Further publishes fail
  /// with `not_open`. The shutdown itself runs on the executor. Any thread.
  void close() { impl_->close(); }

  /// Called with the error and the interface's name when sending on one interface fails (the
  /// others keep working; each failure is also counted in `send_errors`). Any thread.
  void set_error_handler(std::function<void(const std::error_code&, std::string_view)> h) {
    impl_->set_error_handler(std::move(h));
  }

  /// The random 64-bit id stamped on every message.
  std::uint64_t id() const noexcept { return impl_->id(); }

  /// Counters of one stream (all zero for a stream never published on).
  publisher_stream_stats stats(std::string_view stream_name) const { return impl_->stats(stream_name); }

  executor_type get_executor() noexcept { return impl_->transport().get_executor(); }

 private:
  // The exception text: names the stream and subject (escaped), and for size and interface
  // errors the numbers and names involved.
  std::string describe(std::string_view what, std::string_view stream_name, std::string_view subject,
                       const std::error_code& ec) const {
    std::string out = std::string(what) + " on " + detail::quote_for_error("stream", stream_name) + " " +
                      detail::quote_for_error("subject", subject);
    const publisher_options& o = impl_->options();
    if (ec == errc::payload_too_large) {
      out += " (payload of " + std::to_string(detail::last_encoded_size()) + " bytes; at most " +
             std::to_string(wire::max_payload(o.max_datagram_size, stream_name.size(), subject.size())) +
             " fit a datagram of " + std::to_string(o.max_datagram_size) + " bytes)";
    } else if (ec == errc::unknown_interface || ec == errc::no_interfaces) {
      out += detail::interfaces_for_error(o.interfaces);
    }
    return out;
  }

  static std::uint32_t to_interval(std::chrono::milliseconds interval, std::error_code&) noexcept {
    if (interval.count() <= 0) return 0;
    return static_cast<std::uint32_t>(std::min<std::int64_t>(interval.count(), 0xFFFFFFFFll));
  }

  std::shared_ptr<detail::publisher_impl<Transport, Clock>> impl_;
};

}  // namespace racket
