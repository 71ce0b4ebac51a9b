// sender: publishes messages on a Racket stream over IP multicast.
//
// Values come from --data or --file (for every --subject) or from stdin, one message per line. With a
// non-zero --interval the last value of every subject is re-sent until the program stops
// (SIGINT/SIGTERM), so receivers that start later still learn it; with --exit the program
// stops as soon as everything is sent.
// SPDX-License-Identifier: MIT

#include "../common/format.hpp"
#include "../common/keys.hpp"
#include "../common/options.hpp"
#include "../common/payload.hpp"

#include <racket/racket.hpp>
#include <racket/detail/peers/peer_list.hpp>  // --peer checked as the publisher will

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <exception>
#include <future>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace rx = racket_examples;

namespace {

constexpr std::string_view program = "sender";

enum class output_format { human, json };

struct sender_options {
  rx::network_options net;
  rx::key_options keys;
  std::vector<std::string> subjects;
  std::string subject_positional;  // SUBJECT
  std::uint64_t interval_ms = 1000;
  std::string data_flag;        // --data
  std::string data_positional;  // DATA
  std::optional<std::string> data;
  std::string file;  // --file
  std::uint64_t count = 0;  // 0: not given
  double rate = 0;          // 0: as fast as possible
  int ttl = 1;
  std::uint64_t seed = 0;
  std::uint64_t max_datagram = racket::wire::default_max_datagram_size;
  std::uint64_t max_message = std::uint64_t{16} << 20;
  std::uint64_t tail_probe_ms = 10;
  std::uint64_t announce_ms = 5000;  // 0: never
  std::uint64_t stats_ms = 0;  // 0: only the final stats
  std::string format_text = "human";
  output_format format = output_format::human;
  bool withdraw = false;
  bool exit_when_done = false;
  bool quiet = false;
  std::vector<std::string> peers;  // --peer HOST:PORT
  bool no_multicast = false;
};

// The bytes of --file PATH; a usage error (exit 2) naming the file when it cannot be read or
// is over --max-message.
std::string read_file(const std::string& path, std::uint64_t max_message) {
  std::error_code fs_ec;
  if (std::filesystem::is_directory(path, fs_ec))
    throw rx::usage_error("cannot read --file " + rx::quoted(path) + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw rx::usage_error("cannot read --file " + rx::quoted(path) + ": " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) throw rx::usage_error("cannot read --file " + rx::quoted(path) + ": not a regular file");
  const auto size = static_cast<std::uint64_t>(end);
  if (size > max_message) {
    throw rx::usage_error("--file " + rx::quoted(path) + " is " + std::to_string(size) +
                          " bytes, over the limit of " + std::to_string(max_message) + " bytes (--max-message)");
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size)) || in.gcount() != static_cast<std::streamsize>(size))
    throw rx::usage_error("cannot read --file " + rx::quoted(path) + ": read error");
  return bytes;
}

