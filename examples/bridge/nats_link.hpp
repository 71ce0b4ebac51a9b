// SPDX-License-Identifier: MIT
#pragma once

// The bridge's connection to NATS over the NATS C client (libnats): connect (in the background
// when no server answers yet), reconnect forever with a wait of 1 s, tell the bridge when the
// link comes up, goes down and comes back, publish a message with headers (never waiting:
// while disconnected a publish is refused and the caller counts it), and subscribe. It must NOT
// know Racket, the key-value buckets or what the bridge forwards. Its callbacks run on the
// client's threads.

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket_bridge {

/// The default server when neither --nats nor NATS_URL names one.
inline constexpr std::string_view default_nats_url = "nats://127.0.0.1:4222";

/// "what: the client's text" for a failed libnats call.
inline std::string nats_error(const std::string& what, natsStatus s) {
  std::string out = what + ": " + natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && std::string_view(last) != natsStatus_GetText(s)) {
    out += " (";
    out += last;
    out += ')';
  }
  return out;
}

/// One connection to a NATS server or cluster.
class nats_link {
 public:
  /// What the link tells its owner, on the client's threads.
  struct events {
    std::function<void(bool first)> up;       ///< connected (first: the first time), or reconnected
    std::function<void()> down;               ///< disconnected (it goes on trying)
    std::function<void(natsMsg*)> message;    ///< a message of a subscription (not owned: do not destroy)
    std::function<void(const std::string&)> error;  ///< an asynchronous error (slow consumer, ...)
  };

