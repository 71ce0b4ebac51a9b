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
#include <memory>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

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
  // A tracked copy is outstanding work: run() waits for it to go. The thread posts only once
  // run() has run a first job and so has nothing else queued: untracked, run() would return
  // then, before the thread's job.
  io.restart();
  std::atomic<bool> ran{false}, started{false};
  {
    auto work = asio::prefer(a, asio::execution::outstanding_work.tracked);
    CHECK(work == a);  // the same strand
    asio::post(io, [&] { started = true; });
    std::thread t([&, w = std::move(work)] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!started && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      asio::post(w, [&] { ran = true; });
    });
    io.run();  // returns only once the thread's copy is gone and its job ran
    t.join();
  }
  CHECK(started);
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

// The io_context path (io_strand.hpp): the strand's own way in and out, not Asio's.

TEST_CASE("serial_executor: a free strand is entered at once from a thread running the io_context, a busy one later",
          "[serial_executor]") {
  asio::io_context io;
  const serial_executor a(io.get_executor()), b(io.get_executor());
  bool inline_ran = false, both = false, after = false;
  asio::post(a, [&] {
    asio::dispatch(b, [&] {
      inline_ran = true;
      both = a.running_in_this_thread() && b.running_in_this_thread();
    });
    after = inline_ran;  // b was free: its job ran inside the dispatch
  });
  io.run();
  CHECK(after);
  CHECK(both);

  // From a thread that does not run the io_context: never at once, and try_run_here says so.
  io.restart();
  bool ran = false, tried = true;
  int try_calls = 0;
  std::thread([&] {
    tried = b.try_run_here([&] { ++try_calls; });
    asio::dispatch(b, [&] { ran = true; });
  }).join();
  CHECK_FALSE(tried);
  CHECK(try_calls == 0);
  CHECK_FALSE(ran);
  io.run();
  CHECK(ran);

  // Busy on another thread: queued, run once that thread lets go.
  io.restart();
  std::atomic<bool> holding{false}, release{false};
  std::atomic<int> order{0};
  std::atomic<int> held_done{-1}, queued_ran{-1};
  bool queued_tried = true;
  auto guard = asio::make_work_guard(io);
  std::thread t([&] { io.run(); });
  asio::post(b, [&] {
    holding = true;
    while (!release) std::this_thread::yield();
    held_done = order++;
  });
  asio::post(io, [&] {  // on the io_context, not on b
    while (!holding) std::this_thread::yield();
    queued_tried = b.try_run_here([] {});
    asio::dispatch(b, [&] { queued_ran = order++; });
    release = true;
  });
  std::thread t2([&] { io.run(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (queued_ran < 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  guard.reset();
  t.join();
  t2.join();
  CHECK_FALSE(queued_tried);
  CHECK(held_done == 0);
  CHECK(queued_ran == 1);
}

TEST_CASE("serial_executor: an io_context on 4 threads: a strand's jobs never overlap, each sender's stay in order",
          "[serial_executor]") {
  asio::io_context io;
  const serial_executor s[2] = {serial_executor(io.get_executor()), serial_executor(io.get_executor())};
  constexpr int senders = 4, jobs = 4000;
  std::atomic<int> inside[2] = {0, 0};
  std::atomic<int> overlaps{0}, out_of_order{0}, done{0};
  int last[2][senders];  // per strand, per sender: the last job seen (touched on that strand only)
  for (auto& row : last)
    for (int& v : row) v = -1;
  const auto job = [&](int k, int sender, int n) {
    if (inside[k].fetch_add(1) != 0) overlaps.fetch_add(1);
    if (!s[k].running_in_this_thread()) overlaps.fetch_add(1);
    if (n <= last[k][sender]) out_of_order.fetch_add(1);
    last[k][sender] = n;
    inside[k].fetch_sub(1);
    done.fetch_add(1);
  };
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> runners;
  for (int i = 0; i < 4; ++i) runners.emplace_back([&] { io.run(); });
  // Senders 0 and 1 are threads of their own (their jobs queue); 2 and 3 send from jobs on the
  // io_context (their dispatches enter a free strand at once).
  std::vector<std::thread> outside;
  for (int sender = 0; sender < 2; ++sender) {
    outside.emplace_back([&, sender] {
      for (int n = 0; n < jobs; ++n) {
        const int k = n % 2;
        if (n % 3 == 0) {
          asio::dispatch(s[k], [&, k, sender, n] { job(k, sender, n); });
        } else {
          asio::post(s[k], [&, k, sender, n] { job(k, sender, n); });
        }
      }
    });
  }
  for (int sender = 2; sender < senders; ++sender) {
    asio::post(io, [&, sender] {
      for (int n = 0; n < jobs; ++n) {
        const int k = n % 2;
        asio::dispatch(s[k], [&, k, sender, n] { job(k, sender, n); });
      }
    });
  }
  for (auto& t : outside) t.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done < senders * jobs && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  guard.reset();
  for (auto& t : runners) t.join();
  CHECK(done == senders * jobs);
  CHECK(overlaps == 0);
  CHECK(out_of_order == 0);
}

TEST_CASE("serial_executor: a job that throws lets the strand go, and the jobs queued behind it still run",
          "[serial_executor]") {
  asio::io_context io;
  const serial_executor a(io.get_executor());
  std::vector<int> ran;
  asio::post(a, [] { throw std::runtime_error("job"); });
  asio::post(a, [&] { ran.push_back(1); });
  asio::post(a, [&] { ran.push_back(2); });
  CHECK_THROWS_AS(io.run(), std::runtime_error);
  io.restart();
  io.run();
  CHECK(ran == std::vector<int>{1, 2});
  // Entered at once (a dispatch from the io_context onto a free strand), then thrown out of.
  io.restart();
  bool again = false;
  asio::post(io, [&] {
    CHECK_THROWS_AS(asio::dispatch(a, [] { throw std::runtime_error("inline"); }), std::runtime_error);
    CHECK_FALSE(a.running_in_this_thread());
    asio::dispatch(a, [&] { again = true; });  // free again: runs at once
    CHECK(again);
  });
  io.run();
  CHECK(again);
}

TEST_CASE("serial_executor: the io_context's destruction destroys the jobs still queued, which may hold the strand",
          "[serial_executor]") {
  struct holder {
    serial_executor strand;
    bool* destroyed;
    ~holder() { *destroyed = true; }
  };
  bool destroyed = false;
  {
    auto io = std::make_unique<asio::io_context>();
    const serial_executor a(io->get_executor());
    // The job holds the strand that holds the job: only the shutdown breaks the cycle.
    asio::post(a, [h = std::shared_ptr<holder>(new holder{a, &destroyed})] { (void)h; });
    io.reset();
  }
  CHECK(destroyed);
}
