// SPDX-License-Identifier: MIT
#pragma once

// The bridge's key-value thread: the bucket calls wait for the server, so the LAN side hands
// them here and never waits. Puts and deletes are coalesced per (stream, key) (only the newest
// matters; memory is bounded by the subjects, not by the rate), held while NATS is down and
// run once it is up, and retried every second while JetStream does not answer; a resync (at
// start and after every reconnect) binds the buckets again and reads them, handing every entry
// to the owner, and reads them twice more, 2 s apart: a peer's put that failed while a server
// was down (retried every second) may land in the bucket after the first read. It must NOT know Racket, the entries' format
// or NATS's connection events (the owner says when the link is up).

#include "kv_cache.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace racket_bridge {

/// Runs a kv_cache's calls on a thread of its own.
class kv_worker {
 public:
  /// One stream's bucket as read by a resync: (key, value) pairs.
  using entries = std::vector<std::pair<std::string, std::string>>;

  struct events {
    std::function<void(const std::string& stream, entries)> read;  ///< a bucket read by a resync
    std::function<void(const std::string& error)> error;            ///< a call that failed
  };

  /// Starts the thread. `streams` are the buckets a resync reads.
  kv_worker(natsConnection* conn, std::vector<std::string> streams, events ev, std::size_t max_keys = 1'000'000)
      : cache_(conn, 3000), streams_(std::move(streams)), events_(std::move(ev)), max_keys_(max_keys) {
    thread_ = std::thread([this] { run(); });
  }

  kv_worker(const kv_worker&) = delete;
  kv_worker& operator=(const kv_worker&) = delete;

  ~kv_worker() { stop(); }

  /// Ends the thread after the call under way (pending operations are dropped).
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// Whether NATS is up: operations wait while it is not.
  void set_up(bool up) {
    {
      std::lock_guard lock(mutex_);
      up_ = up;
    }
    cv_.notify_all();
  }

  /// Puts `value` under `key` (replacing a pending put or delete of the same key).
  void put(const std::string& stream, const std::string& key, std::string value) {
    queue(stream, key, std::move(value));
  }

  /// Deletes `key` (replacing a pending put of the same key).
  void erase(const std::string& stream, const std::string& key) { queue(stream, key, std::nullopt); }

  /// Binds every bucket again and reads it, after the pending operations.
  void resync() {
    {
      std::lock_guard lock(mutex_);
      resync_ = true;
      followups_ = 2;
    }
    cv_.notify_all();
  }

  /// Counters (read from any thread).
  std::uint64_t puts() const noexcept { return puts_.load(); }
  std::uint64_t deletes() const noexcept { return deletes_.load(); }
  std::uint64_t errors() const noexcept { return errors_.load(); }
  std::uint64_t dropped() const noexcept { return dropped_.load(); }
  std::uint64_t resyncs() const noexcept { return resyncs_.load(); }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

 private:
  using key_type = std::pair<std::string, std::string>;

  void queue(const std::string& stream, const std::string& key, std::optional<std::string> value) {
    {
      std::lock_guard lock(mutex_);
      auto k = key_type(stream, key);
      const auto it = pending_.find(k);
      if (it != pending_.end()) {
        it->second = std::move(value);
      } else if (pending_.size() < max_keys_) {
        pending_.emplace(std::move(k), std::move(value));
      } else {
        dropped_.fetch_add(1);
        return;
      }
    }
    cv_.notify_all();
  }

  void run() {
    std::unique_lock lock(mutex_);
    const auto ready = [this] { return stopping_ || (up_ && (!pending_.empty() || resync_)); };
    while (true) {
      if (followups_ > 0 && up_) {
        // The follow-up reads of a resync: one 2 s after the last round, unless work comes first.
        if (!cv_.wait_for(lock, std::chrono::seconds(2), ready) && up_) {
          resync_ = true;
          --followups_;
        }
      } else {
        cv_.wait(lock, ready);
      }
      if (stopping_) return;
      if (!ready()) continue;
      const bool resync = std::exchange(resync_, false);
      auto batch = std::exchange(pending_, {});
      lock.unlock();
      if (resync) cache_.forget();
      bool failed = false;
      for (auto it = batch.begin(); it != batch.end(); ++it) {
        const auto& [k, value] = *it;
        const std::string e = value ? cache_.put(k.first, k.second, *value) : cache_.erase(k.first, k.second);
        if (!e.empty()) {
          // JetStream is not answering (a server restarting, a cluster without its leader):
          // this operation and the rest wait for the next round, unless newer ones came.
          fail(e);
          failed = true;
          requeue(batch, it);
          break;
        }
        succeeded();
        (value ? puts_ : deletes_).fetch_add(1);
        if (stopped()) return;
      }
      if (resync && !failed) {
        for (const auto& stream : streams_) {
          entries got;
          const std::string e = cache_.read_all(stream, got, max_keys_);
          if (!e.empty()) {
            fail(e);
            failed = true;
          } else {
            succeeded();
          }
          if (events_.read) events_.read(stream, std::move(got));
          if (stopped()) return;
        }
        resyncs_.fetch_add(1);
      }
      lock.lock();
      if (failed) {
        if (resync) resync_ = true;
        // Try again in 1 s.
        cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      }
    }
  }

  // Puts the operations from `from` on back into the queue, unless a newer one of the same
  // key came meanwhile.
  void requeue(std::map<key_type, std::optional<std::string>>& batch,
               std::map<key_type, std::optional<std::string>>::iterator from) {
    std::lock_guard lock(mutex_);
    for (auto it = from; it != batch.end(); ++it) pending_.emplace(it->first, std::move(it->second));
  }

  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  // Every failure is counted; only the first of a run of them is reported.
  void fail(const std::string& e) {
    errors_.fetch_add(1);
    if (!failing_ && events_.error) events_.error(e + " (retried every second; reported again after a success)");
    failing_ = true;
  }
  void succeeded() { failing_ = false; }

  kv_cache cache_;
  std::vector<std::string> streams_;
  events events_;
  std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<key_type, std::optional<std::string>> pending_;
  bool resync_ = false;
  int followups_ = 0;  // reads still to come after the last resync
  bool up_ = false;
  bool stopping_ = false;
  bool failing_ = false;  // the worker thread's own
  std::atomic<std::uint64_t> puts_{0}, deletes_{0}, errors_{0}, dropped_{0}, resyncs_{0};
  std::thread thread_;
};

}  // namespace racket_bridge
