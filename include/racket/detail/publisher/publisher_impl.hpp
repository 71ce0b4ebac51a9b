// SPDX-License-Identifier: MIT
#pragma once

// The publisher's thread front: publishes from any thread, into the publish queue (bounded)
// or, on an idle executor, straight into their datagrams; the flushes that take the queue
// and send it a turn at a time; async_flush, close and async_close. It holds the queue's
// state under the engine's mutex and posts to the executor; every record it takes goes to
// the engine (publisher_engine.hpp), which it derives from, and which does everything else.
// It knows nothing of datagrams, caches, timers or requests. See docs/architecture.md
// ("Threading", "Publisher: choices").
//
// Threads. Under `mutex_` (the engine's), from any thread: the pending queue and its byte
// count, `flush_waiters_`, `flush_posted_`, `flushing_bytes_`, `closed_`,
// `large_posted_bytes_`. Executor only: the flush under way (`flushing_` and the rest below
// it). No user code runs under `mutex_` or inside a call made on the user's thread: every
// completion is posted (detail/completion.hpp). Work posted to the executor holds the
// publisher strongly, so it lives as long as anything queued still needs it, whichever
// thread drops the last handle.

#include "racket/detail/completion.hpp"
#include "racket/detail/publisher/publish_queue.hpp"
#include "racket/detail/publisher/publisher_engine.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/publisher_options.hpp"
#include "racket/subject.hpp"
#include "racket/wire.hpp"

#include <asio/dispatch.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace racket::detail {

// The bytes the publish queue held when the calling thread's last publish was refused with
// `would_block` (for the throwing overload's message).
inline std::size_t& last_queued_bytes() {
  thread_local std::size_t bytes = 0;
  return bytes;
}

// Subject and payload bytes one turn of a flush sends before the strand is let go (see
// publisher_impl::flush_turn): the default send buffer's size. 256 KiB turns cost the
// one-thread 8000 B throughput row a third of its rate and lost 30 % at the subscriber
// (docs/performance.md); 1 MiB and 4 MiB did as well as one turn for the whole queue.
inline constexpr std::size_t flush_turn_bytes = std::size_t{1} << 20;

template <class Transport, class Clock>
class publisher_impl : public publisher_engine<Transport, Clock> {
  using base = publisher_engine<Transport, Clock>;
  using base::mutex_;
  using base::shut_down_;
  using base::strand_;
  using base::gate_;
  using base::transport_;
  using base::opts_;
  using base::stamp_;
  using base::process;
  using base::send_open_writers;
  using base::arm_timer;
  using base::find_or_add_stream;

 public:
  using typename base::time_point;
  using typename base::stream_state;
  using typename base::executor_type;

  template <class ContextOrExecutor>
    requires std::constructible_from<Transport, ContextOrExecutor&&, const transport_options&>
  publisher_impl(ContextOrExecutor&& ctx, const publisher_options& opts)
      : base(std::forward<ContextOrExecutor>(ctx), opts) {}

