// SPDX-License-Identifier: MIT
// detail::post_completion: a completion is never run inline, runs on the handler's associated
// executor when it has one (else on the fallback), and keeps that executor's context busy
// until it has run.
#include "racket/detail/subscriber/completion.hpp"

#include "catch.hpp"

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>

#include <memory>
#include <system_error>

TEST_CASE("post_completion runs the handler later, on the fallback executor", "[subscriber][completion]") {
  asio::io_context io;
  int calls = 0;
  std::error_code got = make_error_code(std::errc::io_error);
  racket::detail::post_completion(
      [&](std::error_code ec, int v) {
        got = ec;
        calls += v;
      },
      io.get_executor(), std::error_code{}, 3);
  CHECK(calls == 0);  // not inline
  io.run();
  CHECK(calls == 3);
  CHECK_FALSE(got);
}

TEST_CASE("post_completion honours the handler's associated executor, and keeps its context busy",
          "[subscriber][completion]") {
  asio::io_context fallback, other;
  auto strand = asio::make_strand(other);
  bool on_strand = false;
  auto owned = std::make_unique<int>(5);
  racket::detail::post_completion(
      asio::bind_executor(strand, [&, p = std::move(owned)](int v) { on_strand = strand.running_in_this_thread() && *p == v; }),
      fallback.get_executor(), 5);
  CHECK(fallback.poll() == 0);
  // run() returns only after the completion ran: the posted work keeps `other` busy.
  other.run();
  CHECK(on_strand);
}
