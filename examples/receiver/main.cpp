// receiver: subscribes to a Racket stream over IP multicast and prints what it delivers.
//
// Every delivered message is one line on stdout (human or JSON), and so is every subject that
// goes away (withdrawn by its publisher, expired because its publisher stopped re-sending, or
// evicted). Duplicates (resends of a value already delivered, copies heard on several
// interfaces) and stale messages are suppressed by the library and only counted: see the
// stats line on stderr.
// SPDX-License-Identifier: MIT

#include "../common/format.hpp"
#include "../common/options.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rx = racket_examples;

namespace {

constexpr std::string_view program = "receiver";

enum class output_format { human, json };

struct receiver_options {
  rx::network_options net;
  std::vector<std::string> filters;
  output_format format = output_format::human;
  std::uint64_t count = 0;       // 0: not given
  std::uint64_t timeout_ms = 0;  // 0: not given
  std::uint64_t stats_ms = 0;    // 0: not given
  unsigned expiry_factor = 3;
  std::uint64_t busy_poll_us = 0;  // 0: off
};

std::vector<rx::option_spec> option_specs() {
  auto specs = rx::network_option_specs();
  specs.insert(specs.end(), {
      {"--filter", "F", "subject filter; repeatable (default '*': every subject). A '*' token\n"
                        "matches one token, or one or more when it is the last token:\n"
                        "'plant.*' matches plant.a and plant.a.b; 'plant.*.temp' plant.a.temp"},
      {"--format", "human|json", "output format (default human):\n"
                                 "  human: SUBJECT  SIZE  PAYLOAD  publisher=ID seq=N new|changed [resend]\n"
                                 "         SUBJECT  REMOVED (expired|withdrawn|evicted)\n"
                                 "  json:  one object per line; messages have stream, subject, size,\n"
                                 "         payload (or payload_hex when not printable UTF-8),\n"
                                 "         publisher, sequence, timestamp_ns, interval_ms, new, resend;\n"
                                 "         removals are {\"event\":\"removed\",\"subject\":...,\"reason\":...}"},
      {"--count", "N", "exit after N delivered messages"},
      {"--timeout", "MS", "exit after MS milliseconds (status 1 if --count was given and not\n"
                          "reached, else 0)"},
      {"--stats", "MS", "print a stats line to stderr every MS milliseconds"},
      {"--expiry-factor", "N", "a subject not refreshed within N resend intervals expires\n"
                               "(default 3)"},
      {"--busy-poll", "US", "after the socket is drained, keep reading it without blocking for\n"
                            "US microseconds before waiting again: lower latency for a busy core\n"
                            "(default 0: off)"},
      {"--help", "", "show this help and exit"},
  });
  return specs;
}

void print_usage() {
  rx::print_help(stdout, "receiver --stream NAME [--filter F]... [OPTIONS]",
                 "Subscribes to a Racket stream over IP multicast and prints each delivered message\n"
                 "and each subject that goes away, one per line. A receiver started late still gets\n"
                 "the current value of every subject from the publishers' periodic resends; resends\n"
                 "of a value it already has are suppressed as duplicates. On SIGINT/SIGTERM, --count\n"
                 "or --timeout it prints its stats to stderr and exits.",
                 option_specs(),
                 "Stats: received (records of the stream), delivered (messages printed),\n"
                 "duplicates (suppressed), stale (older than the value held), malformed\n"
                 "(datagrams dropped), gaps (sequence numbers missed), expired, withdrawn,\n"
                 "kernel_drops (socket buffer overflows), busy_polled (datagrams read by\n"
                 "--busy-poll without waiting).\n"
                 "\n"
                 "Examples:\n"
                 "  receiver --stream plant --filter 'plant.*'\n"
                 "  receiver --stream plant --format json --count 3 --timeout 5000\n"
                 "\n"
                 "Exit status: 0 success, 1 failure or --count not reached, 2 bad command line.");
}

std::optional<receiver_options> parse(int argc, char** argv) {
  const auto specs = option_specs();
  rx::arg_reader args(argc, argv, specs);
  receiver_options o;
  std::string_view name;
  while (args.next(name)) {
    if (rx::read_network_option(name, args, o.net)) continue;
    if (name == "--help") return std::nullopt;
    if (name == "--filter") {
      o.filters.push_back(args.value());
    } else if (name == "--format") {
      const auto f = args.value();
      if (f == "human") {
        o.format = output_format::human;
      } else if (f == "json") {
        o.format = output_format::json;
      } else {
        throw rx::usage_error("--format " + rx::quoted(f) + ": expected human or json");
      }
    } else if (name == "--count") {
      o.count = args.number(1, std::numeric_limits<std::uint64_t>::max());
    } else if (name == "--timeout") {
      o.timeout_ms = args.number(1, std::uint64_t{1} << 40);
    } else if (name == "--stats") {
      o.stats_ms = args.number(1, std::uint64_t{1} << 40);
    } else if (name == "--expiry-factor") {
      o.expiry_factor = static_cast<unsigned>(args.number(1, 1000000));
    } else if (name == "--busy-poll") {
      o.busy_poll_us = args.number(0, 10'000'000);
    }
  }
  if (o.filters.empty()) o.filters.emplace_back("*");
  for (const auto& f : o.filters) {
    if (auto ec = racket::validate_filter(f)) {
      throw rx::usage_error(rx::describe("subject filter " + rx::quoted(f), ec));
    }
  }
  return o;
}

class receiver {
 public:
  receiver(asio::io_context& io, const receiver_options& opts, const rx::network_setup& net)
      : io_(io),
        opts_(opts),
        stream_(opts.net.stream_name, net.pool),
        subscriber_(io, racket::subscriber_options{.interfaces = opts.net.interfaces,
                                                   .expiry_factor = opts.expiry_factor,
                                                   .busy_poll = std::chrono::microseconds(opts.busy_poll_us)}),
        signals_(io, SIGINT, SIGTERM),
        timeout_(io),
        stats_timer_(io) {
    for (const auto& f : opts.filters) filters_.emplace_back(f);
  }

