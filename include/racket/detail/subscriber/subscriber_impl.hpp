// SPDX-License-Identifier: MIT
#pragma once

// The subscriber's front: what the API calls, from any thread — subscribe (the channel and
// stream made, the snapshot request and the replay posted), unsubscribe, stats,
// for_each_value, the error and loss handlers, close — and what a subscription starts on the
// strand: the snapshot request, the replay of the values held to a new subscription, and the
// announcements of the subscriptions (announced_subscriptions.hpp,
// detail/announce/announcer.hpp). Everything a datagram or a timer of the receive path does
// is the engine's (subscriber_engine.hpp), which it derives from and shares the one mutex
// with. Knows nothing of value types or codecs (basic_subscriber, subscriber.hpp).
//
// Threads. The public members may be called from any thread, handlers included: they take
// mutex_ for a short while and never call user code under it. The announcement list is under
// mutex_; the announce timer and its rng are the strand's.

#include "racket/detail/announce/announcer.hpp"
#include "racket/detail/subscriber/announced_subscriptions.hpp"
#include "racket/detail/subscriber/subscriber_engine.hpp"
#include "racket/detail/unique_function.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/subject.hpp"
#include "racket/subscriber_options.hpp"
#include "racket/subscription_index.hpp"
#include "racket/wire.hpp"

#include <asio/dispatch.hpp>
#include <asio/post.hpp>

#include <cstdint>
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
class subscriber_impl : public subscriber_engine<Transport, Clock> {
  using base = subscriber_engine<Transport, Clock>;
  using typename base::stream_state;
  using typename base::channel;
  using base::opts_;
  using base::transport_;
  using base::requests_;
  using base::mutex_;
  using base::channels_;
  using base::sources_;
  using base::closed_;
  using base::handlers_;
  using base::batch_;
  using base::post_error;
  using base::find_or_open_channel;
  using base::find_or_add_stream;
  using base::clear_stream;
  using base::invoke;
  using base::reassembly_;

 public:
  using typename base::time_point;
  using typename base::entry_ptr;
  using typename base::error_function;
  using typename base::loss_function;

  template <class ContextOrExecutor>
    requires std::constructible_from<Transport, ContextOrExecutor&&, const transport_options&>
  subscriber_impl(ContextOrExecutor&& ctx, const subscriber_options& opts)
      : base(std::forward<ContextOrExecutor>(ctx), opts),
        announce_timer_(transport_.make_timer()),
        announcer_(wire::announce_role::subscriber, requests_.id(), opts.announce_period,
                   make_identity(opts.host_name, opts.process_id, opts.program_name), wire::default_max_datagram_size),
        announce_rng_(requests_.id()) {}

  // The transport is closed before the announce timer goes (the engine closes it again).
  ~subscriber_impl() { transport_.close(); }


  // `h` runs on the strand (basic_subscriber wraps a handler bound elsewhere so that it posts
  // itself there). The transport's reports are posted to the strand first: it may make them
  // from inside a call of ours that holds mutex_.
  void set_error_handler(error_function h) {
    if constexpr (error_reporting_transport<Transport>) {
      transport_.set_error_handler(
          [weak = this->weak_from_this()](const std::error_code& ec, std::string_view interface_name) {
            if (auto self = weak.lock()) static_cast<subscriber_impl&>(*self).post_error(ec, std::string(interface_name));
          });
    }
    handlers_.set_error(std::move(h));
  }

  void set_loss_handler(loss_function h) { handlers_.set_loss(std::move(h)); }

  // Any thread: reports a handler's exception (counted) from outside the strand's batch (a
  // delivery posted to the handler's own executor); the error handler hears of it on the strand.
  void report_posted_handler_error(const subscription_entry& e, std::string what) {
    {
      std::lock_guard lock(mutex_);
      if (auto* s = channels_.find_stream(e.ep, e.stream)) ++s->stats.handler_errors;
    }
    post_error(std::make_error_code(std::errc::operation_canceled), std::move(what));
  }

