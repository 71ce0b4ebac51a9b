// SPDX-License-Identifier: MIT
#include "racket/security/sealer.hpp"

// The sealed datagram of docs/wire-format.md ("Sealed datagram (kind 4)"): the vectors S1-S3
// (made by docs/vectors/make_sealed_vectors.py without libsodium) sealed and opened both ways,
// every byte of a sealed datagram flipped, truncations, the wrong key and the wrong sender.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "catch.hpp"
#include "doc_vectors.hpp"

namespace {

using bytes = std::vector<std::byte>;

using racket_test::doc_vector;

racket::stream_key test_key() {
  std::array<std::byte, 32> raw{};
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i);
  return racket::stream_key::from_bytes(raw);
}

constexpr std::uint64_t sender = 0x0123456789ABCDEF;
constexpr std::uint64_t timestamp = 1700000000000000000;

struct suite_case {
  const char* vector;
  racket::wire::seal_suite suite;
};
const suite_case suites[] = {{"S1", racket::wire::seal_suite::aes256gcm},
                             {"S2", racket::wire::seal_suite::xchacha20poly1305},
                             {"S3", racket::wire::seal_suite::aes256gcm_authenticate_only}};

}  // namespace

TEST_CASE("sealer: key_id of the vectors' key is the documented one") {
  CHECK(racket::key_id_of(test_key()) == 0xd7397d61U);
  auto other = test_key().to_hex();
  other[0] = '1';
  CHECK(racket::key_id_of(racket::stream_key::parse(other)) != 0xd7397d61U);
}

TEST_CASE("sealer: vectors S1-S3 seal to the documented bytes and open to vector 1") {
  if (!racket::aes256gcm_available()) WARN("AES-256-GCM is not available on this CPU: S1 and S3 are checked as unavailable");
  const bytes inner = doc_vector("1");
  REQUIRE(inner.size() == 66);
  const racket::sender_key k(test_key(), sender);
  for (const auto& c : suites) {
    INFO(c.vector);
    const bytes want = doc_vector(c.vector);
    REQUIRE(want.size() == inner.size() + racket::wire::seal_overhead);
    bytes out(want.size() + 10);
    std::error_code ec;
    const std::size_t n = k.seal(out, inner, c.suite, 1, timestamp, ec);
    if (c.suite != racket::wire::seal_suite::xchacha20poly1305 && !racket::aes256gcm_available()) {
      CHECK(ec == racket::errc::cipher_unavailable);
      continue;
    }
    REQUIRE_FALSE(ec);
    REQUIRE(n == want.size());
    out.resize(n);
    CHECK(out == want);

    const auto h = racket::wire::decode_sealed_header(want, ec);
    REQUIRE_FALSE(ec);
    CHECK(h == racket::wire::sealed_header{c.suite, 1, 0xd7397d61U, sender, 1, timestamp});
    bytes plain(want.size());
    const auto opened = k.open(want, h, plain, ec);
    REQUIRE_FALSE(ec);
    CHECK(bytes(opened.begin(), opened.end()) == inner);
  }
}

TEST_CASE("sealer: every byte flipped is refused, by the header check or the tag") {
  const bytes inner = doc_vector("1");
  const racket::sender_key k(test_key(), sender);
  for (const auto& c : suites) {
    if (c.suite != racket::wire::seal_suite::xchacha20poly1305 && !racket::aes256gcm_available()) continue;
    INFO(c.vector);
    bytes sealed(inner.size() + racket::wire::seal_overhead);
    std::error_code ec;
    REQUIRE(k.seal(sealed, inner, c.suite, 7, timestamp, ec) == sealed.size());
    for (std::size_t i = 0; i < sealed.size(); ++i) {
      for (const std::byte flip : {std::byte{0x01}, std::byte{0x80}}) {
        INFO("byte " << i);
        bytes bad = sealed;
        bad[i] ^= flip;
        const auto h = racket::wire::decode_sealed_header(bad, ec);
        if (ec) continue;  // magic, version, kind, suite, inner kind: refused before any key is used
        bytes plain(bad.size());
        // The receiver looks the key up by the header's ids: a changed id finds no key (or
        // another one); opened with this key anyway, nothing is authentic.
        const auto opened = k.open(bad, h, plain, ec);
        REQUIRE(opened.empty());
        REQUIRE((ec == racket::errc::not_authentic || ec == racket::errc::bad_record ||
                 ec == racket::errc::cipher_unavailable));
      }
    }
  }
}

