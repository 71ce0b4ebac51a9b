// monitor: discovers the streams on a network (racket::directory), subscribes to each, and
// serves what it sees over HTTP: a live page (/), JSON (/api/streams, /api/streams/NAME,
// /api/snapshot) and Prometheus metrics (/metrics).
//
// Two sides share one mutex-guarded model (model.hpp): the racket objects run on the io_context
// of the main thread and write to it (every message, loss and removal; the counters, the
// directory and the rates once a second); cpp-httplib's threads only read it. No HTTP thread
// calls into racket.
// SPDX-License-Identifier: MIT

#include "../common/format.hpp"
#include "../common/options.hpp"
#include "api.hpp"
#include "metrics.hpp"
#include "model.hpp"
#include "page.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <httplib.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace rx = racket_examples;
namespace mon = racket_examples::monitor;

namespace {

constexpr std::string_view program = "monitor";

struct monitor_options {
  rx::network_options net;
  std::vector<std::string> streams;  // --stream and STREAM...; empty: every stream discovered
  std::string filter = "*";
  std::string http = "127.0.0.1:8088";
  std::string http_host;
  int http_port = 0;
  std::uint64_t announce_ms = 5000;
  unsigned expiry_factor = 3;
  std::uint64_t max_streams = 64;
};

// "ADDR:PORT" or "[V6ADDR]:PORT" into host and port (0: any free port). Throws usage_error.
void parse_http(monitor_options& o) {
  const auto bad = [&](const std::string& why) {
    return rx::usage_error("--http " + rx::quoted(o.http) + ": " + why + " (see --help)");
  };
  const auto colon = o.http.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("expected ADDR:PORT, such as 127.0.0.1:8088");
  std::string host = o.http.substr(0, colon);
  const std::string port = o.http.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned v = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || v > 65535)
    throw bad("expected a port from 0 to 65535 after the last ':'");
  std::error_code aec;
  (void)asio::ip::make_address(host, aec);
  if (aec) throw bad(rx::quoted(host) + " is not an IP address");
  o.http_host = host;
  o.http_port = static_cast<int>(v);
}

std::variant<monitor_options, int> parse(int argc, char** argv) {
  monitor_options o;
  CLI::App app(
      "Watches the Racket streams on a network and serves them over HTTP: a live page of the\n"
      "streams, their publishers (host, process, rate, gaps) and their subjects (the last\n"
      "value and its age), the same as JSON, and Prometheus metrics. It discovers every stream\n"
      "its publishers announce (or watches only those named) and subscribes to each.",
      std::string(program));
  rx::setup_app(app, std::string(program));
  // Pool, ports and interfaces as the other programs take them; streams are repeatable here.
  app.add_option("STREAM", o.streams, "streams to watch (or --stream); default: every stream announced")
      ->type_name("");
  rx::add_pool_options(app, o.net);
  app.add_option("-s,--stream", o.streams, "watch this stream (repeatable) instead of every stream\nannounced")
      ->type_name("NAME")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-f,--filter", o.filter, "subject filter of every subscription (default '*')")->type_name("F");
  app.add_option("--http", o.http, "serve HTTP on this address and port (port 0: any free one)")
      ->type_name("ADDR:PORT")
      ->default_str(o.http);
  rx::add_announce_option(app, o.announce_ms,
                          "announce the monitor's subscriptions (for receiver --list)\n"
                          "this often, +-20 %; 0: never",
                          0);
  rx::add_expiry_factor_option(app, o.expiry_factor);
  app.add_option("--max-streams", o.max_streams, "watch at most N streams; more announced are ignored")
      ->type_name("N")
      ->default_str("64")
      ->check(rx::whole_number(1, 4096));
  app.footer(
      "Endpoints:\n"
      "  /                  the live page (refreshes itself every second)\n"
      "  /api/streams       the streams with a summary, JSON\n"
      "  /api/streams/NAME  one stream: counters, publishers, subjects with\n"
      "                     a preview of the last value, its size, xxh3, age\n"
      "  /api/snapshot      every stream as /api/streams/NAME gives it\n"
      "  /metrics           Prometheus text format 0.0.4\n"
      "\n"
      "Durations take a unit: 250ms, 2s, 1m (a bare number is milliseconds).\n"
      "RACKET_POOL, RACKET_PORTS and RACKET_INTERFACES (comma-separated) give the defaults of\n"
      "--pool, --ports and --interface; the flags win.\n"
      "\n"
      "Examples:\n"
      "  monitor\n"
      "  monitor plant fx --http 0.0.0.0:9000\n"
      "  monitor --stream plant --filter 'plant.*' --interface eth1\n"
      "\n"
      "Exit status: 0 after SIGINT/SIGTERM, 1 failure (such as the HTTP port in use),\n"
      "2 bad command line.");
  if (const auto status = rx::parse_command_line(app, std::string(program), argc, argv)) return *status;
  if (auto ec = racket::validate_filter(o.filter)) throw rx::usage_error(rx::describe("subject filter " + rx::quoted(o.filter), ec));
  parse_http(o);
  o.net.stream_name = std::string(racket::multicast_pool::announce_stream_name);
  return o;
}

