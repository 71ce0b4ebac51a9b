// SPDX-License-Identifier: MIT
// The subscriber over real UDP with its io_context run by 4 threads: handlers bound to a
// strand run there; no handler call starts after unsubscribe() returned and the handler is
// destroyed by then; handlers that call back into the subscriber do not deadlock; subscribe /
// unsubscribe churn with a stats reader and a publisher on 64 subjects; async_fetch from
// another thread; and the TTL of the subscriber's requests. Every test sends, so every test
// runs in a private network namespace (tests/tools/in_netns.sh) and REQUIREs the guard first.
// The publishers run on an io_context of their own, run by one thread.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include <asio/bind_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

const racket::multicast_pool pool{"239.255.0.0/16", "19100-19107"};
const racket::publisher_options on_lo{.interfaces = {"lo"}};
const racket::subscriber_options sub_lo{.interfaces = {"lo"}};

// An io_context run by `n` threads until destroyed.
struct io_threads {
  explicit io_threads(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads.emplace_back([this] { io.run(); });
  }
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;
  ~io_threads() { stop(); }
  void stop() {
    work.reset();
    io.stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
};

// Waits (polling, real time) until `done()` or the deadline; returns done().
template <class Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("a handler bound to a strand runs on it, with the io_context on 4 threads", "[threads][executor]") {
  REQUIRE_PRIVATE_NETNS();
  io_threads sub_io(4);
  io_threads pub_io(1);
  const racket::stream<std::string> s{"threads.bound", pool};
  racket::subscriber sub{sub_io.io, sub_lo};
  auto strand = asio::make_strand(sub_io.io);
  std::atomic<int> got{0}, off_strand{0};
  auto h = sub.subscribe(s, "*", asio::bind_executor(strand, [&](const racket::message<std::string>&) {
                           if (!strand.running_in_this_thread()) ++off_strand;
                           ++got;
                         }));
  racket::publisher pub{pub_io.io, on_lo};
  for (int i = 0; i < 100; ++i) pub.publish(s, "k" + std::to_string(i), std::string("v"));
  REQUIRE(wait_until([&] { return got.load() == 100; }));
  CHECK(off_strand.load() == 0);
}

TEST_CASE("no handler call starts after unsubscribe returned, and the handler is destroyed by then",
          "[threads][unsubscribe]") {
  REQUIRE_PRIVATE_NETNS();
  io_threads sub_io(4);
  io_threads pub_io(1);
  const racket::stream<std::string> s{"threads.unsub", pool};
  racket::subscriber sub{sub_io.io, sub_lo};
  auto token = std::make_shared<int>(0);
  std::atomic<int> calls{0};
  std::atomic<bool> running{false};
  std::atomic<bool> returned{false};
  std::atomic<int> after_return{0};
  auto h = sub.subscribe(s, "*", [&, token](const racket::message<std::string>&) {
    if (returned.load()) ++after_return;
    running = true;
    ++calls;
    std::this_thread::sleep_for(300us);
    running = false;
  });
  racket::publisher pub{pub_io.io, on_lo};
  std::atomic<bool> stop_publishing{false};
  std::thread publisher([&] {
    for (int i = 0; !stop_publishing.load(); ++i) {
      pub.publish(s, "k" + std::to_string(i % 8), std::to_string(i));
      std::this_thread::sleep_for(200us);
    }
  });
  REQUIRE(wait_until([&] { return calls.load() >= 50; }));
  h.unsubscribe();
  returned = true;
  const bool was_running = running.load();
  const long uses = token.use_count();
  const int at_return = calls.load();
  std::this_thread::sleep_for(50ms);  // traffic goes on meanwhile: nothing may be delivered
  stop_publishing = true;
  publisher.join();
  CHECK_FALSE(was_running);
  CHECK(uses == 1);
  CHECK(calls.load() == at_return);
  CHECK(after_return.load() == 0);
}

TEST_CASE("handlers that call back into the subscriber do not deadlock, on 4 threads", "[threads][handlers]") {
  REQUIRE_PRIVATE_NETNS();
  io_threads sub_io(4);
  io_threads pub_io(1);
  const racket::stream<std::string> s{"threads.reentry", pool};
  racket::subscriber sub{sub_io.io, sub_lo};
  std::atomic<int> errors{0}, got{0};
  std::atomic<std::uint64_t> seen_handler_errors{0};
  sub.set_error_handler([&](const std::error_code&, std::string_view) {
    seen_handler_errors = sub.stats(s).handler_errors;  // the subscriber's lock is not held here
    ++errors;
  });
  racket::subscription h;
  h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) {
    (void)sub.stats(s);
    // Itself, from inside. (The handle is then this thread's until `got` says so: a
    // subscription object, like any object, is used by one thread at a time.)
    if (m.value == "stop") h.unsubscribe();
    ++got;
    if (m.value == "throw") throw std::runtime_error("asked to");
  });
  racket::publisher pub{pub_io.io, on_lo};
  pub.publish(s, "a", std::string("throw"));
  REQUIRE(wait_until([&] { return errors.load() == 1; }));
  CHECK(seen_handler_errors.load() == 1);
  pub.publish(s, "b", std::string("stop"));
  REQUIRE(wait_until([&] { return got.load() == 2; }));
  pub.publish(s, "c", std::string("after"));
  std::this_thread::sleep_for(50ms);
  CHECK(got.load() == 2);
}

