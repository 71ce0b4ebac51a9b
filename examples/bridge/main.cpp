// bridge: joins Racket streams on this LAN to NATS, both ways (docs/bridge.md).
//
// Every message of the given streams heard on the LAN goes to NATS (subject
// racket.<stream>.<subject>, its origin in headers) and into the stream's JetStream key-value
// bucket; every message other sites sent to NATS is published on this LAN with its origin's
// interval; withdrawals travel as tombstones. This file holds the command line and the
// output; site_bridge.hpp does the work.
// SPDX-License-Identifier: MIT

#include "../common/format.hpp"
#include "../common/options.hpp"
#include "site_bridge.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <unistd.h>

namespace rx = racket_examples;
namespace rb = racket_bridge;

namespace {

constexpr std::string_view program = "bridge";

struct bridge_options {
  rx::network_options net;
  std::vector<std::string> nats_urls;
  std::vector<std::string> streams;
  std::string filter = "*";
  std::string site;
  int ttl = 1;
  std::uint64_t announce_ms = 5000;
  std::uint64_t stats_ms = 0;  // 0: only the final stats
  std::uint64_t max_message = std::uint64_t{16} << 20;
  std::string format_text = "human";
  bool json = false;
  bool quiet = false;
};

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::variant<bridge_options, int> parse(int argc, char** argv) {
  bridge_options o;
  CLI::App app(
      "Joins Racket streams on this LAN to NATS, both ways. Messages of the streams heard on\n"
      "the LAN go to NATS (subject racket.<stream>.<subject>, their origin in headers) and\n"
      "into each stream's JetStream key-value bucket; messages other sites sent come back onto\n"
      "this LAN with their origin's interval, and a withdrawal travels as a tombstone. A bridge\n"
      "never re-exports what it imported, and skips other bridges' publishers and its own\n"
      "site's messages. At SIGINT/SIGTERM it prints its stats and exits.",
      std::string(program));
  rx::setup_app(app, std::string(program));
  app.add_option("STREAM", o.streams, "streams to bridge (or --stream)")->type_name("");
  app.add_option("-s,--stream", o.streams, "a stream to bridge; repeatable")
      ->type_name("NAME")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--nats", o.nats_urls,
                 "NATS server URL; repeatable, or comma-separated: a cluster's\n"
                 "servers, tried in order (default nats://127.0.0.1:4222)")
      ->type_name("URL")
      ->delimiter(',')
      ->envname("NATS_URL");
  app.add_option("-f,--filter", o.filter,
                 "subject filter of every stream, both ways (default '*'); a last\n"
                 "'*' becomes NATS's '>'")
      ->type_name("F");
  app.add_option("--site", o.site,
                 "this site's name (default: the host name); bridges on one LAN\n"
                 "share it, and none imports its own site's messages")
      ->type_name("NAME");
  rx::add_pool_options(app, o.net);
  rx::add_ttl_option(app, o.ttl, "multicast TTL / hop limit, 0..255, of what the bridge sends on the LAN");
  rx::add_announce_option(app, o.announce_ms,
                          "announce the bridge's publisher and subscriptions this often,\n"
                          "+-20 % (other bridges skip publishers announced as 'bridge')",
                          1);
  rx::add_max_message_option(app, o.max_message, "largest payload imported, in bytes (at most 64 MiB)");
  rx::add_stats_option(app, o.stats_ms, "also print the stats every DURATION while running");
  rx::add_format_option(app, o.format_text,
                        "output format: human (lines on stderr), or json (one object per\n"
                        "line on stdout: link events, errors and stats)");
  app.add_flag("-q,--quiet", o.quiet, "print only errors (no banner, no link events, no stats)");
  app.footer(
      "Stats: the forwarding counters (exported, skipped_own, skipped_bridge, skipped_echo,\n"
      "imported, skipped_own_site, import_duplicates, import_stale, ...) and the link's\n"
      "(nats_published, export_dropped while disconnected, kv_puts, disconnects, reconnects, ...).\n"
      "\n"
      "Durations take a unit: 250ms, 2s, 1m (a bare number is milliseconds).\n"
      "RACKET_POOL, RACKET_PORTS and RACKET_INTERFACES (comma-separated) give the defaults of\n"
      "--pool, --ports and --interface, NATS_URL that of --nats; the flags win.\n"
      "\n"
      "Examples:\n"
      "  bridge plant --site berlin --nats nats://nats1:4222 --nats nats://nats2:4222\n"
      "  bridge --stream plant --stream fx --filter 'plant.*' --interface eth1 --site plant-a\n"
      "\n"
      "Exit status: 0 after SIGINT/SIGTERM, 1 failure, 2 bad command line.");
  if (const auto status = rx::parse_command_line(app, std::string(program), argc, argv)) return *status;

  if (o.streams.empty()) throw rx::usage_error("at least one stream is required: STREAM or --stream NAME (see --help)");
  if (auto ec = racket::validate_filter(o.filter)) throw rx::usage_error(rx::describe("subject filter " + rx::quoted(o.filter), ec));
  if (o.site.empty()) o.site = host_name();
  if (!rb::valid_site(o.site))
    throw rx::usage_error("--site " + rx::quoted(o.site) + ": expected 1 to 255 printable characters without spaces");
  if (o.nats_urls.empty()) o.nats_urls.emplace_back(rb::default_nats_url);
  for (const auto& u : o.nats_urls) {
    if (u.empty()) throw rx::usage_error("--nats: an empty URL (see --help)");
  }
  o.json = o.format_text == "json";
  o.net.stream_name = o.streams.front();
  return o;
}