  // Subscribes every filter (joining the group) and arms the timers. Throws fatal_error.
  void start() {
    for (std::size_t i = 0; i < filters_.size(); ++i) {
      std::error_code ec;
      auto sub = subscriber_.subscribe(
          stream_, filters_[i].str(),
          [this, i](const racket::message<racket::byte_view>& m) { on_message(i, m); },
          [this, i](const racket::removal& r) { on_removed(i, r); }, ec);
      if (ec) {
        throw rx::fatal_error(rx::describe("subscribe to stream " + rx::quoted(stream_.name()) + " filter " +
                                               rx::quoted(filters_[i].str()),
                                           ec),
                              rx::exit_failure);
      }
      subscriptions_.push_back(std::move(sub));
    }
    signals_.async_wait([this](const std::error_code& ec, int) {
      if (!ec) stop();
    });
    if (opts_.timeout_ms != 0) {
      timeout_.expires_after(std::chrono::milliseconds(opts_.timeout_ms));
      timeout_.async_wait([this](const std::error_code& ec) {
        if (!ec) stop();
      });
    }
    if (opts_.stats_ms != 0) arm_stats();
  }

  // After io.run() returned: the final stats line and the exit status.
  int finish() {
    std::fprintf(stderr, "receiver: final stats: %s\n", current_stats().c_str());
    return opts_.count != 0 && delivered_ < opts_.count ? rx::exit_failure : rx::exit_ok;
  }

 private:
  // Overlapping filters each get the message: only the first filter that matches prints it.
  bool printed_by_earlier_filter(std::size_t i, std::string_view subject) const noexcept {
    for (std::size_t j = 0; j < i; ++j) {
      if (filters_[j].matches(subject)) return true;
    }
    return false;
  }

