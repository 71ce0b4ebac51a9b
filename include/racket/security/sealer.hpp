// SPDX-License-Identifier: MIT
#pragma once

// Sealing and opening one datagram with a stream key (docs/security.md, "Sealed datagram"):
// the sealed header (kind 4) and its decoder, the key id, and `sender_key`, a stream key
// narrowed to one sender (its subkey), which seals and opens. Uses libsodium (AES-256-GCM,
// XChaCha20-Poly1305, BLAKE2b). It must NOT know what the inner datagram holds, senders'
// counters (the caller numbers datagrams) or replay (security/replay_window.hpp).

#if !__has_include(<sodium.h>)
#error "racket/security/sealer.hpp needs libsodium (Debian: libsodium-dev; CMake: RACKET_WITH_SODIUM=ON). Keyed streams never fall back to plaintext."
#endif

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <system_error>

#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/security/stream_key.hpp"
#include "racket/wire/format.hpp"

namespace racket::wire {

/// The datagram kind of a sealed datagram.
inline constexpr std::uint8_t sealed_kind = 4;

/// How a sealed datagram is protected (its suite byte).
enum class seal_suite : std::uint8_t {
  aes256gcm = 1,                    ///< AES-256-GCM: encrypted and authenticated (needs AES-NI)
  xchacha20poly1305 = 2,            ///< XChaCha20-Poly1305: encrypted and authenticated, any CPU
  aes256gcm_authenticate_only = 3,  ///< AES-256-GCM with the inner datagram as additional data: readable, not forgeable
};

/// The clear fields of a sealed datagram.
struct sealed_header {
  seal_suite suite = seal_suite::aes256gcm;
  std::uint8_t inner_kind = 1;     ///< the inner datagram's kind (1 data, 2 request, 3 announcement), in clear for socket filters
  std::uint32_t key_id = 0;
  std::uint64_t sender_id = 0;
  std::uint64_t counter = 0;       ///< 1, 2, ... per sender and key: the nonce
  std::uint64_t timestamp_ns = 0;  ///< the sender's clock when sealing, for freshness
  friend bool operator==(const sealed_header&, const sealed_header&) = default;
};

/// The clear header of `bytes`, checked in this order (first failure decides):
/// fewer than 52 bytes or more than `max_size` → `truncated` / `oversize`; magic →
/// `bad_magic`; version → `bad_version`; kind other than 4 → `bad_kind`; a suite other than
/// 1..3, an inner kind other than 1..3, or counter 0 → `bad_record`. Authenticity is not
/// checked here (`sender_key::open` does).
inline sealed_header decode_sealed_header(std::span<const std::byte> bytes, std::error_code& ec,
                                          std::size_t max_size = max_datagram_size_limit) noexcept {
  const auto fail = [&ec](errc e) noexcept {
    ec = make_error_code(e);
    return sealed_header{};
  };
  const std::byte* d = bytes.data();
  if (bytes.size() > max_size) return fail(errc::oversize);
  if (bytes.size() < seal_overhead) return fail(errc::truncated);
  if (std::memcmp(d, magic, sizeof magic) != 0) return fail(errc::bad_magic);
  if (std::to_integer<std::uint8_t>(d[4]) != version) return fail(errc::bad_version);
  if (std::to_integer<std::uint8_t>(d[5]) != sealed_kind) return fail(errc::bad_kind);
  const auto suite = std::to_integer<std::uint8_t>(d[6]);
  sealed_header h;
  h.suite = static_cast<seal_suite>(suite);
  h.inner_kind = std::to_integer<std::uint8_t>(d[7]);
  h.key_id = detail::load_u32(d + 8);
  h.sender_id = detail::load_u64(d + 12);
  h.counter = detail::load_u64(d + 20);
  h.timestamp_ns = detail::load_u64(d + 28);
  if (suite < 1 || suite > 3 || h.inner_kind < 1 || h.inner_kind > 3 || h.counter == 0) return fail(errc::bad_record);
  ec.clear();
  return h;
}

}  // namespace racket::wire