// The racket side: the directory, the subscriber and one subscription per stream, all on the
// io_context's thread; it writes what it hears to the shared model.
class watcher {
 public:
  watcher(asio::io_context& io, const monitor_options& opts, const rx::network_setup& net, mon::shared_model& shared)
      : opts_(opts),
        net_(net),
        shared_(shared),
        directory_(io, net.pool, racket::directory_options{.interfaces = opts.net.interfaces}),
        subscriber_(io, racket::subscriber_options{.interfaces = opts.net.interfaces,
                                                   .expiry_factor = opts.expiry_factor,
                                                   .announce_period = std::chrono::milliseconds(opts.announce_ms)}),
        tick_timer_(io) {}

  void start() {
    subscriber_.set_loss_handler([this](const racket::loss_event& e) {
      shared_.write([&](mon::model& m) {
        const auto it = m.streams.find(e.stream);
        if (it != m.streams.end()) mon::model::on_loss(it->second, e.publisher_id, e.first, e.last);
      });
    });
    subscriber_.set_error_handler([](const std::error_code& ec, std::string_view what) {
      std::fprintf(stderr, "monitor: %.*s: %s\n", static_cast<int>(what.size()), what.data(), ec.message().c_str());
    });
    for (const auto& name : opts_.streams) watch(name);
    if (opts_.streams.empty()) {
      directory_.set_appear_handler([this](const racket::directory_entry& e) { watch(e.stream); });
    }
    last_tick_ = mon::clock::now();
    arm_tick();
  }

 private:
  struct watched {
    racket::stream<racket::byte_view> stream;
    racket::subscription subscription;
  };

  // Subscribes to `name` once; a name the pool refuses is ignored (it came from the network).
  void watch(const std::string& name) {
    if (name == racket::multicast_pool::announce_stream_name || watched_.count(name) != 0) return;
    if (watched_.size() >= opts_.max_streams) {
      if (!warned_max_) std::fprintf(stderr, "monitor: --max-streams %llu reached: further streams are ignored\n",
                                     static_cast<unsigned long long>(opts_.max_streams));
      warned_max_ = true;
      return;
    }
    std::error_code ec;
    const auto endpoint = net_.pool.endpoint_for(name, ec);
    if (ec) return;
    auto [it, added] = watched_.try_emplace(name, watched{racket::stream<racket::byte_view>(name, net_.pool), {}});
    mon::stream_state* state = shared_.write([&](mon::model& m) { return &m.add_stream(name, endpoint.to_string()); });
    auto sub = subscriber_.subscribe(
        it->second.stream, opts_.filter,
        [this, state](const racket::message<racket::byte_view>& msg) {
          const auto now = mon::clock::now();
          shared_.write([&](mon::model&) {
            mon::model::on_message(*state, msg.subject, msg.payload, msg.publisher_id, msg.sequence,
                                   msg.timestamp_ns, msg.interval.count(), now);
          });
        },
        [this, state](const racket::removal& r) {
          shared_.write([&](mon::model&) { mon::model::on_removal(*state, r.subject); });
        },
        ec);
    shared_.write([&](mon::model&) {
      state->subscribed = !ec;
      if (ec) state->error = rx::describe("subscribe", ec);
    });
    if (ec) {
      std::fprintf(stderr, "monitor: %s\n", rx::describe("subscribe to stream " + rx::quoted(name), ec).c_str());
      return;
    }
    it->second.subscription = std::move(sub);
    std::fprintf(stderr, "monitor: watching stream %s on %s\n", rx::quoted(name).c_str(), endpoint.to_string().c_str());
  }