  /// Connects to `urls` (tried in the order given). When none answers, the link keeps trying in
  /// the background and `events.up(true)` tells when it is up. Throws std::runtime_error on a
  /// bad URL or option.
  nats_link(const std::vector<std::string>& urls, const std::string& name, events ev) : events_(std::move(ev)) {
    natsOptions* opts = nullptr;
    check(natsOptions_Create(&opts), "nats options");
    const std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
    std::vector<const char*> servers;
    for (const auto& u : urls) servers.push_back(u.c_str());
    check(natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size())), "--nats");
    check(natsOptions_SetNoRandomize(opts, true), "nats options");
    check(natsOptions_SetName(opts, name.c_str()), "nats options");
    check(natsOptions_SetTimeout(opts, 2000), "nats options");
    check(natsOptions_SetMaxReconnect(opts, -1), "nats options");
    check(natsOptions_SetReconnectWait(opts, 1000), "nats options");
    // Exports are refused while disconnected (status checked first); what slips in between
    // the check and the disconnect is bounded by this buffer.
    check(natsOptions_SetReconnectBufSize(opts, 256 * 1024), "nats options");
    check(natsOptions_SetPingInterval(opts, 2000), "nats options");
    check(natsOptions_SetMaxPingsOut(opts, 2), "nats options");
    check(natsOptions_SetDisconnectedCB(opts, &nats_link::on_down, this), "nats options");
    check(natsOptions_SetReconnectedCB(opts, &nats_link::on_reconnected, this), "nats options");
    check(natsOptions_SetErrorHandler(opts, &nats_link::on_error, this), "nats options");
    check(natsOptions_SetRetryOnFailedConnect(opts, true, &nats_link::on_first, this), "nats options");
    const natsStatus s = natsConnection_Connect(&conn_, opts);
    if (s == NATS_NOT_YET_CONNECTED) return;  // on_first comes later
    check(s, "connect to NATS");
    up_.store(true);
    first_ = true;
  }

  nats_link(const nats_link&) = delete;
  nats_link& operator=(const nats_link&) = delete;

  /// Closes the connection: no callback runs after this returns.
  ~nats_link() { close(); }

  void close() {
    closing_.store(true);  // a close is not a disconnection
    for (natsSubscription* s : subs_) natsSubscription_Destroy(s);
    subs_.clear();
    if (conn_ != nullptr) {
      natsConnection_Close(conn_);
      natsConnection_Destroy(conn_);
      conn_ = nullptr;
    }
  }

  /// True when the constructor found a server at once (no `up(true)` event follows).
  bool connected_at_start() const noexcept { return first_; }

  /// Connected now.
  bool connected() const noexcept { return conn_ != nullptr && natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED; }

  /// The server connected to ("" when none).
  std::string server() const {
    char buf[256] = {};
    if (conn_ == nullptr || natsConnection_GetConnectedUrl(conn_, buf, sizeof buf) != NATS_OK) return {};
    return buf;
  }

  /// Disconnections and reconnections seen so far.
  std::uint64_t disconnects() const noexcept { return disconnects_.load(); }
  std::uint64_t reconnects() const noexcept { return reconnects_.load(); }

  /// Publishes `payload` on `subject` with `headers` (name, value; an empty value is left
  /// out). False, at once, when not connected or the client refused it.
  template <class Headers>
  bool publish(const std::string& subject, const Headers& headers, std::string_view payload) {
    if (!connected()) return false;
    natsMsg* msg = nullptr;
    if (natsMsg_Create(&msg, subject.c_str(), nullptr, payload.data(), static_cast<int>(payload.size())) != NATS_OK)
      return false;
    const std::unique_ptr<natsMsg, void (*)(natsMsg*)> guard(msg, natsMsg_Destroy);
    for (const auto& [name, value] : headers) {
      if (value.empty()) continue;
      const std::string n(name);
      if (natsMsgHeader_Set(msg, n.c_str(), value.c_str()) != NATS_OK) return false;
    }
    return natsConnection_PublishMsg(conn_, msg) == NATS_OK;
  }

  /// Subscribes to `subject` (delivered to `events.message`), with the client's pending
  /// limits raised to `max_messages` / `max_bytes` (past them the client drops and reports
  /// a slow consumer). Made while not yet connected, it is sent on connect. Throws.
  void subscribe(const std::string& subject, int max_messages, int max_bytes) {
    natsSubscription* sub = nullptr;
    check(natsConnection_Subscribe(&sub, conn_, subject.c_str(), &nats_link::on_message, this),
          "subscribe to " + subject);
    subs_.push_back(sub);
    natsSubscription_SetPendingLimits(sub, max_messages, max_bytes);
  }

  /// Messages the client dropped (slow consumer), over every subscription.
  std::uint64_t dropped() const {
    std::uint64_t total = 0;
    for (natsSubscription* s : subs_) {
      int64_t n = 0;
      if (natsSubscription_GetDropped(s, &n) == NATS_OK && n > 0) total += static_cast<std::uint64_t>(n);
    }
    return total;
  }

  /// The connection, for a JetStream context (kv_cache).
  natsConnection* connection() const noexcept { return conn_; }

 private:
  static void check(natsStatus s, const std::string& what) {
    if (s != NATS_OK) throw std::runtime_error(nats_error(what, s));
  }

  static void on_first(natsConnection*, void* self) {
    auto* l = static_cast<nats_link*>(self);
    l->up_.store(true);
    if (l->events_.up) l->events_.up(true);
  }
  static void on_reconnected(natsConnection*, void* self) {
    auto* l = static_cast<nats_link*>(self);
    l->up_.store(true);
    l->reconnects_.fetch_add(1);
    if (l->events_.up) l->events_.up(false);
  }
  static void on_down(natsConnection*, void* self) {
    auto* l = static_cast<nats_link*>(self);
    // The client also calls this when a first connect attempt fails: only a link that was up
    // goes down.
    if (!l->up_.exchange(false) || l->closing_.load()) return;
    l->disconnects_.fetch_add(1);
    if (l->events_.down) l->events_.down();
  }
  static void on_error(natsConnection*, natsSubscription*, natsStatus err, void* self) {
    auto* l = static_cast<nats_link*>(self);
    if (l->events_.error) l->events_.error(natsStatus_GetText(err));
  }
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    auto* l = static_cast<nats_link*>(self);
    if (l->events_.message) l->events_.message(msg);
    natsMsg_Destroy(msg);
  }

  events events_;
  natsConnection* conn_ = nullptr;
  std::vector<natsSubscription*> subs_;
  std::atomic<bool> up_{false};
  std::atomic<bool> closing_{false};
  bool first_ = false;
  std::atomic<std::uint64_t> disconnects_{0};
  std::atomic<std::uint64_t> reconnects_{0};
};

}  // namespace racket_bridge