namespace racket {

namespace detail {

// libsodium must be initialised once before use; sodium_init is thread-safe and idempotent.
inline void sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("racket: libsodium failed to initialise (sodium_init)");
}

// BLAKE2b-256 keyed with `key` over `label` followed by `extra` (little-endian, 8 bytes).
inline std::array<unsigned char, 32> keyed_blake2b(const stream_key& key, const char* label, std::size_t label_size,
                                                   const unsigned char* extra, std::size_t extra_size) {
  sodium_ready();
  std::array<unsigned char, 32> out{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const unsigned char*>(key.bytes().data()), stream_key::size, out.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(label), label_size);
  if (extra_size != 0) crypto_generichash_update(&st, extra, extra_size);
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

}  // namespace detail

/// The 32-bit id a key is named by on the wire: the first 4 bytes (little-endian) of
/// BLAKE2b-256 keyed with the key over "racket key id v1".
inline std::uint32_t key_id_of(const stream_key& key) {
  constexpr char label[] = "racket key id v1";
  auto h = detail::keyed_blake2b(key, label, sizeof label - 1, nullptr, 0);
  const std::uint32_t id = detail::load_u32(reinterpret_cast<const std::byte*>(h.data()));
  sodium_memzero(h.data(), h.size());
  return id;
}

/// True if this CPU runs AES-256-GCM in libsodium (AES-NI and CLMUL).
inline bool aes256gcm_available() {
  detail::sodium_ready();
  return crypto_aead_aes256gcm_is_available() != 0;
}

/// A stream key narrowed to one sender: the subkey BLAKE2b-256(keyed with the stream key,
/// "racket subkey v1" || sender_id as 8 bytes little-endian), with which that sender's
/// datagrams are sealed and opened. Each sender has its own subkey, so counters (the nonces)
/// of different senders never meet under one key. Not copyable (holds key material, wiped on
/// destruction); const members are safe from any thread.
///
/// ```cpp
/// racket::sender_key k(key, publisher_id);
/// std::size_t n = k.seal(out, datagram, racket::wire::seal_suite::aes256gcm, ++counter, now_ns, ec);
/// ```
class sender_key {
 public:
  sender_key(const stream_key& key, std::uint64_t sender_id) : key_id_(key_id_of(key)), sender_id_(sender_id) {
    constexpr char label[] = "racket subkey v1";
    unsigned char id[8];
    detail::store_u64(reinterpret_cast<std::byte*>(id), sender_id);
    subkey_ = detail::keyed_blake2b(key, label, sizeof label - 1, id, sizeof id);
    aes_ = crypto_aead_aes256gcm_is_available() != 0;
    if (aes_) crypto_aead_aes256gcm_beforenm(&aes_state_, subkey_.data());
  }
  sender_key(const sender_key&) = delete;
  sender_key& operator=(const sender_key&) = delete;
  ~sender_key() {
    sodium_memzero(subkey_.data(), subkey_.size());
    sodium_memzero(&aes_state_, sizeof aes_state_);
  }

  std::uint32_t key_id() const noexcept { return key_id_; }
  std::uint64_t sender_id() const noexcept { return sender_id_; }

