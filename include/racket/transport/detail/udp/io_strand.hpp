// SPDX-License-Identifier: MIT
#pragma once

// A strand over an io_context's own executor: what `asio::strand<io_context::executor_type>`
// does (functions run one at a time, in order; a dispatch from a thread that runs the
// io_context runs at once when the strand is free), for serial_executor's common path, made
// cheaper where every message passes: entering a free strand is one compare-and-swap and
// leaving it another, with no lock, no allocation and no change to the io_context's work
// count. Asio's strand takes its mutex twice, allocates the function's operation (from a
// thread cache) and makes a tracked copy of the io_context's executor on every entry; a
// message's path enters two strands (the subscriber's read, the publisher's send), and those
// entries cost some 0.5 µs per message one way on the latency path of this machine
// (docs/performance.md, "Latency and the strand's executor").
//
// How: an atomic word holds `locked` (a thread is running the strand's functions, or a drain
// of them is posted) and `queued` (the queue, under the mutex, is not empty). A function that
// cannot run at once is queued; the thread that queues onto a free strand locks it and posts a
// drain to the io_context; a thread leaving a strand that has functions queued posts the
// drain in its place. Each drain runs what was queued when it began, then lets go (as Asio's
// strand: other work on the io_context gets its turn). Which strands the calling thread is
// inside is a thread-local chain, as Asio's call stack.
//
// The io_context's shutdown (its destruction) destroys the functions still queued, through a
// service (io_strand_service), as Asio's strand service does: they may hold the objects that
// hold the strand. The io_context must outlive every copy. Knows nothing of sockets or of what
// runs on it.

#include "racket/detail/unique_function.hpp"

