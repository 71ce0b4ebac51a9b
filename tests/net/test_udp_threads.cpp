// SPDX-License-Identifier: MIT
// udp_transport with its io_context run by several threads: its strand serialises every
// completion, its counters and close_receiver may be used from any thread, and its error
// handler runs on the strand after the call that failed. Every test sends: each runs inside a
// private network namespace (tests/tools/in_netns.sh) and REQUIREs the guard first.
#include "racket/transport/udp.hpp"

#include "catch.hpp"
#include "net/io_threads.hpp"
#include "net/net_test.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using racket::address_family;
using racket::endpoint;
using racket::receive_info;
using racket::udp_transport;
using racket::test::ep;
using racket::test::io_threads;
using racket::test::wait_until;

// Counts handler calls and notices two of them overlapping (which the strand forbids).
struct overlap_probe {
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::atomic<std::size_t> calls{0};
  std::atomic<bool> off_strand{false};

  template <class Strand>
  racket::datagram_handler handler(const Strand& strand) {
    return [this, strand](std::span<const std::byte>, const receive_info&) {
      if (!strand.running_in_this_thread()) off_strand = true;
      if (inside.fetch_add(1) != 0) overlapped = true;
      std::this_thread::yield();  // widen the window another thread would need
      inside.fetch_sub(1);
      calls.fetch_add(1);
    };
  }
};

}  // namespace

TEST_CASE("udp threads: one transport's handlers never overlap when four threads run its io_context",
          "[udp][net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport rx(io, {.interfaces = {"lo"}});
  udp_transport tx(io, {.interfaces = {"lo"}});
  tx.open(address_family::v4);
  overlap_probe probe;
  // Three receivers on three groups of one transport: their reads complete on the strand.
  std::vector<racket::receiver_id> ids;
  for (const char* g : {"239.255.9.1", "239.255.9.2", "239.255.9.3"})
    ids.push_back(rx.open_receiver(ep(g, 19190), probe.handler(rx.get_executor())));

  io_threads threads(io, 4);
  std::atomic<bool> reading{true};
  std::uint64_t last_seen = 0;
  bool went_back = false;
  std::thread reader([&] {  // the counters, read while the strand writes them
    while (reading) {
      const auto s = rx.stats();
      if (s.datagrams_received < last_seen) went_back = true;
      last_seen = s.datagrams_received;
    }
  });
  // Sends on the sender's strand, as the publisher does.
  constexpr int rounds = 300;
  std::atomic<int> sent_rounds{0};
  for (int i = 0; i < rounds; ++i) {
    asio::post(tx.get_executor(), [&] {
      const std::byte b[8]{};
      for (const char* g : {"239.255.9.1", "239.255.9.2", "239.255.9.3"}) tx.send(ep(g, 19190), b);
      sent_rounds.fetch_add(1);
    });
  }
  REQUIRE(wait_until([&] { return sent_rounds == rounds; }));
  // Loopback multicast with the default receive buffer loses nothing at this size.
  CHECK(wait_until([&] { return probe.calls == 3u * rounds; }));
  reading = false;
  reader.join();
  CHECK_FALSE(probe.overlapped);
  CHECK_FALSE(probe.off_strand);
  CHECK_FALSE(went_back);
  CHECK(rx.stats().datagrams_received == probe.calls.load());
  for (auto id : ids) rx.close_receiver(id);  // from a thread that is not the strand
  threads.stop();
}

TEST_CASE("udp threads: close_receiver from another thread while datagrams flow stops the handler",
          "[udp][net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport rx(io, {.interfaces = {"lo"}});
  udp_transport tx(io, {.interfaces = {"lo"}});
  tx.open(address_family::v4);
  const auto target = ep("239.255.9.4", 19191);
  std::atomic<std::size_t> calls{0};
  std::atomic<bool> closed{false};
  std::atomic<std::size_t> after_close{0};  // calls that STARTED after close_receiver returned
  const auto id = rx.open_receiver(target, [&](std::span<const std::byte>, const receive_info&) {
    if (closed) after_close.fetch_add(1);
    calls.fetch_add(1);
  });
  REQUIRE(id != 0);
  io_threads threads(io, 4);
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    while (sending) {
      std::atomic<bool> done{false};
      asio::post(tx.get_executor(), [&] {
        const std::byte b[16]{};
        for (int i = 0; i < 8; ++i) tx.send(target, b);
        done = true;
      });
      while (!done && sending) std::this_thread::yield();
    }
  });
  REQUIRE(wait_until([&] { return calls > 200; }));
  // close_receiver takes the transport's mutex and marks the receiver closed at once: a call
  // already on the strand may finish, but after a strand job that began later no call starts.
  rx.close_receiver(id);
  std::atomic<bool> barrier{false};
  asio::post(rx.get_executor(), [&] { barrier = true; });  // the strand's job queued after the close
  REQUIRE(wait_until([&] { return barrier.load(); }));
  closed = true;
  const std::size_t at_close = calls;
  // Datagrams keep flowing for a while; none reaches the closed receiver's handler.
  const std::uint64_t sent_then = tx.stats().datagrams_sent;
  REQUIRE(wait_until([&] { return tx.stats().datagrams_sent > sent_then + 200; }));
  sending = false;
  sender.join();
  threads.stop();
  CHECK(after_close == 0);
  CHECK(calls == at_close);
  CHECK(racket::test::joined_groups_v4()["lo"].count(racket::test::igmp_key("239.255.9.4")) == 0);
}