  /// Writes the sealed form of `inner` into `out` and returns its size, `inner.size() + 52`.
  /// `counter` must be >= 1 and never repeat for this sender and key (the caller counts).
  /// Errors: `out` too small or counter 0 → `bad_length` / `bad_record`; `inner` shorter
  /// than a datagram header or of a kind other than 1..3 → `bad_kind`; the suite cannot run
  /// here → `cipher_unavailable`. `out` and `inner` must not overlap.
  std::size_t seal(std::span<std::byte> out, std::span<const std::byte> inner, wire::seal_suite suite,
                   std::uint64_t counter, std::uint64_t timestamp_ns, std::error_code& ec) const noexcept {
    const std::size_t n = inner.size() + wire::seal_overhead;
    if (out.size() < n) return fail(ec, errc::bad_length);
    if (counter == 0) return fail(ec, errc::bad_record);
    if (inner.size() < 8 || std::to_integer<unsigned>(inner[5]) < 1 || std::to_integer<unsigned>(inner[5]) > 3)
      return fail(ec, errc::bad_kind);
    if (suite != wire::seal_suite::xchacha20poly1305 && !aes_) return fail(ec, errc::cipher_unavailable);
    std::byte* o = out.data();
    std::memcpy(o, wire::magic, sizeof wire::magic);
    o[4] = std::byte{wire::version};
    o[5] = std::byte{wire::sealed_kind};
    o[6] = static_cast<std::byte>(suite);
    o[7] = inner[5];  // the inner kind
    detail::store_u32(o + 8, key_id_);
    detail::store_u64(o + 12, sender_id_);
    detail::store_u64(o + 20, counter);
    detail::store_u64(o + 28, timestamp_ns);
    const auto* ad = reinterpret_cast<const unsigned char*>(o);
    auto* c = reinterpret_cast<unsigned char*>(o + wire::sealed_header_size);
    const auto* m = reinterpret_cast<const unsigned char*>(inner.data());
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};
    detail::store_u64(reinterpret_cast<std::byte*>(nonce), counter);
    switch (suite) {
      case wire::seal_suite::aes256gcm:
        crypto_aead_aes256gcm_encrypt_detached_afternm(c, c + inner.size(), nullptr, m, inner.size(), ad,
                                                        wire::sealed_header_size, nullptr, nonce, &aes_state_);
        break;
      case wire::seal_suite::xchacha20poly1305:
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c, c + inner.size(), nullptr, m, inner.size(), ad,
                                                            wire::sealed_header_size, nullptr, nonce, subkey_.data());
        break;
      case wire::seal_suite::aes256gcm_authenticate_only: {
        // The additional data is the header and the inner datagram, contiguous in `out`.
        // An empty plaintext (libsodium wants its pointers non-null even at length 0).
        if (!inner.empty()) std::memcpy(c, m, inner.size());
        unsigned char none[1] = {};
        crypto_aead_aes256gcm_encrypt_detached_afternm(none, c + inner.size(), nullptr, none, 0, ad,
                                                        wire::sealed_header_size + inner.size(), nullptr, nonce,
                                                        &aes_state_);
        break;
      }
    }
    ec.clear();
    return n;
  }

  /// Opens `datagram`, whose clear header `h` was decoded with `wire::decode_sealed_header`
  /// (its key id and sender id are this key's: the caller looked them up), writing the inner
  /// datagram into `out` (at least `datagram.size() - 52` bytes; it may not overlap
  /// `datagram`). Returns the inner datagram, or empty with `not_authentic` (wrong key,
  /// changed, forged), `cipher_unavailable`, `bad_length` (`out` too small) or `bad_record`
  /// (the header is not this sender's).
  std::span<const std::byte> open(std::span<const std::byte> datagram, const wire::sealed_header& h,
                                  std::span<std::byte> out, std::error_code& ec) const noexcept {
    if (datagram.size() < wire::seal_overhead) return fail_span(ec, errc::truncated);
    const std::size_t n = datagram.size() - wire::seal_overhead;
    if (out.size() < n) return fail_span(ec, errc::bad_length);
    if (h.sender_id != sender_id_ || h.key_id != key_id_) return fail_span(ec, errc::bad_record);
    if (h.suite != wire::seal_suite::xchacha20poly1305 && !aes_) return fail_span(ec, errc::cipher_unavailable);
    const auto* ad = reinterpret_cast<const unsigned char*>(datagram.data());
    const auto* c = ad + wire::sealed_header_size;
    const auto* tag = c + n;
    auto* m = reinterpret_cast<unsigned char*>(out.data());
    unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};
    detail::store_u64(reinterpret_cast<std::byte*>(nonce), h.counter);
    int rc = -1;
    switch (h.suite) {
      case wire::seal_suite::aes256gcm:
        rc = crypto_aead_aes256gcm_decrypt_detached_afternm(m, nullptr, c, n, tag, ad, wire::sealed_header_size,
                                                            nonce, &aes_state_);
        break;
      case wire::seal_suite::xchacha20poly1305:
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(m, nullptr, c, n, tag, ad, wire::sealed_header_size,
                                                                 nonce, subkey_.data());
        break;
      case wire::seal_suite::aes256gcm_authenticate_only:
      {
        unsigned char none[1] = {};
        rc = crypto_aead_aes256gcm_decrypt_detached_afternm(none, nullptr, none, 0, tag, ad,
                                                            wire::sealed_header_size + n, nonce, &aes_state_);
      }
        if (rc == 0 && n != 0) std::memcpy(m, c, n);
        break;
      default:
        return fail_span(ec, errc::bad_record);
    }
    if (rc != 0) {
      if (n != 0) sodium_memzero(m, n);  // nothing of a forgery reaches the caller
      return fail_span(ec, errc::not_authentic);
    }
    if (n < 8 || std::to_integer<std::uint8_t>(out[5]) != h.inner_kind) {  // a key holder's lie about the kind
      if (n != 0) sodium_memzero(m, n);
      return fail_span(ec, errc::bad_record);
    }
    ec.clear();
    return {out.data(), n};
  }

 private:
  static std::size_t fail(std::error_code& ec, errc e) noexcept {
    ec = make_error_code(e);
    return 0;
  }
  static std::span<const std::byte> fail_span(std::error_code& ec, errc e) noexcept {
    ec = make_error_code(e);
    return {};
  }

  std::uint32_t key_id_;
  std::uint64_t sender_id_;
  std::array<unsigned char, 32> subkey_{};
  bool aes_ = false;
  crypto_aead_aes256gcm_state aes_state_{};
};

}  // namespace racket
