// monitor: the JSON the HTTP API serves, made from the model (nlohmann/json): the list of
// streams with a summary (/api/streams), one stream in full (/api/streams/NAME), and every
// stream in full at once (/api/snapshot, what the page polls). Knows nothing of HTTP, of
// threads or of how the model is filled.
// SPDX-License-Identifier: MIT
#pragma once

#include "../common/format.hpp"
#include "model.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace racket_examples::monitor {

using json = nlohmann::ordered_json;

inline std::int64_t ms_between(clock::time_point earlier, clock::time_point now) {
  if (earlier == clock::time_point{}) return -1;  // never
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - earlier).count();
}

/// A value's preview: `text` when it is printable UTF-8 (cut to whole characters), else
/// `hex`; `cut` when the value is longer than the preview.
inline void put_preview(json& j, const subject_state& v) {
  std::string_view p = v.preview;
  // A preview cut inside a UTF-8 sequence: drop the partial character at its end.
  if (v.size > p.size()) {
    for (int i = 0; i < 3 && !p.empty() && !is_printable_utf8(p); ++i) p.remove_suffix(1);
  }
  if (is_printable_utf8(p)) {
    j["text"] = std::string(p);
  } else {
    j["hex"] = to_hex(v.preview);
  }
  j["cut"] = v.size > v.preview.size();
}

/// The summary of one stream, as /api/streams lists it.
inline json stream_summary(const std::string& name, const stream_state& s, clock::time_point now) {
  json j;
  put_bytes(j, "name", name);
  if (!is_printable_utf8(name)) j["name"] = human_text(name);
  j["endpoint"] = s.endpoint;
  j["subscribed"] = s.subscribed;
  if (!s.error.empty()) j["error"] = s.error;
  j["publishers"] = s.publishers.size();
  j["subscribers"] = s.subscribers;
  j["subjects"] = s.subjects.size();
  j["rate"] = s.rate;
  j["received"] = s.counters.received;
  j["delivered"] = s.counters.delivered;
  j["gaps"] = s.counters.gaps;
  j["repairs"] = s.counters.repairs_requested;
  j["malformed"] = s.counters.malformed;
  std::int64_t last = -1;
  for (const auto& [subject, v] : s.subjects) {
    const auto age = ms_between(v.received, now);
    if (age >= 0 && (last < 0 || age < last)) last = age;
  }
  j["last_message_age_ms"] = last;
  return j;
}

/// One stream in full: its summary, every counter, its publishers and its subjects.
inline json stream_detail(const std::string& name, const stream_state& s, clock::time_point now) {
  json j = stream_summary(name, s, now);
  j["counters"] = counter_object(s.counters);
  j["subjects_refused"] = s.subjects_refused;
  j["publishers_refused"] = s.publishers_refused;
  json pubs = json::array();
  for (const auto& [id, p] : s.publishers) {
    json o;
    o["id"] = to_hex(id);
    o["announced"] = p.announced;
    put_bytes(o, "host", p.host);
    o["pid"] = p.pid;
    put_bytes(o, "program", p.program);
    o["announced_subjects"] = p.announced_subjects;
    o["announced_rate"] = p.announced_rate;
    o["rate"] = p.rate;
    o["messages"] = p.messages;
    o["gaps"] = p.gaps;
    o["loss_events"] = p.loss_events;
    o["last_heard_ms"] = ms_between(p.last_heard, now);
    pubs.push_back(std::move(o));
  }
  j["publishers"] = std::move(pubs);
  json subjects = json::array();
  for (const auto& [subject, v] : s.subjects) {
    json o;
    o["subject"] = human_text(subject);
    if (!is_printable_utf8(subject)) o["subject_hex"] = to_hex(subject);
    put_preview(o, v);
    o["size"] = v.size;
    o["xxh3"] = to_hex(v.xxh3);
    o["age_ms"] = ms_between(v.received, now);
    o["publisher"] = to_hex(v.publisher);
    o["sequence"] = v.sequence;
    o["timestamp_ns"] = v.timestamp_ns;
    o["interval_ms"] = v.interval_ms;
    o["updates"] = v.updates;
    subjects.push_back(std::move(o));
  }
  j["subjects"] = std::move(subjects);
  return j;
}

/// The top of every answer: what the monitor itself is.
inline json monitor_header(const model& m, const std::string& pool, clock::time_point now) {
  json j;
  j["pool"] = pool;
  j["uptime_ms"] = ms_between(m.started, now);
  j["time_ns"] = now_ns();
  j["version"] = RACKET_EXAMPLES_VERSION;
  return j;
}

/// /api/streams
inline json streams_json(const model& m, const std::string& pool, clock::time_point now) {
  json j = monitor_header(m, pool, now);
  json list = json::array();
  for (const auto& [name, s] : m.streams) list.push_back(stream_summary(name, s, now));
  j["streams"] = std::move(list);
  return j;
}

/// /api/snapshot: every stream in full, the transport's and the directory's counters.
inline json snapshot_json(const model& m, const std::string& pool, clock::time_point now) {
  json j = monitor_header(m, pool, now);
  json list = json::array();
  for (const auto& [name, s] : m.streams) list.push_back(stream_detail(name, s, now));
  j["streams"] = std::move(list);
  j["transport"] = counter_object(m.transport);
  j["directory"] = counter_object(m.directory);
  return j;
}

/// Dumps with invalid UTF-8 replaced, never throwing.
inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace racket_examples::monitor
