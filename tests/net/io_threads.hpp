// SPDX-License-Identifier: MIT
// An io_context run by several threads, the way Asio servers run one: a work guard keeps
// `run()` going on each thread until the object is destroyed (or `stop()`), then the threads
// are joined. And waiting, from a thread that does not run the io_context, for a condition
// with a deadline.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <thread>
#include <vector>

namespace racket::test {

class io_threads {
 public:
  io_threads(asio::io_context& io, std::size_t n) : io_(io), work_(asio::make_work_guard(io)) {
    for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;
  ~io_threads() { stop(); }

  // Lets run() return once the io_context has no other work, and joins the threads.
  void drain() {
    work_.reset();
    join();
  }

  // Stops the io_context at once and joins the threads.
  void stop() {
    work_.reset();
    io_.stop();
    join();
  }

 private:
  void join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  asio::io_context& io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

// Polls `done()` every 200 µs from the calling thread (which does not run the io_context)
// until it holds or `timeout` passes; returns done().
template <class Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
  return true;
}

}  // namespace racket::test
