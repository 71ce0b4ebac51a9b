// SPDX-License-Identifier: MIT
// libFuzzer target: the subscriber's whole receive path (decode -> match -> dedupe -> deliver,
// tombstones, expiry, eviction, handler errors, unsubscribing from inside a handler), driven
// through an in-process transport that hands the fuzzer the receive handlers, on a virtual
// clock the fuzzer steps.
//
// Input: a sequence of operations, each one opcode byte then its operands:
//   0 datagram   u8 receiver, u16 length, bytes; the trailer is recomputed unless the
//                receiver byte's top bit is set
//   1 time       u16 milliseconds to advance the virtual clock (then timers fire)
//   2 toggle     u8 subscription: unsubscribe it, or subscribe it again
//   3 raw        u16 length, bytes: a datagram given to every receiver unchanged
// Small caps (8 subjects, 4 publishers per stream) so eviction runs constantly.
#include "racket/subscriber.hpp"

#include "fuzz_common.hpp"

#include "racket/pool.hpp"
#include "racket/stream.hpp"
#include "racket/transport/concepts.hpp"

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// A virtual clock the fuzzer steps; time_point must match the transport's timers.
struct fuzz_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<fuzz_clock>;
  [[maybe_unused]] static constexpr bool is_steady = true;
  static time_point now() noexcept { return current; }
  static inline time_point current{std::chrono::hours(1)};
};

// Timers of the fake transport: one waiting handler each, fired by `fire_due`.
struct timer_registry {
  struct state {
    fuzz_clock::time_point due{};
    std::function<void(std::error_code)> handler;
  };
  std::vector<std::weak_ptr<state>> timers;
};

class fake_transport {
 public:
  using context_type = asio::io_context;
  using executor_type = asio::io_context::executor_type;
  using clock_type = fuzz_clock;

  class timer_type {
   public:
    using time_point = fuzz_clock::time_point;
    timer_type(asio::io_context& io, timer_registry& reg) : io_(&io), s_(std::make_shared<timer_registry::state>()) {
      reg.timers.push_back(s_);
    }
    void expires_at(fuzz_clock::time_point t) { s_->due = t; }
    template <class Handler>
    void async_wait(Handler&& h) {
      s_->handler = std::forward<Handler>(h);
    }
    void cancel() {
      if (auto h = std::exchange(s_->handler, nullptr)) {
        asio::post(*io_, [h = std::move(h)] { h(asio::error::operation_aborted); });
      }
    }

   private:
    asio::io_context* io_;
    std::shared_ptr<timer_registry::state> s_;
  };

  fake_transport(asio::io_context& io, const racket::transport_options&) : io_(io) { instance = this; }
  ~fake_transport() {
    if (instance == this) instance = nullptr;
  }

  executor_type get_executor() const noexcept { return io_.get_executor(); }
  timer_type make_timer() { return timer_type(io_, timers_); }
  void open(racket::address_family, std::error_code& ec) { ec.clear(); }
  racket::send_result send(const racket::endpoint&, std::span<const std::byte>) { return {.ok = 1}; }
  racket::receiver_id open_receiver(const racket::endpoint& ep, racket::datagram_handler h, std::error_code& ec) {
    ec.clear();
    const racket::receiver_id id = next_id_++;
    receivers_.emplace(id, std::make_pair(ep, std::move(h)));
    return id;
  }
  void close_receiver(racket::receiver_id id) { receivers_.erase(id); }
  racket::transport_stats stats() const { return {}; }
  void close() { receivers_.clear(); }

  // Fuzzer side.
  void deliver(std::size_t which, std::span<const std::byte> d) {
    if (receivers_.empty()) return;
    auto it = receivers_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(which % receivers_.size()));
    auto handler = it->second.second;  // a copy: the handler may close its own receiver
    handler(d, racket::receive_info{});
  }
  void deliver_all(std::span<const std::byte> d) {
    std::vector<racket::receiver_id> ids;
    for (auto& [id, r] : receivers_) ids.push_back(id);
    for (auto id : ids) {
      auto it = receivers_.find(id);
      if (it == receivers_.end()) continue;
      auto handler = it->second.second;
      handler(d, racket::receive_info{});
    }
  }
  void fire_due() {
    for (auto& w : timers_.timers) {
      auto s = w.lock();
      if (s && s->handler && s->due <= fuzz_clock::now()) {
        auto h = std::exchange(s->handler, nullptr);
        asio::post(io_, [h = std::move(h)] { h({}); });
      }
    }
  }

  static inline fake_transport* instance = nullptr;

 private:
  asio::io_context& io_;
  timer_registry timers_;
  std::map<racket::receiver_id, std::pair<racket::endpoint, racket::datagram_handler>> receivers_;
  racket::receiver_id next_id_ = 1;
};

