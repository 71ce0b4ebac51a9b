// SPDX-License-Identifier: MIT
#pragma once

// The receiving side of keyed streams: opens a sealed datagram (kind 4) with the key its key
// id names, after the freshness check and the sender's replay window (docs/security.md,
// "Replay protection"), and says which streams the opening key may speak for. Keeps a bounded
// table of senders (their subkeys and replay windows); a sender enters it only once one of
// its datagrams has proved authentic, so datagrams forged without a key cost one key
// derivation and one failed open each, and never memory. One per publisher or subscriber,
// used under its owner's lock or strand. It must NOT know what the inner datagram holds,
// sockets, or clocks (the caller gives the time).

#include "racket/error.hpp"
#include "racket/security/key_ring.hpp"
#include "racket/security/replay_window.hpp"
#include "racket/security/sealer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace racket::detail {

class datagram_opener {
 public:
  enum class verdict : unsigned char {
    opened,         // authentic, fresh, not seen before: the inner datagram is in `inner`
    malformed,      // the sealed header does not decode
    no_key,         // no key of the ring has this key id
    not_authentic,  // no key with this id opens it: forged, changed, or another key
    replayed,       // this sender's counter was accepted before, or is too far behind
    not_fresh,      // its timestamp is outside the freshness window
  };

  struct result {
    verdict what = verdict::malformed;
    std::span<const std::byte> inner;  // when opened: in the caller's `out`
    std::uint32_t key = 0;             // when opened: which key (for `covers`)
    std::uint32_t key_id = 0;          // unless malformed: the key id the datagram names
  };

  // `freshness_ns`: how far a datagram's timestamp may be from now, either way.
  // `max_senders`: senders remembered (their windows); past it the one heard longest ago goes.
  datagram_opener(const key_ring& ring, std::uint64_t freshness_ns, std::size_t max_senders)
      : freshness_ns_(freshness_ns), max_senders_(std::max<std::size_t>(max_senders, 1)) {
    rekey(ring);
  }

  // From now on, open with `ring`'s accepted keys (a rotation without a restart). The senders
  // of a key that stays keep their replay windows; those of a key that left are forgotten
  // (nothing under that key opens any more).
  void rekey(const key_ring& ring) {
    std::vector<key_entry> keys;
    std::set<std::string, std::less<>> keyed;
    ring.for_each([&](std::string_view name, const key_ring::stream_keys& k) {
      keyed.emplace(name);
      for (const stream_key& key : k.accepted) {
        auto it = std::find_if(keys.begin(), keys.end(), [&](const key_entry& e) { return e.key == key; });
        if (it == keys.end()) {
          keys.push_back(key_entry{key, key_id_of(key), {}});
          it = keys.end() - 1;
        }
        it->streams.emplace_back(name);
      }
    });
    std::unordered_map<slot_key, sender, slot_hash> senders;
    for (auto& entry : senders_) {
      const stream_key& was = keys_[entry.first.key].key;
      const auto it = std::find_if(keys.begin(), keys.end(), [&](const key_entry& e) { return e.key == was; });
      if (it != keys.end())
        senders.emplace(slot_key{entry.first.sender, static_cast<std::uint32_t>(it - keys.begin())}, std::move(entry.second));
    }
    keys_ = std::move(keys);
    keyed_ = std::move(keyed);
    senders_ = std::move(senders);
  }

  datagram_opener(const datagram_opener&) = delete;
  datagram_opener& operator=(const datagram_opener&) = delete;

  // Whether `stream` is keyed: its clear datagrams are refused.
  bool keyed(std::string_view stream) const { return keyed_.find(stream) != keyed_.end(); }

  // Whether the key that opened a datagram (result::key) is one of `stream`'s.
  bool covers(std::uint32_t key, std::string_view stream) const {
    const auto& names = keys_[key].streams;
    return std::find(names.begin(), names.end(), stream) != names.end();
  }

  // Calls f(std::string_view stream) for each stream of the keys named `key_id`.
  template <class F>
  void for_each_stream_of(std::uint32_t key_id, F&& f) const {
    for (const key_entry& k : keys_)
      if (k.id == key_id)
        for (const std::string& name : k.streams) f(std::string_view(name));
  }

  std::size_t senders() const noexcept { return senders_.size(); }

  // Opens `bytes` into `out` (at least bytes.size() - 52 bytes, not overlapping) at `now_ns`
  // (the receiver's wall clock, ns since 1970).
  result open(std::span<const std::byte> bytes, std::uint64_t now_ns, std::span<std::byte> out) {
    std::error_code ec;
    const wire::sealed_header h = wire::decode_sealed_header(bytes, ec);
    if (ec) return {verdict::malformed, {}, 0};
    const std::uint64_t age = now_ns > h.timestamp_ns ? now_ns - h.timestamp_ns : h.timestamp_ns - now_ns;
    if (age > freshness_ns_) return {verdict::not_fresh, {}, 0, h.key_id};
    bool known_id = false;
    for (std::uint32_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i].id != h.key_id) continue;
      known_id = true;
      const slot_key sk{h.sender_id, i};
      if (auto it = senders_.find(sk); it != senders_.end()) {
        sender& s = it->second;
        if (s.window.check(h.counter) != replay_window::verdict::fresh) return {verdict::replayed, {}, 0, h.key_id};
        const auto inner = s.key->open(bytes, h, out, ec);
        if (ec) continue;  // another key with this id may open it
        s.window.accept(h.counter);
        s.last_ns = now_ns;
        return {verdict::opened, inner, i, h.key_id};
      }
      auto key = std::make_unique<sender_key>(keys_[i].key, h.sender_id);
      const auto inner = key->open(bytes, h, out, ec);
      if (ec) continue;
      if (senders_.size() >= max_senders_) evict_one();
      sender& s = senders_.emplace(sk, sender{std::move(key), {}, now_ns}).first->second;
      s.window.accept(h.counter);
      return {verdict::opened, inner, i, h.key_id};
    }
    return {known_id ? verdict::not_authentic : verdict::no_key, {}, 0, h.key_id};
  }

 private:
  struct key_entry {
    stream_key key;
    std::uint32_t id;
    std::vector<std::string> streams;
  };
  struct slot_key {
    std::uint64_t sender;
    std::uint32_t key;
    friend bool operator==(const slot_key&, const slot_key&) = default;
  };
  struct slot_hash {
    std::size_t operator()(const slot_key& k) const noexcept {
      return static_cast<std::size_t>(k.sender * 0x9E3779B97F4A7C15ull ^ k.key);
    }
  };
  struct sender {
    std::unique_ptr<sender_key> key;
    replay_window window;
    std::uint64_t last_ns = 0;
  };

  // The sender heard longest ago goes (only authentic senders are in the table, so only key
  // holders can make it churn).
  void evict_one() {
    auto oldest = senders_.begin();
    for (auto it = senders_.begin(); it != senders_.end(); ++it)
      if (it->second.last_ns < oldest->second.last_ns) oldest = it;
    if (oldest != senders_.end()) senders_.erase(oldest);
  }

  std::uint64_t freshness_ns_;
  std::size_t max_senders_;
  std::vector<key_entry> keys_;
  std::set<std::string, std::less<>> keyed_;
  std::unordered_map<slot_key, sender, slot_hash> senders_;
};

}  // namespace racket::detail
