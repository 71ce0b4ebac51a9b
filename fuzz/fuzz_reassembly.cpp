// SPDX-License-Identifier: MIT
// libFuzzer target: the reassembler (detail/reassembly/) fed hostile fragment sequences.
//
// The input is a program of one-byte opcodes, each followed by its operands:
//   0  an honest fragment: message (0..5), fragment index, flags; its bytes are the message's
//   1  the same with one byte of its payload flipped (a conflicting or forged copy)
//   2  a hostile fragment: every field and the bytes from the input
//   3  time passes (u8 * 10 ms), then expire
//   4  a raw datagram (u16 length, bytes; checksum recomputed) through decode_fragment, then,
//      if it decodes, into the reassembler
//   5  missing() of one message
// Checked after every step: the caps hold, counters add up, completed messages are exactly
// their honest payload (a forged one must fail the hash), nothing is delivered twice in a row.
#include "racket/detail/reassembly/reassembler.hpp"
#include "racket/wire/fragment.hpp"

#include "fuzz_common.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

namespace wire = racket::wire;
using racket::detail::assembled_message;
using racket::detail::fragment_outcome;
using racket::detail::lost_message;
using time_point = std::chrono::steady_clock::time_point;

constexpr std::array<const char*, 3> streams = {"a", "b", "c"};
constexpr std::array<const char*, 2> subjects = {"x.y", "z"};

// Honest message m: publisher, stream, sequence, subject, total, fragment size, payload.
struct honest {
  std::uint64_t publisher;
  const char* stream;
  std::uint64_t sequence;
  const char* subject;
  std::uint32_t total;
  std::uint16_t fragment_size;
  std::vector<std::byte> payload;
  std::uint64_t hash;
};

std::vector<honest> make_honest() {
  std::vector<honest> out;
  for (std::uint32_t m = 0; m < 6; ++m) {
    honest h{m % 3, streams[m % 2], 1 + m / 2, subjects[m % 2], 200 + m * 3001, static_cast<std::uint16_t>(64 + m * 97),
             {}, 0};
    h.payload.resize(h.total);
    for (std::uint32_t k = 0; k < h.total; ++k) h.payload[k] = static_cast<std::byte>(k * (m + 3) + (k >> 8));
    h.hash = wire::content_hash(h.stream, h.subject, h.payload);
    out.push_back(std::move(h));
  }
  return out;
}

const std::vector<honest>& honest_messages() {
  static const std::vector<honest> v = make_honest();
  return v;
}

