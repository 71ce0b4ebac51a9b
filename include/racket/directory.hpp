// SPDX-License-Identifier: MIT
#pragma once

// The directory a user holds: `basic_directory<Transport, Clock>`, which listens on a pool's
// announce channel and lists the publishers and subscribers it has heard, stream by stream,
// with appear and disappear handlers and expiry (docs/architecture.md, "Discovery"). A thin
// front over detail/directory/directory_impl.hpp; options, entries and counters:
// directory_options.hpp. Knows nothing of publishers or subscribers beyond what they announce.

#include "racket/detail/directory/directory_impl.hpp"
#include "racket/directory_options.hpp"
#include "racket/error.hpp"
#include "racket/pool.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/associated_executor.hpp>
#include <asio/post.hpp>

#include <concepts>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace racket {

/// Lists the streams on a network: every publisher and subscriber that announces on the
/// pool's announce channel (`multicast_pool::announce_endpoint`), one `directory_entry` per
/// stream and sender, forgotten `expiry_factor` of the sender's announce periods after it was
/// last heard (whether it closed or crashed).
///
/// Threads: the io_context may be run by any number of threads; the directory's own work runs
/// on its transport's strand. `snapshot`, `stats`, the handler setters and `close` may be
/// called from any thread, handlers included. Handlers run on their associated executor
/// (default: the directory's strand), never inside a call of the application's.
///
/// ```cpp
/// racket::directory dir(io, racket::multicast_pool{});
/// dir.set_appear_handler([](const racket::directory_entry& e) { std::cout << e.stream << '\n'; });
/// ```
template <transport Transport, class Clock = typename Transport::clock_type>
class basic_directory {
  static_assert(std::is_same_v<typename Clock::time_point, typename Transport::clock_type::time_point>,
                "the directory's Clock must be the clock of its transport's timers");
  using impl_type = detail::directory_impl<Transport, Clock>;

 public:
  using transport_type = Transport;
  using clock_type = Clock;
  using executor_type = typename Transport::executor_type;

  /// Starts listening on `pool`'s announce channel. Errors: the transport's
  /// (`no_interfaces`, `unknown_interface`, socket errors).
  template <class ContextOrExecutor>
    requires(!std::same_as<std::remove_cvref_t<ContextOrExecutor>, basic_directory> &&
             std::constructible_from<Transport, ContextOrExecutor &&, const transport_options&>)
  basic_directory(ContextOrExecutor&& ctx, const multicast_pool& pool, const directory_options& opts,
                  std::error_code& ec)
      : impl_(std::make_shared<impl_type>(std::forward<ContextOrExecutor>(ctx), opts)) {
    impl_->start(pool.announce_endpoint(), ec);
  }

  /// As above; throws `std::system_error` on the transport's errors.
  template <class ContextOrExecutor>
    requires(!std::same_as<std::remove_cvref_t<ContextOrExecutor>, basic_directory> &&
             std::constructible_from<Transport, ContextOrExecutor &&, const transport_options&>)
  explicit basic_directory(ContextOrExecutor&& ctx, const multicast_pool& pool = {},
                           const directory_options& opts = {})
      : impl_(std::make_shared<impl_type>(std::forward<ContextOrExecutor>(ctx), opts)) {
    std::error_code ec;
    impl_->start(pool.announce_endpoint(), ec);
    if (ec) detail::throw_error(ec, "directory on " + pool.announce_endpoint().to_string() +
                                        detail::interfaces_for_error(opts.interfaces));
  }

  basic_directory(const basic_directory&) = delete;
  basic_directory& operator=(const basic_directory&) = delete;
  basic_directory(basic_directory&&) noexcept = default;
  basic_directory& operator=(basic_directory&&) noexcept = default;

  /// Closes (as `close()`).
  ~basic_directory() {
    if (impl_) impl_->close();
  }

  /// `handler(const directory_entry&)` is called for each entry heard for the first time (or
  /// again after it expired), on its associated executor. Replaces the previous one.
  template <class Handler>
    requires std::invocable<std::decay_t<Handler>&, const directory_entry&>
  void set_appear_handler(Handler&& handler) {
    impl_->set_appear_handler(bind(std::forward<Handler>(handler)));
  }

  /// `handler(const directory_entry&)` is called for each entry that expired (its `age` says
  /// how long ago it was last heard), on its associated executor.
  template <class Handler>
    requires std::invocable<std::decay_t<Handler>&, const directory_entry&>
  void set_disappear_handler(Handler&& handler) {
    impl_->set_disappear_handler(bind(std::forward<Handler>(handler)));
  }

  /// Every entry held now, ordered by stream, then publishers before subscribers, then id.
  std::vector<directory_entry> snapshot() const { return impl_->snapshot(); }

  directory_stats stats() const { return impl_->stats(); }

  /// Stops listening: nothing heard afterwards reaches a handler, and the handlers are let go
  /// (a call already posted to a handler's executor still runs).
  void close() { impl_->close(); }

  executor_type get_executor() noexcept { return impl_->transport().get_executor(); }

 private:
  template <class Handler>
  typename impl_type::handler_function bind(Handler&& h) {
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
    return [shared, ex = impl_->strand()](const directory_entry& e) {
      const auto target = asio::get_associated_executor(*shared, ex);
      asio::post(target, [shared, e] { (*shared)(e); });
    };
  }

  std::shared_ptr<impl_type> impl_;
};

}  // namespace racket