  void on_message(std::size_t i, const racket::message<racket::byte_view>& m) {
    if (stopped_ || printed_by_earlier_filter(i, m.subject)) return;
    const std::string_view payload = rx::as_text(m.payload);
    std::string line;
    if (opts_.format == output_format::json) {
      line = "{\"event\":\"message\",\"stream\":" + rx::json_string(m.stream) +
             ",\"subject\":" + rx::json_string(m.subject);
      if (!rx::is_printable_utf8(m.subject)) line += ",\"subject_hex\":\"" + rx::to_hex(m.subject) + "\"";
      line += ",\"size\":" + std::to_string(payload.size());
      if (rx::is_printable_utf8(payload)) {
        line += ",\"payload\":" + rx::json_string(payload);
      } else {
        line += ",\"payload_hex\":\"" + rx::to_hex(payload) + "\"";
      }
      line += ",\"publisher\":\"" + rx::to_hex(m.publisher_id) + "\",\"sequence\":" + std::to_string(m.sequence) +
              ",\"timestamp_ns\":" + std::to_string(m.timestamp_ns) +
              ",\"interval_ms\":" + std::to_string(m.interval.count()) +
              ",\"new\":" + (m.is_new ? "true" : "false") + ",\"resend\":" + (m.resend ? "true" : "false") + "}";
    } else {
      line = rx::human_text(m.subject) + "  " + std::to_string(payload.size()) + "  " +
             rx::human_payload(payload) + "  publisher=" + rx::to_hex(m.publisher_id) +
             " seq=" + std::to_string(m.sequence) + (m.is_new ? " new" : " changed") + (m.resend ? " resend" : "");
    }
    emit(line);
    ++delivered_;
    if (opts_.count != 0 && delivered_ >= opts_.count) stop();
  }

  void on_removed(std::size_t i, const racket::removal& r) {
    if (stopped_ || printed_by_earlier_filter(i, r.subject)) return;
    const char* reason = rx::reason_name(r.reason);
    if (opts_.format == output_format::json) {
      std::string line = "{\"event\":\"removed\",\"stream\":" + rx::json_string(r.stream) +
                         ",\"subject\":" + rx::json_string(r.subject);
      if (!rx::is_printable_utf8(r.subject)) line += ",\"subject_hex\":\"" + rx::to_hex(r.subject) + "\"";
      line += ",\"publisher\":\"" + rx::to_hex(r.publisher_id) + "\",\"reason\":\"" + reason + "\"}";
      emit(line);
    } else {
      emit(rx::human_text(r.subject) + "  REMOVED (" + reason + ")");
    }
  }

  static void emit(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  std::string current_stats() const {
    return rx::stats_line(subscriber_.stats(stream_), subscriber_.transport_statistics(), delivered_);
  }

  void arm_stats() {
    stats_timer_.expires_after(std::chrono::milliseconds(opts_.stats_ms));
    stats_timer_.async_wait([this](const std::error_code& ec) {
      if (ec || stopped_) return;
      std::fprintf(stderr, "receiver: stats: %s\n", current_stats().c_str());
      arm_stats();
    });
  }

  // Stops delivery at once (nothing further is printed) and ends io.run().
  void stop() {
    stopped_ = true;
    io_.stop();
  }

  asio::io_context& io_;
  const receiver_options& opts_;
  racket::stream<racket::byte_view> stream_;
  racket::subscriber subscriber_;
  asio::signal_set signals_;
  asio::steady_timer timeout_;
  asio::steady_timer stats_timer_;
  std::vector<racket::subject_filter> filters_;
  std::vector<racket::subscription> subscriptions_;
  std::uint64_t delivered_ = 0;
  bool stopped_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto opts = parse(argc, argv);
    if (!opts) {
      print_usage();
      return rx::exit_ok;
    }
    const auto net = rx::resolve_network(opts->net);
    asio::io_context io;
    receiver r(io, *opts, net);
    r.start();
    std::string filters;
    for (const auto& f : opts->filters) filters += (filters.empty() ? "" : ", ") + rx::quoted(f);
    std::fprintf(stderr, "receiver: stream %s on %s via %s, filter %s\n", rx::quoted(opts->net.stream_name).c_str(),
                 net.endpoint.to_string().c_str(), rx::interface_names(net.interfaces).c_str(), filters.c_str());
    io.run();
    return r.finish();
  } catch (const rx::fatal_error& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return e.status();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return rx::exit_failure;
  }
}