// The command line, checked. Returns the exit status instead when the program ends now
// (--help, --version, a bad command line).
std::variant<sender_options, int> parse(int argc, char** argv) {
  sender_options o;
  CLI::App app(
      "Publishes messages on a Racket stream over IP multicast, straight to the stream's group:\n"
      "no broker. Each published message is echoed to stdout as 'SUBJECT  SIZE  PAYLOAD' (or a\n"
      "JSON line). Without --exit the sender keeps re-sending the last value of each subject\n"
      "until SIGINT or SIGTERM, then prints its stats to stderr (JSON: to stdout).",
      std::string(program));
  rx::setup_app(app, std::string(program));
  rx::add_network_options(app, o.net);
  rx::add_key_options(app, o.keys, true);
  app.add_option("SUBJECT", o.subject_positional, "subject to publish (or --subject)")->type_name("");
  app.add_option("DATA", o.data_positional, "payload to publish (or --data)")->type_name("");
  app.add_option("-t,--subject", o.subjects, "subject to publish, e.g. plant.line1.temp; repeatable")
      ->type_name("S")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--interval", o.interval_ms,
                 "resend interval: the last value of each subject is re-sent\n"
                 "this often. 0: events, not kept nor re-sent (the tail probes\n"
                 "below still repeat a stream's newest record; receivers\n"
                 "deliver it once)")
      ->type_name("DURATION")
      ->default_str("1s")
      ->transform(rx::duration(rx::bare_unit::milliseconds, 0, 0xFFFFFFFFu));
  app.add_option("-m,--data", o.data_flag,
                 "payload to publish on every subject; without it, stdin is\n"
                 "read: one message per line, 'SUBJECT PAYLOAD', or just\n"
                 "PAYLOAD when exactly one subject is given")
      ->type_name("TEXT");
  app.add_option("--file", o.file,
                 "publish the bytes of this file as one message on every\n"
                 "--subject (a value over one datagram goes out in fragments;\n"
                 "with --interval it is the cached value, re-sent whole)")
      ->type_name("PATH");
  app.add_option("-c,--count", o.count,
                 "with --data: publish N times per subject, payloads suffixed\n"
                 "#1..#N when N > 1; with stdin: stop reading after N lines")
      ->type_name("N")
      ->check(rx::whole_number(1, std::numeric_limits<std::uint64_t>::max()));
  app.add_option("--rate", o.rate, "pace publishing at R messages per second (default: no pacing)")
      ->type_name("R")
      ->check(rx::positive_number());
  rx::add_ttl_option(app, o.ttl, "multicast TTL / hop limit, 0..255 (1: this link only)");
  app.add_option("--peer", o.peers,
                 "also send every datagram by unicast to HOST:PORT (a receiver\n"
                 "--listen PORT), for networks without multicast: an IPv4\n"
                 "address, [IPv6] or a name (re-resolved every 30 s); repeatable")
      ->type_name("HOST:PORT");
  app.add_flag("--no-multicast", o.no_multicast,
               "send to the --peer addresses only: nothing to the multicast\n"
               "group (needs --peer)");
  app.add_flag("--withdraw", o.withdraw,
               "withdraw every published subject at exit (receivers drop it\n"
               "at once instead of letting it expire)");
  app.add_flag("--exit", o.exit_when_done,
               "exit once everything is sent (after the publisher has\n"
               "flushed), instead of re-sending until interrupted");
  app.add_option("--seed", o.seed, "seed of the publisher id and resend jitter (default: random)")
      ->type_name("N")
      ->check(rx::whole_number(0, std::numeric_limits<std::uint64_t>::max()));
  app.add_option("--max-datagram", o.max_datagram, "largest datagram sent, in bytes (fits a 1500-byte MTU)")
      ->type_name("BYTES")
      ->default_str(std::to_string(o.max_datagram))
      ->check(rx::whole_number(128, racket::wire::max_datagram_size_limit));
  rx::add_max_message_option(app, o.max_message,
                             "largest payload published, in bytes (at most 64 MiB): a\n"
                             "payload over one datagram goes out in fragments");
  app.add_option("--tail-probes", o.tail_probe_ms,
                 "when a stream falls quiet its newest record is re-sent this\n"
                 "long after, then 3 and 9 times as long after that, so that\n"
                 "receivers notice a lost last datagram (counted as\n"
                 "tail_probes in the stats); 0: off")
      ->type_name("DURATION")
      ->default_str("10ms")
      ->transform(rx::duration(rx::bare_unit::milliseconds, 0, 3'600'000));
  rx::add_announce_option(app, o.announce_ms,
                          "announce the stream (for receiver --list and other directories)\n"
                          "this often, +-20 %; 0: never",
                          0);
  rx::add_stats_option(app, o.stats_ms, "also print the stats every DURATION while running");
  rx::add_format_option(app, o.format_text,
                        "output format: human, or json (one object per line: published\n"
                        "messages and stats, all on stdout)");
  app.add_flag("-q,--quiet", o.quiet, "print only errors (no banner, no echo of published messages, no stats)");
  // The echo of a published message: the payload shown whole up to 256 bytes, else its
  // first 64 and the count of the rest; in JSON only up to 64 KiB (size and xxh3 always).
  app.footer(
      "Durations take a unit: 250ms, 2s, 1.5s, 1m (a bare number is milliseconds).\n"
      "The echo shows a payload over 256 bytes as its first 64 and '... (+N bytes)'; JSON\n"
      "lines carry size and xxh3 (XXH3-64, seed 0, 16 hex digits) always and the payload up to\n"
      "64 KiB.\n"
      "RACKET_POOL, RACKET_PORTS and RACKET_INTERFACES (comma-separated) give the defaults of\n"
      "--pool, --ports and --interface; the flags win.\n"
      "\n"
      "Examples:\n"
      "  sender plant plant.line1.temp 21.5\n"
      "  sender --stream plant --subject plant.line1.temp --data 21.5 --interval 500ms\n"
      "  printf 'plant.a 1\\nplant.b 2\\n' | sender plant --exit\n"
      "  sender --stream maps --subject maps.site1 --file site1.png --interval 10s\n"
      "\n"
      "Exit status: 0 success, 1 a publish failed, 2 bad command line.");
  if (const auto status = rx::parse_command_line(app, std::string(program), argc, argv)) return *status;
  if (o.keys.gen_key) {
    std::printf("%s\n", rx::fresh_key_hex().c_str());
    return rx::exit_ok;
  }

  o.net.stream_name = rx::stream_name(app, o.net);
  rx::read_key_file(o.keys, o.net.stream_name);
  o.format = o.format_text == "json" ? output_format::json : output_format::human;
  if (app.count("SUBJECT") != 0) o.subjects.insert(o.subjects.begin(), o.subject_positional);
  if (app.count("DATA") != 0 && app.count("--data") != 0) {
    throw rx::usage_error("the payload is given twice: --data " + rx::quoted(o.data_flag) + " and " +
                          rx::quoted(o.data_positional) + " (see --help)");
  }
  if (app.count("DATA") != 0) o.data = o.data_positional;
  if (app.count("--data") != 0) o.data = o.data_flag;
  if (app.count("--file") != 0) {
    if (o.data) throw rx::usage_error("--file and a payload (DATA or --data) do not go together (see --help)");
    if (o.count != 0) throw rx::usage_error("--file publishes the file once per subject: --count does not apply");
    o.data = read_file(o.file, o.max_message);
  }
  for (const auto& s : o.subjects) {
    if (auto ec = racket::validate_subject(s)) throw rx::usage_error(rx::describe("subject " + rx::quoted(s), ec));
  }
  if (o.data && o.subjects.empty())
    throw rx::usage_error(std::string("option ") + (o.file.empty() ? "--data" : "--file") + " needs at least one --subject");
  if (o.no_multicast && o.peers.empty()) throw rx::usage_error("--no-multicast needs at least one --peer HOST:PORT");
  for (const auto& p : o.peers) {  // the publisher would refuse it too, later and as a failure (exit 1)
    racket::detail::peer_spec spec;
    if (!racket::detail::parse_peer(p, spec))
      throw rx::usage_error("--peer " + rx::quoted(p) + ": not HOST:PORT (an IPv4 address, [IPv6] or a name; port 1-65535)");
  }
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
                                                 .max_datagram_size = static_cast<std::size_t>(opts.max_datagram),
                                                 .max_message_size = static_cast<std::size_t>(opts.max_message),
                                                 .seed = opts.seed,
                                                 .tail_probe_delay = std::chrono::milliseconds(opts.tail_probe_ms),
                                                 .unicast_peers = opts.peers,
                                                 .multicast = !opts.no_multicast,
                                                 .announce_period = std::chrono::milliseconds(opts.announce_ms),
                                                 .keys = opts.keys.ring}),
        signals_(io, SIGINT, SIGTERM),
        stats_timer_(io) {}

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
    if (opts_.stats_ms != 0 && !opts_.quiet) arm_stats();
    feeder_ = std::thread([this] { feed(); });
  }

  // After io.run() returned: joins the feeder and returns the exit status.
  int wait() {
    stop_.store(true);
    pace_cv_.notify_all();
    if (feeder_.joinable()) feeder_.join();
    if (!opts_.quiet) print_stats(true);
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
    for (;;) {
      {
        std::lock_guard lock(publish_mutex_);
        if (closed_) return false;
        publisher_.publish(stream_, subject, payload, std::chrono::milliseconds(opts_.interval_ms), ec);
        if (!ec && opts_.withdraw) published_.insert(subject);
      }
      // The publisher's queue is full (large messages: the ones not yet taken for sending):
      // wait for what it holds to go, then publish again.
      if (ec != racket::errc::would_block || !wait_for_flush()) break;
    }
    if (ec == racket::errc::payload_too_large) {
      // The numbers, which the error code alone does not carry: a payload over one datagram
      // is fragmented, so the limit is the publisher's max_message_size (--max-message).
      report("sender: payload of " + std::to_string(payload.size()) + " bytes is over the limit of " +
             std::to_string(opts_.max_message) + " bytes (--max-message) for stream " + rx::quoted(stream_.name()) +
             " and subject " + rx::quoted(subject));
      return false;
    }
    if (ec) {
      report("sender: " + rx::describe("publish on stream " + rx::quoted(stream_.name()) + " subject " +
                                           rx::quoted(subject),
                                       ec));
      return false;
    }
    if (!opts_.quiet) {
      std::lock_guard lock(output_mutex_);
      if (opts_.format == output_format::json) {
        nlohmann::ordered_json j;
        j["event"] = "published";
        j["stream"] = stream_.name();
        rx::put_bytes(j, "subject", subject);
        rx::put_payload(j, payload);
        j["interval_ms"] = opts_.interval_ms;
        j["time_ns"] = rx::now_ns();
        rx::emit_json(j);
      } else {
        std::printf("%s  %zu  %s\n", rx::human_text(subject).c_str(), payload.size(),
                    rx::payload_preview(payload).c_str());
        std::fflush(stdout);
      }
    }
    return true;
  }

  // After a would_block: waits (without the publish lock) for the publisher to take what it
  // holds. False when the sender stops meanwhile.
  bool wait_for_flush() {
    auto done = std::make_shared<std::promise<void>>();
    auto taken = done->get_future();
    publisher_.async_flush([done](std::error_code) { done->set_value(); });
    while (taken.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (stop_.load()) return false;
    }
    return !stop_.load();
  }

  // Every counter of the stream (racket::for_each_counter): a text line on stderr, or a JSON
  // line on stdout.
  void print_stats(bool final) {
    const auto stats = publisher_.stats(stream_.name());
    if (opts_.format == output_format::json) {
      auto j = rx::stats_event(program, final);
      j["stream"] = stream_.name();
      j["time_ns"] = rx::now_ns();
      j["counters"] = rx::counter_object(stats);
      std::lock_guard lock(output_mutex_);
      rx::emit_json(j);
    } else {
      rx::print_stats_line(program, final, rx::counter_words(stats));
    }
  }

  void arm_stats() {
    rx::repeat_every(stats_timer_, std::chrono::milliseconds(opts_.stats_ms), [this] {
      if (stop_.load()) return false;
      print_stats(false);
      return true;
    });
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
    stats_timer_.cancel();
  }

  asio::io_context& io_;
  const sender_options& opts_;
  racket::stream<std::string> stream_;
  racket::publisher publisher_;
  asio::signal_set signals_;
  asio::steady_timer stats_timer_;
  std::thread feeder_;
  std::mutex output_mutex_;  // stdout lines from the feeder and the stats timer

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
  return rx::run_program(program, argc, argv, parse, [](const sender_options& opts) {
    const auto net = rx::resolve_network(opts.net);
    asio::io_context io;
    sender s(io, opts, net);
    if (!opts.quiet) {
      std::fprintf(stderr, "sender: stream %s -> %s on %s, publisher %s, %s\n",
                   rx::quoted(opts.net.stream_name).c_str(), net.endpoint.to_string().c_str(),
                   rx::interface_names(net.interfaces).c_str(), rx::to_hex(s.publisher_id()).c_str(),
                   opts.interval_ms == 0 ? "events (interval 0: not re-sent)"
                                         : ("resend every " + std::to_string(opts.interval_ms) + " ms").c_str());
    }
    s.start();
    io.run();
    return s.wait();
  });
}
