// SPDX-License-Identifier: MIT
#pragma once

// racket::key_ring: which streams are keyed, with which keys (docs/security.md, "Stream
// keys"): per stream name, the key its datagrams are sent with and the keys accepted from
// others, so keys rotate without downtime. Plain data, no cryptography: it must NOT know
// libsodium, the wire or sockets (the publisher and subscriber seal and open with it).

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "racket/error.hpp"
#include "racket/security/stream_key.hpp"
#include "racket/stream_name.hpp"

namespace racket {

/// How a keyed stream's datagrams are protected (docs/security.md, "The AEAD, measured").
enum class protection : unsigned char {
  /// Encrypted and authenticated: AES-256-GCM where the CPU has AES-NI, XChaCha20-Poly1305
  /// otherwise. Nobody without the key reads or forges a value.
  encrypt,
  /// Authenticated only (AES-256-GCM over the clear datagram; needs AES-NI): anyone reads the
  /// values, nobody without the key forges or replays one. 2-3 times cheaper than `encrypt`.
  authenticate_only,
};

/// The keys of the streams a publisher or subscriber protects: for each keyed stream, the key
/// its datagrams are sealed with (`add`) and every key accepted from others (`add` and
/// `accept`). A stream the ring does not name is not keyed. Give it through
/// `publisher_options::keys` / `subscriber_options::keys`. A value type; not thread-safe.
///
/// Rotating a stream's key without downtime (docs/security.md, "Stream keys"):
/// `accept(stream, new_key)` on every subscriber and publisher first; then `add(stream,
/// new_key)` on the publishers (they send with it, the old one stays accepted); then
/// `remove(stream, old_key)` everywhere. Each step reaches running publishers and subscribers
/// through their `set_keys(ring)`.
///
/// ```cpp
/// racket::key_ring keys;
/// keys.add("plant", racket::stream_key::parse(text_of_key_file));
/// racket::subscriber sub(io, pool, {.keys = keys});
/// ```
class key_ring {
 public:
  /// The keys of one stream.
  struct stream_keys {
    std::optional<stream_key> sending;  ///< sealed with; empty: accepted keys only
    std::vector<stream_key> accepted;   ///< opened with (the sending key among them)
  };

  /// `key` becomes the key `stream`'s datagrams are sealed with, and is accepted; keys added
  /// before stay accepted until `remove`d. An invalid stream name is `errc::invalid_stream_name`.
  key_ring& add(std::string_view stream, const stream_key& key, std::error_code& ec) {
    stream_keys* k = entry(stream, ec);
    if (k == nullptr) return *this;
    k->sending = key;
    take(*k, key);
    return *this;
  }
  /// As above; throws `std::system_error` naming the stream.
  key_ring& add(std::string_view stream, const stream_key& key) {
    std::error_code ec;
    add(stream, key, ec);
    detail::throw_if(ec, detail::quote_for_error("stream name", stream));
    return *this;
  }

  /// `key` is accepted on `stream` (opened with) but not sealed with: the first step of a
  /// rotation, or a subscriber-only ring. An invalid stream name is `errc::invalid_stream_name`.
  key_ring& accept(std::string_view stream, const stream_key& key, std::error_code& ec) {
    stream_keys* k = entry(stream, ec);
    if (k != nullptr) take(*k, key);
    return *this;
  }
  /// As above; throws `std::system_error` naming the stream.
  key_ring& accept(std::string_view stream, const stream_key& key) {
    std::error_code ec;
    accept(stream, key, ec);
    detail::throw_if(ec, detail::quote_for_error("stream name", stream));
    return *this;
  }

  /// `key` is neither sealed with nor accepted on `stream` any more. A stream left with no
  /// key stays keyed (nothing of it is accepted) until `forget`.
  void remove(std::string_view stream, const stream_key& key) {
    const auto it = keys_.find(stream);
    if (it == keys_.end()) return;
    auto& acc = it->second.accepted;
    acc.erase(std::remove(acc.begin(), acc.end(), key), acc.end());
    if (it->second.sending && *it->second.sending == key) it->second.sending.reset();
  }

  /// `stream` is not keyed any more: its datagrams travel in clear again.
  void forget(std::string_view stream) {
    const auto it = keys_.find(stream);
    if (it != keys_.end()) keys_.erase(it);
  }

  /// Whether no stream is keyed.
  bool empty() const noexcept { return keys_.empty(); }

  /// The keys of `stream`; null when it is not keyed.
  const stream_keys* find(std::string_view stream) const {
    const auto it = keys_.find(stream);
    return it == keys_.end() ? nullptr : &it->second;
  }

  /// Calls `f(std::string_view stream, const stream_keys&)` for each keyed stream, by name.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [name, k] : keys_) f(std::string_view(name), k);
  }

 private:
  stream_keys* entry(std::string_view stream, std::error_code& ec) {
    if (!detail::is_valid_stream_name(stream)) {
      ec = make_error_code(errc::invalid_stream_name);
      return nullptr;
    }
    ec.clear();
    auto it = keys_.find(stream);
    if (it == keys_.end()) it = keys_.emplace(std::string(stream), stream_keys{}).first;
    return &it->second;
  }

  static void take(stream_keys& k, const stream_key& key) {
    if (std::find(k.accepted.begin(), k.accepted.end(), key) == k.accepted.end()) k.accepted.push_back(key);
  }

  std::map<std::string, stream_keys, std::less<>> keys_;
};

}  // namespace racket