static_assert(racket::transport<fake_transport>);

constexpr std::size_t max_subjects = 8;
constexpr std::size_t max_publishers = 4;

struct slot {
  const racket::stream<std::string>* s;
  const char* filter;
  racket::subscription sub;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 200000) return -1;
  // Two streams sharing one group and port (one pool address), one on another port, and the
  // streams of the wire-format test vectors (the seeds).
  static const racket::multicast_pool pool{"239.255.0.0/31", "19090-19091"};
  static const racket::stream<std::string> sensors{"sensors", pool};
  static const racket::stream<std::string> status{"status", pool};
  static const racket::stream<std::string> telemetry{"telemetry", pool};
  static const racket::stream<std::string> other{"other", pool};

  fuzz_clock::current = fuzz_clock::time_point{std::chrono::hours(1)};
  asio::io_context io;
  std::uint64_t delivered = 0;
  std::uint64_t errors = 0;
  {
    racket::basic_subscriber<fake_transport> sub{
        io, racket::subscriber_options{.max_subjects_per_stream = max_subjects,
                                       .max_publishers_per_stream = max_publishers,
                                       .event_window = std::chrono::milliseconds(100)}};
    fake_transport& transport = *fake_transport::instance;
    sub.set_error_handler([&](const std::error_code&, std::string_view what) {
      RACKET_FUZZ_CHECK(!what.empty());
      ++errors;
    });

    std::array<slot, 7> slots{{{&sensors, "plant.*", {}},
                               {&sensors, "plant.line3.temp", {}},
                               {&sensors, "*.*.temp", {}},
                               {&status, "dev.*.state", {}},
                               {&status, "*", {}},
                               {&telemetry, "*", {}},
                               {&other, "a.*.c", {}}}};
    std::array<bool, 7> self_cancel{};
    auto subscribe = [&](std::size_t i) {
      slot& sl = slots[i];
      sl.sub = sub.subscribe(
          *sl.s, sl.filter,
          [&, i](const racket::message<std::string>& m) {
            ++delivered;
            RACKET_FUZZ_CHECK(m.stream == slots[i].s->name());
            RACKET_FUZZ_CHECK(racket::subject_filter{slots[i].filter}.matches(m.subject));
            RACKET_FUZZ_CHECK(m.value.size() == m.payload.size());
            RACKET_FUZZ_CHECK(m.sequence != 0);
            if (!m.value.empty() && m.value[0] == '!') throw std::runtime_error("hostile payload");
            if (!m.value.empty() && m.value[0] == '~') throw 42;
            if (!m.value.empty() && m.value[0] == '#' && self_cancel[i]) slots[i].sub.unsubscribe();
          },
          [&](const racket::removal& r) {
            RACKET_FUZZ_CHECK(!r.subject.empty());
            if (r.subject.size() == 1) throw std::runtime_error("hostile removal");
          });
    };
    for (std::size_t i = 0; i < slots.size(); ++i) subscribe(i);
    io.poll();
    io.restart();

    racket::fuzz::input in{data, size};
    std::vector<std::byte> buf;
    while (!in.empty()) {
      switch (in.u8() % 4) {
        case 0: {
          const std::uint8_t which = in.u8();
          const auto bytes = in.bytes(in.u16());
          buf.assign(bytes.begin(), bytes.end());
          if ((which & 0x80) == 0) racket::fuzz::fix_checksum(buf);
          transport.deliver(which & 0x7f, buf);
          break;
        }
        case 1:
          fuzz_clock::current += std::chrono::milliseconds(in.u16());
          transport.fire_due();
          break;
        case 2: {
          const std::size_t i = in.u8() % slots.size();
          if (slots[i].sub.active()) {
            slots[i].sub.unsubscribe();
          } else {
            self_cancel[i] = !self_cancel[i];
            subscribe(i);
          }
          break;
        }
        case 3: {
          const auto bytes = in.bytes(in.u16());
          buf.assign(bytes.begin(), bytes.end());
          transport.deliver_all(buf);
          break;
        }
      }
      io.poll();
      io.restart();
      for (const auto* s : {&sensors, &status, &telemetry, &other}) {
        const auto st = sub.stats(*s);
        RACKET_FUZZ_CHECK(st.tracked_subjects <= max_subjects);
        RACKET_FUZZ_CHECK(st.delivered + st.decode_errors + st.handler_errors >= st.handler_errors);
      }
    }
    // Let every subject expire.
    fuzz_clock::current += std::chrono::hours(24 * 365);
    transport.fire_due();
    io.poll();
    io.restart();
    for (auto& sl : slots) sl.sub.unsubscribe();
  }
  io.poll();
  return 0;
}