  // Any thread; `handler`: void(std::error_code), completed through detail/completion.hpp.
  // With records queued, it waits for the flush that takes them (already posted) and
  // completes with what became of that flush's datagrams (transport_gate::take_losses).
  // With none queued, everything published before went out already, by the last flush
  // (or direct publish), which may still be running: a hop through the executor waits for
  // it and completes with its result. `not_open` if closed already.
  template <class Handler>
  void async_flush(Handler&& handler) {
    using pending = pending_completion<std::decay_t<Handler>, executor_type>;
    auto done = std::make_shared<pending>(std::forward<Handler>(handler), transport_.get_executor());
    // Made before the lock (it allocates); copyable for the waiters' std::function.
    std::function<void(std::error_code)> waiter = [done](std::error_code ec) { done->complete(ec); };
    if (large_published_.load(std::memory_order_acquire)) {
      // Large messages go out in fragment turns of their own, after their records' flush:
      // once the records have gone, one more hop through the strand (behind the large
      // publishes posted before this call, which then sit in the outbox), then wait for the
      // turns that send the large messages queued by then (when_large_sent).
      waiter = [self = shared_self(), done](std::error_code ec) {
        asio::post(self->strand_, [self, done, ec] {
          self->when_large_sent([done, ec](std::error_code large) { done->complete(ec ? ec : large); });
        });
      };
    }
    bool closed = false;
    bool queued = false;
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
      // A flush under way (flushing_bytes_) takes the waiters when it has sent its last turn.
      if (!closed && (!pending_.empty() || flushing_bytes_ != 0)) {
        flush_waiters_.push_back(std::move(waiter));
        queued = true;
      }
    }
    if (closed) {
      done->complete(make_error_code(errc::not_open));
    } else if (!queued) {
      asio::post(transport_.get_executor(),
                 [self = shared_self(), waiter = std::move(waiter)] { waiter(self->last_flush_losses_); });
    }
  }

  // Any thread: `close`, then completes `handler` (void(std::error_code), always success)
  // once the shutdown has run on the executor.
  template <class Handler>
  void async_close(Handler&& handler) {
    pending_completion<std::decay_t<Handler>, executor_type> done(std::forward<Handler>(handler),
                                                                  transport_.get_executor());
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    asio::post(transport_.get_executor(), [self = shared_self(), done = std::move(done)]() mutable {
      self->shutdown();  // at most once: a close() posted before ran it already
      done.complete(std::error_code{});
    });
  }

  // Any thread. `payload` is already encoded. `owner`, when given, keeps `payload` alive and
  // unchanged (a value the caller gave up): a large payload then takes it (moved from) and is
  // shared, not copied; any other leaves it. `st.key` (0: none) stands for the stream's name
  // and endpoint; `st.announce_ep` is read only when the stream is new.
  void enqueue(const stream_ref& st, std::string_view subject, byte_view payload, std::uint32_t interval_ms,
               bool withdraw, std::error_code& ec, std::shared_ptr<const void>* owner = nullptr) {
    enqueue_from(st, subject, payload, interval_ms, withdraw, ec, owner, false);
  }

  // enqueue; `inside`: called again by enqueue_inside, on the strand, the record checked and
  // `ec` clear already (one body for both, so that the application thread's path is inlined
  // as it was; a second function for the inside call cost it some 35 instructions a publish).
  void enqueue_from(const stream_ref& st, std::string_view subject, byte_view payload, std::uint32_t interval_ms,
                    bool withdraw, std::error_code& ec, std::shared_ptr<const void>* owner, bool inside) {
    bool on_executor = true;
    if (!inside) [[likely]] {
      // Cleared first: the calls below report through `ec` and are read back from it, so one
      // left over from the caller's last call (a would_block) must not be taken for theirs.
      // Only when set (clear() is a call into the C++ library, on every publish): an `ec` that
      // came in holding no error is left as it came.
      if (ec) ec.clear();
      if (!is_valid_subject(subject)) [[unlikely]] {
        ec = make_error_code(errc::invalid_subject);
        return;
      }
      if (payload.size() > wire::max_payload(opts_.max_datagram_size, st.name.size(), subject.size()))
          [[unlikely]] {
        enqueue_large(st, subject, payload, interval_ms, ec, owner != nullptr ? std::move(*owner) : nullptr);
        return;
      }
      // On the executor with nothing queued (an idle publisher, or one publishing from its
      // own handlers), the record goes straight into its datagram and out: no copy into the
      // queue, no second lock, no hop through the executor. Anything queued by another thread
      // first keeps its place: then this record queues behind it. (The strand is asked
      // through the copy kept here: a copy per call would cost two atomic reference count
      // changes.)
      const thread_place place = where(strand_);
      on_executor = place == thread_place::on_strand;
      // A thread that runs the io_context and finds the strand free (a subscriber's handler
      // answering, say) enters it here and takes that path from inside: the record is not
      // copied into the queue, and no flush goes through the strand's queue. (An
      // application's own thread is told so by the same look that asked for the strand:
      // nothing to try.)
      if (place == thread_place::io_thread && enqueue_inside(st, subject, payload, interval_ms, withdraw, ec)) {
        return;
      }
    }
    bool post = false;
    stream_state* direct = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (closed_) [[unlikely]] {
        ec = make_error_code(errc::not_open);
        return;
      }
      stream_state* s = find_or_add_stream(st, ec);
      if (ec) [[unlikely]] return;
      if (on_executor && !gate_.busy() && !flush_posted_ && pending_.empty() && flushing_bytes_ == 0 &&
          !shut_down_) {
        direct = s;
      } else {
        // Bounded (max_queued_bytes; clamped() made 0 the largest size): the queue and what a
        // flush under way has not sent yet, together. Past it: refused, counted, nothing
        // queued. `held` never exceeds the bound, so the subtraction cannot wrap.
        const std::size_t held = pending_.bytes() + flushing_bytes_;
        if (publish_queue<stream_state>::cost(subject.size(), payload.size()) > opts_.max_queued_bytes - held)
            [[unlikely]] {
          s->counters.would_block.fetch_add(1, std::memory_order_relaxed);
          last_queued_bytes() = held;
          ec = make_error_code(errc::would_block);
          return;
        }
        pending_.push(s, subject, payload, interval_ms, withdraw);
        if (!flush_posted_) {
          flush_posted_ = true;
          post = true;
        }
      }
    }
    // `ec` is clear here: cleared on entry, and every path that set it returned.
    if (direct != nullptr) {
      publish_now(*direct, subject, payload, interval_ms, withdraw);
    } else if (post) {
      start_flush_from(on_executor);
    }
  }

  // enqueue from a thread that runs the io_context: inside the strand when it is free (true),
  // else false and nothing done. Out of line: the application thread's path stays lean.
  RACKET_NOINLINE bool enqueue_inside(const stream_ref& st, std::string_view subject, byte_view payload,
                                      std::uint32_t interval_ms, bool withdraw, std::error_code& ec) {
    return run_here_if_free(strand_,
                            [&] { enqueue_from(st, subject, payload, interval_ms, withdraw, ec, nullptr, true); });
  }

  // Executor, idle, nothing queued: the record straight into its datagram and out.
  RACKET_NOINLINE void publish_now(stream_state& s, std::string_view subject, byte_view payload,
                                   std::uint32_t interval_ms, bool withdraw) {
    const time_point now = Clock::now();
    gate_.take_losses();  // a resend pass's are not this publish's
    process(s, subject, payload, interval_ms, stamp_(now), withdraw, now);
    send_open_writers(now);
    last_flush_losses_ = gate_.take_losses();  // this publish is the last "flush"
    arm_timer();
  }

  // The first record queued since the last flush took the queue: the flush, at once when
  // this thread is on the free executor, else through it.
  RACKET_NOINLINE void start_flush_from(bool on_executor) {
    if (on_executor && !gate_.busy()) {
      flush();  // on the executor: send now, no hop through the queue
    } else if (!on_executor) {
      // A thread running the io_context (a subscriber's handler answering, say) takes the
      // strand at once when it is free and flushes here, without a trip through the
      // scheduler; any other thread, or a busy strand, queues the flush behind it.
      asio::dispatch(strand_, [self = shared_self()] { self->flush(); });
    } else {
      asio::post(strand_, [self = shared_self()] { self->flush(); });  // from inside a send
    }
  }

  // Where the calling thread is: inside the executor; running its io_context, where
  // run_here_if_free may enter it (udp_transport's serial_executor::where); or elsewhere. One
  // look for serial_executor; for executors without `where`, on it or elsewhere.
  enum class thread_place { on_strand, io_thread, elsewhere };
  static thread_place where(const executor_type& ex) noexcept {
    if constexpr (requires { ex.where(); }) {
      using w = decltype(ex.where());
      switch (ex.where()) {
        case w::on_strand: return thread_place::on_strand;
        case w::io_thread: return thread_place::io_thread;
        case w::elsewhere: break;
      }
      return thread_place::elsewhere;
    } else {
      return ex.running_in_this_thread() ? thread_place::on_strand : thread_place::elsewhere;
    }
  }

  // Runs `f` on the executor now if this thread can enter it at once (udp_transport's
  // serial_executor::try_run_here); false, `f` not run, for executors without that.
  template <class F>
  static bool run_here_if_free(const executor_type& ex, F&& f) {
    if constexpr (requires { ex.try_run_here(f); }) {
      return ex.try_run_here(f);
    } else {
      return false;
    }
  }

  // Any thread: the key ring replaced on the executor (at once when called there).
  // `invalid_option` when made without keys.
  void set_keys(key_ring ring, std::error_code& ec) {
    ec.clear();
    if (!this->keyed_from_start()) {
      ec = make_error_code(errc::invalid_option);
      return;
    }
    asio::dispatch(strand_, [self = shared_self(), r = std::move(ring)] { self->rekey(r); });
  }

  // Any thread: refuses further publishes and posts the shutdown to the executor.
  void close() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
    }
    asio::post(transport_.get_executor(), [self = shared_self()] { self->shutdown(); });
  }

 private:
  // The engine's shared_from_this, as this class (work posted here calls its members).
  std::shared_ptr<publisher_impl> shared_self() {
    return std::static_pointer_cast<publisher_impl>(this->shared_from_this());
  }

  // Any thread: a payload over one record (docs/architecture.md, "Large messages"). Admitted
  // under the lock, then copied once (unless shared) into the buffer the cache and the
  // fragment sends share, and hashed, on this thread; then processed on the executor (at
  // once when called there and idle). Bounded: the large
  // payloads posted and not yet sent may total max(max_queued_bytes, max_message_size),
  // past which a publish is `would_block` (one message alone always passes). "Not yet
  // sent": posted to the executor (large_posted_bytes_) or queued in the large sender's
  // outbox with fragments still to go (large_queued_bytes); a message moving from one to
  // the other is counted in both for a moment (process_large), never in neither.
  void enqueue_large(const stream_ref& st, std::string_view subject, byte_view payload, std::uint32_t interval_ms,
                     std::error_code& ec, std::shared_ptr<const void> owner) {
    // The largest overhead a fragment of this message can have (any sequence and timestamp).
    const bool fits = wire::fragment_size_for(opts_.max_datagram_size, st.name.size(), subject.size(), interval_ms,
                                              ~std::uint64_t{0}, ~std::uint64_t{0}) != 0;
    if (payload.size() > opts_.max_message_size || !fits) {
      ec = make_error_code(errc::payload_too_large);
      return;
    }
    const bool on_executor = strand_.running_in_this_thread();
    stream_state* s = nullptr;
    bool direct = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ec = make_error_code(errc::not_open);
        return;
      }
      s = find_or_add_stream(st, ec);
      if (ec) return;
      const std::size_t bound = std::max(opts_.max_queued_bytes, opts_.max_message_size);
      const std::size_t queued = large_posted_bytes_ + this->large_queued_bytes();
      if (queued != 0 && payload.size() > bound - std::min(bound, queued)) {
        s->counters.would_block.fetch_add(1, std::memory_order_relaxed);
        last_queued_bytes() = queued;
        ec = make_error_code(errc::would_block);
        return;
      }
      large_posted_bytes_ += payload.size();
      large_published_.store(true, std::memory_order_release);
      direct = on_executor && !gate_.busy() && !flush_posted_ && pending_.empty() && flushing_bytes_ == 0 &&
               !shut_down_;
    }
    // Admitted (a refusal costs no pass over the payload). A payload the caller gave up
    // (`owner`) is shared as it is; any other is copied, once. Then its content hash: the one
    // pass over the whole payload the publisher makes, here on the publishing thread, not on
    // the executor, so a publisher whose io_context runs on other threads hashes the next
    // message while they send this one.
    shared_bytes bytes;
    std::uint64_t hash = 0;
    try {
      bytes = owner ? share_bytes(std::move(owner), payload) : copy_bytes(payload);
      hash = wire::content_hash(st.name, subject, std::span<const std::byte>(*bytes));
    } catch (...) {
      std::lock_guard lock(mutex_);
      large_posted_bytes_ -= payload.size();
      throw;
    }
    ec.clear();
    if (direct) {
      process_large(*s, std::string(subject), std::move(bytes), hash, interval_ms);
    } else {
      asio::post(strand_, [self = shared_self(), s, subj = std::string(subject), b = std::move(bytes), hash,
                           interval_ms]() mutable { self->process_large(*s, subj, std::move(b), hash, interval_ms); });
    }
  }

  // --- executor only from here on ---

  // A large payload posted by enqueue_large: sent unless the publisher shut down meanwhile,
  // and no longer counted as posted once the large sender counts it as queued (so that a
  // publish on another thread never sees it in neither count).
  void process_large(stream_state& s, const std::string& subject, shared_bytes bytes, std::uint64_t hash,
                     std::uint32_t interval_ms) {
    const std::size_t size = bytes->size();
    bool shut = false;
    {
      std::lock_guard lock(mutex_);
      shut = shut_down_;
      if (shut) large_posted_bytes_ -= size;
    }
    if (shut) return;
    this->publish_large(s, subject, std::move(bytes), hash, interval_ms);
    std::lock_guard lock(mutex_);
    large_posted_bytes_ -= size;
  }

  // Starts a flush, unless one is under way: that one takes the queue when it has sent its
  // own records.
  void flush() {
    if (!flushing_.empty()) {
      deferred_flush_ = true;
      return;
    }
    start_flush();
  }

  // Takes the queue, and the async_flush calls waiting for it, and sends the first turn.
  void start_flush() {
    bool shut = false;
    {
      std::lock_guard lock(mutex_);
      flushing_.swap(pending_);
      flush_waiters_.swap(waiters_);
      flush_posted_ = false;
      shut = shut_down_;
      flushing_bytes_ = shut ? 0 : flushing_.bytes();
    }
    if (shut) {  // nothing is queued after the shutdown's own flush; defensive
      flushing_.clear();
      complete_waiters(make_error_code(errc::not_open));
      return;
    }
    flush_losses_.clear();
    gate_.take_losses();  // a resend pass's are not this flush's
    flush_turn();
  }

  // One turn of the flush under way: up to `flush_turn_bytes` of its records (all of them
  // while shutting down) processed and sent. Then the next turn is posted, or, where the
  // transport holds a backlog the kernel has not taken yet, waits for it to drain: a queue
  // handed to the transport at once (16 MiB) overran its backlogs and lost datagrams. The
  // last turn completes the flush's waiters and posts the next flush if one came meanwhile
  // and found this one under way.
  void flush_turn() {
    const time_point now = Clock::now();
    // One stamp for the turn: the time the publisher takes the messages for sending. A clock
    // read per message cost ~35 ns on the project's VM, a sixth of a 64 B message's whole
    // path; and stamps taken here never go backwards along the sequence numbers given here
    // (stamps taken by several publishing threads could).
    const std::uint64_t stamp = stamp_(now);
    const std::size_t budget = finishing_ ? std::numeric_limits<std::size_t>::max() : flush_turn_bytes;
    flush_next_ = flushing_.for_each_from(
        flush_next_, budget,
        [&](stream_state& s, std::string_view subject, byte_view payload, std::uint32_t interval_ms, bool withdraw) {
          process(s, subject, payload, interval_ms, stamp, withdraw, now);
        });
    send_open_writers(now);  // before the bytes go: a tail probe copies its record from them
    if (const std::error_code lost = gate_.take_losses(); lost && flush_losses_ != std::errc::io_error)
      flush_losses_ = lost;  // io_error (refused) outranks no_buffer_space (dropped)
    arm_timer();
    if (flush_next_ < flushing_.size()) {
      {
        std::lock_guard lock(mutex_);
        flushing_bytes_ = flushing_.bytes_from(flush_next_);
      }
      next_flush_turn();
      return;
    }
    flushing_.clear();
    flush_next_ = 0;
    bool again = false;
    std::vector<std::function<void(std::error_code)>> late;  // async_flush calls made during it, nothing queued
    {
      std::lock_guard lock(mutex_);
      flushing_bytes_ = 0;
      again = flush_posted_;  // records were queued meanwhile
      if (!again) late.swap(flush_waiters_);
    }
    last_flush_losses_ = flush_losses_;
    complete_waiters(last_flush_losses_);
    for (auto& w : late) w(last_flush_losses_);
    if (finishing_) {
      if (again) start_flush();  // the shutdown's: nothing more can be queued (closed)
    } else if (deferred_flush_) {
      // A flush posted meanwhile found this one under way and gave up: posted again, behind
      // the strand's other work (started here, a thread that publishes without pause would
      // keep this call, and its stack, going for ever). Otherwise the posted one still comes.
      deferred_flush_ = false;
      asio::post(strand_, [self = shared_self()] { self->flush(); });
    }
  }

  // The next turn, behind whatever else the strand has queued; behind the transport's
  // backlog where it has one. Held weakly while waiting on the transport (which the
  // orchestrator owns); a shutdown in between sends the rest itself.
  void next_flush_turn() {
    if constexpr (backlog_reporting_transport<Transport>) {
      if (transport_.send_backlog() != 0) {
        transport_.async_wait_send_backlog([weak = this->weak_from_this()] {
          auto self = std::static_pointer_cast<publisher_impl>(weak.lock());
          if (self && !self->flushing_.empty()) self->flush_turn();
        });
        return;
      }
    }
    asio::post(strand_, [self = shared_self()] {
      if (!self->flushing_.empty()) self->flush_turn();
    });
  }

  // The async_flush calls the running flush took: each posts its handler.
  void complete_waiters(std::error_code ec) {
    if (waiters_.empty()) return;
    for (auto& w : waiters_) w(ec);
    waiters_.clear();
  }

  // At most once (close and async_close may both have posted it).
  void shutdown() {
    if (shut_down_) return;
    // Whatever was published before close() still goes out, all of it now: the turn under
    // way (if any) and the queue behind it.
    finishing_ = true;
    if (!flushing_.empty()) {
      flush_turn();
    } else {
      start_flush();
    }
    this->finish();
  }

  publish_queue<stream_state> pending_;
  bool flush_posted_ = false;
  bool closed_ = false;
  std::vector<std::function<void(std::error_code)>> flush_waiters_;  // async_flush calls waiting for pending_
  std::size_t flushing_bytes_ = 0;  // what the flush under way has not sent yet (its queue's bytes())
  publish_queue<stream_state> flushing_;  // executor only: what the flush under way sends
  std::size_t flush_next_ = 0;           // executor only: its next record
  std::error_code flush_losses_;         // executor only: what became of its datagrams so far
  bool finishing_ = false;               // executor only: shutting down, flushes send in one turn
  bool deferred_flush_ = false;          // executor only: a flush came while one was under way
  std::vector<std::function<void(std::error_code)>> waiters_;  // executor only: flush_waiters_ the running flush took
  std::error_code last_flush_losses_;  // executor only: what became of the last flush's datagrams
  std::size_t large_posted_bytes_ = 0;  // large payloads posted to the executor, not yet processed (under mutex_)
  std::atomic<bool> large_published_{false};  // any thread: a large message was ever published (async_flush waits for fragments)
};

}  // namespace racket::detail
