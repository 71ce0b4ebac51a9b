// SPDX-License-Identifier: MIT
#pragma once

// One `async_fetch` in progress (`fetch_op`): a private subscription to the stream and
// filter, whose snapshot request is sent even when `request_snapshots` is off, collecting the
// latest value per subject (those held already come first, as for any new subscription);
// two transport timers end it: the quiet period after the last answer, and the timeout.
// Completes once, posted to the handler's associated executor, with the values in subject
// order; if the subscriber closes first, with `operation_aborted`. Its state is guarded by
// its own mutex (its deliveries and timers run on the subscriber's strand; the mutex makes
// that no requirement). Knows nothing of datagrams or subject state.

#include "racket/detail/completion.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/owned_message.hpp"
#include "racket/stream.hpp"

#include <asio/error.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail {

template <class Impl, class T, class Codec, class Handler>
class fetch_op : public std::enable_shared_from_this<fetch_op<Impl, T, Codec, Handler>> {
 public:
  using clock = typename Impl::clock_type;
  using timer_type = typename Impl::timer_type;

  fetch_op(std::shared_ptr<Impl> impl, Handler handler)
      : impl_(impl),
        strand_(impl->strand()),
        handler_(std::move(handler)),
        quiet_(impl->transport().make_timer()),
        deadline_(impl->transport().make_timer()),
        quiet_period_(impl->options().fetch_quiet_period) {}

  // On the strand.
  void start(const stream<T, Codec>& s, const std::string& filter, typename clock::duration timeout) {
    auto impl = impl_.lock();
    if (!impl) return finish(asio::error::operation_aborted);
    std::weak_ptr<fetch_op> weak = this->shared_from_this();
    deadline_.expires_at(clock::now() + timeout);
    deadline_.async_wait([weak](const std::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->finish({});
    });
    std::error_code ec;
    // The delivery handler keeps the operation alive while the subscription lasts; if the
    // subscription is dropped before the operation ends (the subscriber closes), the keeper's
    // destruction completes it with operation_aborted.
    const std::uint64_t handle = impl->subscribe(
        s.name(), s.endpoint(), filter,
        [keep = keeper{this->shared_from_this()}](subscription_entry&, const delivery_record& r) -> bool {
          return keep.op->on_value(r);
        },
        [weak](subscription_entry&, const removal& r) {
          if (auto self = weak.lock()) self->on_removed(r.subject);
        },
        ec, /*force_request=*/true);
    if (ec) return finish(ec);
    std::unique_lock lock(mutex_);
    if (dropped_) {  // the subscriber closed meanwhile
      lock.unlock();
      return finish(asio::error::operation_aborted);
    }
    if (done_) {  // finished meanwhile (a zero timeout): the subscription goes now
      lock.unlock();
      impl->unsubscribe(handle);
      return;
    }
    handle_ = handle;
  }

 private:
  struct keeper {
    std::shared_ptr<fetch_op> op;
    explicit keeper(std::shared_ptr<fetch_op> o) : op(std::move(o)) {}
    keeper(keeper&&) noexcept = default;
    keeper& operator=(keeper&&) = delete;
    keeper(const keeper&) = delete;
    ~keeper() {
      if (op) op->on_dropped();
    }
  };

  // The subscription was dropped: by finish (then done), by the subscriber closing, or by a
  // subscribe that failed (then start reports its error).
  void on_dropped() {
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      dropped_ = true;
      if (handle_ == 0) return;  // not subscribed (yet): start decides
    }
    finish(asio::error::operation_aborted);
  }

  bool on_value(const delivery_record& r) {
    std::error_code dec;
    T value = Codec::decode(r.payload, dec);
    if (dec) return false;
    std::lock_guard lock(mutex_);
    if (done_) return true;
    auto& slot = values_[std::string(r.subject)];
    slot = owned_message<T>{std::string(r.stream), std::string(r.subject), std::move(value),
                            std::vector<std::byte>(r.payload.begin(), r.payload.end()),
                            r.publisher_id, r.sequence, r.timestamp_ns, std::chrono::milliseconds(r.interval_ms),
                            r.is_new, r.resend};
    last_answer_ = clock::now();
    if (!quiet_armed_) arm_quiet(last_answer_ + quiet_period_);
    return true;
  }

  void on_removed(std::string_view subject) {
    std::lock_guard lock(mutex_);
    if (!done_) values_.erase(std::string(subject));
  }

  // Under mutex_.
  void arm_quiet(typename clock::time_point at) {
    quiet_armed_ = true;
    quiet_.expires_at(at);
    quiet_.async_wait([weak = std::weak_ptr<fetch_op>(this->shared_from_this())](const std::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->on_quiet();
    });
  }

  void on_quiet() {
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      const auto due = last_answer_ + quiet_period_;
      if (clock::now() < due) {  // answers came meanwhile
        arm_quiet(due);
        return;
      }
    }
    finish({});
  }

  void finish(const std::error_code& ec) {
    std::optional<Handler> handler;
    std::vector<owned_message<T>> out;
    std::uint64_t handle = 0;
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      done_ = true;
      handler.emplace(std::move(*handler_));
      handler_.reset();
      handle = std::exchange(handle_, 0);
      if (!ec) {
        out.reserve(values_.size());
        for (auto& [subject, m] : values_) out.push_back(std::move(m));
      }
      values_.clear();
      quiet_.cancel();
      deadline_.cancel();
    }
    // The subscription goes (its keeper finds the operation done), then the handler is posted.
    if (handle != 0) {
      if (auto impl = impl_.lock()) impl->unsubscribe(handle);
    }
    complete_later(std::move(*handler), strand_, ec, std::move(out));
  }

  std::weak_ptr<Impl> impl_;
  decltype(std::declval<Impl&>().strand()) strand_;
  std::mutex mutex_;
  std::optional<Handler> handler_;
  std::map<std::string, owned_message<T>> values_;  // latest per subject
  timer_type quiet_;
  timer_type deadline_;
  typename clock::duration quiet_period_;
  typename clock::time_point last_answer_{};
  std::uint64_t handle_ = 0;
  bool quiet_armed_ = false;
  bool dropped_ = false;
  bool done_ = false;
};

}  // namespace racket::detail