TEST_CASE("subscribe and unsubscribe churn with a stats reader and a publisher on 64 subjects",
          "[threads][churn]") {
  REQUIRE_PRIVATE_NETNS();
  io_threads sub_io(4);
  io_threads pub_io(1);
  const racket::stream<std::string> s{"threads.churn", pool};
  racket::subscriber sub{sub_io.io, sub_lo};
  racket::publisher pub{pub_io.io, on_lo};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<int> late_calls{0};
  std::thread publisher([&] {
    for (int i = 0; !done.load(); ++i) {
      pub.publish(s, "mt." + std::to_string(i % 64), std::to_string(i), 100ms);
      if (i % 64 == 63) std::this_thread::sleep_for(200us);
    }
  });
  std::thread reader([&] {
    while (!done.load()) {
      (void)sub.stats(s);
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int round = 0; round < 150; ++round) {
    auto gone = std::make_shared<std::atomic<bool>>(false);
    auto h = sub.subscribe(s, "mt.*", [&delivered, &late_calls, gone](const racket::message<std::string>& m) {
      if (gone->load()) ++late_calls;
      if (m.subject.substr(0, 3) == "mt.") ++delivered;
    });
    std::this_thread::sleep_for(2ms);
    h.unsubscribe();
    gone->store(true);
  }
  done = true;
  publisher.join();
  reader.join();
  CHECK(late_calls.load() == 0);
  CHECK(delivered.load() > 0);
}

TEST_CASE("async_fetch from a thread that does not run the io_context, with use_future", "[threads][fetch]") {
  REQUIRE_PRIVATE_NETNS();
  io_threads sub_io(4);
  io_threads pub_io(1);
  const racket::stream<std::string> s{"threads.fetch", pool};
  racket::publisher pub{pub_io.io, on_lo};
  for (int i = 0; i < 3; ++i) pub.publish(s, "f." + std::to_string(i), std::to_string(i), 10s);
  pub.publish(s, "other", std::string("x"), 10s);
  racket::subscriber sub{sub_io.io, sub_lo};
  std::future<std::vector<racket::owned_message<std::string>>> f = sub.async_fetch(s, "f.*", 3s, asio::use_future);
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  const auto values = f.get();
  REQUIRE(values.size() == 3);
  CHECK(values[0].subject == "f.0");
  CHECK(values[2].value == "2");
  std::future<void> closed = sub.async_close(asio::use_future);
  REQUIRE(closed.wait_for(5s) == std::future_status::ready);
}

TEST_CASE("the subscriber's requests leave with subscriber_options::ttl", "[threads][ttl]") {
  REQUIRE_PRIVATE_NETNS();
  const racket::stream<std::string> s{"threads.ttl", pool};
  const racket::endpoint req = racket::request_endpoint(s.endpoint());
  // A plain receiving socket on the request group that reports each datagram's TTL.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  REQUIRE(fd >= 0);
  const int one = 1;
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  REQUIRE(::setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) == 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(req.port);
  local.sin_addr.s_addr = htonl(INADDR_ANY);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0);
  ip_mreq mreq{};
  mreq.imr_multiaddr.s_addr = htonl(req.group.to_v4().to_uint());
  mreq.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) == 0);

  asio::io_context io;
  racket::subscriber sub{io, racket::subscriber_options{.interfaces = {"lo"}, .ttl = 7}};
  auto h = sub.subscribe(s, "*", [](const racket::message<std::string>&) {});  // sends a snapshot request
  std::optional<int> ttl;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!ttl && std::chrono::steady_clock::now() < deadline) {
    io.poll();
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    std::byte buffer[2048];
    alignas(cmsghdr) char control[128];
    iovec v{buffer, sizeof buffer};
    msghdr m{};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    if (::recvmsg(fd, &m, 0) < 0) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
        int t = 0;
        std::memcpy(&t, CMSG_DATA(c), sizeof t);
        ttl = t;
      }
    }
  }
  ::close(fd);
  REQUIRE(ttl.has_value());
  CHECK(*ttl == 7);
  CHECK(sub.stats(s).snapshot_requests_sent == 1);
}

TEST_CASE("plain callbacks complete on real UDP: async_flush, async_fetch and both async_close",
          "[subscriber][publisher][async_fetch][net]") {
  // A lambda's associated executor is the object's strand (over any_io_executor), which keeps
  // work outstanding only the standard way: with the older work guard these did not compile.
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::publisher pub{io, on_lo};
  racket::subscriber sub{io, sub_lo};
  const racket::stream<std::string> s{"cb.plain", pool};
  pub.publish(s, "cb.a", std::string("one"), 1s);
  std::optional<std::error_code> flushed;
  pub.async_flush([&](std::error_code ec) { flushed = ec; });
  REQUIRE(racket::test::run_until(io, [&] { return flushed.has_value(); }));
  CHECK_FALSE(*flushed);

  std::optional<std::vector<racket::owned_message<std::string>>> got;
  std::error_code fetch_ec = make_error_code(racket::errc::not_open);
  sub.async_fetch(s, "cb.*", 2s, [&](std::error_code ec, std::vector<racket::owned_message<std::string>> v) {
    fetch_ec = ec;
    got = std::move(v);
  });
  REQUIRE(racket::test::run_until(io, [&] { return got.has_value(); }, 5000ms));
  CHECK_FALSE(fetch_ec);
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].subject == "cb.a");
  CHECK((*got)[0].value == "one");

  std::optional<std::error_code> sub_closed, pub_closed;
  sub.async_close([&](std::error_code ec) { sub_closed = ec; });
  pub.async_close([&](std::error_code ec) { pub_closed = ec; });
  REQUIRE(racket::test::run_until(io, [&] { return sub_closed.has_value() && pub_closed.has_value(); }));
  CHECK_FALSE(*sub_closed);
  CHECK_FALSE(*pub_closed);
}
