// receiver: subscribes to a Racket stream over IP multicast and prints what it delivers.
//
// Every delivered message is one line on stdout (human or JSON), and so is every subject that
// goes away (withdrawn by its publisher, expired because its publisher stopped re-sending, or
// evicted). Duplicates (resends of a value already delivered, copies heard on several
// interfaces) and stale messages are suppressed by the library and only counted: see the
// stats line on stderr.
// SPDX-License-Identifier: MIT

#include "../common/format.hpp"
#include "../common/keys.hpp"
#include "../common/options.hpp"
#include "../common/payload.hpp"
#include "list.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rx = racket_examples;

namespace {

constexpr std::string_view program = "receiver";

enum class output_format { human, json };

struct receiver_options {
  rx::network_options net;
  rx::key_options keys;
  std::vector<std::string> filters;
  std::string filter_positional;  // FILTER
  std::string format_text = "human";
  output_format format = output_format::human;
  std::uint64_t count = 0;       // 0: not given
  std::uint64_t timeout_ms = 0;  // 0: not given
  std::uint64_t stats_ms = 0;    // 0: not given
  std::uint64_t hint_ms = 3000;  // 0: no hint
  unsigned expiry_factor = 3;
  int ttl = 1;
  std::uint64_t busy_poll_us = 0;  // 0: off
  bool quiet = false;
  bool once = false;
  bool list = false;
  std::uint64_t wait_ms = 7000;  // --list
  std::uint64_t announce_ms = 5000;  // 0: never
  std::uint16_t listen_port = 0;     // --listen PORT (0: none)
  bool no_multicast = false;
  std::string list_stream;       // --list STREAM: only that one
  std::string save_dir;          // --save DIR ("": off)
  std::uint64_t max_message = std::uint64_t{16} << 20;
};

// --once without --timeout: how long to wait for the publishers' answers.
constexpr std::uint64_t once_default_timeout_ms = 1000;

// The command line, checked. Returns the exit status instead when the program ends now
// (--help, --version, a bad command line). `--list` (stream discovery) replaces the
// subscription loop, like --once; it needs no stream.
std::variant<receiver_options, int> parse(int argc, char** argv) {
  receiver_options o;
  CLI::App app(
      "Subscribes to a Racket stream over IP multicast and prints each delivered message and\n"
      "each subject that goes away, one per line. A receiver started late still gets the\n"
      "current value of every subject from the publishers' periodic resends; resends of a\n"
      "value it already has are suppressed as duplicates. On SIGINT/SIGTERM, --count or\n"
      "--timeout it prints its stats to stderr (JSON: to stdout) and exits.",
      std::string(program));
  rx::setup_app(app, std::string(program));
  rx::add_network_options(app, o.net);
  rx::add_key_options(app, o.keys, false);
  app.add_option("FILTER", o.filter_positional, "subject filter (or --filter)")->type_name("");
  app.add_option("-f,--filter", o.filters,
                 "subject filter; repeatable (default '*': every subject). A '*'\n"
                 "token matches one token, or one or more when it is the last\n"
                 "token: 'plant.*' matches plant.a and plant.a.b;\n"
                 "'plant.*.temp' matches plant.a.temp")
      ->type_name("F")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  rx::add_format_option(app, o.format_text,
                        "output format:\n"
                        "  human: TIME  SUBJECT  SIZE  PAYLOAD  publisher=ID seq=N\n"
                        "         new|changed [resend]; a PAYLOAD over 256 bytes is\n"
                        "         shown as its first 64 and '... (+N bytes)'\n"
                        "         TIME  SUBJECT  REMOVED (expired|withdrawn|evicted)\n"
                        "  json:  one object per line, all on stdout: messages\n"
                        "         {\"event\":\"message\", stream, subject, size, xxh3\n"
                        "         (XXH3-64 of the payload, seed 0, 16 hex digits),\n"
                        "         payload (payload_hex when not printable UTF-8; left\n"
                        "         out over 64 KiB), publisher,\n"
                        "         sequence, timestamp_ns, received_ns, interval_ms, new,\n"
                        "         resend}; removals {\"event\":\"removed\", ..., reason};\n"
                        "         stats {\"event\":\"stats\", final, printed, counters,\n"
                        "         transport}");
  app.add_option("-c,--count", o.count, "exit after N printed messages")
      ->type_name("N")
      ->check(rx::whole_number(1, std::numeric_limits<std::uint64_t>::max()));
  app.add_option("-w,--timeout", o.timeout_ms,
                 "exit after DURATION (status 1 if --count was given and not\n"
                 "reached, else 0); with --once: how long to wait for answers\n"
                 "(default 1s)")
      ->type_name("DURATION")
      ->transform(rx::duration(rx::bare_unit::milliseconds, 1, std::uint64_t{1} << 40));
  app.add_flag("--once", o.once,
               "print the current value of every matching subject (asking the\n"
               "publishers: a snapshot request) and exit: status 0 if any came,\n"
               "1 if none did before --timeout");
  app.add_flag("--list", o.list,
               "list the streams on the network instead of subscribing: listen\n"
               "to the pool's announce channel for --wait and print each stream\n"
               "announced (publishers, subjects, messages/s, subscribers,\n"
               "hosts), only STREAM if given; exit 1 with a hint if none was");
  app.add_option("--wait", o.wait_ms,
                 "with --list: how long to listen (publishers announce every\n"
                 "5s +-20 % by default)")
      ->type_name("DURATION")
      ->default_str("7s")
      ->transform(rx::duration(rx::bare_unit::milliseconds, 1, std::uint64_t{1} << 40));
  rx::add_announce_option(app, o.announce_ms,
                          "announce the subscriptions (for receiver --list and other\n"
                          "directories) this often, +-20 %; 0: never",
                          0);
  rx::add_stats_option(app, o.stats_ms, "print the stats every DURATION");
  app.add_option("--save", o.save_dir,
                 "write each delivered payload to DIR/SUBJECT (a temporary file\n"
                 "in DIR, then renamed: a reader never sees half a file); DIR\n"
                 "must exist; a subject containing '/' is not saved (an error)")
      ->type_name("DIR");
  rx::add_max_message_option(app, o.max_message,
                             "largest message accepted, in bytes (at most 64 MiB); larger\n"
                             "ones are dropped and counted");
  app.add_flag("-q,--quiet", o.quiet, "no line per message or removal; the banner, hint and stats stay");
  app.add_option("--hint-after", o.hint_ms,
                 "when nothing arrived for this long, print one hint on stderr\n"
                 "naming the group, port and interfaces listened on; 0: never")
      ->type_name("DURATION")
      ->default_str("3s")
      ->transform(rx::duration(rx::bare_unit::milliseconds, 0, std::uint64_t{1} << 40));
  rx::add_expiry_factor_option(app, o.expiry_factor);
  rx::add_ttl_option(app, o.ttl,
                     "TTL / hop limit of the snapshot and repair requests and the\n"
                     "announcements this receiver sends, 0..255 (1: this link only;\n"
                     "give the publishers' --ttl when they are routers away)");
  app.add_option("--listen", o.listen_port,
                 "also hear datagrams senders send to this UDP port by unicast\n"
                 "(sender --peer HOST:PORT), for networks without multicast;\n"
                 "snapshot and repair requests then go back to those senders")
      ->type_name("PORT")
      ->check(rx::whole_number(1, 65535));
  app.add_flag("--no-multicast", o.no_multicast,
               "join no multicast group: hear only the --listen port\n"
               "(needs --listen)");
  app.add_option("--busy-poll", o.busy_poll_us,
                 "after the socket is drained, keep reading it without blocking\n"
                 "for DURATION before waiting again: lower latency for a busy\n"
                 "core (a bare number is microseconds; default 0: off)")
      ->type_name("DURATION")
      ->transform(rx::duration(rx::bare_unit::microseconds, 0, 10'000'000));
  app.footer(
      "Stats: printed (lines printed), then every counter of the stream (racket::for_each_counter:\n"
      "received records, delivered handler calls, duplicates suppressed, stale, malformed datagrams,\n"
      "gaps, expired, withdrawn, ...) and of the transport (transport.*: kernel_drops, busy-polled\n"
      "datagrams, ...).\n"
      "\n"
      "Durations take a unit: 250ms, 2s, 1.5s, 1m (a bare number is milliseconds, but\n"
      "microseconds for --busy-poll).\n"
      "RACKET_POOL, RACKET_PORTS and RACKET_INTERFACES (comma-separated) give the defaults of\n"
      "--pool, --ports and --interface; the flags win.\n"
      "\n"
      "Examples:\n"
      "  receiver plant 'plant.*'\n"
      "  receiver plant --once\n"
      "  receiver --list --wait 10s\n"
      "  receiver --stream plant --format json --count 3 --timeout 5s\n"
      "\n"
      "Exit status: 0 success, 1 failure, --count not reached or --once got nothing,\n"
      "2 bad command line.");
  if (const auto status = rx::parse_command_line(app, std::string(program), argc, argv)) return *status;

  if (o.list) {
    if (o.once || o.count != 0 || app.count("FILTER") != 0 || !o.filters.empty())
      throw rx::usage_error("--list takes no FILTER, --filter, --once or --count (see --help)");
    const bool named = app.count("--stream") != 0 || app.count("STREAM") != 0;
    o.list_stream = named ? rx::stream_name(app, o.net) : std::string();
    o.net.stream_name = std::string(racket::multicast_pool::announce_stream_name);
  } else {
    o.net.stream_name = rx::stream_name(app, o.net);
    rx::read_key_file(o.keys, o.net.stream_name);
  }
  o.format = o.format_text == "json" ? output_format::json : output_format::human;
  if (app.count("FILTER") != 0) o.filters.insert(o.filters.begin(), o.filter_positional);
  if (o.filters.empty()) o.filters.emplace_back("*");
  for (const auto& f : o.filters) {
    if (auto ec = racket::validate_filter(f)) {
      throw rx::usage_error(rx::describe("subject filter " + rx::quoted(f), ec));
    }
  }
  if (o.once && o.count != 0) throw rx::usage_error("--once and --count do not go together (see --help)");
  if (o.no_multicast && o.listen_port == 0) throw rx::usage_error("--no-multicast needs --listen PORT");
  if (app.count("--save") != 0) {
    if (o.list) throw rx::usage_error("--list takes no --save (see --help)");
    std::error_code fs_ec;
    if (o.save_dir.empty() || !std::filesystem::is_directory(o.save_dir, fs_ec))
      throw rx::usage_error("--save " + rx::quoted(o.save_dir) + ": no such directory");
  }
  return o;
}

class receiver {
 public:
  receiver(asio::io_context& io, const receiver_options& opts, const rx::network_setup& net)
      : io_(io),
        opts_(opts),
        net_(net),
        stream_(opts.net.stream_name, net.pool),
        subscriber_(io, racket::subscriber_options{.interfaces = opts.net.interfaces,
                                                   .ttl = opts.ttl,
                                                   .expiry_factor = opts.expiry_factor,
                                                   .max_message_size = static_cast<std::size_t>(opts.max_message),
                                                   .busy_poll = std::chrono::microseconds(opts.busy_poll_us),
                                                   .announce_period = std::chrono::milliseconds(opts.announce_ms),
                                                   .keys = opts.keys.ring,
                                                   .unicast_port = opts.listen_port,
                                                   .multicast = !opts.no_multicast}),
        signals_(io, SIGINT, SIGTERM),
        timeout_(io),
        stats_timer_(io),
        hint_timer_(io) {
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
    watch_signals();
    if (opts_.timeout_ms != 0) {
      timeout_.expires_after(std::chrono::milliseconds(opts_.timeout_ms));
      timeout_.async_wait([this](const std::error_code& ec) {
        if (!ec) stop();
      });
    }
    if (opts_.stats_ms != 0) arm_stats();
    if (opts_.hint_ms != 0) {
      hint_timer_.expires_after(std::chrono::milliseconds(opts_.hint_ms));
      hint_timer_.async_wait([this](const std::error_code& ec) {
        if (!ec && !stopped_ && printed_ == 0) print_hint();
      });
    }
  }

