// SPDX-License-Identifier: MIT
#pragma once

// The subscriber's receive side: the channels (a transport receiver per group and port in
// use) and their streams, the unicast port (subscriber_options::unicast_port: what it hears is
// routed to its stream's channel; unicast_sources.hpp), the receive path from a datagram (records, or a large message's
// fragments through the reassembler) to a batch of handler calls, the expiry, repair and
// reassembly timers, and the one mutex that guards all of it. It alone locks (with the front
// that derives from it), posts to the executor and arms timers; the rooms it drives do none
// of that: where subscriptions live (channel_map.hpp, channel.hpp), the rules that decide
// each record (subject_table.hpp), the gap tracking (gap_tracker.hpp), the deadlines
// (expiry_heap.hpp, repair_queue.hpp), the requests (requester.hpp), the handler calls
// (dispatcher.hpp), the reassembly (detail/reassembly/). It knows nothing of the API's
// calls (subscribe, unsubscribe, close, the replay to a new subscription: subscriber_impl.hpp,
// which derives from it), of announcements, value types or codecs.
//
// Threads. `transport_.get_executor()` is the subscriber's strand: every datagram, timer
// completion and posted piece of work of the subscriber runs there, one at a time, however
// many threads run the io_context (udp_transport's executor is a strand; the simulation is
// single-threaded). The scratch state of the receive path (matches_, records_, batch_, the
// expiry heap's walk) is touched on the strand only. mutex_ guards the channels, streams and
// counters; no user code runs under it. User handlers are called with no lock of ours held:
// from the strand's batch (a handler whose associated executor is the strand), or posted to
// their associated executor. Error reports the transport makes (which may come from inside a
// call that holds mutex_) are posted to the strand before the error handler is run.

#include "racket/detail/clock.hpp"
#include "racket/detail/config.hpp"
#include "racket/detail/earliest_timer.hpp"
#include "racket/detail/reassembly/reassembler.hpp"
#include "racket/detail/subscriber/channel.hpp"
#include "racket/detail/subscriber/channel_map.hpp"
#include "racket/detail/subscriber/unicast_sources.hpp"
#include "racket/detail/subscriber/dispatcher.hpp"
#include "racket/detail/subscriber/expiry_heap.hpp"
#include "racket/detail/subscriber/fragment_repairs.hpp"
#include "racket/detail/subscriber/gap_tracker.hpp"
#include "racket/detail/subscriber/handler_slots.hpp"
#include "racket/detail/subscriber/repair_pass.hpp"
#include "racket/detail/subscriber/repair_queue.hpp"
#include "racket/detail/subscriber/requester.hpp"
#include "racket/detail/subscriber/subject_table.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/detail/security/seals.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/message.hpp"
#include "racket/subject.hpp"
#include "racket/subscriber_options.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/post.hpp>
#include <asio/error.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail {

template <class Transport, class Clock>
class subscriber_engine : public std::enable_shared_from_this<subscriber_engine<Transport, Clock>> {
 public:
  using clock_type = Clock;
  using timer_type = typename Transport::timer_type;
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;
  using entry_ptr = std::shared_ptr<subscription_entry>;

  using error_function = handler_slots::error_function;
  using loss_function = handler_slots::loss_function;

