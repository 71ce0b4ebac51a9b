// SPDX-License-Identifier: MIT
#pragma once

// The sending side of keyed streams: seals each outgoing datagram (data, fragment or request)
// of a keyed stream with the stream's sending key, under this sender's id and counter
// (docs/security.md, "Sealed datagram"). One per publisher or subscriber, used on its
// executor. It must NOT know what the datagram holds beyond the stream name at its fixed
// offset, sockets, or time (the caller gives the timestamp).

#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/security/key_ring.hpp"
#include "racket/security/sealer.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket::detail {

// The stream name of a datagram of kind 1 (data, fragments) or 2 (request): both carry its
// length at offset 16 and the name after it. Empty for anything else or a datagram too short.
inline std::string_view datagram_stream(std::span<const std::byte> d) noexcept {
  if (d.size() < 18) return {};
  const auto kind = std::to_integer<unsigned>(d[5]);
  if (kind != 1 && kind != 2) return {};
  const std::size_t n = std::to_integer<std::size_t>(d[16]);
  if (n == 0 || d.size() < 17 + n) return {};
  return {reinterpret_cast<const char*>(d.data() + 17), n};
}

class datagram_sealer {
 public:
  // Throws std::system_error: `cipher_unavailable` when `p` needs AES-256-GCM and this CPU
  // has no AES-NI.
  datagram_sealer(const key_ring& ring, std::uint64_t sender_id, protection p) : sender_id_(sender_id) {
    if (aes256gcm_available()) {
      suite_ = p == protection::authenticate_only ? wire::seal_suite::aes256gcm_authenticate_only
                                                  : wire::seal_suite::aes256gcm;
    } else if (p == protection::authenticate_only) {
      throw std::system_error(make_error_code(errc::cipher_unavailable),
                              "protection::authenticate_only needs AES-256-GCM, which this CPU cannot run (no AES-NI)");
    } else {
      suite_ = wire::seal_suite::xchacha20poly1305;
    }
    rekey(ring);
  }

  // From now on, seal with `ring`'s keys (a rotation without a restart). Every sending key
  // used keeps its counter for the sealer's life, also one that leaves the ring and comes
  // back: no nonce ever repeats under a key (a few dozen bytes per key ever used).
  void rekey(const key_ring& ring) {
    streams_.clear();
    last_name_ = {};
    last_ = nullptr;
    ring.for_each([&](std::string_view name, const key_ring::stream_keys& k) {
      sender* s = nullptr;
      if (k.sending) {
        // Streams sharing a key share its subkey, so they share one counter: a nonce never
        // repeats under a subkey.
        for (auto& existing : senders_)
          if (existing->key_copy == *k.sending) s = existing.get();
        if (s == nullptr) {
          senders_.push_back(std::make_unique<sender>(*k.sending, sender_id_));
          s = senders_.back().get();
        }
      }
      streams_.emplace(std::string(name), s);
    });
  }

  datagram_sealer(const datagram_sealer&) = delete;
  datagram_sealer& operator=(const datagram_sealer&) = delete;

  wire::seal_suite suite() const noexcept { return suite_; }

  // Whether datagrams of `stream` are sealed.
  bool keyed(std::string_view stream) const { return streams_.find(stream) != streams_.end(); }

  // Whether `stream` is keyed but has no key to seal with (accepted keys only).
  bool mute(std::string_view stream) const {
    const auto it = streams_.find(stream);
    return it != streams_.end() && it->second == nullptr;
  }

  // `inner` sealed into `out` (at least inner.size() + 52 bytes) when its stream is keyed;
  // `inner` itself when not. Empty with `ec` when the stream is keyed without a sending key
  // (`invalid_key`): such a datagram must not leave in clear.
  std::span<const std::byte> seal(std::span<const std::byte> inner, std::span<std::byte> out, std::uint64_t now_ns,
                                  std::error_code& ec) {
    ec.clear();
    const std::string_view name = datagram_stream(inner);
    sender* s = nullptr;
    if (!name.empty() && name == last_name_) {
      s = last_;
    } else {
      const auto it = name.empty() ? streams_.end() : streams_.find(name);
      if (it == streams_.end()) return inner;  // not keyed (or an announcement: never of a keyed stream)
      last_name_ = it->first;
      last_ = s = it->second;
    }
    if (s == nullptr) {
      ec = make_error_code(errc::invalid_key);
      return {};
    }
    const std::size_t n = s->key.seal(out, inner, suite_, ++s->counter, now_ns, ec);
    if (ec) return {};
    return {out.data(), n};
  }

 private:
  struct sender {
    sender(const stream_key& k, std::uint64_t id) : key_copy(k), key(k, id) {}
    stream_key key_copy;  // to find streams that share it
    sender_key key;
    std::uint64_t counter = 0;
  };

  std::uint64_t sender_id_;
  wire::seal_suite suite_ = wire::seal_suite::aes256gcm;
  std::vector<std::unique_ptr<sender>> senders_;  // every sending key used, with its counter
  std::map<std::string, sender*, std::less<>> streams_;  // null: keyed without a sending key
  std::string_view last_name_;                             // the last stream sealed (a key of streams_)
  sender* last_ = nullptr;
};

}  // namespace racket::detail