  // --once: asks for the current values of every filter (one snapshot request each) and
  // prints them when all answers are in.
  void start_once() {
    watch_signals();
    const auto wait = std::chrono::milliseconds(opts_.timeout_ms != 0 ? opts_.timeout_ms : once_default_timeout_ms);
    pending_fetches_ = filters_.size();
    for (const auto& f : filters_) {
      subscriber_.async_fetch(
          stream_, f.str(), wait,
          [this](std::error_code ec, std::vector<racket::owned_message<racket::byte_view>> values) {
            if (ec) {
              std::fprintf(stderr, "receiver: %s\n", rx::describe("fetch", ec).c_str());
              fetch_failed_ = true;
            }
            const std::uint64_t received_ns = rx::now_ns();
            for (auto& v : values) {
              const std::string subject = v.subject;
              fetched_.insert_or_assign(subject, fetched_value{std::move(v), received_ns});
            }
            if (--pending_fetches_ == 0) finish_once();
          });
    }
  }

  // After io.run() returned: the final stats and the exit status.
  int finish() {
    print_stats(true);
    if (save_failed_) return rx::exit_failure;
    if (opts_.once) return fetch_failed_ || fetched_.empty() ? rx::exit_failure : rx::exit_ok;
    return opts_.count != 0 && printed_ < opts_.count ? rx::exit_failure : rx::exit_ok;
  }