  // Any thread.
  // `force_request`: send the snapshot request even when `request_snapshots` is off (fetch).
  // `announce_ep`: the stream's announce channel; port 0: the subscription is not announced.
  std::uint64_t subscribe(const std::string& stream_name, const endpoint& ep, std::string_view filter_text,
                          subscription_entry::deliver_function deliver, subscription_entry::removal_function on_removed,
                          std::error_code& ec, bool force_request = false, const endpoint& announce_ep = {}) {
    subject_filter filter = subject_filter::parse(filter_text, ec);
    if (ec) return 0;
    auto entry = std::make_shared<subscription_entry>();
    entry->stream = stream_name;
    entry->ep = ep;
    entry->filter = std::move(filter);
    entry->deliver = std::move(deliver);
    entry->wants_removals = static_cast<bool>(on_removed);
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
      const std::uint64_t handle = channels_.add(*ch, s, entry);
      ec.clear();
      if (opts_.request_snapshots || force_request) {
        // Subscriptions made together on one stream share one request.
        s.request_filters.emplace_back(entry->filter.str());
        if (!s.request_posted) {
          s.request_posted = true;
          asio::post(transport_.get_executor(),
                     [self = shared_self(), ep, name = stream_name] { self->request_snapshot(ep, name); });
        }
      }
      asio::post(transport_.get_executor(), [self = shared_self(), entry] { self->replay(entry); });
      // Without multicast there is no announce channel to send on.
      if (announcer_.enabled() && opts_.multicast && announce_ep.port != 0 && !this->keyed(stream_name)) {  // a keyed stream's name stays private
        announced_.add(handle, announce_ep, stream_name, std::string(entry->filter.str()));
        asio::post(transport_.get_executor(), [self = shared_self()] { self->start_announcing(); });
      }
      return handle;
    }
  }

  // Any thread, also from inside a handler. When it returns, no call of the subscription's
  // handlers starts any more; unless called from inside one of them, none is running either
  // and they have been destroyed (else the call in flight destroys them as it returns).
  // `on_released` (may be empty) runs once they are destroyed, at once if the handle is unknown.
  void unsubscribe(std::uint64_t handle, unique_function<void()> on_released = {}) {
    entry_ptr entry;
    {
      std::lock_guard lock(mutex_);
      announced_.remove(handle);
      if (const auto info = channels_.take(handle)) {
        entry = info->entry;
        entry->active.store(false, std::memory_order_seq_cst);
        // The executor's batch in progress holds plain pointers to entries: keep this one alive
        // until the batch is done (flush_callbacks releases it).
        batch_.retire(info->entry);
        if (channels_.unlink(handle, *info)) {
          // Nobody listens to this stream any more: its state goes, and its datagrams are foreign.
          clear_stream(*info->stream);
          sources_.drop(info->stream->name);
          channels_.erase_stream(*info->ch, *info->stream);
        }
        if (--info->ch->subscriptions == 0) {
          if (info->ch->receiver != 0) transport_.close_receiver(info->ch->receiver);
          info->ch->open = false;
        }
      }
    }
    if (!entry) {
      if (on_released) on_released();
      return;
    }
    if (on_released) entry->add_release_waiter(std::move(on_released));
    entry->stop();  // without mutex_: it may wait for a handler that takes it
  }

  subscriber_stream_stats stats(std::string_view stream_name, const endpoint& ep) const {
    std::lock_guard lock(mutex_);
    subscriber_stream_stats out;
    const channel* ch = channels_.find(ep);
    if (!ch) return out;
    if (const stream_state* s = ch->find(stream_name)) out = s->counters();
    ch->fill_counters(out);
    out.reassembly_bytes = reassembly_.stream_bytes(stream_name);
    return out;
  }

  // Calls f(subject, payload) for every value held on the stream (tests, diagnostics).
  template <class F>
  void for_each_value(std::string_view stream_name, const endpoint& ep, F&& f) const {
    std::lock_guard lock(mutex_);
    const stream_state* s = channels_.find_stream(ep, stream_name);
    if (!s) return;
    s->subjects.for_each_value(
        [&](const subject_state<time_point>& st) { f(std::string_view(st.subject), byte_view(st.payload)); });
  }

  // Any thread: the key ring replaced on the strand (at once when called there).
  // `invalid_option` when made without keys.
  void set_keys(key_ring ring, std::error_code& ec) {
    ec.clear();
    if (!this->keyed_from_start()) {
      ec = make_error_code(errc::invalid_option);
      return;
    }
    asio::dispatch(transport_.get_executor(), [self = shared_self(), r = std::move(ring)] { self->rekey(r); });
  }

  void close() {
    std::vector<std::uint64_t> handles;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      handles = channels_.handles();
    }
    for (auto h : handles) unsubscribe(h);
    asio::post(transport_.get_executor(), [self = shared_self()] { self->stop_timers(); });
  }

  // close(), then `complete()` on the strand once the timers are stopped (work queued there
  // before it has run by then).
  template <class Complete>
  void close_then(Complete complete) {
    close();
    asio::post(transport_.get_executor(), [self = shared_self(), c = std::move(complete)]() mutable {
      self->stop_timers();
      c();
    });
  }

 private:
  // The engine's shared_from_this, as this class (work posted here calls its members).
  std::shared_ptr<subscriber_impl> shared_self() {
    return std::static_pointer_cast<subscriber_impl>(this->shared_from_this());
  }

  void stop_timers() {
    base::stop_timers();
    announce_timer_.cancel();
  }

  // --- executor ---

  // A subscription to announce was made: the next announcement comes soon.
  void start_announcing() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    arm_announce_timer(announcer_.started(Clock::now(), announce_rng_));
  }

  void arm_announce_timer(time_point t) {
    announce_timer_.arm(t, this->weak_from_this(),
                        [](base& self) { static_cast<subscriber_impl&>(self).on_announce_timer(); });
  }

  // Announces the subscriptions held (none left: nothing, until the next subscription).
  void on_announce_timer() {
    std::lock_guard lock(mutex_);
    if (closed_ || announced_.empty()) return;
    const auto items = announced_.items();
    const auto send = [this](const endpoint& to, std::span<const std::byte> d) { (void)transport_.send(to, d); };
    arm_announce_timer(announcer_.announce(
        Clock::now(), announce_rng_, std::span<const announce_item<wire::announced_subscription>>(items), send));
  }

  // One full snapshot request for the subscriptions just made on a stream: with their filter
  // if they all have the same, else for every subject.
  void request_snapshot(const endpoint& ep, const std::string& name) {
    std::lock_guard lock(mutex_);
    stream_state* s = channels_.find_stream(ep, name);
    if (!s) return;
    s->request_posted = false;
    if (s->request_filters.empty()) return;
    if (requests_.request_snapshot(ep, *s)) ++s->stats.snapshot_requests_sent;
    s->request_filters.clear();
  }
  // The values held that match a new subscription, flagged `resend`, before its live ones.
  void replay(const entry_ptr& entry) {
    std::vector<subject_state<time_point>> held;
    {
      std::lock_guard lock(mutex_);
      entry->replayed = true;
      if (!entry->active.load(std::memory_order_acquire)) return;
      const stream_state* s = channels_.find_stream(entry->ep, entry->stream);
      if (!s) return;
      s->subjects.for_each_value([&](const subject_state<time_point>& st) {
        if (entry->filter.matches(st.subject)) held.push_back(st);
      });
    }
    for (const subject_state<time_point>& st : held) {
      if (!entry->active.load(std::memory_order_acquire)) return;
      const delivery_record rec{entry->stream,   st.subject,     byte_view(st.payload), st.publisher_id, st.sequence,
                                st.timestamp_ns, st.interval_ms, true,                  true};
      invoke(entry, rec);
    }
  }

  // Discovery: the list under mutex_, the timer and rng on the executor.
  announced_subscriptions announced_;
  earliest_timer<typename Transport::timer_type> announce_timer_;
  announcer<time_point> announcer_;
  splitmix64 announce_rng_;
};

}  // namespace racket::detail
