// SPDX-License-Identifier: MIT
// What every test on real sockets shares: the guard that refuses to send outside a private
// network namespace, and waiting on a condition with a deadline (never a bare sleep).
#pragma once

#include "catch.hpp"
#include "net/netns_guard.hpp"

#include <asio/io_context.hpp>

#include <chrono>
#include <string>

// Fails the test (before anything is sent) unless only lo and the test's own rk* interfaces exist.
#define REQUIRE_PRIVATE_NETNS()                                 \
  do {                                                          \
    std::string why_;                                           \
    const bool private_ = racket::test::in_private_netns(why_); \
    INFO(why_);                                                 \
    REQUIRE(private_);                                          \
  } while (false)

namespace racket::test {

// Runs `io` until `done()` holds or `timeout` passes; returns done().
template <class Predicate>
bool run_until(asio::io_context& io, Predicate done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds{3000}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds{10});
  }
  return true;
}

// Runs `io` for `d` of real time: only to show that something does NOT happen meanwhile.
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  if (io.stopped()) io.restart();
  io.run_for(d);
}

}  // namespace racket::test
