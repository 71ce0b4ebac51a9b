// SPDX-License-Identifier: MIT
// What the reassembly tests share: a message cut into fragment datagrams by the fragmenter
// and decoded again (the fragments point into datagrams the set owns).
#pragma once

#include "catch.hpp"
#include "racket/wire/fragment.hpp"
#include "racket/wire/fragmenter.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace reassembly_test {

namespace wire = racket::wire;
using bytes = std::vector<std::byte>;
using time_point = std::chrono::steady_clock::time_point;
using namespace std::chrono_literals;

inline time_point at(std::chrono::milliseconds ms) { return time_point{} + ms; }

inline bytes payload_of(std::size_t n, std::uint64_t seed = 1) {
  bytes b(n);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t k = 0; k < n; ++k) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[k] = static_cast<std::byte>(x);
  }
  return b;
}

struct message_fragments {
  std::string stream;
  std::uint64_t publisher = 0;
  std::string subject;
  bytes payload;
  std::vector<bytes> datagrams;
  std::vector<wire::fragment> frags;  // frags[k] is fragment k

  std::size_t size() const { return frags.size(); }
  const wire::fragment& operator[](std::size_t k) const { return frags[k]; }
};

// Cuts `payload` for datagrams of `max_datagram` bytes; `resend` re-sends (flag resend).
inline message_fragments cut(std::string_view stream, std::uint64_t publisher, std::uint64_t sequence, bytes payload,
                             std::size_t max_datagram = 1452, std::uint8_t flags = 0,
                             std::string_view subject = "files.cfg", std::uint8_t extra_flags = 0) {
  message_fragments m{std::string(stream), publisher, std::string(subject), std::move(payload), {}, {}};
  const wire::fragmenter f{publisher, m.stream,
                           {.flags = flags, .interval_ms = 1000, .sequence = sequence, .timestamp_ns = 1000 + sequence,
                            .subject = m.subject, .payload = m.payload},
                           max_datagram, wire::content_hash(m.stream, m.subject, m.payload)};
  REQUIRE(f.valid());
  m.datagrams.reserve(f.fragment_count());
  for (std::uint32_t k = 0; k < f.fragment_count(); ++k) {
    bytes buf(max_datagram);
    buf.resize(f.encode(k, buf, extra_flags).size());
    m.datagrams.push_back(std::move(buf));
  }
  for (const bytes& d : m.datagrams) {
    std::error_code ec;
    const wire::fragment_datagram g = wire::decode_fragment(d, ec);
    REQUIRE_FALSE(ec);
    m.frags.push_back(g.frag);
  }
  return m;
}

}  // namespace reassembly_test