wire::fragment fragment_of(const honest& h, std::uint32_t index, std::uint8_t flags) {
  wire::fragment f;
  f.flags = flags;
  f.interval_ms = 1000;
  f.sequence = h.sequence;
  f.timestamp_ns = 5;
  f.total_size = h.total;
  f.fragment_size = h.fragment_size;
  f.index = index % f.fragment_count();
  f.content_hash = h.hash;
  f.subject = h.subject;
  f.bytes = std::span<const std::byte>(h.payload).subspan(f.offset(),
                                                          wire::fragment_bytes(h.total, h.fragment_size, f.index));
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 1 << 16) return -1;
  racket::fuzz::input in{data, size};
  const racket::detail::reassembly_limits limits{.max_message_size = 256 << 10,
                                                 .max_bytes_per_publisher = 48 << 10,
                                                 .max_bytes_per_stream = 64 << 10,
                                                 .max_messages_per_stream = 6,
                                                 .max_streams = 2,
                                                 .timeout = std::chrono::milliseconds{500}};
  racket::detail::reassembler<time_point> r{limits};
  time_point now{};
  std::uint64_t lost = 0;
  const auto on_lost = [&](const lost_message& l) {
    RACKET_FUZZ_CHECK(l.received_bytes <= l.total_size && l.sequence != 0);
    ++lost;
  };
  std::vector<std::byte> hostile_bytes;
  std::vector<std::byte> datagram;
  const auto& hs = honest_messages();

  for (int steps = 0; !in.empty() && steps < 4096; ++steps) {
    const std::uint8_t op = in.u8() % 6;
    assembled_message out;
    fragment_outcome o = fragment_outcome::duplicate;
    const char* stream = "";
    switch (op) {
      case 0:
      case 1: {
        const honest& h = hs[in.u8() % hs.size()];
        const std::uint16_t index = in.u16();
        const std::uint8_t flags = in.u8() % 3 == 0 ? 0 : in.u8() % 2 == 0 ? wire::flags::resend : wire::flags::snapshot;
        wire::fragment f = fragment_of(h, index, flags);
        std::vector<std::byte> copy(f.bytes.begin(), f.bytes.end());
        if (op == 1) {
          copy[in.u16() % copy.size()] ^= std::byte{static_cast<std::uint8_t>(in.u8() | 1)};
          f.bytes = copy;
        }
        stream = h.stream;
        o = r.add(h.stream, h.publisher, f, now, out, on_lost);
        break;
      }
      case 2: {
        wire::fragment f;
        stream = streams[in.u8() % streams.size()];
        const std::uint64_t publisher = in.u8() % 4;
        f.flags = in.u8() & (wire::flags::resend | wire::flags::snapshot);
        f.sequence = in.u8() % 8;
        f.total_size = static_cast<std::uint32_t>(in.u16()) << (in.u8() % 6);
        f.fragment_size = in.u16();
        f.index = in.u16();
        f.content_hash = in.u8();
        f.subject = subjects[in.u8() % subjects.size()];
        f.timestamp_ns = in.u8() % 2;
        f.interval_ms = in.u8() % 2;
        // Either exactly the bytes index K must carry (so deeper checks are reached) or any count.
        const bool fit = (in.u8() & 1) != 0 && f.fragment_size != 0;
        hostile_bytes.assign(fit ? wire::fragment_bytes(f.total_size, f.fragment_size, f.index) : in.u16(), std::byte{0});
        const auto b = in.bytes(hostile_bytes.size());
        if (!b.empty()) std::memcpy(hostile_bytes.data(), b.data(), b.size());
        f.bytes = hostile_bytes;
        o = r.add(stream, publisher, f, now, out, on_lost);
        break;
      }
      case 3:
        now += std::chrono::milliseconds{10 * in.u8()};
        (void)r.expire(now, on_lost);
        break;
      case 4: {
        const auto b = in.bytes(in.u16() % 2048);
        datagram.assign(b.begin(), b.end());
        racket::fuzz::fix_checksum(datagram);
        std::error_code ec;
        const wire::fragment_datagram g = wire::decode_fragment(datagram, ec, wire::max_datagram_size_limit, 1 << 20);
        if (ec) break;
        RACKET_FUZZ_CHECK(g.frag.bytes.size() == wire::fragment_bytes(g.frag.total_size, g.frag.fragment_size, g.frag.index));
        RACKET_FUZZ_CHECK(g.frag.index < g.frag.fragment_count());
        RACKET_FUZZ_CHECK(g.frag.bytes.data() + g.frag.bytes.size() <= datagram.data() + datagram.size() - 8);
        o = r.add(g.stream, g.publisher_id, g.frag, now, out, on_lost);
        if (o == fragment_outcome::completed)
          RACKET_FUZZ_CHECK(out.content_hash == wire::content_hash(g.stream, out.subject, out.payload()));
        o = fragment_outcome::duplicate;  // checked here: its stream is the datagram's
        break;
      }
      case 5: {
        const honest& h = hs[in.u8() % hs.size()];
        std::uint64_t total = 0;
        (void)r.missing(h.stream, h.publisher, h.sequence, 8, [&](std::uint32_t a, std::uint32_t b) {
          RACKET_FUZZ_CHECK(a <= b);
          total += std::uint64_t{b} - a + 1;
        });
        // (A hostile fragment may have started the message under this key with its own T and F.)
        RACKET_FUZZ_CHECK(total <= (std::uint64_t{1} << 20));
        break;
      }
    }
    if (o == fragment_outcome::completed) {
      // A completed message is verified: its payload hashes to its hash.
      RACKET_FUZZ_CHECK(out.content_hash == wire::content_hash(stream, out.subject, out.payload()));
      for (const honest& h : hs)
        if (h.hash == out.content_hash && h.stream == std::string_view{stream})
          RACKET_FUZZ_CHECK(out.size == h.total && std::memcmp(out.data.get(), h.payload.data(), h.total) == 0);
      RACKET_FUZZ_CHECK(out.capacity >= out.size);
      r.recycle(out);  // as the subscriber does once delivered: the next message may reuse it
      RACKET_FUZZ_CHECK(out.data == nullptr && r.spare_bytes() <= limits.max_message_size);
    }
    RACKET_FUZZ_CHECK(r.messages_in_progress() <= limits.max_messages_per_stream * limits.max_streams);
    // The charges of the messages held add up to every total, and every total is under its cap.
    std::size_t sum = 0;
    std::map<std::string, std::size_t, std::less<>> per_stream;
    std::map<std::uint64_t, std::size_t> per_publisher;
    r.for_each_in_progress([&](std::string_view s, const racket::detail::partial_message& m, time_point) {
      RACKET_FUZZ_CHECK(!m.complete() && m.received_bytes() <= m.total_size());
      sum += m.charge();
      per_stream[std::string(s)] += m.charge();
      per_publisher[m.publisher_id()] += m.charge();
    });
    RACKET_FUZZ_CHECK(sum == r.bytes_in_use());
    for (const auto& [s, b] : per_stream) RACKET_FUZZ_CHECK(b == r.stream_bytes(s) && b <= limits.max_bytes_per_stream);
    for (const auto& [p, b] : per_publisher)
      RACKET_FUZZ_CHECK(b == r.publisher_bytes(p) && b <= limits.max_bytes_per_publisher);
    const auto& c = r.counters();
    RACKET_FUZZ_CHECK(c.evicted + c.timed_out + c.hash_mismatch == lost);
  }
  // Everything times out in the end, and all memory comes back.
  (void)r.expire(now + std::chrono::hours{1}, on_lost);
  RACKET_FUZZ_CHECK(r.bytes_in_use() == 0 && r.messages_in_progress() == 0);
  return 0;
}
