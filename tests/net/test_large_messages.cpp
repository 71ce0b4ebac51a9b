// SPDX-License-Identifier: MIT
// A large message over real UDP multicast on lo: fragmented by the publisher (full datagrams,
// GSO runs where the kernel has them), reassembled by the subscriber, delivered whole. Sends,
// so it runs in a private network namespace (tests/tools/in_netns.sh) and REQUIREs the guard.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include "racket/detail/hash.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using racket::test::run_until;
using namespace std::chrono_literals;

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};

}  // namespace

TEST_CASE("a 4 MiB message over lo arrives whole", "[net][large]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"large.udp", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  std::vector<std::string> got;
  std::vector<std::uint64_t> sequences;
  auto h = sub.subscribe(s, "files.*", [&](const racket::message<std::string>& m) {
    got.push_back(m.value);
    sequences.push_back(m.sequence);
  });
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  std::string payload(std::size_t{4} << 20, '\0');
  std::uint32_t x = 12345;
  for (char& c : payload) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  pub.publish(s, "files.blob", payload, 0ms);
  REQUIRE(run_until(io, [&] { return !got.empty(); }, 10000ms));
  REQUIRE(got.size() == 1);
  CHECK(got[0].size() == payload.size());
  CHECK(racket::detail::xxh3(got[0]) == racket::detail::xxh3(payload));
  CHECK(got[0] == payload);
  CHECK(sequences[0] == 1);
  const auto ps = pub.stats("large.udp");
  CHECK(ps.fragments_sent >= (std::size_t{4} << 20) / racket::wire::default_max_datagram_size);
  const auto ss = sub.stats(s);
  CHECK(ss.messages_reassembled == 1);
  CHECK(ss.messages_lost == 0);
}

TEST_CASE("shared large values published from two threads while two threads run the io_context arrive whole",
          "[net][large][shared]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<racket::byte_view> s{"large.shared.udp", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  std::mutex m;
  std::condition_variable arrived;
  std::vector<std::uint64_t> hashes;
  auto h = sub.subscribe(s, "*", [&](const racket::message<racket::byte_view>& msg) {
    const std::uint64_t x = racket::detail::xxh3(msg.value.data(), msg.value.size());
    std::lock_guard lock(m);
    hashes.push_back(x);
    arrived.notify_all();
  });
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  auto work = asio::make_work_guard(io);
  std::thread runners[2] = {std::thread([&] { io.run(); }), std::thread([&] { io.run(); })};
  std::vector<std::uint64_t> expected;
  std::vector<std::shared_ptr<const std::vector<std::byte>>> values;
  for (std::uint32_t k = 0; k < 4; ++k) {
    std::vector<std::byte> v((std::size_t{1} << 20) + k * 1000);
    std::uint32_t x = 777 + k;
    for (auto& b : v) {
      x = x * 1664525u + 1013904223u;
      b = static_cast<std::byte>(x >> 24);
    }
    expected.push_back(racket::detail::xxh3(v.data(), v.size()));
    values.push_back(std::make_shared<const std::vector<std::byte>>(std::move(v)));
  }
  std::thread publishers[2];
  for (int t = 0; t < 2; ++t) {
    publishers[t] = std::thread([&, t] {
      for (int k = t; k < 4; k += 2) pub.publish(s, "files.v" + std::to_string(k), values[k], 0ms);
    });
  }
  for (auto& t : publishers) t.join();
  {
    std::unique_lock lock(m);
    arrived.wait_for(lock, 10s, [&] { return hashes.size() >= 4; });
  }
  work.reset();
  pub.close();
  io.stop();
  for (auto& t : runners) t.join();
  std::lock_guard lock(m);
  REQUIRE(hashes.size() == 4);
  std::sort(hashes.begin(), hashes.end());
  std::sort(expected.begin(), expected.end());
  CHECK(hashes == expected);
}
