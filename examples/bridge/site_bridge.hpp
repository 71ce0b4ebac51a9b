// SPDX-License-Identifier: MIT
#pragma once

// One site's bridge: joins the LAN (a Racket subscriber, a publisher announced as program
// `bridge`, a directory) to NATS (nats_link, and kv_worker for the buckets), and passes every
// message and removal through the forwarding rules (forwarding.hpp) each way. Everything on the
// LAN side runs on the io_context's one thread; NATS's threads only post to it, so a slow or
// absent NATS never holds the LAN up. It must NOT know the command line or how its counters
// are printed.

#include "forwarding.hpp"
#include "headers.hpp"
#include "kv_worker.hpp"
#include "names.hpp"
#include "nats_link.hpp"

#include <racket/racket.hpp>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket_bridge {

/// What a bridge is given.
struct bridge_config {
  std::vector<std::string> nats_urls;
  std::vector<std::string> streams;
  std::string filter = "*";
  std::string site;
  racket::multicast_pool pool;
  std::vector<std::string> interfaces;
  int ttl = 1;
  std::chrono::milliseconds announce_period{5000};
  std::size_t max_message = std::size_t{16} << 20;
  std::size_t max_import_queue = 65536;  ///< NATS messages waiting for the LAN side; more are dropped
};

/// The bridge's own counters beside the forwarding rules' (plain struct, copied out).
struct bridge_counters {
  std::uint64_t nats_published = 0;     ///< messages and tombstones handed to the NATS link
  std::uint64_t export_dropped = 0;     ///< exports dropped: NATS was not connected (or the send queue full)
  std::uint64_t nats_send_failed = 0;   ///< exports the NATS client refused (on the link's sender thread)
  std::uint64_t import_received = 0;    ///< NATS messages received on the bridge's subscriptions
  std::uint64_t import_malformed = 0;   ///< NATS messages or bucket entries refused (name, headers, hash)
  std::uint64_t import_overflow = 0;    ///< NATS messages dropped: max_import_queue were waiting
  std::uint64_t import_failed = 0;      ///< imports the LAN publisher refused (too large, ...)
  std::uint64_t nats_dropped = 0;       ///< messages the NATS client dropped (slow consumer)
  std::uint64_t bucket_entries = 0;     ///< bucket entries read (at start and after reconnects)
  std::uint64_t kv_puts = 0;            ///< bucket puts done
  std::uint64_t kv_deletes = 0;         ///< bucket deletes done
  std::uint64_t kv_errors = 0;          ///< bucket calls that failed
  std::uint64_t kv_pending = 0;         ///< bucket operations waiting (a gauge)
  std::uint64_t disconnects = 0;        ///< NATS connections lost
  std::uint64_t reconnects = 0;         ///< NATS connections regained
  std::uint64_t connected = 0;          ///< 1 while connected (a gauge)
};

template <class F>
void for_each_counter(const bridge_counters& c, F&& f) {
  static_assert(sizeof(bridge_counters) == 16 * sizeof(std::uint64_t), "list every member");
  f(std::string_view("nats_published"), c.nats_published);
  f(std::string_view("export_dropped"), c.export_dropped);
  f(std::string_view("nats_send_failed"), c.nats_send_failed);
  f(std::string_view("import_received"), c.import_received);
  f(std::string_view("import_malformed"), c.import_malformed);
  f(std::string_view("import_overflow"), c.import_overflow);
  f(std::string_view("import_failed"), c.import_failed);
  f(std::string_view("nats_dropped"), c.nats_dropped);
  f(std::string_view("bucket_entries"), c.bucket_entries);
  f(std::string_view("kv_puts"), c.kv_puts);
  f(std::string_view("kv_deletes"), c.kv_deletes);
  f(std::string_view("kv_errors"), c.kv_errors);
  f(std::string_view("kv_pending"), c.kv_pending);
  f(std::string_view("disconnects"), c.disconnects);
  f(std::string_view("reconnects"), c.reconnects);
  f(std::string_view("connected"), c.connected);
}

