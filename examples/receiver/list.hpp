// receiver --list: listens on the pool's announce channel for a while with a racket::directory
// and prints the streams on the network, one per line (aligned text, or JSON lines): their
// publishers, hosts, subjects and rates, and their subscribers. Knows nothing of subscribing.
// SPDX-License-Identifier: MIT
#pragma once

#include "../common/format.hpp"
#include "../common/options.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace racket_examples {

// One stream as the listing shows it: what its publishers and subscribers announced.
struct listed_stream {
  std::vector<racket::directory_entry> publishers;
  std::vector<racket::directory_entry> subscribers;

  // The most subjects any one publisher of the stream keeps (each keeps its own: the union
  // is not announced).
  std::uint32_t subjects() const {
    std::uint32_t n = 0;
    for (const auto& p : publishers) n = std::max(n, p.subjects);
    return n;
  }
  double rate() const {
    double r = 0;
    for (const auto& p : publishers) r += p.rate;
    return r;
  }
  // "host (program pid)" of every participant, publishers first, each once.
  std::string hosts() const {
    std::vector<std::string> seen;
    for (const auto* list : {&publishers, &subscribers}) {
      for (const auto& e : *list) {
        std::string who = human_text(e.host) + " (" + human_text(e.program) + " " + std::to_string(e.pid) + ")";
        if (std::find(seen.begin(), seen.end(), who) == seen.end()) seen.push_back(std::move(who));
      }
    }
    std::string out;
    for (const auto& s : seen) out += (out.empty() ? "" : ", ") + s;
    return out;
  }
};

inline std::map<std::string, listed_stream> group_by_stream(const std::vector<racket::directory_entry>& entries,
                                                            const std::string& only_stream) {
  std::map<std::string, listed_stream> out;
  for (const auto& e : entries) {
    if (!only_stream.empty() && e.stream != only_stream) continue;
    auto& s = out[e.stream];
    (e.role == racket::participant_role::publisher ? s.publishers : s.subscribers).push_back(e);
  }
  return out;
}

inline std::string format_rate(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", r);
  return buf;
}

// The aligned table: a header line, then one line per stream.
inline std::vector<std::string> list_table(const std::map<std::string, listed_stream>& streams) {
  std::vector<std::vector<std::string>> rows{{"STREAM", "PUBLISHERS", "SUBJECTS", "MSGS/S", "SUBSCRIBERS", "HOSTS"}};
  for (const auto& [name, s] : streams) {
    rows.push_back({human_text(name), std::to_string(s.publishers.size()), std::to_string(s.subjects()),
                    format_rate(s.rate()), std::to_string(s.subscribers.size()), s.hosts()});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::vector<std::string> lines;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    lines.push_back(line);
  }
  return lines;
}

inline nlohmann::ordered_json list_json(const std::string& name, const listed_stream& s) {
  nlohmann::ordered_json j;
  j["event"] = "stream";
  put_bytes(j, "stream", name);
  j["subjects"] = s.subjects();
  j["rate"] = s.rate();
  const auto who = [](const racket::directory_entry& e) {
    nlohmann::ordered_json p;
    p["id"] = to_hex(e.id);
    put_bytes(p, "host", e.host);
    p["pid"] = e.pid;
    put_bytes(p, "program", e.program);
    p["period_ms"] = e.period.count();
    p["age_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(e.age).count();
    return p;
  };
  j["publishers"] = nlohmann::ordered_json::array();
  for (const auto& e : s.publishers) {
    auto p = who(e);
    p["subjects"] = e.subjects;
    p["rate"] = e.rate;
    j["publishers"].push_back(std::move(p));
  }
  j["subscribers"] = nlohmann::ordered_json::array();
  for (const auto& e : s.subscribers) {
    auto p = who(e);
    p["filters"] = e.filters;
    j["subscribers"].push_back(std::move(p));
  }
  return j;
}

// Listens for `wait_ms` (or until SIGINT/SIGTERM), prints the listing; returns the exit status
// (1 with a hint on stderr when nothing was heard).
inline int run_list(const network_setup& net, const std::vector<std::string>& interfaces, std::uint64_t wait_ms,
                    bool json, const std::string& only_stream) {
  asio::io_context io;
  racket::directory dir(io, net.pool, racket::directory_options{.interfaces = interfaces});
  asio::steady_timer timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  timer.expires_after(std::chrono::milliseconds(wait_ms));
  timer.async_wait([&](const std::error_code& ec) {
    if (!ec) io.stop();
  });
  signals.async_wait([&](const std::error_code& ec, int) {
    if (!ec) io.stop();
  });
  const racket::endpoint channel = net.pool.announce_endpoint();
  std::fprintf(stderr, "receiver: listing streams announced on %s via %s for %llums\n", channel.to_string().c_str(),
               interface_names(net.interfaces).c_str(), static_cast<unsigned long long>(wait_ms));
  io.run();
  const auto streams = group_by_stream(dir.snapshot(), only_stream);
  std::fprintf(stderr, "receiver: listed %zu streams: %s\n", streams.size(), counter_words(dir.stats()).c_str());
  if (streams.empty()) {
    std::fprintf(stderr,
                 "receiver: hint: no stream was announced on group %s port %u on %s within %llums (pool %s). "
                 "Check that the senders use the same --pool and --ports (RACKET_POOL, RACKET_PORTS), that they "
                 "announce (--announce-period, not 0; they announce every 5 s by default, so listen longer with "
                 "--wait), and that multicast from them reaches this host on those interfaces (--interface, "
                 "RACKET_INTERFACES)\n",
                 channel.group.to_string().c_str(), static_cast<unsigned>(channel.port),
                 interface_names(net.interfaces).c_str(), static_cast<unsigned long long>(wait_ms),
                 net.pool.to_string().c_str());
    return exit_failure;
  }
  if (json) {
    for (const auto& [name, s] : streams) emit_json(list_json(name, s));
  } else {
    for (const auto& line : list_table(streams)) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
  }
  return exit_ok;
}

}  // namespace racket_examples
