// sender: publishes messages on a Racket stream over IP multicast.
//
// Values come from --data (for every --subject) or from stdin, one message per line. With a
// non-zero --interval the last value of every subject is re-sent until the program stops
// (SIGINT/SIGTERM), so receivers that start later still learn it; with --exit the program
// stops as soon as everything is sent.
// SPDX-License-Identifier: MIT

#include "../common/format.hpp"
#include "../common/options.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace rx = racket_examples;

namespace {

constexpr std::string_view program = "sender";

struct sender_options {
  rx::network_options net;
  std::vector<std::string> subjects;
  std::uint32_t interval_ms = 1000;
  std::optional<std::string> data;
  std::uint64_t count = 0;  // 0: not given
  double rate = 0;          // 0: as fast as possible
  int ttl = 1;
  std::uint64_t seed = 0;
  bool withdraw = false;
  bool exit_when_done = false;
  bool quiet = false;
};

std::vector<rx::option_spec> option_specs() {
  auto specs = rx::network_option_specs();
  specs.insert(specs.end(), {
      {"--subject", "S", "subject to publish, e.g. plant.line1.temp; repeatable"},
      {"--interval", "MS", "resend interval in milliseconds: the last value of each subject is\n"
                           "re-sent this often; 0 sends one-shot events (default 1000)"},
      {"--data", "TEXT", "payload to publish on every --subject; without it, stdin is read:\n"
                         "one message per line, 'SUBJECT PAYLOAD', or just PAYLOAD when\n"
                         "exactly one --subject is given"},
      {"--count", "N", "with --data: publish N times per subject, payloads suffixed #1..#N\n"
                       "when N > 1; with stdin: stop reading after N lines"},
      {"--rate", "R", "pace publishing at R messages per second (default: no pacing)"},
      {"--ttl", "N", "multicast TTL / hop limit, 0..255 (default 1: this link only)"},
      {"--withdraw", "", "withdraw every published subject at exit (receivers drop it at once\n"
                         "instead of letting it expire)"},
      {"--exit", "", "exit once everything is sent (after the publisher has flushed),\n"
                     "instead of re-sending until interrupted"},
      {"--seed", "N", "seed of the publisher id and resend jitter (default: random)"},
      {"--quiet", "", "print only errors (no banner, no echo of published messages, no stats)"},
      {"--help", "", "show this help and exit"},
  });
  return specs;
}

void print_usage() {
  rx::print_help(stdout, "sender --stream NAME [--subject S]... [--data TEXT] [OPTIONS]",
                 "Publishes messages on a Racket stream over IP multicast, straight to the stream's\n"
                 "group: no broker. Each published message is echoed to stdout as\n"
                 "'SUBJECT  SIZE  PAYLOAD'. Without --exit the sender keeps re-sending the last\n"
                 "value of each subject until SIGINT or SIGTERM, then prints its stats to stderr.",
                 option_specs(),
                 "Examples:\n"
                 "  sender --stream plant --subject plant.line1.temp --data 21.5 --interval 500\n"
                 "  printf 'plant.a 1\\nplant.b 2\\n' | sender --stream plant --exit\n"
                 "\n"
                 "Exit status: 0 success, 1 a publish failed, 2 bad command line.");
}

// Returns nullopt when --help was asked for.
std::optional<sender_options> parse(int argc, char** argv) {
  const auto specs = option_specs();
  rx::arg_reader args(argc, argv, specs);
  sender_options o;
  std::string_view name;
  while (args.next(name)) {
    if (rx::read_network_option(name, args, o.net)) continue;
    if (name == "--help") return std::nullopt;
    if (name == "--subject") {
      o.subjects.push_back(args.value());
    } else if (name == "--interval") {
      o.interval_ms = static_cast<std::uint32_t>(args.number(0, 0xFFFFFFFFu));
    } else if (name == "--data") {
      o.data = args.value();
    } else if (name == "--count") {
      o.count = args.number(1, std::numeric_limits<std::uint64_t>::max());
    } else if (name == "--rate") {
      o.rate = args.positive_real();
    } else if (name == "--ttl") {
      o.ttl = static_cast<int>(args.number(0, 255));
    } else if (name == "--withdraw") {
      o.withdraw = true;
    } else if (name == "--exit") {
      o.exit_when_done = true;
    } else if (name == "--seed") {
      o.seed = args.number(0, std::numeric_limits<std::uint64_t>::max());
    } else if (name == "--quiet") {
      o.quiet = true;
    }
  }
  for (const auto& s : o.subjects) {
    if (auto ec = racket::validate_subject(s)) throw rx::usage_error(rx::describe("subject " + rx::quoted(s), ec));
  }
  if (o.data && o.subjects.empty()) throw rx::usage_error("option --data needs at least one --subject");
  return o;
}

// Reads stdin line by line, waking up every 100 ms to see whether to stop.
class line_reader {
 public:
  enum class result { line, end, stopped };