  // From anything the transport is made from: an execution context, an executor (a strand
  // too), a simulated node.
  template <class ContextOrExecutor>
    requires std::constructible_from<Transport, ContextOrExecutor&&, const transport_options&>
  subscriber_engine(ContextOrExecutor&& ctx, const subscriber_options& opts)
      : opts_(opts),
        transport_(std::forward<ContextOrExecutor>(ctx),
                   transport_options{.interfaces = opts.interfaces,
                                          .ttl = opts.ttl,
                                          .receive_buffer_size = opts.receive_buffer_size,
                                          .rescan_interval = opts.rescan_interval,
                                          .segmentation_offload = opts.segmentation_offload,
                                          .busy_poll = opts.busy_poll}),
        timer_(transport_.make_timer()),
        requests_(transport_, opts.seed),
        repairs_(opts.repair_holdoff),
        repair_timer_(transport_.make_timer()),
        reassembly_(reassembly_limits{.max_message_size = std::min(opts.max_message_size, wire::max_message_size_limit),
                                      .max_bytes_per_publisher = opts.reassembly_bytes_per_publisher,
                                      .max_bytes_per_stream = opts.reassembly_bytes_per_stream,
                                      .timeout = opts.reassembly_timeout}),
        reassembly_timer_(transport_.make_timer()),
        fragment_repairs_(opts.request_snapshots ? std::chrono::duration_cast<duration>(opts.fragment_repair_delay)
                                                 : duration::zero()),
        fragment_repair_timer_(transport_.make_timer()) {
    if (opts_.expiry_factor == 0) opts_.expiry_factor = 1;
    opts_.max_message_size = std::min(opts_.max_message_size, wire::max_message_size_limit);
    if (!opts_.keys.empty()) {  // keyed streams (docs/security.md): opened here, requests sealed
      sealer_ = std::make_unique<datagram_sealer>(opts_.keys, requests_.id(), protection::encrypt);
      opener_ = std::make_unique<datagram_opener>(
          opts_.keys, static_cast<std::uint64_t>(std::chrono::nanoseconds(opts_.freshness_window).count()),
          opts_.max_keyed_senders);
      open_buf_.resize(wire::max_datagram_size_limit);
      requests_.seal_with(sealer_.get());
    }
    if (opts_.unicast_port != 0) {
      if constexpr (unicast_transport<Transport>) {
        requests_.send_back_to(&sources_, opts_.multicast);
      } else {
        throw std::system_error(make_error_code(errc::invalid_option),
                                "subscriber_options::unicast_port: this transport cannot receive by unicast");
      }
    } else if (!opts_.multicast) {
      throw std::system_error(make_error_code(errc::invalid_option),
                              "subscriber_options::multicast = false needs subscriber_options::unicast_port");
    }
  }

  ~subscriber_engine() { transport_.close(); }

  Transport& transport() noexcept { return transport_; }
  const subscriber_options& options() const noexcept { return opts_; }

  // The subscriber's strand.
  auto strand() const noexcept { return transport_.get_executor(); }

  std::uint64_t requester_id() const noexcept { return requests_.id(); }

  // Whether it was made with keys: only then can its key ring change.
  bool keyed_from_start() const noexcept { return opener_ != nullptr; }

  // Executor only, when keyed_from_start(): opens, and seals requests, with `ring` from now on.
  void rekey(const key_ring& ring) {
    std::lock_guard lock(mutex_);  // subscribe asks the opener whether a stream is keyed
    sealer_->rekey(ring);
    opener_->rekey(ring);
  }

  // Whether `stream` is keyed here (its datagrams must come sealed; it is not announced).
  bool keyed(std::string_view stream) const { return opener_ != nullptr && opener_->keyed(stream); }

 protected:
  using publisher_state = publisher_gaps<time_point>;
  using stream_state = detail::stream_state<time_point>;
  using channel = detail::channel<time_point>;
  using expiry_type = expiry_heap<time_point, stream_state>;
  using repair_type = repair_queue<time_point, stream_state>;

  // Under mutex_.
  channel* find_or_open_channel(const endpoint& ep, std::error_code& ec) {
    channel* ch = &channels_.find_or_add(ep);
    if (!ch->open && opts_.unicast_port != 0) {
      open_unicast(ep.group.is_v6() ? address_family::v6 : address_family::v4, ec);
      if (ec) return nullptr;
      if (!opts_.multicast) {  // the unicast port alone: no group, no receiver
        ch->receiver = 0;
        ch->open = true;
      }
    }
    if (!ch->open) {
      transport_.open(ep.group.is_v6() ? address_family::v6 : address_family::v4, ec);
      if (ec) return nullptr;
      const auto one = [this, ch](std::span<const std::byte> datagram, const receive_info&) {
        on_datagram(*ch, datagram);
      };
      if constexpr (segment_receiving_transport<Transport>) {  // runs of a large message's fragments at once
        ch->receiver = transport_.open_receiver(
            ep, one,
            [this, ch](std::span<const std::byte> buffer, std::size_t segment, const receive_info&) {
              return on_segments(*ch, buffer, segment);
            },
            ec);
      } else {
        ch->receiver = transport_.open_receiver(ep, one, ec);
      }
      if (ec) return nullptr;
      ch->open = true;
    }
    return ch;
  }

  stream_state& find_or_add_stream(channel& ch, const std::string& name) {
    const subject_limits limits{.expiry_factor = opts_.expiry_factor,
                                .event_window = opts_.event_window,
                                .max_subjects = opts_.max_subjects_per_stream,
                                .max_clock_skew = opts_.max_clock_skew,
                                .max_bytes = opts_.max_bytes_per_stream};
    return ch.find_or_add(name, limits, tracked_total_, opts_.max_publishers_per_stream, opts_.request_snapshots);
  }