class runner {
 public:
  runner(asio::io_context& io, const bridge_options& opts, rb::bridge_config config)
      : io_(io),
        opts_(opts),
        bridge_(io, std::move(config), make_events()),
        signals_(io, SIGINT, SIGTERM),
        stats_timer_(io) {}

  void start() {
    signals_.async_wait([this](const std::error_code& ec, int) {
      if (!ec) finish();
    });
    bridge_.start();
    if (opts_.stats_ms != 0 && !opts_.quiet) arm_stats();
  }

  std::uint64_t publisher_id() const noexcept { return bridge_.publisher_id(); }

  int wait() {
    if (!opts_.quiet) print_stats(true);
    return rx::exit_ok;
  }

 private:
  rb::site_bridge::events make_events() {
    rb::site_bridge::events ev;
    ev.link = [this](rb::site_bridge::link_event e, const std::string& server) { on_link(e, server); };
    ev.error = [this](const std::string& e) { on_error(e); };
    return ev;
  }

  void on_link(rb::site_bridge::link_event e, const std::string& server) {
    if (opts_.quiet) return;
    const char* what = e == rb::site_bridge::link_event::connected      ? "connected"
                       : e == rb::site_bridge::link_event::reconnected ? "reconnected"
                                                                       : "disconnected";
    if (opts_.json) {
      nlohmann::ordered_json j;
      j["event"] = "nats";
      j["state"] = what;
      if (!server.empty()) j["server"] = server;
      j["time_ns"] = rx::now_ns();
      rx::emit_json(j);
    } else if (e == rb::site_bridge::link_event::disconnected) {
      std::fprintf(stderr, "bridge: NATS disconnected: exports are dropped and counted until it is back\n");
    } else {
      std::fprintf(stderr, "bridge: NATS %s to %s: buckets re-put and read\n", what, server.c_str());
    }
  }

  void on_error(const std::string& e) {
    if (opts_.json) {
      nlohmann::ordered_json j;
      j["event"] = "error";
      j["message"] = e;
      j["time_ns"] = rx::now_ns();
      rx::emit_json(j);
    } else {
      std::fprintf(stderr, "bridge: %s\n", e.c_str());
    }
  }

  void print_stats(bool final) {
    const auto rules = bridge_.rule_counters();
    const auto link = bridge_.counters();
    if (opts_.json) {
      auto j = rx::stats_event(program, final);
      j["site"] = opts_.site;
      j["time_ns"] = rx::now_ns();
      nlohmann::ordered_json c = nlohmann::ordered_json::object();
      const auto put = [&](std::string_view name, std::uint64_t v) { c[std::string(name)] = v; };
      rb::for_each_counter(rules, put);
      rb::for_each_counter(link, put);
      j["counters"] = c;
      rx::emit_json(j);
    } else {
      std::string words;
      const auto add = [&](std::string_view name, std::uint64_t v) { rx::append_counter_word(words, {}, name, v); };
      rb::for_each_counter(rules, add);
      rb::for_each_counter(link, add);
      rx::print_stats_line(program, final, words);
    }
  }

  void arm_stats() {
    rx::repeat_every(stats_timer_, std::chrono::milliseconds(opts_.stats_ms), [this] {
      if (stopping_) return false;
      print_stats(false);
      return true;
    });
  }

  void finish() {
    if (stopping_) return;
    stopping_ = true;
    stats_timer_.cancel();
    std::error_code ignored;
    signals_.cancel(ignored);
    bridge_.stop([this] { io_.stop(); });
  }

  asio::io_context& io_;
  const bridge_options& opts_;
  rb::site_bridge bridge_;
  asio::signal_set signals_;
  asio::steady_timer stats_timer_;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  const int status = rx::run_program(program, argc, argv, parse, [](const bridge_options& opts) {
    const auto net = rx::resolve_network(opts.net);
    for (const auto& name : opts.streams) {
      std::error_code ec;
      (void)net.pool.endpoint_for(name, ec);
      if (ec) throw rx::usage_error(rx::describe("stream name " + rx::quoted(name), ec));
    }
    rb::bridge_config config;
    config.nats_urls = opts.nats_urls;
    config.streams = opts.streams;
    config.filter = opts.filter;
    config.site = opts.site;
    config.pool = net.pool;
    config.interfaces = opts.net.interfaces;
    config.ttl = opts.ttl;
    config.announce_period = std::chrono::milliseconds(opts.announce_ms);
    config.max_message = static_cast<std::size_t>(opts.max_message);
    asio::io_context io;
    runner r(io, opts, std::move(config));
    if (!opts.quiet) {
      std::string urls;
      for (const auto& u : opts.nats_urls) urls += (urls.empty() ? "" : ",") + u;
      std::fprintf(stderr, "bridge: site %s, streams %s, filter %s, LAN via %s, publisher %s, NATS %s\n",
                   rx::quoted(opts.site).c_str(), rx::quoted_list(opts.streams).c_str(), rx::quoted(opts.filter).c_str(),
                   rx::interface_names(net.interfaces).c_str(), rx::to_hex(r.publisher_id()).c_str(), urls.c_str());
    }
    r.start();
    io.run();
    return r.wait();
  });
  nats_CloseAndWait(2000);  // the client's threads end before the process does
  return status;
}