  result next(std::string& line, const std::atomic<bool>& stop) {
    while (true) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        line.assign(buffer_, 0, nl);
        buffer_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return result::line;
      }
      if (eof_) {
        if (buffer_.empty()) return result::end;
        line = std::move(buffer_);  // last line without a newline
        buffer_.clear();
        return result::line;
      }
      if (stop.load()) return result::stopped;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      const int n = ::poll(&p, 1, 100);
      if (n < 0 && errno != EINTR) {
        eof_ = true;
        continue;
      }
      if (n <= 0) continue;
      char chunk[4096];
      const ssize_t got = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

 private:
  std::string buffer_;
  bool eof_ = false;
};

class sender {
 public:
  sender(asio::io_context& io, const sender_options& opts, const rx::network_setup& net)
      : io_(io),
        opts_(opts),
        stream_(opts.net.stream_name, net.pool),
        publisher_(io, racket::publisher_options{.interfaces = opts.net.interfaces,
                                                 .ttl = opts.ttl,
                                                 .seed = opts.seed}),
        signals_(io, SIGINT, SIGTERM) {}

  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;

  ~sender() {
    stop_.store(true);
    pace_cv_.notify_all();
    if (feeder_.joinable()) feeder_.join();
  }

  const racket::stream<std::string>& stream() const noexcept { return stream_; }
  std::uint64_t publisher_id() const noexcept { return publisher_.id(); }

  void start() {
    signals_.async_wait([this](const std::error_code& ec, int) {
      if (!ec) finish();
    });
    feeder_ = std::thread([this] { feed(); });
  }

  // After io.run() returned: joins the feeder and returns the exit status.
  int wait() {
    stop_.store(true);
    pace_cv_.notify_all();
    if (feeder_.joinable()) feeder_.join();
    if (!opts_.quiet) {
      std::fprintf(stderr, "sender: final stats: %s\n", rx::stats_line(publisher_.stats(stream_.name())).c_str());
    }
    return failed_.load() ? rx::exit_failure : rx::exit_ok;
  }

 private:
  // Feeder thread: publishes --data or stdin lines, paced by --rate.
  void feed() {
    bool give_up = false;  // a fixed --data payload that failed once would fail every time
    try {
      if (opts_.data) {
        give_up = !feed_data();
      } else {
        feed_stdin();
      }
    } catch (const std::exception& e) {
      report(std::string("sender: ") + e.what());
      give_up = true;
    }
    asio::post(io_, [this, give_up] {
      if (opts_.exit_when_done || give_up) finish();
    });
  }

  // False if a publish failed.
  bool feed_data() {
    const std::uint64_t n = opts_.count == 0 ? 1 : opts_.count;
    for (std::uint64_t i = 1; i <= n; ++i) {
      for (const auto& subject : opts_.subjects) {
        std::string payload = *opts_.data;
        if (n > 1) payload += "#" + std::to_string(i);
        if (!pace()) return true;
        if (!publish(subject, payload)) return false;
      }
    }
    return true;
  }