/// A site's bridge between its LAN and NATS.
class site_bridge {
 public:
  /// What the bridge tells its owner, on the io_context's thread.
  enum class link_event { connected, disconnected, reconnected };
  struct events {
    std::function<void(link_event, const std::string& server)> link;
    std::function<void(const std::string& error)> error;
  };

  /// Opens the LAN side (throws std::system_error on its errors); NATS comes with start().
  site_bridge(asio::io_context& io, bridge_config config, events ev)
      : io_(io),
        config_(std::move(config)),
        events_(std::move(ev)),
        rules_(config_.site),
        publisher_(io, racket::publisher_options{.interfaces = config_.interfaces,
                                                 .ttl = config_.ttl,
                                                 .max_message_size = config_.max_message,
                                                 .announce_period = config_.announce_period,
                                                 .program_name = "bridge"}),
        subscriber_(io, racket::subscriber_options{.interfaces = config_.interfaces,
                                                   .ttl = config_.ttl,
                                                   .announce_period = config_.announce_period}),
        directory_(io, config_.pool, racket::directory_options{.interfaces = config_.interfaces}) {
    rules_.set_own_publisher(publisher_.id());
    for (const auto& name : config_.streams) streams_.emplace(name, racket::stream<racket::byte_view>(name, config_.pool));
  }

  site_bridge(const site_bridge&) = delete;
  site_bridge& operator=(const site_bridge&) = delete;

  ~site_bridge() { stop(); }

  std::uint64_t publisher_id() const noexcept { return publisher_.id(); }

  /// Subscribes on the LAN and on NATS, and connects (in the background if no server answers).
  /// Throws std::runtime_error (a bad URL) or std::system_error (a LAN subscription).
  void start() {
    directory_.set_appear_handler([this](const racket::directory_entry& e) {
      if (e.role == racket::participant_role::publisher && e.program == "bridge") rules_.bridge_heard(e.id);
    });
    directory_.set_disappear_handler([this](const racket::directory_entry& e) {
      if (e.role == racket::participant_role::publisher && e.program == "bridge") rules_.bridge_gone(e.id);
    });
    subscriber_.set_error_handler([this](const std::error_code& ec, std::string_view what) {
      report(std::string(what) + ": " + ec.message());
    });
    for (auto& [name, stream] : streams_) {
      subscriptions_.push_back(subscriber_.subscribe(
          stream, config_.filter, [this](const racket::message<racket::byte_view>& m) { on_lan_message(m); },
          [this](const racket::removal& r) { on_lan_removal(r); }));
    }

    nats_link::events ev;
    ev.up = [this](bool first, const std::string& server) {
      asio::post(io_, [this, first, server] { on_up(first ? link_event::connected : link_event::reconnected, server); });
    };
    ev.down = [this] { asio::post(io_, [this] { on_down(); }); };
    ev.message = [this](natsMsg* m) { on_nats_message(m); };
    ev.error = [this](const std::string& e) { asio::post(io_, [this, e] { report("NATS: " + e); }); };
    link_ = std::make_unique<nats_link>(config_.nats_urls, "racket-bridge " + config_.site, std::move(ev));
    kv_worker::events kev;
    kev.read = [this](const std::string& stream, kv_worker::entries got) {
      asio::post(io_, [this, stream, got = std::move(got)] { on_bucket(stream, got); });
    };
    kev.error = [this](const std::string& e) { asio::post(io_, [this, e] { report("key-value: " + e); }); };
    kv_ = std::make_unique<kv_worker>(link_->connection(), config_.streams, std::move(kev));
    for (const auto& name : config_.streams) {
      link_->subscribe(nats_filter(name, config_.filter), 65536, 64 << 20);
    }
    if (link_->connected_at_start()) on_up(link_event::connected, link_->server_at_start());
  }

  /// Stops both sides: nothing is forwarded afterwards. The LAN publisher closes (imported
  /// values are not withdrawn: they expire at the LAN's subscribers). `done` runs on the
  /// io_context once the subscriber has closed.
  void stop(std::function<void()> done = {}) {
    if (stopped_) return;
    stopped_ = true;
    subscriptions_.clear();
    directory_.close();
    if (link_) link_->close();  // no NATS callback after this
    if (kv_) kv_->stop();
    publisher_.close();
    subscriber_.async_close([done = std::move(done)](std::error_code) {
      if (done) done();
    });
  }

