// SPDX-License-Identifier: MIT
#pragma once

// How a benchmark's receiving side ends its event loop: a timer looks every `period` whether
// the run is done (everything came, or nothing came for a while) and stops the io_context
// then. Knows nothing of Racket or of what is measured.

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <system_error>
#include <utility>

namespace bench_common {

// Looks every `period` whether `done()` holds, then stops `io`. The timer runs on `executor`:
// give it the subscriber's, so that `done` reads what the subscriber's handlers count without
// a lock. Keep it alive while `io` runs.
class stop_when {
 public:
  template <class Executor>
  stop_when(asio::io_context& io, const Executor& executor, std::chrono::milliseconds period,
            std::function<bool()> done)
      : io_(io), timer_(executor), period_(period), done_(std::move(done)) {
    arm();
  }

  stop_when(const stop_when&) = delete;
  stop_when& operator=(const stop_when&) = delete;

 private:
  void arm() {
    timer_.expires_after(period_);
    timer_.async_wait([this](std::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      if (done_()) {
        io_.stop();
        return;
      }
      arm();
    });
  }

  asio::io_context& io_;
  asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::function<bool()> done_;
};

}  // namespace bench_common