  void feed_stdin() {
    line_reader reader;
    std::string line;
    std::uint64_t line_number = 0;
    std::uint64_t lines = 0;
    while (opts_.count == 0 || lines < opts_.count) {
      if (reader.next(line, stop_) != line_reader::result::line) return;
      ++line_number;
      std::string subject;
      std::string payload;
      if (opts_.subjects.size() == 1) {
        subject = opts_.subjects.front();
        payload = line;
      } else {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos) continue;  // blank line
        const auto gap = line.find_first_of(" \t", first);
        subject = line.substr(first, gap == std::string::npos ? std::string::npos : gap - first);
        if (gap != std::string::npos) {
          const auto rest = line.find_first_not_of(" \t", gap);
          if (rest != std::string::npos) payload = line.substr(rest);
        }
        const std::string where = "sender: stdin line " + std::to_string(line_number) + ": ";
        if (auto ec = racket::validate_subject(subject)) {
          report(where + rx::describe("subject " + rx::quoted(subject), ec));
          continue;
        }
        if (!opts_.subjects.empty() &&
            std::find(opts_.subjects.begin(), opts_.subjects.end(), subject) == opts_.subjects.end()) {
          report(where + "subject " + rx::quoted(subject) + " is not one of the --subject options");
          continue;
        }
      }
      ++lines;
      if (!pace()) return;
      publish(subject, payload);
    }
  }

  // Waits for the next --rate slot; false when stopping.
  bool pace() {
    if (stop_.load()) return false;
    if (opts_.rate <= 0) return true;
    const auto now = std::chrono::steady_clock::now();
    if (paced_ == 0) pace_start_ = now;
    const auto due = pace_start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(paced_) / opts_.rate));
    ++paced_;
    std::unique_lock lock(pace_mutex_);
    pace_cv_.wait_until(lock, due, [this] { return stop_.load(); });
    return !stop_.load();
  }

  bool publish(const std::string& subject, const std::string& payload) {
    std::error_code ec;
    {
      std::lock_guard lock(publish_mutex_);
      if (closed_) return false;
      publisher_.publish(stream_, subject, payload, std::chrono::milliseconds(opts_.interval_ms), ec);
      if (!ec && opts_.withdraw) published_.insert(subject);
    }
    if (ec) {
      report("sender: " + rx::describe("publish on stream " + rx::quoted(stream_.name()) + " subject " +
                                           rx::quoted(subject),
                                       ec));
      return false;
    }
    if (!opts_.quiet) {
      std::printf("%s  %zu  %s\n", rx::human_text(subject).c_str(), payload.size(),
                  rx::human_payload(payload).c_str());
      std::fflush(stdout);
    }
    return true;
  }

  void report(const std::string& line) {
    failed_.store(true);
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  // On the io_context: withdraw (if asked), close the publisher (it flushes what is queued
  // first), and let io.run() return once the shutdown is done.
  void finish() {
    stop_.store(true);
    pace_cv_.notify_all();
    {
      std::lock_guard lock(publish_mutex_);
      if (closed_) return;
      closed_ = true;
      for (const auto& subject : published_) {
        std::error_code ec;
        publisher_.withdraw(stream_, subject, ec);
        if (ec) report("sender: " + rx::describe("withdraw subject " + rx::quoted(subject), ec));
      }
      publisher_.close();
    }
    std::error_code ignored;
    signals_.cancel(ignored);
  }

  asio::io_context& io_;
  const sender_options& opts_;
  racket::stream<std::string> stream_;
  racket::publisher publisher_;
  asio::signal_set signals_;
  std::thread feeder_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex pace_mutex_;
  std::condition_variable pace_cv_;
  std::chrono::steady_clock::time_point pace_start_{};
  std::uint64_t paced_ = 0;

  std::mutex publish_mutex_;  // publish vs. finish: nothing is published after the close
  bool closed_ = false;
  std::set<std::string> published_;
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
    sender s(io, *opts, net);
    if (!opts->quiet) {
      std::fprintf(stderr, "sender: stream %s -> %s on %s, publisher %s, %s\n",
                   rx::quoted(opts->net.stream_name).c_str(), net.endpoint.to_string().c_str(),
                   rx::interface_names(net.interfaces).c_str(), rx::to_hex(s.publisher_id()).c_str(),
                   opts->interval_ms == 0 ? "one-shot events"
                                          : ("resend every " + std::to_string(opts->interval_ms) + " ms").c_str());
    }
    s.start();
    io.run();
    return s.wait();
  } catch (const rx::fatal_error& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return e.status();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return rx::exit_failure;
  }
}
