// SPDX-License-Identifier: MIT
#pragma once

// The strand a udp_transport runs on, and with it every publisher, subscriber and directory
// made on one (`executor_type`, `get_executor()`): an Asio executor that runs its functions one
// at a time. Made on an io_context (the context, its executor, or an `any_io_executor` holding
// it) it is an io_strand (io_strand.hpp: Asio's strand over the io_context's own executor,
// with a lock-free way in and out of a free strand); made on a strand, that strand itself
// (`asio::strand<io_context::executor_type>`, tracked or not, or `asio::strand<E>` for any
// other E); on anything else (a thread pool, another executor) an
// `asio::strand<asio::any_io_executor>`. One type for all, so that the public classes need no
// executor parameter; no type erasure on the common path: a strand over `any_io_executor`
// calls through the inner executor's function table several times per hop (a `prefer` that
// copies it, the invoker's copy, move and destroy), which cost some 0.5 µs per message on the
// latency path of this machine, and Asio's strand over the concrete executor still some 0.5 µs
// more than none (docs/performance.md, "Latency and the strand's executor"). Knows nothing of
// sockets or of what runs on it.
//
// Properties: `blocking.never` is kept (execute then posts; by default it dispatches, running
// the function at once when called on the strand, or from a thread running the io_context
// when the strand is free, as a strand does); `outstanding_work` is passed to the strand
// inside (a tracked copy keeps its context's work count up); `relationship` and `allocator`
// are hints it does not take. `try_run_here` is its own: run now if the strand can be entered
// at once, else say so (the publisher's way to send from a subscriber's handler without
// copying the record into its queue).

#include "racket/transport/detail/udp/io_strand.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/execution.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>
#include <asio/strand.hpp>

#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <variant>

namespace racket::detail::udp {

template <class T>
inline constexpr bool is_io_strand = false;
template <class E>
inline constexpr bool is_io_strand<basic_io_strand<E>> = true;

template <class T>
inline constexpr bool is_strand = false;
template <class E>
inline constexpr bool is_strand<asio::strand<E>> = true;

class serial_executor {
  using io_executor = asio::io_context::executor_type;
  using io_tracked_executor = std::decay_t<decltype(asio::prefer(std::declval<const io_executor&>(),
                                                                 asio::execution::outstanding_work.tracked))>;
  using asio_io_strand = asio::strand<io_executor>;
  using io_tracked_strand = asio::strand<io_tracked_executor>;
  using any_strand = asio::strand<asio::any_io_executor>;

 public:
  /// A new strand on `ex` (any executor; an io_context's takes the concrete path).
  template <class Executor>
    requires(!is_strand<Executor> && !std::same_as<Executor, serial_executor> &&
             std::is_constructible_v<asio::any_io_executor, const Executor&>)
  explicit serial_executor(const Executor& ex) : s_(make(ex)), io_(io_state(s_)) {}

  /// That strand itself (work on it and on this executor is one sequence).
  template <class Executor>
  serial_executor(const asio::strand<Executor>& s)  // NOLINT: a strand is this executor, implicitly
      : s_(wrap(s)) {}

  serial_executor(const serial_executor&) noexcept = default;
  serial_executor(serial_executor&&) noexcept = default;
  serial_executor& operator=(const serial_executor&) noexcept = default;
  serial_executor& operator=(serial_executor&&) noexcept = default;
  ~serial_executor() = default;

  /// Runs `f` on the strand: at once when called on it and not `blocking.never`, else queued.
  template <class F>
  void execute(F&& f) const {
    std::visit(
        [&](const auto& s) {
          if constexpr (is_io_strand<std::remove_cvref_t<decltype(s)>>) {
            if (never_) {
              s.post(std::forward<F>(f));
            } else {
              s.dispatch(std::forward<F>(f));
            }
          } else if (never_) {
            asio::require(s, asio::execution::blocking.never).execute(std::forward<F>(f));
          } else {
            s.execute(std::forward<F>(f));
          }
        },
        s_);
  }

  /// Runs `f` now, on the strand, when the calling thread can enter it at once (it is inside
  /// it; or, on an io_strand, it runs the io_context and the strand is free): true. Else
  /// false and `f` is untouched (the caller queues its work some other way).
  template <class F>
  bool try_run_here(F&& f) const {
    return std::visit(
        [&](const auto& s) {
          if constexpr (is_io_strand<std::remove_cvref_t<decltype(s)>>) {
            return s.try_run_here(f);
          } else {
            if (!s.running_in_this_thread()) return false;
            f();
            return true;
          }
        },
        s_);
  }

  /// Where the calling thread is, in one look: inside this strand; running its io_context
  /// (an io_strand's only: `try_run_here` may then enter it); or elsewhere (an application's
  /// own thread: nothing to try). What a publish asks first.
  enum class whereabouts { on_strand, io_thread, elsewhere };
  whereabouts where() const noexcept {
    if (io_ != nullptr) [[likely]] {  // an io_strand, tracked or not: no visit
      if (io_strand_frame::contains(io_)) return whereabouts::on_strand;
      return io_->inner.running_in_this_thread() ? whereabouts::io_thread : whereabouts::elsewhere;
    }
    // Asio's strands (io_ is set for every io_strand): none is entered from outside it.
    return running_in_this_thread() ? whereabouts::on_strand : whereabouts::elsewhere;
  }

  /// Whether the calling thread is running a function of this strand.
  bool running_in_this_thread() const noexcept {
    if (io_ != nullptr) [[likely]] return io_strand_frame::contains(io_);
    return std::visit([](const auto& s) { return s.running_in_this_thread(); }, s_);
  }

