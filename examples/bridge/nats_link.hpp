// SPDX-License-Identifier: MIT
#pragma once

// The bridge's connection to NATS over the NATS C client (libnats): connect (in the background
// when no server answers yet), reconnect forever with a wait of 1 s, tell the bridge when the
// link comes up, goes down and comes back, publish a message with headers, and subscribe. It
// must NOT know Racket, the key-value buckets or what the bridge forwards. Its callbacks run on
// the client's threads.
//
// A publish never waits: the client's calls take the connection's lock, which its reconnect
// thread may hold for a connect timeout, so publishes go through a bounded queue to a sender
// thread of the link's own; while disconnected, or with the queue full, a publish is refused
// at once and the caller counts it. The link's state is kept in atomics, never asked of the
// client.

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
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
    std::function<void(bool first, const std::string& server)> up;  ///< connected (first: the first time), or reconnected
    std::function<void()> down;               ///< disconnected (it goes on trying)
    std::function<void(natsMsg*)> message;    ///< a message of a subscription (not owned: do not destroy)
    std::function<void(const std::string&)> error;  ///< an asynchronous error (slow consumer, ...)
  };

  /// Connects to `urls` (tried in the order given). When none answers, the link keeps trying in
  /// the background and `events.up(true)` tells when it is up. Throws std::runtime_error on a
  /// bad URL or option.
  nats_link(const std::vector<std::string>& urls, const std::string& name, events ev,
            std::size_t max_queued_bytes = std::size_t{16} << 20)
      : events_(std::move(ev)), max_queued_bytes_(max_queued_bytes) {
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
    if (s != NATS_NOT_YET_CONNECTED) {  // else on_first comes later
      check(s, "connect to NATS");
      server_at_start_ = connected_url(conn_);
      up_.store(true);
      first_ = true;
    }
    sender_ = std::thread([this] { send_loop(); });
  }

  nats_link(const nats_link&) = delete;
  nats_link& operator=(const nats_link&) = delete;

  /// Closes the connection: no callback runs after this returns.
  ~nats_link() { close(); }

  void close() {
    closing_.store(true);  // a close is not a disconnection; no event is passed on from now
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (sender_.joinable()) sender_.join();
    if (conn_ != nullptr) {
      // Closing the connection closes its subscriptions; each one's on-complete callback
      // runs once its message handler has returned for the last time (bounded wait).
      natsConnection_Close(conn_);
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return completed_ >= subs_.size(); });
    }
    for (natsSubscription* s : subs_) natsSubscription_Destroy(s);
    subs_.clear();
    if (conn_ != nullptr) {
      natsConnection_Destroy(conn_);
      conn_ = nullptr;
    }
  }

  /// True when the constructor found a server at once (no `up(true)` event follows).
  bool connected_at_start() const noexcept { return first_; }

  /// The server the constructor connected to.
  const std::string& server_at_start() const noexcept { return server_at_start_; }

  /// Connected now (as the client's callbacks last said).
  bool connected() const noexcept { return up_.load() && !closing_.load(); }

  /// Disconnections and reconnections seen so far.
  std::uint64_t disconnects() const noexcept { return disconnects_.load(); }
  std::uint64_t reconnects() const noexcept { return reconnects_.load(); }

  /// Queues `payload` for `subject` with `headers` (name, value; an empty value is left out)
  /// for the sender thread. False, at once, when not connected or the queue is full.
  template <class Headers>
  bool publish(const std::string& subject, const Headers& headers, std::string_view payload) {
    if (!connected()) return false;
    outgoing m;
    m.subject = subject;
    m.payload.assign(payload);
    std::size_t bytes = subject.size() + payload.size() + 64;
    for (const auto& [name, value] : headers) {
      if (value.empty()) continue;
      m.headers.emplace_back(std::string(name), value);
      bytes += name.size() + value.size();
    }
    {
      std::lock_guard lock(mutex_);
      if (queued_bytes_ + bytes > max_queued_bytes_) return false;
      queued_bytes_ += bytes;
      m.bytes = bytes;
      queue_.push_back(std::move(m));
    }
    cv_.notify_one();
    return true;
  }

  /// Publishes the client refused (on the sender thread), and publishes queued now.
  std::uint64_t send_failures() const noexcept { return send_failures_.load(); }

  /// Subscribes to `subject` (delivered to `events.message`), with the client's pending
  /// limits raised to `max_messages` / `max_bytes` (past them the client drops and reports
  /// a slow consumer). Made while not yet connected, it is sent on connect. Throws.
  void subscribe(const std::string& subject, int max_messages, int max_bytes) {
    natsSubscription* sub = nullptr;
    check(natsConnection_Subscribe(&sub, conn_, subject.c_str(), &nats_link::on_message, this),
          "subscribe to " + subject);
    {
      std::lock_guard lock(mutex_);
      subs_.push_back(sub);
    }
    natsSubscription_SetPendingLimits(sub, max_messages, max_bytes);
    natsSubscription_SetOnCompleteCB(sub, &nats_link::on_complete, this);
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

  struct outgoing {
    std::string subject;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string payload;
    std::size_t bytes = 0;
  };

  // The sender thread: hands queued messages to the client (which may wait for its lock).
  void send_loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      outgoing m = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= m.bytes;
      lock.unlock();
      if (!send(m)) send_failures_.fetch_add(1);
      lock.lock();
    }
  }

  bool send(const outgoing& m) {
    natsMsg* msg = nullptr;
    if (natsMsg_Create(&msg, m.subject.c_str(), nullptr, m.payload.data(), static_cast<int>(m.payload.size())) != NATS_OK)
      return false;
    const std::unique_ptr<natsMsg, void (*)(natsMsg*)> guard(msg, natsMsg_Destroy);
    for (const auto& [name, value] : m.headers) {
      if (natsMsgHeader_Set(msg, name.c_str(), value.c_str()) != NATS_OK) return false;
    }
    return natsConnection_PublishMsg(conn_, msg) == NATS_OK;
  }

  static std::string connected_url(natsConnection* nc) {
    char buf[256] = {};
    if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return {};
    return buf;
  }

  static void on_complete(void* self) {
    auto* l = static_cast<nats_link*>(self);
    {
      std::lock_guard lock(l->mutex_);
      ++l->completed_;
    }
    l->cv_.notify_all();
  }

  static void on_first(natsConnection* nc, void* self) {
    auto* l = static_cast<nats_link*>(self);
    l->up_.store(true);
    if (l->closing_.load()) return;
    if (l->events_.up) l->events_.up(true, connected_url(nc));
  }
  static void on_reconnected(natsConnection* nc, void* self) {
    auto* l = static_cast<nats_link*>(self);
    l->up_.store(true);
    l->reconnects_.fetch_add(1);
    if (l->closing_.load()) return;
    if (l->events_.up) l->events_.up(false, connected_url(nc));
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
    if (!l->closing_.load() && l->events_.error) l->events_.error(natsStatus_GetText(err));
  }
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    auto* l = static_cast<nats_link*>(self);
    if (!l->closing_.load() && l->events_.message) l->events_.message(msg);
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
  std::atomic<std::uint64_t> send_failures_{0};
  std::string server_at_start_;
  std::size_t max_queued_bytes_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;
  std::size_t completed_ = 0;  // subscriptions whose handler has returned for the last time
  std::thread sender_;
};

}  // namespace racket_bridge