  // Before a stream_state is destroyed: no deadline may point at it afterwards.
  void clear_stream(stream_state& s) {
    repairs_.erase(&s);
    expiry_.erase(&s);
    s.subjects.clear();
    s.publishers.clear();
  }

  void stop_timers() {
    timer_.cancel();
    repair_timer_.cancel();
    reassembly_timer_.cancel();
    fragment_repair_timer_.cancel();
  }

  void post_error(const std::error_code& ec, std::string what) {
    asio::post(transport_.get_executor(), [weak = this->weak_from_this(), ec, what = std::move(what)] {
      if (auto self = weak.lock()) self->handlers_.call_error(ec, what);
    });
  }

  // --- executor ---


  // Under mutex_: one repair (and loss report) per (stream, publisher) per holdoff.
  void queue_repair(stream_state& s, std::uint64_t publisher_id, time_point now) {
    arm_repair_timer(repairs_.add(&s, publisher_id, now));
  }

  void arm_repair_timer(time_point t) {
    repair_timer_.arm(t, this->weak_from_this(), [](subscriber_engine& self) { self.on_repair_timer(); });
  }

  // Sends the repair requests that are due (repair_pass.hpp).
  void on_repair_timer() {
    batch_.clear_losses();
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      const time_point now = Clock::now();
      const repair_pacing pacing{.request = opts_.request_snapshots,
                                 .rate = opts_.repair_requests_per_second,
                                 .burst = std::max(1.0, static_cast<double>(opts_.repair_request_burst))};
      const bool report = handlers_.has_loss();
      repairs_.take_due(now, [&](typename repair_type::item& item) {
        const channel* ch = channels_.channel_of(*item.owner);
        return run_repair(item, now, pacing, report, batch_, requests_, ch ? &ch->ep : nullptr);
      });
      if (!repairs_.empty()) arm_repair_timer(repairs_.earliest());
    }
    flush_callbacks();
  }

  // The unicast socket of `family` (subscriber_options::unicast_port), opened once; the other
  // family's too, best effort (a peer may send over either, whatever the pool's family).
  void open_unicast(address_family family, std::error_code& ec) {
    if constexpr (unicast_transport<Transport>) {
      const auto handler = [this](std::span<const std::byte> d, const receive_info& info) { on_unicast_datagram(d, info); };
      transport_.open_unicast(family, opts_.unicast_port, handler, ec);
      if (ec) return;
      std::error_code ignored;
      transport_.open_unicast(family == address_family::v4 ? address_family::v6 : address_family::v4,
                              opts_.unicast_port, handler, ignored);
    } else {
      (void)family;
      (void)ec;
    }
  }

  // A datagram heard on the unicast port: opened when sealed, then routed by the stream it
  // names to that stream's channel, where it takes the multicast path (same decoding, same
  // duplicate suppression). Its source is remembered per (stream, publisher) for requests,
  // and a publisher first heard there is asked for a snapshot.
  void on_unicast_datagram(std::span<const std::byte> bytes, const receive_info& info) {
    if (wire::peek_kind(bytes) == wire::announcement_kind) [[unlikely]] {
      on_unicast_announcement(bytes, info);
      return;
    }
    if (opener_ != nullptr) [[unlikely]] {
      bytes = guard(unicast_, bytes);
      if (bytes.empty()) return;
    }
    std::string_view name;
    std::uint64_t publisher = 0;
    channel* ch = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      if (!unicast_sources::peek(bytes, name, publisher) ||
          (ch = channels_.open_channel_named(name)) == nullptr) {
        ++unicast_.foreign;  // another kind, or a stream not subscribed here
        return;
      }
      if (info.source != nullptr && wire::peek_kind(bytes) != wire::kind::snapshot_request &&
          sources_.note(name, publisher, *info.source) && opts_.request_snapshots) {
        if (stream_state* s = ch->find(name); s != nullptr && requests_.request_snapshot_from(*info.source, *s))
          ++s->stats.snapshot_requests_sent;
      }
    }
    on_clear_datagram(*ch, bytes);
  }

  // A publisher's announcement heard on the unicast port (it goes to its peers too): for each
  // stream it names that is subscribed here, its address is remembered and, the first time,
  // asked for a snapshot. How a late joiner with multicast off learns of a quiet publisher.
  void on_unicast_announcement(std::span<const std::byte> bytes, const receive_info& info) {
    std::lock_guard lock(mutex_);
    if (closed_ || info.source == nullptr) return;
    const bool valid = unicast_sources::for_each_announced(
        bytes, opts_.max_datagram_size, [&](std::string_view stream, std::uint64_t publisher) {
          channel* ch = channels_.open_channel_named(stream);
          stream_state* s = ch != nullptr ? ch->find(stream) : nullptr;
          if (s == nullptr || !sources_.note(stream, publisher, *info.source) || !opts_.request_snapshots) return;
          if (requests_.request_snapshot_from(*info.source, *s)) ++s->stats.snapshot_requests_sent;
        });
    if (!valid) ++unicast_.malformed;
  }

  void on_datagram(channel& ch, std::span<const std::byte> bytes) {
    if (opener_ != nullptr) [[unlikely]] {  // keyed streams here: sealed ones are opened, clear ones checked
      bytes = guard(ch, bytes);
      if (bytes.empty()) return;
    }
    on_clear_datagram(ch, bytes);
  }

  // A datagram in clear (opened, when it came sealed), from a group or the unicast port.
  void on_clear_datagram(channel& ch, std::span<const std::byte> bytes) {
    if (wire::is_fragment_datagram(bytes)) [[unlikely]] {  // a large message's: on_fragment
      on_fragment_datagram(ch, bytes);
      return;
    }
    batch_.clear_deliveries_and_removals();
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
        // A sealed datagram here has no key to open it: refused, like one with the wrong key.
        ++(wire::peek_kind(bytes) == wire::kind::sealed ? ch.rejected : ch.malformed);
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
      if (batch_.has_deliveries()) {
        batch_.start_flight();
        batch_stream_ = &s;
        batch_epoch_ = channels_.streams_dropped();
      }
      // Moving the timer earlier may be a system call (timerfd_settime): it waits until the
      // handlers have run, so nothing but this processing sits between the datagram's
      // arrival and its handlers. Usually (a refresh only moves a due time later) there is
      // nothing to do.
      rearm = timer_needs_arming();
      if (rearm && !batch_.has_deliveries() && !batch_.has_removals() && !batch_.has_losses()) {
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

  // A subscriber with keyed streams, every datagram (executor only): a sealed one comes back
  // opened (in open_buf_, valid until the next datagram) when a key of the stream it carries
  // opens it, fresh and not replayed; a clear one of a keyed stream is refused. What comes
  // back takes the usual path; empty: refused and counted (on the channel: rejected,
  // replayed; on the stream: unsealed).
  std::span<const std::byte> guard(channel& ch, std::span<const std::byte> bytes) {
    if (wire::peek_kind(bytes) == wire::kind::sealed) {
      const auto r = opener_->open(bytes, wall_(Clock::now()), open_buf_);
      std::lock_guard lock(mutex_);
      switch (r.what) {
        case datagram_opener::verdict::opened: break;
        case datagram_opener::verdict::replayed:
        case datagram_opener::verdict::not_fresh: ++ch.replayed; return {};
        default: ++ch.rejected; return {};
      }
      const std::string_view name = datagram_stream(r.inner);
      if (!name.empty() && !opener_->covers(r.key, name)) {  // a key of another stream
        ++ch.rejected;
        return {};
      }
      return r.inner;
    }
    const std::string_view name = datagram_stream(bytes);
    if (name.empty() || !opener_->keyed(name)) return bytes;
    std::lock_guard lock(mutex_);
    if (stream_state* s = ch.find(name)) ++s->stats.unsealed;
    return {};
  }

  // A fragment datagram: as on_datagram, with on_fragment for the records' part.
  void on_fragment_datagram(channel& ch, std::span<const std::byte> bytes) {
    batch_.clear_deliveries_and_removals();
    {
      std::lock_guard lock(mutex_);
      if (!ch.open) return;
      ++ch.datagrams;
      fragment_run run;
      on_fragment(ch, bytes, Clock::now(), run);
    }
    flush_callbacks();
    std::lock_guard lock(mutex_);
    arm_timer();
  }

  // A buffer of several datagrams received at once (the transport's segments_handler: UDP
  // GRO, the datagrams of one sender): a run of fragments is taken in one go; anything else
  // (records, a keyed subscriber's datagrams) is left to come datagram by datagram (0).
  std::size_t on_segments(channel& ch, std::span<const std::byte> buffer, std::size_t segment) {
    if (opener_ != nullptr || !wire::is_fragment_datagram(buffer.first(std::min(segment, buffer.size())))) return 0;
    return on_fragment_run(ch, buffer, segment);
  }

  // What the fragments after one in a run may reuse of it (on_fragment_run): set by a fragment
  // decoded in full whose stream is subscribed here.
  struct fragment_run {
    wire::fragment_reference ref;  // the fragment decoded in full (empty: none)
    stream_state* s = nullptr;     // its stream
    bool matched = false;          // its subject matches a subscription
    bool deliverable = false;      // the subject table's check said deliver, and nothing changed since
    typename reassembler<time_point>::stream_ref place;  // its stream in the reassembler
  };

  // Consecutive fragment datagrams of `buffer` (cut at `segment`) taken as a run: under one
  // lock, with one clock read. The first, and any that is not the same message's (another
  // message, stream or publisher, or damaged), is decoded and handled in full (on_fragment);
  // each one after it that wire::fragment_reference finds to be a valid fragment of the same
  // message (every field but its index equal, its own index, length, padding and checksum
  // checked) skips what it would repeat: the decoding, the stream lookup, the gap tracker (the
  // same publisher, sequence and flags, noted already: noting them again changes nothing), the
  // filter match and, while it said deliver, the subject table's check (which changes nothing
  // when it says deliver). Counted as datagram by datagram. The run stops before a datagram
  // that is not a fragment and after one that completed a message or left handler calls
  // (which then run, as after that datagram on its own). Returns how many datagrams it took.
  std::size_t on_fragment_run(channel& ch, std::span<const std::byte> buffer, std::size_t segment) {
    batch_.clear_deliveries_and_removals();
    std::size_t taken = 0;
    {
      std::lock_guard lock(mutex_);
      if (!ch.open) return (buffer.size() + segment - 1) / segment;
      const time_point now = Clock::now();
      fragment_run run;
      wire::fragment_datagram fd;
      for (std::size_t at = 0; at < buffer.size(); at += segment) {
        const auto bytes = buffer.subspan(at, std::min(segment, buffer.size() - at));
        // The kernel's copy left the buffer out of the nearest caches: the next datagram is
        // fetched while this one is handled (its head was a cache miss each, its payload more).
        if (at + segment < buffer.size())
          for (std::size_t line = 0; line < std::min(segment, buffer.size() - at - segment); line += 64)
            prefetch(buffer.data() + at + segment + line);
        if (!wire::is_fragment_datagram(bytes)) break;
        ++taken;
        ++ch.datagrams;
        const bool more = run.ref.next(bytes, fd) ? on_next_fragment(fd, now, run) : on_fragment(ch, bytes, now, run);
        if (!more || batch_.has_deliveries() || batch_.has_losses() || batch_.has_removals()) break;
      }
    }
    flush_callbacks();
    std::lock_guard lock(mutex_);
    arm_timer();
    return taken;
  }

  // Under mutex_: one fragment datagram (docs/architecture.md, "Large messages"). Its
  // sequence counts for gap tracking like a record's; then, before any memory is spent on it,
  // the subject filter, the stale check and the duplicate check (the carried content hash
  // against the value held); then the reassembler, and on completion the usual decision and
  // delivery, once, of the whole payload (held in completed_ until the batch has run).
  // `run` becomes this fragment's (empty when it is malformed or foreign). False when a run
  // must end after it (a message completed).
  bool on_fragment(channel& ch, std::span<const std::byte> bytes, time_point now, fragment_run& run) {
    run = fragment_run{};
    std::error_code ec;
    const wire::fragment_datagram fd = wire::decode_fragment(bytes, ec, opts_.max_datagram_size, opts_.max_message_size);
    if (ec) {
      ++ch.malformed;
      return true;
    }
    const auto sit = ch.streams.find(fd.stream);
    if (sit == ch.streams.end()) {
      ++ch.foreign;
      return true;
    }
    stream_state& s = *sit->second;
    const wire::fragment& f = fd.frag;
    ++s.stats.fragments_received;
    wire::record r;
    r.flags = f.flags;
    r.interval_ms = f.interval_ms;
    r.sequence = f.sequence;
    r.timestamp_ns = f.timestamp_ns;
    r.subject = f.subject;
    publisher_state* pub = nullptr;
    note_publisher(s, fd.publisher_id, pub, r, now);
    bool matched = false;
    s.index.for_each_match(f.subject, [&](std::uint64_t, const entry_ptr&) { matched = true; });
    run.ref = wire::fragment_reference(bytes, fd);
    run.s = &s;
    run.matched = matched;
    if (!matched) {
      ++s.stats.filtered;
      return true;
    }
    return take_fragment(s, fd, now, run);
  }

  // Under mutex_: a fragment after run's in a run, found the same message's (on_fragment_run).
  bool on_next_fragment(const wire::fragment_datagram& fd, time_point now, fragment_run& run) {
    stream_state& s = *run.s;
    ++s.stats.fragments_received;
    if (!run.matched) {
      ++s.stats.filtered;
      return true;
    }
    return take_fragment(s, fd, now, run);
  }

  // Under mutex_: a fragment whose subject a subscription matches, from the stale and
  // duplicate check on (on_fragment). False when a message completed.
  bool take_fragment(stream_state& s, const wire::fragment_datagram& fd, time_point now, fragment_run& run) {
    const wire::fragment& f = fd.frag;
    if (!run.deliverable) {
      const auto pre = s.subjects.check_fragment(f.subject, fd.publisher_id, f.sequence, f.timestamp_ns,
                                                 f.content_hash, f.interval_ms, now);
      schedule(s, pre.expiry);
      if (pre.what != subject_table<time_point>::outcome::deliver) return true;
      run.deliverable = true;
    }
    const auto lost = [this](const lost_message& m) { report_lost(m); };
    // The last message handed out was delivered with its batch: its buffer, already mapped,
    // goes back for the next large message (a fresh one faults in page by page).
    if (completed_.data != nullptr) reassembly_.recycle(completed_);
    const fragment_outcome o = reassembly_.add(fd.stream, fd.publisher_id, f, now, completed_, lost, run.place);
    switch (o) {
      case fragment_outcome::started:
        arm_reassembly_timer(now);
        if (fragment_repairs_.enabled()) arm_fragment_repair_timer(now + fragment_repairs_delay());
        return true;
      case fragment_outcome::added:
      case fragment_outcome::duplicate:
      case fragment_outcome::already_complete: return true;
      case fragment_outcome::completed: break;
      case fragment_outcome::hash_mismatch: ++s.stats.fragments_dropped; return false;
      default: ++s.stats.fragments_dropped; return true;
    }
    ++s.stats.messages_reassembled;
    wire::record r;
    r.interval_ms = f.interval_ms;
    r.sequence = f.sequence;
    r.timestamp_ns = f.timestamp_ns;
    r.payload = completed_.payload();
    r.flags = completed_.flags;
    r.subject = completed_.subject;
    matches_.clear();
    s.index.for_each_match(r.subject, [&](std::uint64_t, const entry_ptr& e) {
      if (e->replayed) matches_.push_back(e.get());
    });
    const auto v = s.subjects.apply(r, fd.publisher_id, now, rng_, removals_to(s));
    schedule(s, v.expiry);
    if (v.what != subject_table<time_point>::outcome::deliver) return false;
    s.subjects.set_content_hash(r.subject, completed_.content_hash);
    for (subscription_entry* e : matches_) batch_.add_delivery(e, s.name, r, fd.publisher_id, v.is_new);
    if (batch_.has_deliveries()) {
      batch_.start_flight();
      batch_stream_ = &s;
      batch_epoch_ = channels_.streams_dropped();
    }
    return false;
  }

  // Under mutex_: a large message given up (timed out, evicted, wrong hash): counted, and
  // reported to the loss handler as its one sequence number.
  void report_lost(const lost_message& m) {
    stream_state* s = channels_.find_stream_named(m.stream);
    if (s == nullptr) return;  // its stream is gone: nobody to tell
    ++s->stats.messages_lost;
    if (handlers_.has_loss()) batch_.add_loss(s->name, m.publisher_id, m.sequence, m.sequence);
  }

  void arm_reassembly_timer(time_point now) {
    reassembly_timer_.arm(now + std::chrono::duration_cast<duration>(opts_.reassembly_timeout), this->weak_from_this(),
                          [](subscriber_engine& self) { self.on_reassembly_timer(); });
  }

  // Gives up the messages in progress that made no progress for the timeout.
  void on_reassembly_timer() {
    batch_.clear_losses();
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      const time_point now = Clock::now();
      reassembly_.expire(now, [this](const lost_message& m) { report_lost(m); });
      if (reassembly_.messages_in_progress() != 0) arm_reassembly_timer(now);
    }
    flush_callbacks();
  }

  duration fragment_repairs_delay() const { return std::chrono::duration_cast<duration>(opts_.fragment_repair_delay); }

  void arm_fragment_repair_timer(time_point t) {
    fragment_repair_timer_.arm(t, this->weak_from_this(), [](subscriber_engine& self) { self.on_fragment_repair_timer(); });
  }

  // Asks for the missing fragments of the messages in progress that stalled
  // (fragment_repairs.hpp), each run list in requests of 64 ranges to its publisher.
  void on_fragment_repair_timer() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    const auto ask = [this](std::string_view stream, std::uint64_t publisher_id, std::uint64_t sequence,
                            std::span<const std::pair<std::uint32_t, std::uint32_t>> missing) {
      stream_state* s = channels_.find_stream_named(stream);
      const channel* ch = s != nullptr ? channels_.channel_of(*s) : nullptr;
      if (ch == nullptr) return;
      s->stats.fragment_requests_sent += requests_.request_fragments(ch->ep, *s, publisher_id, sequence, missing);
    };
    const time_point next = fragment_repairs_.scan(reassembly_, Clock::now(), ask);
    if (next != time_point::max()) arm_fragment_repair_timer(next);
  }

  RACKET_HOT_INLINE void note_publisher(stream_state& s, std::uint64_t publisher_id, publisher_state*& pub,
                                        const wire::record& r, time_point now) {
    if (s.publishers.note(publisher_id, pub, r, now)) queue_repair(s, publisher_id, now);
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

    const auto v = s.subjects.apply(r, publisher_id, now, rng_, removals_to(s));
    schedule(s, v.expiry);
    if (v.what != subject_table<time_point>::outcome::deliver) return;
    // Views into the datagram, which outlives the batch: a slot's subject may be reassigned by
    // an eviction later in the same datagram, and s may go if a handler drops the last
    // subscription of the stream (the fuzzer found the first).
    for (subscription_entry* e : matches_) batch_.add_delivery(e, s.name, r, publisher_id, v.is_new);
  }

  // What the subject table calls with a held value it drops: the subscriptions matching the
  // subject hear of it.
  auto removals_to(stream_state& s) {
    return [this, &s](const std::string& subject, std::uint64_t publisher_id, removal_reason why) {
      s.index.for_each_match(subject, [&](std::uint64_t, const entry_ptr& e) {
        if (e->replayed && e->wants_removals) batch_.add_removal(e, subject, publisher_id, why);
      });
    };
  }

  void schedule(stream_state& s, const typename subject_table<time_point>::deadline& d) {
    if (!d.add) return;
    expiry_.push_and_sweep({d.due, &s, d.slot, d.generation}, tracked_total_, [](const typename expiry_type::entry& h) {
      return h.owner->subjects.current(h.slot, h.generation);
    });
  }

  bool timer_needs_arming() const noexcept { return !expiry_.empty() && timer_.would_move(expiry_.earliest()); }

  void arm_timer() {
    if (!timer_needs_arming()) return;
    timer_.arm(expiry_.earliest(), this->weak_from_this(), [](subscriber_engine& self) { self.on_timer(); });
  }

  void on_timer() {
    batch_.clear_deliveries_and_removals();
    {
      std::lock_guard lock(mutex_);
      const time_point now = Clock::now();
      typename expiry_type::entry item{};
      while (expiry_.pop_due(now, item)) {
        stream_state& s = *item.owner;
        const auto next = s.subjects.on_due(item.slot, item.generation, now, removals_to(s));
        if (next.add) expiry_.push({next.due, &s, next.slot, next.generation});
      }
      arm_timer();
    }
    flush_callbacks();
  }

  void flush_callbacks() {
    // Handlers run without the lock, so they may subscribe or unsubscribe. The records'
    // views point into the datagram, which lives until on_datagram returns.
    if (batch_.has_losses()) {
      if (const auto h = handlers_.loss()) {
        batch_.call_loss_handler(*h);
      } else {
        batch_.clear_losses();
      }
    }
    if (batch_.has_deliveries()) {
      // Counted once for the batch, under one lock after the last handler (not a lock and two
      // map lookups per call).
      const auto counted = batch_.call_deliveries(handler_error_reporter());
      std::vector<entry_ptr> retired;
      {
        std::lock_guard lock(mutex_);
        stream_state* s = batch_stream_;
        if (channels_.streams_dropped() != batch_epoch_) {  // a handler dropped a stream: look it up again
          const subscription_entry& e = batch_.first_entry();
          s = channels_.find_stream(e.ep, e.stream);
        }
        if (s != nullptr) {
          s->stats.delivered += counted.delivered;
          s->stats.decode_errors += counted.refused;
        }
        batch_stream_ = nullptr;
        retired = batch_.end_flight();
      }
      // `retired` (entries dropped during the batch) is destroyed here, without the lock.
    }
    batch_.call_removals(handler_error_reporter());
    batch_.clear_deliveries_and_removals();
  }

  // One delivery outside a datagram's batch (the replay to a new subscription).
  void invoke(const entry_ptr& e, const delivery_record& rec) {
    const auto result = dispatcher::call_one(*e, rec, handler_error_reporter());
    if (result == dispatcher::call_result::threw || result == dispatcher::call_result::inactive) return;
    std::lock_guard lock(mutex_);
    auto* s = channels_.find_stream(e->ep, e->stream);
    if (!s) return;
    if (result == dispatcher::call_result::delivered) {
      ++s->stats.delivered;
    } else {
      ++s->stats.decode_errors;
    }
  }

  auto handler_error_reporter() {
    return [this](const subscription_entry& e) { report_handler_error(e); };
  }

  // Inside the catch of a handler's exception, on the strand, no lock held.
  void report_handler_error(const subscription_entry& e) {
    {
      std::lock_guard lock(mutex_);
      if (auto* s = channels_.find_stream(e.ep, e.stream)) ++s->stats.handler_errors;
    }
    handlers_.call_error(std::make_error_code(std::errc::operation_canceled), dispatcher::describe_handler_error(e));
  }

  subscriber_options opts_;
  Transport transport_;
  earliest_timer<typename Transport::timer_type> timer_;  // expiry: the heap's first deadline
  requester<Transport> requests_;  // under mutex_

  mutable std::mutex mutex_;
  channel_map<time_point> channels_;
  bool closed_ = false;
  // The unicast port (subscriber_options::unicast_port): where requests go back per stream,
  // and the counters of what arrived there before it had a channel (refused, foreign).
  unicast_sources sources_;
  channel unicast_;
  handler_slots handlers_;  // the error and loss handlers (their own lock)
  repair_type repairs_;  // one per (stream, publisher) with a repair to send

  // Executor only.
  expiry_type expiry_;
  std::size_t tracked_total_ = 0;  // live subjects over all streams (bounds expiry_)
  std::vector<subscription_entry*> matches_;  // of the record being processed, under mutex_
  // The batch: built under mutex_, its handlers called without it. While it is in flight
  // (under mutex_) it holds plain entry pointers, and unsubscribe retires dropped entries to it
  // instead of destroying them. The stream of the batch is batch_stream_, valid while no
  // stream was dropped since (channels_.streams_dropped() == batch_epoch_).
  dispatcher batch_;
  stream_state* batch_stream_ = nullptr;
  std::uint64_t batch_epoch_ = 0;
  std::vector<wire::record> records_;  // the datagram being processed (under mutex_)
  earliest_timer<typename Transport::timer_type> repair_timer_;  // the earliest due repair request
  splitmix64 rng_{0x5EEDBA5Eull};  // eviction choice: fixed seed, so simulations replay exactly

  // Keyed streams (none unless opts_.keys names some): requests are sealed with sealer_ (the
  // requester's), datagrams opened with opener_ into open_buf_ (executor only).
  std::unique_ptr<datagram_sealer> sealer_;
  std::unique_ptr<datagram_opener> opener_;
  std::vector<std::byte> open_buf_;
  wall_stamper<Clock> wall_;

  // Large messages (under mutex_): the fragments in progress, the message last completed
  // (its payload is the batch's until the next datagram), the timeout's timer.
  reassembler<time_point> reassembly_;
  assembled_message completed_;
  earliest_timer<typename Transport::timer_type> reassembly_timer_;
  fragment_repairs<time_point> fragment_repairs_;  // which missing fragments to ask for, and when
  earliest_timer<typename Transport::timer_type> fragment_repair_timer_;
};

}  // namespace racket::detail
