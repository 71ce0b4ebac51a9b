// SPDX-License-Identifier: MIT
#pragma once

// The JetStream key-value buckets that hold each stream's last values (docs/bridge.md,
// "Names" and "Bucket entries"): bind to a stream's bucket or create it, put a key, delete
// one, read every key. Each call waits for the server (up to the JetStream timeout), so only
// the bridge's key-value thread (kv_worker.hpp) calls them. It must NOT know Racket, what the
// entries hold, or when to call it.

#include "nats_link.hpp"
#include "names.hpp"

#include <nats/nats.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace racket_bridge {

/// The buckets of the bridge's streams, over one connection.
class kv_cache {
 public:
  /// A JetStream context on `conn` (the link's connection), each request waiting at most
  /// `wait_ms`. Throws std::runtime_error.
  kv_cache(natsConnection* conn, std::int64_t wait_ms) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = wait_ms;
    const natsStatus s = natsConnection_JetStream(&js_, conn, &o);
    if (s != NATS_OK) throw std::runtime_error(nats_error("JetStream context", s));
  }

  kv_cache(const kv_cache&) = delete;
  kv_cache& operator=(const kv_cache&) = delete;

  ~kv_cache() {
    forget();
    jsCtx_Destroy(js_);
  }

  /// Drops every bucket handle: the next call binds again (after a reconnect: a restarted
  /// server without storage has lost the buckets, and they are created anew).
  void forget() {
    for (auto& [name, kv] : buckets_) kvStore_Destroy(kv);
    buckets_.clear();
  }

  /// Puts `value` under `key` in `stream`'s bucket. Empty on success, else the error.
  std::string put(const std::string& stream, const std::string& key, std::string_view value) {
    kvStore* kv = nullptr;
    if (auto e = bind(stream, kv); !e.empty()) return e;
    const natsStatus s = kvStore_Put(nullptr, kv, key.c_str(), value.data(), static_cast<int>(value.size()));
    if (s != NATS_OK) return failed("put " + bucket_name(stream) + " " + key, s, stream);
    return {};
  }

  /// Deletes `key` from `stream`'s bucket. Empty on success, else the error.
  std::string erase(const std::string& stream, const std::string& key) {
    kvStore* kv = nullptr;
    if (auto e = bind(stream, kv); !e.empty()) return e;
    const natsStatus s = kvStore_Delete(kv, key.c_str());
    if (s != NATS_OK) return failed("delete " + bucket_name(stream) + " " + key, s, stream);
    return {};
  }

  /// Every key of `stream`'s bucket with its value, into `out` (at most `max_keys`). Empty on
  /// success, else the error.
  std::string read_all(const std::string& stream, std::vector<std::pair<std::string, std::string>>& out,
                       std::size_t max_keys) {
    kvStore* kv = nullptr;
    if (auto e = bind(stream, kv); !e.empty()) return e;
    kvKeysList keys{};
    const natsStatus s = kvStore_Keys(&keys, kv, nullptr);
    if (s == NATS_NOT_FOUND) return {};  // an empty bucket
    if (s != NATS_OK) return failed("keys of " + bucket_name(stream), s, stream);
    std::string error;
    for (int i = 0; i < keys.Count && out.size() < max_keys; ++i) {
      kvEntry* e = nullptr;
      const natsStatus g = kvStore_Get(&e, kv, keys.Keys[i]);
      if (g == NATS_NOT_FOUND) continue;  // deleted meanwhile
      if (g != NATS_OK) {
        error = failed("get " + bucket_name(stream) + " " + keys.Keys[i], g, stream);
        break;
      }
      const auto* data = static_cast<const char*>(kvEntry_Value(e));
      out.emplace_back(keys.Keys[i], std::string(data, static_cast<std::size_t>(kvEntry_ValueLen(e))));
      kvEntry_Destroy(e);
    }
    kvKeysList_Destroy(&keys);
    return error;
  }

 private:
  // The stream's bucket, bound or created (one value per key kept, file storage).
  std::string bind(const std::string& stream, kvStore*& out) {
    if (const auto it = buckets_.find(stream); it != buckets_.end()) {
      out = it->second;
      return {};
    }
    const std::string name = bucket_name(stream);
    kvStore* kv = nullptr;
    natsStatus s = js_KeyValue(&kv, js_, name.c_str());
    if (s == NATS_NOT_FOUND) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = name.c_str();
      cfg.History = 1;
      cfg.StorageType = js_FileStorage;
      cfg.Replicas = 1;
      s = js_CreateKeyValue(&kv, js_, &cfg);
    }
    if (s != NATS_OK) return nats_error("key-value bucket " + name, s);
    buckets_.emplace(stream, kv);
    out = kv;
    return {};
  }

  // A failed call also forgets the bucket's handle: the next one binds again.
  std::string failed(const std::string& what, natsStatus s, const std::string& stream) {
    if (const auto it = buckets_.find(stream); it != buckets_.end()) {
      kvStore_Destroy(it->second);
      buckets_.erase(it);
    }
    return nats_error(what, s);
  }

  jsCtx* js_ = nullptr;
  std::map<std::string, kvStore*> buckets_;
};

}  // namespace racket_bridge