 private:
  struct fetched_value {
    racket::owned_message<racket::byte_view> message;  // `value` views nothing kept: use `payload`
    std::uint64_t received_ns = 0;
  };

  void watch_signals() {
    signals_.async_wait([this](const std::error_code& ec, int) {
      if (!ec) stop();
    });
  }

  void finish_once() {
    for (const auto& [subject, v] : fetched_) {
      const auto& m = v.message;
      const std::string_view payload(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
      save(m.subject, payload);
      print_message(m.stream, m.subject, payload, m.publisher_id, m.sequence, m.timestamp_ns,
                    static_cast<std::uint64_t>(m.interval.count()), m.is_new, m.resend, v.received_ns);
    }
    if (fetched_.empty() && !fetch_failed_) print_hint();
    stop();
  }

  // Overlapping filters each get the message: only the first filter that matches prints it.
  bool printed_by_earlier_filter(std::size_t i, std::string_view subject) const noexcept {
    for (std::size_t j = 0; j < i; ++j) {
      if (filters_[j].matches(subject)) return true;
    }
    return false;
  }

  void on_message(std::size_t i, const racket::message<racket::byte_view>& m) {
    if (stopped_ || printed_by_earlier_filter(i, m.subject)) return;
    save(m.subject, rx::as_text(m.payload));
    print_message(m.stream, m.subject, rx::as_text(m.payload), m.publisher_id, m.sequence, m.timestamp_ns,
                  static_cast<std::uint64_t>(m.interval.count()), m.is_new, m.resend, rx::now_ns());
    if (opts_.count != 0 && printed_ >= opts_.count) stop();
  }

  void print_message(std::string_view stream, std::string_view subject, std::string_view payload,
                     std::uint64_t publisher, std::uint64_t sequence, std::uint64_t timestamp_ns,
                     std::uint64_t interval_ms, bool is_new, bool resend, std::uint64_t received_ns) {
    ++printed_;
    if (opts_.quiet) return;
    if (opts_.format == output_format::json) {
      nlohmann::ordered_json j;
      j["event"] = "message";
      j["stream"] = std::string(stream);
      rx::put_bytes(j, "subject", subject);
      if (!rx::is_printable_utf8(subject)) j["subject"] = rx::human_text(subject);
      rx::put_payload(j, payload);
      j["publisher"] = rx::to_hex(publisher);
      j["sequence"] = sequence;
      j["timestamp_ns"] = timestamp_ns;
      j["received_ns"] = received_ns;
      j["interval_ms"] = interval_ms;
      j["new"] = is_new;
      j["resend"] = resend;
      rx::emit_json(j);
    } else {
      rx::emit_line(rx::clock_time(received_ns) + "  " + rx::human_text(subject) + "  " + std::to_string(payload.size()) +
           "  " + rx::payload_preview(payload) + "  publisher=" + rx::to_hex(publisher) +
           " seq=" + std::to_string(sequence) + (is_new ? " new" : " changed") + (resend ? " resend" : ""));
    }
  }

  // --save: the payload to DIR/SUBJECT; a failure is one line on stderr and exit status 1.
  void save(std::string_view subject, std::string_view payload) {
    if (opts_.save_dir.empty()) return;
    std::string error;
    if (!rx::subject_is_file_name(subject)) {
      error = "subject " + rx::quoted(std::string(subject)) + " contains '/': not saved";
    } else {
      error = rx::save_file(opts_.save_dir, subject, payload);
    }
    if (error.empty()) return;
    save_failed_ = true;
    std::fprintf(stderr, "receiver: --save: %s\n", error.c_str());
  }

  void on_removed(std::size_t i, const racket::removal& r) {
    if (stopped_ || opts_.quiet || printed_by_earlier_filter(i, r.subject)) return;
    const char* reason = rx::reason_name(r.reason);
    if (opts_.format == output_format::json) {
      nlohmann::ordered_json j;
      j["event"] = "removed";
      j["stream"] = std::string(r.stream);
      rx::put_bytes(j, "subject", r.subject);
      if (!rx::is_printable_utf8(r.subject)) j["subject"] = rx::human_text(r.subject);
      j["publisher"] = rx::to_hex(r.publisher_id);
      j["reason"] = reason;
      j["received_ns"] = rx::now_ns();
      rx::emit_json(j);
    } else {
      rx::emit_line(rx::clock_time(rx::now_ns()) + "  " + rx::human_text(r.subject) + "  REMOVED (" + reason + ")");
    }
  }

  // One hint, on stderr, when nothing was printed: where the receiver listens and what to
  // check. Records of the stream that no filter matched get a hint about the filters instead.
  void print_hint() {
    const auto stats = subscriber_.stats(stream_);
    const std::string where = "group " + net_.endpoint.group.to_string() + " port " +
                              std::to_string(net_.endpoint.port) + " on " + rx::interface_names(net_.interfaces);
    const std::string filters = rx::quoted_list(opts_.filters);
    std::string hint;
    if (stats.received != 0) {
      hint = "receiver: hint: " + std::to_string(stats.received) + " records of stream " +
             rx::quoted(stream_.name()) + " arrived on " + where + " but none matched the filter " + filters +
             ": check the subjects the sender publishes";
    } else {
      hint = std::string("receiver: hint: ") +
             (opts_.once ? "no publisher answered with a value of stream " : "nothing received for stream ") +
             rx::quoted(stream_.name()) + " on " + where +
             " (pool " + opts_.net.pool_prefix + ", ports " + opts_.net.ports +
             "). Check that the sender uses the same stream name, --pool and --ports (RACKET_POOL, "
             "RACKET_PORTS): they pick the group and port; and that multicast from it reaches this host "
             "on those interfaces (--interface, RACKET_INTERFACES)";
      if (stats.foreign != 0) {
        hint += "; " + std::to_string(stats.foreign) + " datagrams of other streams arrived on that group and port";
      }
    }
    std::fprintf(stderr, "%s\n", hint.c_str());
  }

  // Every counter of the stream and of the transport (racket::for_each_counter), plus the
  // lines this program printed (`delivered` counts handler calls: one per matching filter).
  void print_stats(bool final) {
    const auto stream_stats = subscriber_.stats(stream_);
    const auto transport_stats = subscriber_.transport_statistics();
    if (opts_.format == output_format::json) {
      auto j = rx::stats_event(program, final);
      j["stream"] = stream_.name();
      j["time_ns"] = rx::now_ns();
      j["printed"] = printed_;
      j["counters"] = rx::counter_object(stream_stats);
      j["transport"] = rx::counter_object(transport_stats);
      rx::emit_json(j);
    } else {
      rx::print_stats_line(program, final,
                           "printed=" + std::to_string(printed_) + " " + rx::counter_words(stream_stats) + " " +
                               rx::counter_words(transport_stats, "transport."));
    }
  }

  void arm_stats() {
    rx::repeat_every(stats_timer_, std::chrono::milliseconds(opts_.stats_ms), [this] {
      if (stopped_) return false;
      print_stats(false);
      return true;
    });
  }

  // Stops delivery at once (nothing further is printed) and ends io.run().
  void stop() {
    stopped_ = true;
    io_.stop();
  }

  asio::io_context& io_;
  const receiver_options& opts_;
  const rx::network_setup& net_;
  racket::stream<racket::byte_view> stream_;
  racket::subscriber subscriber_;
  asio::signal_set signals_;
  asio::steady_timer timeout_;
  asio::steady_timer stats_timer_;
  asio::steady_timer hint_timer_;
  std::vector<racket::subject_filter> filters_;
  std::vector<racket::subscription> subscriptions_;
  std::uint64_t printed_ = 0;
  bool stopped_ = false;
  // --once
  std::size_t pending_fetches_ = 0;
  std::map<std::string, fetched_value> fetched_;
  bool fetch_failed_ = false;
  bool save_failed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  return rx::run_program(program, argc, argv, parse, [](const receiver_options& opts) {
    const auto net = rx::resolve_network(opts.net);
    if (opts.list)
      return rx::run_list(net, opts.net.interfaces, opts.wait_ms, opts.format == output_format::json, opts.list_stream);
    asio::io_context io;
    receiver r(io, opts, net);
    if (opts.once) {
      r.start_once();
    } else {
      r.start();
    }
    std::fprintf(stderr, "receiver: stream %s on %s via %s, filter %s%s\n", rx::quoted(opts.net.stream_name).c_str(),
                 net.endpoint.to_string().c_str(), rx::interface_names(net.interfaces).c_str(),
                 rx::quoted_list(opts.filters).c_str(), opts.once ? ", once" : "");
    io.run();
    return r.finish();
  });
}
