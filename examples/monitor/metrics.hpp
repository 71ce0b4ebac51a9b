// monitor: /metrics, the model in Prometheus text exposition format 0.0.4: one family per
// counter or gauge (HELP and TYPE lines, counters named ..._total), samples labelled `stream`
// and `publisher`, label values escaped. Knows nothing of HTTP, of threads or of how the model
// is filled.
// SPDX-License-Identifier: MIT
#pragma once

#include "../common/format.hpp"
#include "model.hpp"

#include <racket/racket.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket_examples::monitor {

/// The Content-Type of the format.
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// A label value with `\`, `"` and newline escaped, as the format asks.
inline std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/// Bytes from the network as a label value: themselves when printable UTF-8 (the escaping
/// does the rest), else with the unprintable bytes as \xNN.
inline std::string label_text(std::string_view v) { return is_printable_utf8(v) ? std::string(v) : human_text(v); }

/// Builds the text one family at a time: every sample of a name follows its HELP and TYPE.
class metrics_writer {
 public:
  using labels = std::vector<std::pair<const char*, std::string>>;

  void family(const std::string& name, const char* type, const std::string& help) {
    out_ += "# HELP " + name + ' ' + help + '\n';
    out_ += "# TYPE " + name + ' ' + type + '\n';
  }
  void sample(const std::string& name, const labels& l, double value) {
    out_ += name;
    if (!l.empty()) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : l) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        out_ += escape_label(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  static std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[40];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
      std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.6g", v);
    }
    return buf;
  }
  std::string out_;
};

/// The names of a stats struct's counters, in its order (racket::for_each_counter).
template <class Stats>
std::vector<std::string> counter_names() {
  std::vector<std::string> names;
  racket::for_each_counter(Stats{}, [&](std::string_view n, std::uint64_t) { names.emplace_back(n); });
  return names;
}

template <class Stats>
std::uint64_t counter_value(const Stats& s, std::string_view wanted) {
  std::uint64_t out = 0;
  racket::for_each_counter(s, [&](std::string_view n, std::uint64_t v) {
    if (n == wanted) out = v;
  });
  return out;
}

// Counters of the library's structs that are gauges (the rest count up).
inline bool is_gauge(std::string_view name) { return name == "tracked_subjects" || name == "entries"; }

/// Every counter of `Stats` as one family each, `prefix` + name (+ `_total` for a counter),
/// one sample per labelled struct.
template <class Stats>
void write_counters(metrics_writer& w, const std::string& prefix, const std::string& what,
                    const std::vector<std::pair<metrics_writer::labels, const Stats*>>& rows) {
  for (const auto& n : counter_names<Stats>()) {
    const bool gauge = is_gauge(n);
    const std::string name = prefix + n + (gauge ? "" : "_total");
    w.family(name, gauge ? "gauge" : "counter", what + " " + n + (gauge ? " (now)" : ""));
    for (const auto& [l, s] : rows) w.sample(name, l, static_cast<double>(counter_value(*s, n)));
  }
}

/// /metrics
inline std::string metrics_text(const model& m, clock::time_point now) {
  metrics_writer w;
  w.family("racket_monitor_uptime_seconds", "gauge", "Seconds since the monitor started");
  w.sample("racket_monitor_uptime_seconds", {},
           std::chrono::duration_cast<std::chrono::duration<double>>(now - m.started).count());
  w.family("racket_monitor_streams", "gauge", "Streams the monitor watches");
  w.sample("racket_monitor_streams", {}, static_cast<double>(m.streams.size()));

  using row_list = std::vector<std::pair<metrics_writer::labels, const racket::subscriber_stream_stats*>>;
  row_list stream_rows;
  for (const auto& [name, s] : m.streams) stream_rows.push_back({{{"stream", label_text(name)}}, &s.counters});
  write_counters(w, "racket_stream_", "Subscriber counter of the stream (racket::subscriber_stream_stats):", stream_rows);

  const auto per_stream = [&](const std::string& name, const char* type, const std::string& help, auto value) {
    w.family(name, type, help);
    for (const auto& [sname, s] : m.streams) w.sample(name, {{"stream", label_text(sname)}}, value(s));
  };
  per_stream("racket_stream_subjects", "gauge", "Subjects whose last value the monitor shows",
             [](const stream_state& s) { return static_cast<double>(s.subjects.size()); });
  per_stream("racket_stream_publishers", "gauge", "Publishers of the stream seen (announced or heard)",
             [](const stream_state& s) { return static_cast<double>(s.publishers.size()); });
  per_stream("racket_stream_subscribers", "gauge", "Other subscribers of the stream announced in the directory",
             [](const stream_state& s) { return static_cast<double>(s.subscribers); });
  per_stream("racket_stream_rate", "gauge", "Records received per second over the last second",
             [](const stream_state& s) { return s.rate; });

  const auto per_publisher = [&](const std::string& name, const char* type, const std::string& help, auto value) {
    w.family(name, type, help);
    for (const auto& [sname, s] : m.streams) {
      for (const auto& [id, p] : s.publishers) {
        w.sample(name, {{"stream", label_text(sname)}, {"publisher", to_hex(id)}}, value(p));
      }
    }
  };
  w.family("racket_publisher_info", "gauge", "A publisher of a stream, with what it announced (always 1)");
  for (const auto& [sname, s] : m.streams) {
    for (const auto& [id, p] : s.publishers) {
      w.sample("racket_publisher_info",
               {{"stream", label_text(sname)},
                {"publisher", to_hex(id)},
                {"host", label_text(p.host)},
                {"program", label_text(p.program)},
                {"pid", std::to_string(p.pid)}},
               1);
    }
  }
  per_publisher("racket_publisher_messages_total", "counter", "Messages delivered from the publisher",
                [](const publisher_state& p) { return static_cast<double>(p.messages); });
  per_publisher("racket_publisher_gaps_total", "counter", "Sequence numbers of the publisher that never arrived",
                [](const publisher_state& p) { return static_cast<double>(p.gaps); });
  per_publisher("racket_publisher_loss_events_total", "counter", "Runs of missed sequence numbers of the publisher",
                [](const publisher_state& p) { return static_cast<double>(p.loss_events); });
  per_publisher("racket_publisher_rate", "gauge", "Messages per second delivered from the publisher over the last second",
                [](const publisher_state& p) { return p.rate; });
  per_publisher("racket_publisher_announced_rate", "gauge", "Messages per second the publisher announced",
                [](const publisher_state& p) { return p.announced_rate; });
  per_publisher("racket_publisher_announced_subjects", "gauge", "Subjects the publisher announced it keeps",
                [](const publisher_state& p) { return static_cast<double>(p.announced_subjects); });

  write_counters<racket::transport_stats>(w, "racket_transport_", "Transport counter of the monitor's subscriber:",
                                          {{{}, &m.transport}});
  write_counters<racket::directory_stats>(w, "racket_directory_", "Counter of the monitor's directory:",
                                          {{{}, &m.directory}});
  return w.take();
}

}  // namespace racket_examples::monitor