  /// The counters of the rules and of the bridge (call on the io_context's thread).
  const forwarding_counters& rule_counters() const noexcept { return rules_.counters(); }
  bridge_counters counters() const {
    bridge_counters c = counters_;
    c.import_overflow = overflow_.load();
    c.import_received = received_.load();
    if (link_) {
      c.nats_dropped = link_->dropped();
      c.disconnects = link_->disconnects();
      c.reconnects = link_->reconnects();
      c.connected = link_->connected() ? 1 : 0;
      c.nats_send_failed = link_->send_failures();
    }
    if (kv_) {
      c.kv_puts = kv_->puts();
      c.kv_deletes = kv_->deletes();
      c.kv_errors = kv_->errors();
      c.kv_pending = kv_->pending();
    }
    return c;
  }

 private:
  // A NATS message made plain, to cross to the io_context's thread.
  struct incoming {
    std::string stream;
    std::string subject;
    origin from;
    std::string payload;
    std::uint64_t header_hash = 0;
  };

  // --- LAN -> NATS ---------------------------------------------------------------------------

  void on_lan_message(const racket::message<racket::byte_view>& m) {
    if (stopped_) return;
    const std::uint64_t hash = racket::wire::content_hash(m.stream, m.subject, m.payload);
    if (rules_.on_lan_message(m.stream, m.subject, m.publisher_id, hash) != export_verdict::forward) return;
    origin o;
    o.publisher = m.publisher_id;
    o.sequence = m.sequence;
    o.timestamp_ns = m.timestamp_ns;
    o.interval_ms = static_cast<std::uint32_t>(m.interval.count());
    o.site = config_.site;
    o.hash = hash;
    const std::string_view payload(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
    const std::string stream(m.stream);
    const std::string subject(m.subject);
    send(nats_subject(stream, subject), o, payload);
    if (o.interval_ms == 0) return;  // an event: not a last value, not in the bucket
    last_exported_[key(stream, subject)] = {o.publisher, o.sequence};
    std::string entry = encode_entry(o, payload);
    const std::string kv_key = escape_subject(subject);
    lan_values_[{stream, kv_key}] = entry;
    kv_->put(stream, kv_key, std::move(entry));
  }

  void on_lan_removal(const racket::removal& r) {
    if (stopped_) return;
    const lan_removal why = r.reason == racket::removal_reason::withdrawn ? lan_removal::withdrawn
                            : r.reason == racket::removal_reason::expired ? lan_removal::expired
                                                                            : lan_removal::evicted;
    if (rules_.on_lan_removal(r.stream, r.subject, r.publisher_id, why) != export_verdict::forward) return;
    const std::string stream(r.stream);
    const std::string subject(r.subject);
    origin o;
    o.publisher = r.publisher_id;
    o.tombstone = true;
    o.site = config_.site;
    o.timestamp_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    // The removal carries no sequence: the tombstone follows the last value exported.
    if (const auto it = last_exported_.find(key(stream, subject)); it != last_exported_.end()) {
      if (it->second.first == r.publisher_id) o.sequence = it->second.second + 1;
      last_exported_.erase(it);
    }
    send(nats_subject(stream, subject), o, {});
    const std::string kv_key = escape_subject(subject);
    lan_values_.erase({stream, kv_key});
    kv_->erase(stream, kv_key);
  }

  void send(const std::string& nats_subject_name, const origin& o, std::string_view payload) {
    if (link_->publish(nats_subject_name, encode_headers(o), payload)) {
      ++counters_.nats_published;
    } else {
      ++counters_.export_dropped;
    }
  }

  // --- NATS -> LAN ---------------------------------------------------------------------------

  // On a NATS thread: checked, copied and posted (bounded by max_import_queue).
  void on_nats_message(natsMsg* msg) {
    received_.fetch_add(1);
    if (queued_.load() >= config_.max_import_queue) {
      overflow_.fetch_add(1);
      return;
    }
    incoming in;
    bool ok = false;
    if (const auto parsed = parse_nats_subject(natsMsg_GetSubject(msg))) {
      const auto from = decode_headers([msg](std::string_view name) -> std::optional<std::string_view> {
        const std::string n(name);
        const char* value = nullptr;
        if (natsMsgHeader_Get(msg, n.c_str(), &value) != NATS_OK || value == nullptr) return std::nullopt;
        return std::string_view(value);
      });
      if (from) {
        in.stream = parsed->stream;
        in.subject = parsed->subject;
        in.from = *from;
        in.header_hash = from->hash;
        in.payload.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        ok = true;
      }
    }
    queued_.fetch_add(1);
    asio::post(io_, [this, ok, in = std::move(in)]() mutable {
      queued_.fetch_sub(1);
      if (!ok) {
        ++counters_.import_malformed;
        return;
      }
      import(in.stream, in.subject, in.from, in.payload, true);
    });
  }

  void on_bucket(const std::string& stream, const kv_worker::entries& got) {
    if (stopped_) return;
    for (const auto& [kv_key, value] : got) {
      ++counters_.bucket_entries;
      const auto subject = unescape_subject(kv_key);
      const auto entry = decode_entry(value);
      if (!subject || !entry) {
        ++counters_.import_malformed;
        continue;
      }
      import(stream, *subject, entry->from, entry->payload, false);
    }
  }

  // A message or bucket entry, on the io_context's thread: checked against the stream list,
  // Racket's name rules and its hash, decided by the rules, then published or withdrawn.
  void import(const std::string& stream, const std::string& subject, origin o, std::string_view payload,
              bool check_hash) {
    if (stopped_) return;
    const auto s = streams_.find(stream);
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(payload.data()), payload.size());
    if (s == streams_.end() || racket::validate_subject(subject) || (o.tombstone && !payload.empty())) {
      ++counters_.import_malformed;
      return;
    }
    const std::uint64_t hash = racket::wire::content_hash(stream, subject, bytes);
    if (check_hash && !o.tombstone && o.hash != hash) {
      ++counters_.import_malformed;
      return;
    }
    o.hash = o.tombstone ? 0 : hash;
    if (rules_.on_nats_message(stream, subject, o) != import_verdict::deliver) return;
    std::error_code ec;
    if (o.tombstone) {
      publisher_.withdraw(s->second, subject, ec);
    } else {
      publisher_.publish(s->second, subject, bytes, std::chrono::milliseconds(o.interval_ms), ec);
    }
    if (ec) {
      ++counters_.import_failed;
      report("import " + stream + " " + subject + ": " + ec.message());
    }
  }