TEST_CASE("sealer: the wrong key, another sender's subkey, and a replayed counter under another header fail") {
  const bytes inner = doc_vector("1");
  const racket::sender_key k(test_key(), sender);
  const auto suite = racket::aes256gcm_available() ? racket::wire::seal_suite::aes256gcm
                                                   : racket::wire::seal_suite::xchacha20poly1305;
  bytes sealed(inner.size() + racket::wire::seal_overhead);
  std::error_code ec;
  REQUIRE(k.seal(sealed, inner, suite, 3, timestamp, ec) == sealed.size());
  const auto h = racket::wire::decode_sealed_header(sealed, ec);
  REQUIRE_FALSE(ec);
  bytes plain(sealed.size(), std::byte{0x55});

  auto other_hex = test_key().to_hex();
  other_hex[63] = other_hex[63] == '0' ? '1' : '0';
  const racket::sender_key wrong(racket::stream_key::parse(other_hex), sender);
  auto forged = h;
  forged.key_id = wrong.key_id();  // as if the receiver had found the wrong key by its id
  CHECK(wrong.open(sealed, forged, plain, ec).empty());
  CHECK(ec == racket::errc::not_authentic);
  for (std::size_t i = 0; i < inner.size(); ++i) REQUIRE(plain[i] == std::byte{0});  // wiped, nothing leaks

  const racket::sender_key other_sender(test_key(), sender + 1);
  auto as_other = h;
  as_other.sender_id = sender + 1;
  CHECK(other_sender.open(sealed, as_other, plain, ec).empty());
  CHECK(ec == racket::errc::not_authentic);

  CHECK(k.open(sealed, as_other, plain, ec).empty());  // a header that is not this sender's
  CHECK(ec == racket::errc::bad_record);
}

TEST_CASE("sealer: header errors in the documented order, and bad arguments to seal") {
  const bytes inner = doc_vector("1");
  const racket::sender_key k(test_key(), sender);
  const auto suite = racket::wire::seal_suite::xchacha20poly1305;
  bytes sealed(inner.size() + racket::wire::seal_overhead);
  std::error_code ec;
  REQUIRE(k.seal(sealed, inner, suite, 1, timestamp, ec) == sealed.size());
  const auto decode = [&](bytes b) {
    (void)racket::wire::decode_sealed_header(b, ec);
    return ec;
  };
  CHECK(decode(bytes(sealed.begin(), sealed.begin() + 51)) == racket::errc::truncated);
  CHECK(decode(bytes(70000)) == racket::errc::oversize);
  auto b = sealed;
  b[0] = std::byte{'X'};
  CHECK(decode(b) == racket::errc::bad_magic);
  b = sealed;
  b[4] = std::byte{2};
  CHECK(decode(b) == racket::errc::bad_version);
  b = sealed;
  b[5] = std::byte{1};
  CHECK(decode(b) == racket::errc::bad_kind);
  for (const std::uint8_t s : {0, 4, 255}) {
    b = sealed;
    b[6] = std::byte{s};
    CHECK(decode(b) == racket::errc::bad_record);
  }
  for (const std::uint8_t k : {0, 4, 255}) {
    b = sealed;
    b[7] = std::byte{k};
    CHECK(decode(b) == racket::errc::bad_record);
  }
  b = sealed;
  for (std::size_t i = 20; i < 28; ++i) b[i] = std::byte{0};
  CHECK(decode(b) == racket::errc::bad_record);  // counter 0

  bytes small(inner.size() + racket::wire::seal_overhead - 1);
  CHECK(k.seal(small, inner, suite, 1, timestamp, ec) == 0);
  CHECK(ec == racket::errc::bad_length);
  CHECK(k.seal(sealed, inner, suite, 0, timestamp, ec) == 0);
  CHECK(ec == racket::errc::bad_record);
  bytes plain(10);
  const auto h = racket::wire::decode_sealed_header(sealed, ec);
  REQUIRE_FALSE(ec);
  CHECK(k.open(sealed, h, plain, ec).empty());
  CHECK(ec == racket::errc::bad_length);
}

TEST_CASE("sealer: the smallest and a maximum-size inner datagram round-trip, other kinds are refused") {
  const racket::sender_key k(test_key(), 42);
  std::error_code ec;
  for (const std::size_t n : {std::size_t{8}, std::size_t{65507 - racket::wire::seal_overhead}}) {
    bytes inner(n);
    for (std::size_t i = 0; i < n; ++i) inner[i] = static_cast<std::byte>(i * 7);
    inner[5] = std::byte{2};  // a request's kind: it travels in clear as the inner kind
    bytes sealed(n + racket::wire::seal_overhead);
    REQUIRE(k.seal(sealed, inner, racket::wire::seal_suite::xchacha20poly1305, 9, 1, ec) == sealed.size());
    const auto h = racket::wire::decode_sealed_header(sealed, ec);
    REQUIRE_FALSE(ec);
    CHECK(h.inner_kind == 2);
    bytes plain(n);
    const auto opened = k.open(sealed, h, plain, ec);
    REQUIRE_FALSE(ec);
    CHECK(bytes(opened.begin(), opened.end()) == inner);
  }
  bytes sealed(64);
  for (const std::size_t n : {std::size_t{0}, std::size_t{7}}) {
    CHECK(k.seal(sealed, bytes(n, std::byte{1}), racket::wire::seal_suite::xchacha20poly1305, 9, 1, ec) == 0);
    CHECK(ec == racket::errc::bad_kind);
  }
  for (const std::uint8_t kind : {0, 4, 200}) {
    bytes inner(12);
    inner[5] = std::byte{kind};
    CHECK(k.seal(sealed, inner, racket::wire::seal_suite::xchacha20poly1305, 9, 1, ec) == 0);
    CHECK(ec == racket::errc::bad_kind);
  }
}
