#include "racket/transport/detail/udp/serial_executor.hpp"

#include "catch.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <type_traits>

using racket::detail::udp::serial_executor;

static_assert(asio::execution::is_executor<serial_executor>::value);
static_assert(std::is_nothrow_copy_constructible_v<serial_executor>);
static_assert(std::is_constructible_v<asio::any_io_executor, serial_executor>);

TEST_CASE("serial_executor: a strand: dispatch runs at once on it, post after, never elsewhere", "[serial_executor]") {
  asio::io_context io;
  const serial_executor a(io.get_executor());
  int order = 0, dispatched = -1, posted = -1;
  bool on_strand = false, off_strand = true;
  asio::post(a, [&] {
    on_strand = a.running_in_this_thread();
    asio::post(a, [&] { posted = order++; });
    asio::dispatch(a, [&] { dispatched = order++; });  // on the strand: runs inside this call
    CHECK(dispatched == 0);
    CHECK(posted == -1);
  });
  off_strand = a.running_in_this_thread();
  io.run();
  CHECK(on_strand);
  CHECK_FALSE(off_strand);
  CHECK(dispatched == 0);
  CHECK(posted == 1);
}

TEST_CASE("serial_executor: new strands differ, a wrapped strand is that strand", "[serial_executor]") {
  asio::io_context io;
  const serial_executor a(io.get_executor()), b(io.get_executor());
  CHECK(a != b);
  CHECK(a == serial_executor(a));
  auto app = asio::make_strand(io);
  const serial_executor c(app), d(app);
  CHECK(c == d);
  CHECK(c != a);
  bool app_sees_c = false, c_sees_app = false;
  asio::post(app, [&] { app_sees_c = c.running_in_this_thread(); });
  asio::post(c, [&] { c_sees_app = app.running_in_this_thread(); });
  // An any_io_executor holding an io_context's executor, and a strand over any_io_executor.
  const serial_executor e(asio::any_io_executor(io.get_executor()));
  const asio::strand<asio::any_io_executor> any_app(asio::any_io_executor(io.get_executor()));
  const serial_executor f(any_app);
  bool f_sees_any = false;
  asio::post(f, [&] { f_sees_any = any_app.running_in_this_thread(); });
  bool e_runs = false;
  asio::post(e, [&] { e_runs = e.running_in_this_thread(); });
  io.run();
  CHECK(app_sees_c);
  CHECK(c_sees_app);
  CHECK(f_sees_any);
  CHECK(e_runs);
}

TEST_CASE("serial_executor: properties: blocking.never posts, tracked work keeps run() going", "[serial_executor]") {
  asio::io_context io;
  const serial_executor a(io.get_executor());
  CHECK(asio::query(a, asio::execution::blocking) == asio::execution::blocking.possibly);
  const auto never = asio::require(a, asio::execution::blocking.never);
  CHECK(asio::query(never, asio::execution::blocking) == asio::execution::blocking.never);
  CHECK(never != a);
  CHECK(&asio::query(a, asio::execution::context) == &static_cast<asio::execution_context&>(io));
  bool later = false, inside = false;
  asio::post(a, [&] {
    never.execute([&] { later = true; });  // never-blocking: queued even on the strand
    inside = later;
  });
  io.run();
  CHECK_FALSE(inside);
  CHECK(later);
  // A tracked copy is outstanding work: run() waits for it to go.
  io.restart();
  std::atomic<bool> ran{false};
  {
    auto work = asio::prefer(a, asio::execution::outstanding_work.tracked);
    CHECK(work == a);  // the same strand
    std::thread t([&, w = std::move(work)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      asio::post(w, [&] { ran = true; });
    });
    io.run();  // returns only once the thread's copy is gone and its job ran
    t.join();
  }
  CHECK(ran);
}

TEST_CASE("serial_executor: timers, bound handlers and any_io_executor run on the strand", "[serial_executor]") {
  asio::io_context io;
  const serial_executor a(io.get_executor());
  int on = 0;
  asio::steady_timer t1(a);  // through any_io_executor
  t1.expires_after(std::chrono::milliseconds(1));
  t1.async_wait([&](std::error_code) { on += a.running_in_this_thread(); });
  asio::steady_timer t2(a.io_object_executor());  // the socket's kind: the context's executor, handler bound
  t2.expires_after(std::chrono::milliseconds(1));
  t2.async_wait(asio::bind_executor(a, [&](std::error_code) { on += a.running_in_this_thread(); }));
  const asio::any_io_executor any = a;
  asio::post(any, [&] { on += a.running_in_this_thread(); });
  io.run();
  CHECK(on == 3);
}

TEST_CASE("serial_executor: on a thread pool, jobs never overlap", "[serial_executor]") {
  asio::thread_pool pool(2);
  const serial_executor s(pool.get_executor());
  std::atomic<int> inside{0}, overlaps{0}, done{0};
  for (int i = 0; i < 2000; ++i) {
    asio::post(s, [&] {
      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
      if (!s.running_in_this_thread()) overlaps.fetch_add(1);
      std::this_thread::yield();  // room for another job to start, were they not serialised
      inside.fetch_sub(1);
      done.fetch_add(1);
    });
  }
  pool.join();
  CHECK(done == 2000);
  CHECK(overlaps == 0);
}