  // --- the link ------------------------------------------------------------------------------

  void on_up(link_event what, const std::string& server) {
    if (stopped_) return;
    if (events_.link) events_.link(what, server);
    // The buckets are brought up to date with the LAN values this bridge holds (a restarted
    // server without storage lost them), then read back.
    for (const auto& [k, entry] : lan_values_) kv_->put(k.first, k.second, entry);
    kv_->set_up(true);
    kv_->resync();
  }

  void on_down() {
    if (stopped_) return;
    kv_->set_up(false);
    if (events_.link) events_.link(link_event::disconnected, {});
  }

  void report(const std::string& e) {
    if (events_.error && !stopped_) events_.error(e);
  }

  static std::string key(const std::string& stream, const std::string& subject) { return stream + '\0' + subject; }

  asio::io_context& io_;
  bridge_config config_;
  events events_;
  forwarding_rules rules_;
  racket::publisher publisher_;
  racket::subscriber subscriber_;
  racket::directory directory_;
  std::map<std::string, racket::stream<racket::byte_view>> streams_;
  std::vector<racket::subscription> subscriptions_;
  std::unique_ptr<nats_link> link_;
  std::unique_ptr<kv_worker> kv_;
  // The LAN values exported (bucket entries, re-put after a reconnect) and the last exported
  // record of each subject (the sequence a tombstone follows).
  std::map<std::pair<std::string, std::string>, std::string> lan_values_;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> last_exported_;
  bridge_counters counters_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::uint64_t> overflow_{0};
  std::atomic<std::uint64_t> received_{0};
  bool stopped_ = false;
};

}  // namespace racket_bridge
