// SPDX-License-Identifier: MIT
// libFuzzer target: the sealed datagram (kind 4, racket/security/sealer.hpp).
//
// The input is used three times: as a received datagram (the header decoder, then opening with
// the key of the sender it names: the tag never verifies on forged input, and nothing of the
// forgery may reach the output); as a datagram at a keyed subscriber (detail::datagram_opener:
// freshness, replay window, key by id; its sender table must not grow on forgeries); and as an
// inner datagram, sealed with every suite, opened again (must give the input back), then with
// one byte flipped (must be refused).
#include "racket/security/sealer.hpp"

#include "racket/detail/security/datagram_opener.hpp"

#include "fuzz_common.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

namespace wire = racket::wire;

const racket::stream_key& fuzz_key() {
  static const racket::stream_key k = [] {
    std::array<std::byte, racket::stream_key::size> raw{};
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i);
    return racket::stream_key::from_bytes(raw);
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  std::error_code ec;

  // As received.
  const wire::sealed_header h = wire::decode_sealed_header(in, ec);
  if (ec) {
    RACKET_FUZZ_CHECK(ec.category() == racket::error_category());
  } else {
    RACKET_FUZZ_CHECK(size >= wire::seal_overhead);
    const racket::sender_key k(fuzz_key(), h.sender_id);
    wire::sealed_header as_ours = h;
    as_ours.key_id = k.key_id();
    std::vector<std::byte> out(size, std::byte{0x5a});
    const auto opened = k.open(in, as_ours, out, ec);
    if (ec) {
      RACKET_FUZZ_CHECK(opened.empty());
      RACKET_FUZZ_CHECK(ec.category() == racket::error_category());
      if (ec == racket::errc::not_authentic)
        for (std::size_t i = 0; i + wire::seal_overhead < size; ++i) RACKET_FUZZ_CHECK(out[i] == std::byte{0});
    } else {
      RACKET_FUZZ_CHECK(opened.size() == size - wire::seal_overhead);  // the fuzzer found a tag: only if it sealed it
    }
  }

  // At a keyed subscriber, whose clock reads the input's timestamp (freshness passes).
  {
    static racket::detail::datagram_opener opener = [] {
      racket::key_ring ring;
      ring.add("fuzz", fuzz_key());
      return racket::detail::datagram_opener(ring, 30'000'000'000ull, 16);
    }();
    const std::uint64_t now = size >= 36 ? racket::detail::load_u64(in.data() + 28) : 0;
    std::vector<std::byte> out(size, std::byte{0x5a});
    const std::size_t senders_before = opener.senders();
    const auto r = opener.open(in, now, out);
    if (r.what == racket::detail::datagram_opener::verdict::opened) {
      RACKET_FUZZ_CHECK(r.inner.size() == size - wire::seal_overhead);  // the fuzzer found a tag: only if it sealed it
    } else {
      RACKET_FUZZ_CHECK(r.inner.empty());
      RACKET_FUZZ_CHECK(opener.senders() == senders_before);  // forgeries cost no memory
    }
  }

  // As an inner datagram.
  if (size + wire::seal_overhead > wire::max_datagram_size_limit) return 0;
  const std::uint64_t sender = size >= 8 ? racket::detail::load_u64(in.data()) : 1;
  const racket::sender_key k(fuzz_key(), sender);
  for (const auto suite : {wire::seal_suite::aes256gcm, wire::seal_suite::xchacha20poly1305,
                           wire::seal_suite::aes256gcm_authenticate_only}) {
    if (suite != wire::seal_suite::xchacha20poly1305 && !racket::aes256gcm_available()) continue;
    std::vector<std::byte> sealed(size + wire::seal_overhead);
    const std::size_t n = k.seal(sealed, in, suite, size + 1, 42, ec);
    if (size < 8 || data[5] < 1 || data[5] > 3) {  // not a datagram of kind 1..3: refused
      RACKET_FUZZ_CHECK(n == 0 && ec == racket::errc::bad_kind);
      continue;
    }
    RACKET_FUZZ_CHECK(n == sealed.size());
    RACKET_FUZZ_CHECK(!ec);
    const wire::sealed_header sh = wire::decode_sealed_header(sealed, ec);
    RACKET_FUZZ_CHECK(!ec);
    std::vector<std::byte> plain(size);
    const auto opened = k.open(sealed, sh, plain, ec);
    RACKET_FUZZ_CHECK(!ec && opened.size() == size);
    RACKET_FUZZ_CHECK(size == 0 || std::memcmp(opened.data(), data, size) == 0);
    // One byte flipped after the clear fields the decoder checks: refused.
    const std::size_t at = 8 + (size > 0 ? data[0] : 0) % (sealed.size() - 8);
    sealed[at] ^= std::byte{0x01};
    const wire::sealed_header bad = wire::decode_sealed_header(sealed, ec);
    if (!ec) {
      RACKET_FUZZ_CHECK(k.open(sealed, bad, plain, ec).empty());
      RACKET_FUZZ_CHECK(ec == racket::errc::not_authentic || ec == racket::errc::bad_record);
    }
  }
  return 0;
}
