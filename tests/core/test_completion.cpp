// SPDX-License-Identifier: MIT
// detail/completion.hpp: completions are posted to the handler's associated executor, never
// run inline, and keep work outstanding there while their operation is pending.
#include "racket/detail/completion.hpp"

#include "catch.hpp"

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <functional>

using namespace std::chrono_literals;

TEST_CASE("complete_later posts to the fallback executor, with the arguments by value", "[completion]") {
  asio::io_context io;
  int calls = 0;
  std::string got;
  std::error_code got_ec;
  {
    std::string text = "value";
    racket::detail::complete_later(
        [&](std::error_code ec, std::string s) {
          ++calls;
          got_ec = ec;
          got = std::move(s);
        },
        io.get_executor(), std::make_error_code(std::errc::io_error), text);
    text = "changed";  // stored by value: the handler sees the value at the call
  }
  CHECK(calls == 0);  // never inline
  CHECK(io.run_for(1s) == 1);
  CHECK(calls == 1);
  CHECK(got == "value");
  CHECK(got_ec == std::errc::io_error);
}

TEST_CASE("complete_later honours bind_executor and takes move-only handlers", "[completion]") {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  bool on_strand = false;
  auto owned = std::make_unique<int>(7);
  int seen = 0;
  racket::detail::complete_later(asio::bind_executor(strand,
                                                     [&, owned = std::move(owned)](int add) {
                                                       on_strand = strand.running_in_this_thread();
                                                       seen = *owned + add;
                                                     }),
                                 io.get_executor(), 1);
  io.run_for(1s);
  CHECK(on_strand);
  CHECK(seen == 8);
}

TEST_CASE("pending_completion keeps run() going while pending and completes once", "[completion]") {
  asio::io_context io;
  int calls = 0;
  using pending = racket::detail::pending_completion<std::function<void(int)>, asio::io_context::executor_type>;
  pending p([&](int v) { calls += v; }, io.get_executor());
  CHECK(p.pending());
  pending moved(std::move(p));
  CHECK_FALSE(p.pending());  // NOLINT: the moved-from one is empty on purpose
  CHECK(moved.pending());

  // Outstanding work: with nothing else to do, run_for waits out its time instead of
  // returning stopped.
  io.run_for(30ms);
  CHECK_FALSE(io.stopped());
  CHECK(calls == 0);
  moved.complete(5);
  CHECK(calls == 0);  // posted, not run inline
  moved.complete(100);  // a second completion does nothing
  CHECK_FALSE(moved.pending());
  const auto t0 = std::chrono::steady_clock::now();
  io.run_for(5s);
  CHECK(calls == 5);
  CHECK(io.stopped());  // the work ended with the handler
  CHECK(std::chrono::steady_clock::now() - t0 < 4s);
}

TEST_CASE("pending_completion dropped without completing releases the work, never calls", "[completion]") {
  asio::io_context io;
  bool called = false;
  {
    racket::detail::pending_completion<std::function<void()>, asio::io_context::executor_type> p(
        [&] { called = true; }, io.get_executor());
  }
  io.run_for(5s);  // no work left: returns at once, stopped
  CHECK(io.stopped());
  CHECK_FALSE(called);
}
