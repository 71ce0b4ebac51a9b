// SPDX-License-Identifier: MIT
// The README's threads section, its code blocks exactly as printed (tests/CMakeLists.txt
// copies them out of README.md at configure time), compiled inside functions that give them
// the names they use, and run against a publisher in a private network namespace
// (tests/tools/in_netns.sh). Its coroutines need co_await (tests/co_await_support.hpp; not Debian's Asio 1.22 with
// clang 14, which would want -fcoroutines-ts): there the blocks are only checked to exist.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "co_await_support.hpp"
#include "net/net_test.hpp"

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

#if defined(RACKET_TEST_CO_AWAIT)  // tests/co_await_support.hpp
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/use_awaitable.hpp>

namespace {

struct order_book {
  int updates = 0;
  void update(const racket::message<double>&) { ++updates; }
};

// Block 1: a handler bound to the application's strand, and async_fetch with co_await.
void readme_block_1(asio::io_context& io, racket::subscriber& sub, const racket::stream<double>& temperature) {
#include "readme_threads_1.inc"
  io.run_for(std::chrono::seconds{3});
}

// Block 2: async_flush and async_close with co_await.
void readme_block_2(asio::io_context& io, racket::publisher& pub, const racket::stream<double>& temperature) {
  const std::vector<double> readings{20.5, 21.0, 21.5};
#include "readme_threads_2.inc"
  io.run_for(std::chrono::seconds{3});
}

}  // namespace

TEST_CASE("readme: the threads section's code blocks compile and run as printed", "[net][readme]") {
  REQUIRE_PRIVATE_NETNS();
  const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};
  const racket::stream<double> temperature{"plant", pool};
  asio::io_context io;
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  pub.publish(temperature, "plant.line3.temp", 21.5, std::chrono::seconds{1});
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  io.run_for(std::chrono::milliseconds{100});
  // The fetch prints the value the publisher holds; the close completes: the subscriber is closed.
  std::ostringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  readme_block_1(io, sub, temperature);
  std::cout.rdbuf(old);
  CHECK(out.str() == "plant.line3.temp = 21.5\n");
  std::error_code ec;
  (void)sub.subscribe(temperature, "*", [](const racket::message<double>&) {}, ec);
  CHECK(ec == racket::errc::not_open);
  io.restart();
  readme_block_2(io, pub, temperature);
  CHECK(pub.stats("plant").published == 4);
  pub.publish(temperature, "plant.line3.temp", 1.0, std::chrono::seconds{0}, ec);
  CHECK(ec == racket::errc::not_open);  // closed by the block
}
#else
TEST_CASE("readme: the threads section's code blocks compile and run as printed", "[net][readme]") {
  SUCCEED("no co_await in this Asio build: the README's coroutine blocks are not compiled here");
}
#endif