#include <asio/execution.hpp>
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace racket::detail::udp {

// The state one strand's copies share.
struct io_strand_state {
  static constexpr std::uint32_t locked = 1;
  static constexpr std::uint32_t queued = 2;

  explicit io_strand_state(const asio::io_context::executor_type& ex) : inner(ex) {}

  const asio::io_context::executor_type inner;
  std::atomic<std::uint32_t> state{0};
  std::mutex mutex;
  std::vector<unique_function<void()>> queue;  // under `mutex`
  bool shut_down = false;                      // under `mutex`
  std::vector<unique_function<void()>> draining;  // the drain's own (it holds `locked`)
};

// Which strands the calling thread is running functions of, innermost first.
struct io_strand_frame {
  explicit io_strand_frame(const io_strand_state* s) noexcept : state(s), prev(top) { top = this; }
  ~io_strand_frame() { top = prev; }
  io_strand_frame(const io_strand_frame&) = delete;
  io_strand_frame& operator=(const io_strand_frame&) = delete;

  static bool contains(const io_strand_state* s) noexcept {
    for (const io_strand_frame* f = top; f != nullptr; f = f->prev)
      if (f->state == s) return true;
    return false;
  }

  const io_strand_state* state;
  io_strand_frame* prev;
  static inline constinit thread_local io_strand_frame* top = nullptr;
};

// Keeps every strand made on one io_context, weakly, to destroy what they have queued when the
// io_context shuts down (before its scheduler destroys the drains it holds).
class io_strand_service : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  explicit io_strand_service(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

  void add(const std::shared_ptr<io_strand_state>& s) {
    std::lock_guard lock(mutex_);
    // Forget strands gone since: the list stays the size of the live ones (amortised).
    if (states_.size() >= 2 * live_hint_ + 8) {
      std::erase_if(states_, [](const std::weak_ptr<io_strand_state>& w) { return w.expired(); });
      live_hint_ = states_.size();
    }
    states_.push_back(s);
  }

 private:
  void shutdown() override {
    std::vector<std::weak_ptr<io_strand_state>> all;
    {
      std::lock_guard lock(mutex_);
      all.swap(states_);
    }
    for (const auto& w : all) {
      const auto s = w.lock();
      if (!s) continue;
      std::vector<unique_function<void()>> dropped;
      {
        std::lock_guard lock(s->mutex);
        s->shut_down = true;
        dropped.swap(s->queue);
      }
      // Destroyed here, outside the lock: they may hold the last copies of the strand.
    }
  }

  std::mutex mutex_;
  std::vector<std::weak_ptr<io_strand_state>> states_;
  std::size_t live_hint_ = 0;
};

using io_executor = asio::io_context::executor_type;
using io_tracked_executor = std::decay_t<decltype(asio::prefer(std::declval<const io_executor&>(),
                                                               asio::execution::outstanding_work.tracked))>;

// One handle on a strand. `Executor`: the io_context's executor, or its tracked form, which
// keeps the io_context's work count up while the handle lives (io_strand, tracked_io_strand).
template <class Executor>
class basic_io_strand {
  template <class>
  friend class basic_io_strand;

 public:
  /// A new strand on `ex`'s io_context.
  explicit basic_io_strand(const io_executor& ex)
    requires std::is_same_v<Executor, io_executor>
      : s_(std::make_shared<io_strand_state>(ex)), ex_(ex) {
    asio::use_service<io_strand_service>(asio::query(ex, asio::execution::context)).add(s_);
  }

  basic_io_strand(const basic_io_strand&) noexcept = default;
  basic_io_strand(basic_io_strand&&) noexcept = default;
  basic_io_strand& operator=(const basic_io_strand&) noexcept = default;
  basic_io_strand& operator=(basic_io_strand&&) noexcept = default;
  ~basic_io_strand() = default;

  const io_executor& inner() const noexcept { return s_->inner; }
  asio::io_context& context() const noexcept { return asio::query(s_->inner, asio::execution::context); }

  /// Whether the calling thread is running a function of this strand.
  bool running_in_this_thread() const noexcept { return io_strand_frame::contains(s_.get()); }

  /// This strand, keeping its io_context's work count up while the copy lives (or not).
  basic_io_strand<io_tracked_executor> tracked() const noexcept {
    return {s_, asio::prefer(s_->inner, asio::execution::outstanding_work.tracked)};
  }
  basic_io_strand<io_executor> untracked() const noexcept { return {s_, s_->inner}; }

  /// The state its copies share: the strand's identity.
  const io_strand_state* state() const noexcept { return s_.get(); }

  template <class E>
  friend bool operator==(const basic_io_strand& a, const basic_io_strand<E>& b) noexcept {
    return a.state() == b.state();
  }

  /// Runs `f` at once when the calling thread is inside the strand, or runs the io_context
  /// and finds the strand free; else queues it.
  template <class F>
  void dispatch(F&& f) const {
    if (!try_run_here(f)) post(std::forward<F>(f));
  }

  /// Runs `f` now, on the strand, if the calling thread can enter it at once (it is inside
  /// it, or runs the io_context and the strand is free): true. Else false, `f` untouched.
  template <class F>
  bool try_run_here(F& f) const {
    // A thread inside the strand runs the io_context (functions run nowhere else), so a
    // publishing thread of the application's own pays one thread-local look here, no more.
    if (!s_->inner.running_in_this_thread()) return false;
    if (running_in_this_thread()) {
      f();
      return true;
    }
    std::uint32_t expected = 0;
    if (!s_->state.compare_exchange_strong(expected, io_strand_state::locked, std::memory_order_acquire,
                                           std::memory_order_relaxed))
      return false;
    const leave l{s_};
    const io_strand_frame frame(s_.get());
    f();
    return true;
  }

  /// Queues `f`: it runs after the functions queued before it, never inside this call.
  template <class F>
  void post(F&& f) const {
    unique_function<void()> fn(std::forward<F>(f));
    std::uint32_t before = 0;
    {
      std::lock_guard lock(s_->mutex);
      if (s_->shut_down) return;  // destroyed on return, as Asio's strand does
      s_->queue.push_back(std::move(fn));
      before = s_->state.fetch_or(io_strand_state::locked | io_strand_state::queued, std::memory_order_acq_rel);
    }
    if ((before & io_strand_state::locked) == 0) schedule_drain(s_);
  }

 private:
  // Lets go of the strand on the way out of a function run on it; a drain takes over when
  // functions were queued meanwhile.
  struct leave {
    explicit leave(const std::shared_ptr<io_strand_state>& state) noexcept : s(state) {}
    const std::shared_ptr<io_strand_state>& s;
    leave(const leave&) = delete;
    leave& operator=(const leave&) = delete;
    ~leave() {
      std::uint32_t expected = io_strand_state::locked;
      if (!s->state.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed))
        schedule_drain(s);
    }
  };

  static void schedule_drain(const std::shared_ptr<io_strand_state>& s) {
    asio::post(s->inner, [s] { drain(s); });
  }

  // Runs what was queued when it began, holding `locked`; what its functions queue, and what a
  // function that throws leaves, runs in the next drain.
  static void drain(const std::shared_ptr<io_strand_state>& s) {
    const leave l{s};
    const io_strand_frame frame(s.get());
    auto& batch = s->draining;
    {
      std::lock_guard lock(s->mutex);
      batch.swap(s->queue);
      s->state.fetch_and(~io_strand_state::queued, std::memory_order_relaxed);
    }
    std::size_t next = 0;
    struct keep_rest {
      io_strand_state& s;
      std::vector<unique_function<void()>>& batch;
      std::size_t& next;
      keep_rest(io_strand_state& st, std::vector<unique_function<void()>>& b, std::size_t& n) noexcept
          : s(st), batch(b), next(n) {}
      keep_rest(const keep_rest&) = delete;
      keep_rest& operator=(const keep_rest&) = delete;
      ~keep_rest() {
        if (next < batch.size()) {  // a function threw: the rest go back to the queue's front
          std::lock_guard lock(s.mutex);
          s.queue.insert(s.queue.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(next)),
                         std::make_move_iterator(batch.end()));
          if (!s.queue.empty()) s.state.fetch_or(io_strand_state::queued, std::memory_order_relaxed);
        }
        batch.clear();
      }
    } rest{*s, batch, next};
    while (next < batch.size()) {
      auto fn = std::move(batch[next++]);
      fn();
    }
  }

  basic_io_strand(std::shared_ptr<io_strand_state> s, Executor ex) noexcept : s_(std::move(s)), ex_(std::move(ex)) {}

  std::shared_ptr<io_strand_state> s_;
  Executor ex_;  // the work count, when tracked
};

using io_strand = basic_io_strand<io_executor>;
using tracked_io_strand = basic_io_strand<io_tracked_executor>;

}  // namespace racket::detail::udp