  // Once a second: the stream counters, the directory and the transport into the model.
  void arm_tick() {
    tick_timer_.expires_after(std::chrono::seconds(1));
    tick_timer_.async_wait([this](const std::error_code& ec) {
      if (ec) return;
      std::vector<std::pair<std::string, racket::subscriber_stream_stats>> stats;
      for (const auto& [name, w] : watched_) stats.emplace_back(name, subscriber_.stats(w.stream));
      const auto entries = directory_.snapshot();
      const auto transport = subscriber_.transport_statistics();
      const auto directory = directory_.stats();
      const auto self_id = subscriber_.requester_id();
      const auto now = mon::clock::now();
      const double seconds = std::chrono::duration<double>(now - last_tick_).count();
      last_tick_ = now;
      shared_.write([&](mon::model& m) {
        for (auto& [name, s] : stats) {
          const auto it = m.streams.find(name);
          if (it != m.streams.end()) it->second.counters = s;
        }
        m.transport = transport;
        m.directory = directory;
        m.on_tick(entries, self_id, seconds, now);
      });
      arm_tick();
    });
  }

  const monitor_options& opts_;
  const rx::network_setup& net_;
  mon::shared_model& shared_;
  racket::directory directory_;
  racket::subscriber subscriber_;
  asio::steady_timer tick_timer_;
  std::map<std::string, watched> watched_;
  mon::clock::time_point last_tick_{};
  bool warned_max_ = false;
};

// The HTTP side: routes that read the shared model, on cpp-httplib's threads.
void add_routes(httplib::Server& server, const mon::shared_model& shared, const std::string& pool) {
  const auto json_reply = [](httplib::Response& res, const std::string& body) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(body, "application/json");
  };
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(mon::page_html), "text/html; charset=utf-8");
  });
  server.Get("/api/streams", [&shared, pool, json_reply](const httplib::Request&, httplib::Response& res) {
    json_reply(res, shared.read([&](const mon::model& m) { return mon::dump(mon::streams_json(m, pool, mon::clock::now())); }));
  });
  server.Get("/api/snapshot", [&shared, pool, json_reply](const httplib::Request&, httplib::Response& res) {
    json_reply(res, shared.read([&](const mon::model& m) { return mon::dump(mon::snapshot_json(m, pool, mon::clock::now())); }));
  });
  server.Get(R"(/api/streams/(.+))", [&shared, json_reply](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    std::string body = shared.read([&](const mon::model& m) {
      const auto it = m.streams.find(name);
      return it == m.streams.end() ? std::string() : mon::dump(mon::stream_detail(it->first, it->second, mon::clock::now()));
    });
    if (body.empty()) {
      res.status = 404;
      body = mon::dump(mon::json{{"error", "no such stream: " + rx::quoted(name)}});
    }
    json_reply(res, body);
  });
  server.Get("/metrics", [&shared](const httplib::Request&, httplib::Response& res) {
    res.set_content(shared.read([](const mon::model& m) { return mon::metrics_text(m, mon::clock::now()); }),
                    mon::metrics_content_type);
  });
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404) res.set_content("not found: " + req.path + "\n", "text/plain; charset=utf-8");
  });
}

}  // namespace

int main(int argc, char** argv) {
  return rx::run_program(program, argc, argv, parse, [](const monitor_options& opts) {
    const auto net = rx::resolve_network(opts.net);

    mon::shared_model shared;
    httplib::Server server;
    server.new_task_queue = [] { return new httplib::ThreadPool(4); };
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, with which a second monitor
    // on the same port would bind too and share the connections instead of being refused.
    server.set_socket_options([](int sock) {
      const int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    add_routes(server, shared, net.pool.to_string());
    const int port = opts.http_port == 0 ? server.bind_to_any_port(opts.http_host)
                                         : (server.bind_to_port(opts.http_host, opts.http_port) ? opts.http_port : -1);
    if (port < 0) {
      throw rx::fatal_error("cannot listen on --http " + rx::quoted(opts.http) + " (in use, or not an address of this host)",
                            rx::exit_failure);
    }

    asio::io_context io;
    watcher w(io, opts, net, shared);
    w.start();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int) {
      if (!ec) io.stop();
    });
    const bool v6 = opts.http_host.find(':') != std::string::npos;
    std::fprintf(stderr, "monitor: serving http://%s%s%s:%d/ ; %s on %s via %s\n", v6 ? "[" : "",
                 opts.http_host.c_str(), v6 ? "]" : "", port,
                 opts.streams.empty() ? "discovering streams announced" : "watching the named streams",
                 net.pool.announce_endpoint().to_string().c_str(), rx::interface_names(net.interfaces).c_str());
    std::atomic<bool> http_done{false};
    std::thread http([&] {
      if (!server.listen_after_bind()) {
        std::fprintf(stderr, "monitor: the HTTP server stopped\n");
        asio::post(io, [&] { io.stop(); });
      }
      http_done = true;
    });
    io.run();
    // stop() only stops a server already listening: repeat it until the thread has ended.
    while (!http_done) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    http.join();
    std::fprintf(stderr, "monitor: stopped\n");
    return rx::exit_ok;
  });
}