TEST_CASE("udp threads: the error handler runs on the strand after the failing call, and may call back in",
          "[udp][net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  std::atomic<int> reports{0};
  std::atomic<bool> on_strand{false};
  std::string described;
  std::uint64_t errors_seen = 0;
  udp.set_error_handler([&](const std::error_code& ec, std::string_view) {
    on_strand = udp.get_executor().running_in_this_thread();
    if (ec == racket::errc::not_open) {
      described = udp.describe();  // takes the transport's mutex: not held around the handler
      errors_seen = udp.stats().send_errors;
    }
    reports.fetch_add(1);
  });
  const std::byte b[1]{};
  // IPv6 is not open: the send fails and reports, but not from inside send.
  const auto r = udp.send(ep("ff15::9", 19192), b);
  CHECK(r.failed == 1);
  CHECK(reports == 0);
  REQUIRE(racket::test::run_until(io, [&] { return reports == 1; }));
  CHECK(on_strand);
  CHECK(described == "udp receivers=0");
  CHECK(errors_seen == 1);
}

TEST_CASE("udp threads: a transport made on an application's strand or a thread pool", "[udp][net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  SECTION("on an asio::strand: the transport's own strand runs inside it") {
    asio::io_context io;
    auto app = asio::make_strand(io);
    udp_transport udp(app, {.interfaces = {"lo"}});
    const auto target = ep("239.255.9.5", 19193);
    std::atomic<bool> in_app{false}, got{false};
    const auto id = udp.open_receiver(target, [&](std::span<const std::byte>, const receive_info&) {
      in_app = app.running_in_this_thread();
      got = true;
    });
    REQUIRE(id != 0);
    io_threads threads(io, 2);
    asio::post(udp.get_executor(), [&] {
      const std::byte b[4]{};
      udp.send(target, b);
    });
    REQUIRE(wait_until([&] { return got.load(); }));
    CHECK(in_app);
    udp.close_receiver(id);
    threads.stop();
  }
  SECTION("on an asio::thread_pool") {
    asio::thread_pool pool(2);
    std::atomic<bool> got{false};
    {
      udp_transport udp(pool, {.interfaces = {"lo"}});
      const auto target = ep("239.255.9.6", 19194);
      const auto id = udp.open_receiver(target, [&](std::span<const std::byte>, const receive_info&) { got = true; });
      REQUIRE(id != 0);
      REQUIRE(wait_until([&] {
        asio::post(udp.get_executor(), [&] {
          const std::byte b[4]{};
          udp.send(target, b);
        });
        return wait_until([&] { return got.load(); }, 50ms);
      }));
      udp.close_receiver(id);
      // Destroyed on the strand (the documented rule), with the pool still running.
      std::atomic<bool> closed{false};
      asio::post(udp.get_executor(), [&] {
        udp.close();
        closed = true;
      });
      REQUIRE(wait_until([&] { return closed.load(); }));
    }
    pool.join();
    CHECK(got);
  }
}

TEST_CASE("udp threads: a transport made on an application's strand runs on that strand itself, others on their own",
          "[udp][net][threads]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  const racket::transport_options opts{.interfaces = {"lo"}};
  udp_transport a(io, opts), b(io, opts);
  CHECK(a.get_executor() != b.get_executor());  // from a context: a strand each
  udp_transport d(io.get_executor(), opts), e(io.get_executor(), opts);
  CHECK(d.get_executor() != e.get_executor());  // from an executor: a strand each
  auto app = asio::make_strand(io);            // asio::strand<io_context::executor_type>
  udp_transport f(app, opts), g(app, opts);
  CHECK(f.get_executor() == udp_transport::executor_type(app));  // that strand, not one inside it
  CHECK(g.get_executor() == f.get_executor());
  const udp_transport::executor_type any_strand(io.get_executor());
  udp_transport h(any_strand, opts);
  CHECK(h.get_executor() == any_strand);
  // Work posted to the application's strand is on the transport's, and the other way round.
  bool on_transport = false, on_app = false;
  asio::post(app, [&] { on_transport = f.get_executor().running_in_this_thread(); });
  asio::post(f.get_executor(), [&] { on_app = app.running_in_this_thread(); });
  io.run();
  CHECK(on_transport);
  CHECK(on_app);
}