  /// The executor for the sockets of a transport on this strand: the io_context's own when
  /// the strand is over one (every operation on them is then bound to the strand with
  /// `asio::bind_executor`: a socket whose executor were the strand would hold a copy of this
  /// object in an `any_io_executor`, too large for its inline storage, so allocated per
  /// operation), else the strand.
  asio::any_io_executor io_object_executor() const {
    if (const auto* s = std::get_if<io_strand>(&s_)) return s->inner();
    if (const auto* s = std::get_if<tracked_io_strand>(&s_)) return s->inner();
    if (const auto* s = std::get_if<asio_io_strand>(&s_)) return s->get_inner_executor();
    return asio::any_io_executor(*this);
  }

  asio::execution_context& query(asio::execution::context_t) const noexcept {
    return std::visit(
        [](const auto& s) -> asio::execution_context& {
          if constexpr (is_io_strand<std::remove_cvref_t<decltype(s)>>) {
            return s.context();
          } else {
            return asio::query(s, asio::execution::context);
          }
        },
        s_);
  }

  asio::execution::blocking_t query(asio::execution::blocking_t) const noexcept {
    return never_ ? asio::execution::blocking_t(asio::execution::blocking.never)
                  : asio::execution::blocking_t(asio::execution::blocking.possibly);
  }

  serial_executor require(asio::execution::blocking_t::never_t) const noexcept {
    serial_executor e(*this);
    e.never_ = true;
    return e;
  }

  serial_executor require(asio::execution::blocking_t::possibly_t) const noexcept {
    serial_executor e(*this);
    e.never_ = false;
    return e;
  }

  serial_executor prefer(asio::execution::outstanding_work_t::tracked_t) const noexcept {
    serial_executor e(*this);
    if (const auto* o = std::get_if<io_strand>(&s_)) {
      e.s_ = o->tracked();
    } else if (const auto* s = std::get_if<asio_io_strand>(&s_)) {
      e.s_ = asio::prefer(*s, asio::execution::outstanding_work.tracked);
    } else if (const auto* a = std::get_if<any_strand>(&s_)) {
      e.s_ = asio::prefer(*a, asio::execution::outstanding_work.tracked);
    }
    return e;
  }

  serial_executor prefer(asio::execution::outstanding_work_t::untracked_t) const noexcept {
    serial_executor e(*this);
    e.s_ = untracked();
    return e;
  }

  friend bool operator==(const serial_executor& a, const serial_executor& b) noexcept {
    if (a.never_ != b.never_) return false;
    const bool p = is_ours(a.s_), q = is_ours(b.s_);
    if (p || q) {  // no copies
      if (!p || !q) return false;
      return std::visit(
          [](const auto& x, const auto& y) {
            if constexpr (is_io_strand<std::remove_cvref_t<decltype(x)>> &&
                          is_io_strand<std::remove_cvref_t<decltype(y)>>) {
              return x == y;
            } else {
              return false;
            }
          },
          a.s_, b.s_);
    }
    const auto x = a.untracked(), y = b.untracked();
    if (x.index() != y.index()) return false;
    return std::visit(
        [&](const auto& s) { return s == std::get<std::remove_cvref_t<decltype(s)>>(y); }, x);
  }
  friend bool operator!=(const serial_executor& a, const serial_executor& b) noexcept { return !(a == b); }

 private:
  using strands = std::variant<io_strand, tracked_io_strand, asio_io_strand, io_tracked_strand, any_strand>;

  static bool is_ours(const strands& s) noexcept {
    return std::holds_alternative<io_strand>(s) || std::holds_alternative<tracked_io_strand>(s);
  }

  template <class Executor>
  static strands make(const Executor& ex) {
    if constexpr (std::is_same_v<Executor, io_executor>) {
      return io_strand(ex);
    } else {
      asio::any_io_executor any(ex);
      if (const auto* io = any.template target<io_executor>()) return io_strand(*io);
      return any_strand(std::move(any));
    }
  }

  template <class Executor>
  static strands wrap(const asio::strand<Executor>& s) {
    if constexpr (std::is_same_v<Executor, io_executor>) {
      return asio_io_strand(s);
    } else if constexpr (std::is_same_v<Executor, io_tracked_executor>) {
      return io_tracked_strand(s);
    } else {
      return any_strand(s);  // shares the strand's state: the same strand
    }
  }

  // The same strand without outstanding work (tracked io strands back to plain ones).
  strands untracked() const noexcept {
    if (const auto* o = std::get_if<tracked_io_strand>(&s_)) return o->untracked();
    if (const auto* t = std::get_if<io_tracked_strand>(&s_))
      return asio_io_strand(asio::prefer(*t, asio::execution::outstanding_work.untracked));
    if (const auto* a = std::get_if<any_strand>(&s_))
      return any_strand(asio::prefer(*a, asio::execution::outstanding_work.untracked));
    return s_;
  }

  // The io_strand's shared state when `s_` holds one, tracked or not (tracking changes only
  // the executor beside the same state, so it stays right through require and prefer): the
  // publish path's questions asked without visiting the variant. Null for Asio's strands.
  static const io_strand_state* io_state(const strands& s) noexcept {
    if (const auto* o = std::get_if<io_strand>(&s)) return o->state();
    if (const auto* t = std::get_if<tracked_io_strand>(&s)) return t->state();
    return nullptr;
  }

  strands s_;
  const io_strand_state* io_ = nullptr;
  bool never_ = false;
};

}  // namespace racket::detail::udp
