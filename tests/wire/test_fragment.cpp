// SPDX-License-Identifier: MIT
// Fragment datagrams (wire/fragment.hpp): vectors F1-F3 decoded field by field from the hex
// docs/wire-format.md gives, the sizes, routing, and every error of "Decoding a fragment
// datagram" in its documented order.
#include "racket/wire/fragment.hpp"

#include "fragment_support.hpp"
#include "racket/wire/decode.hpp"
#include "racket/wire/fragmenter.hpp"

#include <cstring>

using namespace wire_test;
using racket::errc;

namespace {

std::error_code fragment_error(std::span<const std::byte> d, std::size_t max_size = wire::max_datagram_size_limit,
                               std::size_t max_message = wire::max_message_size_limit) {
  std::error_code ec = make_error_code(errc::bad_magic);  // must be cleared on success
  (void)wire::decode_fragment(d, ec, max_size, max_message);
  return ec;
}

}  // namespace

TEST_CASE("vectors F1-F3, F5-F6 decode to the documented fields", "[wire][fragment]") {
  const bytes payload = frag_payload();
  const struct {
    const char* name;
    std::uint8_t flags;
    std::uint32_t index;
    std::size_t size;
    std::uint64_t checksum;
  } cases[] = {
      {"F1", 0, 0, 138, 0xcd4718f417e8714b},
      {"F2", wire::flags::resend, 1, 138, 0xe22d3db5a3275cd5},
      {"F3", 0, 2, 96, 0xfd8c51328fb86387},
      {"F5", 0, 0, 138, 0x61c89c1084588578},
      {"F6", wire::flags::resend, 2, 96, 0xedd325cc0b98d2ca},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const bytes d = doc_fragment_vector(c.name);
    REQUIRE(d.size() == c.size);
    CHECK(racket::detail::load_u64(d.data() + d.size() - 8) == c.checksum);
    CHECK(wire::is_fragment_datagram(d));
    std::error_code ec;
    const wire::fragment_datagram g = wire::decode_fragment(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(g.publisher_id == frag_pub);
    CHECK(g.stream == frag_stream);
    const wire::fragment& f = g.frag;
    CHECK(f.flags == c.flags);
    CHECK(f.resend() == (c.flags == wire::flags::resend));
    CHECK_FALSE(f.snapshot());
    CHECK(f.interval_ms == frag_interval);
    CHECK(f.sequence == frag_sequence);
    CHECK(f.timestamp_ns == frag_timestamp);
    CHECK(f.total_size == 150);
    CHECK(f.fragment_size == 64);
    CHECK(f.fragment_count() == 3);
    CHECK(f.index == c.index);
    CHECK(f.content_hash == frag_hash);
    CHECK(f.subject == frag_subject);
    REQUIRE(f.bytes.size() == (c.index == 2 ? 22u : 64u));
    CHECK(std::memcmp(f.bytes.data(), payload.data() + f.offset(), f.bytes.size()) == 0);
    // The hash carried is the content hash of the whole message.
    CHECK(wire::content_hash(frag_stream, frag_subject, payload) == frag_hash);
    // The decoder of small records refuses fragment datagrams whole: by the flag, or first by
    // the checksum, which it takes over the whole datagram.
    (void)wire::decode(d, ec);
    CHECK(ec == err(c.name[1] < '5' ? errc::bad_record : errc::bad_checksum));
  }
}

TEST_CASE("the independent encoder reproduces the vectors", "[wire][fragment]") {
  const bytes payload = frag_payload();
  raw_fragment r;
  r.payload = bytes(payload.begin(), payload.begin() + 64);
  CHECK(to_hex(r.encode()) == to_hex(doc_fragment_vector("F1")));
  r.index = 2;
  r.payload = bytes(payload.begin() + 128, payload.end());
  CHECK(to_hex(r.encode()) == to_hex(doc_fragment_vector("F3")));
}

TEST_CASE("fragment sizes: overhead and the size that fills a datagram", "[wire][fragment]") {
  // docs/wire-format.md: 7-byte stream, 16-byte subject, interval 1000, sequence < 8192, a 2026
  // timestamp: 83 bytes of overhead (with P's two bytes), F = 1369 at 1452.
  const std::uint64_t ts = 1780000000000000000;
  CHECK(wire::fragment_overhead(7, 16, 1000, 100, ts) + 2 == 83);
  CHECK(wire::fragment_size_for(1452, 7, 16, 1000, 100, ts) == 1369);
  CHECK(wire::fragment_count(std::size_t{16} << 20, 1369) == 12256);
  // The vectors' message at 138 bytes: F = 64; at 137 the 64th byte no longer fits.
  CHECK(wire::fragment_size_for(frag_max_datagram, 7, 9, frag_interval, frag_sequence, frag_timestamp) == 64);
  CHECK(wire::fragment_size_for(137, 7, 9, frag_interval, frag_sequence, frag_timestamp) == 0);
  // Past 16 KiB P's varint takes 3 bytes; F never passes 65535.
  const std::size_t o = wire::fragment_overhead(7, 9, 1000, 42, ts);
  CHECK(wire::fragment_size_for(o + 16383 + 2, 7, 9, 1000, 42, ts) == 16383);
  CHECK(wire::fragment_size_for(o + 16384 + 2, 7, 9, 1000, 42, ts) == 16383);
  CHECK(wire::fragment_size_for(o + 16384 + 3, 7, 9, 1000, 42, ts) == 16384);
  CHECK(wire::fragment_size_for(65507, 1, 1, 0, 1, 0) == 65507 - wire::fragment_overhead(1, 1, 0, 1, 0) - 3);
  CHECK(wire::fragment_bytes(150, 64, 0) == 64);
  CHECK(wire::fragment_bytes(150, 64, 2) == 22);
  CHECK(wire::fragment_bytes(150, 64, 3) == 0);
  CHECK(wire::fragment_bytes(128, 64, 1) == 64);
}

TEST_CASE("is_fragment_datagram routes on the first record's flags only", "[wire][fragment]") {
  const bytes f1 = doc_fragment_vector("F1");
  CHECK(wire::is_fragment_datagram(f1));
  CHECK_FALSE(wire::is_fragment_datagram(doc_vector(1)));  // an ordinary data datagram
  CHECK_FALSE(wire::is_fragment_datagram({}));
  // Cut just before the flags byte (offset 24 for a 7-byte stream): not a fragment.
  CHECK_FALSE(wire::is_fragment_datagram(std::span<const std::byte>(f1).first(24)));
  CHECK(wire::is_fragment_datagram(std::span<const std::byte>(f1).first(25)));
  bytes other = f1;
  other[5] = std::byte{2};  // a request: not data
  CHECK_FALSE(wire::is_fragment_datagram(other));
}

TEST_CASE("decode_fragment errors, in the documented order", "[wire][fragment]") {
  CHECK_FALSE(fragment_error(raw_fragment{}.encode()));
  {
    const bytes d = raw_fragment{}.encode();
    CHECK(fragment_error(d, d.size() - 1) == err(errc::oversize));
    CHECK(fragment_error(std::span<const std::byte>(d).first(3)) == err(errc::truncated));
    bytes b = d;
    b[7] ^= std::byte{0x40};
    CHECK(fragment_error(b) == err(errc::bad_checksum));
  }
  {
    raw_fragment r;  // F1: more than one record
    r.record_count = 2;
    CHECK(fragment_error(r.encode()) == err(errc::bad_record));
    r.record_count = 0;
    CHECK(fragment_error(r.encode()) == err(errc::bad_record));
  }
  {
    raw_fragment r;  // F3: T, K, F, hash cut short
    r.subject.clear();
    r.payload.clear();
    r.cut_record = 5;
    CHECK(fragment_error(r.encode()) == err(errc::bad_length));
  }
  {
    raw_fragment r;  // F4: the payload runs into the trailer
    r.cut_record = 1;
    CHECK(fragment_error(r.encode()) == err(errc::bad_length));
  }
  const auto bad_record = [](raw_fragment r) { CHECK(fragment_error(r.encode()) == err(errc::bad_record)); };
  {
    raw_fragment r;  // F5, one field at a time
    r.flags = 0x00;  // not a fragment
    bad_record(r);
    for (std::uint8_t extra : {0x01, 0x80, 0x06}) {
      CAPTURE(int{extra});
      raw_fragment x;
      x.flags = static_cast<std::uint8_t>(0x08 | extra);
      bad_record(x);
    }
    // 0x40 with a checksum over the whole datagram: FC, over the head only, fails first.
    raw_fragment x;
    x.flags = 0x48;
    CHECK(fragment_error(x.encode()) == err(errc::bad_checksum));
    x.flags = 0x49;  // ... also before a flag F5 refuses
    CHECK(fragment_error(x.encode()) == err(errc::bad_checksum));
  }
  {
    raw_fragment r;
    r.sequence = 0;
    r.exact = true;
    bad_record(r);
  }
  {
    raw_fragment r;
    r.subject = "a..b";
    bad_record(r);
    r.subject = "";
    bad_record(r);
  }
  {
    raw_fragment r;
    r.total = 0;
    bad_record(r);
    r.total = wire::max_message_size_limit + 1;
    bad_record(r);
    r.total = 150;
    r.fragment_size = 63;  // below the minimum
    bad_record(r);
    r.fragment_size = 64;
    r.index = 3;  // past n - 1 (offset past the total)
    bad_record(r);
    r.index = 0;
    r.payload.resize(63);  // a non-last fragment must carry F
    bad_record(r);
    r.payload.clear();
    bad_record(r);
    r.index = 2;
    r.payload.resize(23);  // the last carries T - 2F = 22
    bad_record(r);
    r.payload.resize(22);
    CHECK_FALSE(fragment_error(r.encode()));
  }
  {
    raw_fragment r;  // T above the caller's maximum
    CHECK(fragment_error(r.encode(), wire::max_datagram_size_limit, 149) == err(errc::bad_record));
    CHECK_FALSE(fragment_error(r.encode(), wire::max_datagram_size_limit, 150));
    r.total = wire::max_message_size_limit;  // the format's limit itself is valid
    r.fragment_size = 60000;
    r.payload.resize(60000);
    CHECK_FALSE(fragment_error(r.encode()));
  }
  {
    raw_fragment r;  // F6: padding must be zeros; zeros are fine
    r.padding = 5;
    CHECK_FALSE(fragment_error(r.encode()));
    bytes d = r.encode();
    d[d.size() - 9] = std::byte{1};
    fix_checksum(d);
    CHECK(fragment_error(d) == err(errc::bad_length));
  }
  {
    raw_fragment r;  // explicit sequence 1 and interval 0 are accepted, as for records
    r.exact = true;
    r.sequence = 1;
    r.interval = 0;
    std::error_code ec;
    const bytes d = r.encode();
    const auto g = wire::decode_fragment(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(g.frag.sequence == 1);
    CHECK(g.frag.interval_ms == 0);
  }
}

TEST_CASE("decode_fragment rejects every single-bit flip of a vector", "[wire][fragment]") {
  const bytes good = doc_fragment_vector("F3");
  for (std::size_t i = 0; i < good.size() * 8; ++i) {
    bytes d = good;
    d[i / 8] ^= static_cast<std::byte>(1u << (i % 8));
    CAPTURE(i);
    CHECK(fragment_error(d));
  }
}

TEST_CASE("a header-checksummed fragment: its checksum covers the head, a damaged payload decodes", "[wire][fragment]") {
  const bytes good = doc_fragment_vector("F5");
  constexpr std::size_t head = 66;  // header, record fields and subject: what the checksum covers
  CHECK(racket::detail::load_u64(good.data() + good.size() - 8) == racket::detail::xxh3(good.data(), head));
  for (std::size_t i = 0; i < good.size() * 8; ++i) {
    bytes d = good;
    d[i / 8] ^= static_cast<std::byte>(1u << (i % 8));
    CAPTURE(i);
    const std::size_t at = i / 8;
    if (at >= head && at < good.size() - 8) {
      // The payload: not the datagram's to check; the message's content hash catches it.
      std::error_code ec;
      const wire::fragment_datagram g = wire::decode_fragment(d, ec);
      REQUIRE_FALSE(ec);
      CHECK(g.frag.content_hash == frag_hash);
      CHECK(wire::content_hash(frag_stream, frag_subject, g.frag.bytes) != frag_hash);
    } else {
      CHECK(fragment_error(d));  // header, fields, subject or trailer: refused
    }
  }
  // Cut short, a header-checksummed datagram still fails in bounds.
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK(fragment_error(bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))));
  }
}

namespace {

// The fragments of one message as a publisher writes them (fragmenter), every datagram whole.
struct cut_message {
  cut_message(std::size_t size, std::uint8_t extra_flags, std::uint64_t sequence = 7,
              std::uint64_t publisher = frag_pub, std::string_view stream = frag_stream)
      : payload(size) {
    for (std::size_t k = 0; k < size; ++k) payload[k] = static_cast<std::byte>(k * 131 + 7);
    const wire::large_message m{.flags = 0, .interval_ms = 0, .sequence = sequence, .timestamp_ns = 99,
                                .subject = frag_subject, .payload = payload};
    const wire::fragmenter f{publisher, stream, m, 1452, wire::content_hash(stream, frag_subject, payload)};
    REQUIRE(f.valid());
    bytes buf(1452);
    for (std::uint32_t k = 0; k < f.fragment_count(); ++k) {
      const auto d = f.encode(k, buf, extra_flags);
      datagrams.emplace_back(d.begin(), d.end());
    }
  }
  bytes payload;
  std::vector<bytes> datagrams;
};

wire::fragment_datagram decoded(const bytes& d) {
  std::error_code ec;
  const wire::fragment_datagram g = wire::decode_fragment(d, ec);
  REQUIRE_FALSE(ec);
  return g;
}

// Every field of two decoded fragment datagrams, and that their views are into `d`.
void check_same_fields(const wire::fragment_datagram& a, const wire::fragment_datagram& b) {
  CHECK(a.publisher_id == b.publisher_id);
  CHECK(a.stream == b.stream);
  CHECK(a.stream.data() == b.stream.data());
  CHECK(a.frag.flags == b.frag.flags);
  CHECK(a.frag.interval_ms == b.frag.interval_ms);
  CHECK(a.frag.sequence == b.frag.sequence);
  CHECK(a.frag.timestamp_ns == b.frag.timestamp_ns);
  CHECK(a.frag.total_size == b.frag.total_size);
  CHECK(a.frag.index == b.frag.index);
  CHECK(a.frag.fragment_size == b.frag.fragment_size);
  CHECK(a.frag.content_hash == b.frag.content_hash);
  CHECK(a.frag.subject == b.frag.subject);
  CHECK(a.frag.subject.data() == b.frag.subject.data());
  CHECK(a.frag.bytes.data() == b.frag.bytes.data());
  CHECK(a.frag.bytes.size() == b.frag.bytes.size());
}

}  // namespace

TEST_CASE("fragment_reference takes the next fragments of the same message as decode_fragment reads them",
          "[wire][fragment]") {
  for (const std::uint8_t extra : {std::uint8_t{0}, wire::flags::header_checksum, wire::flags::resend,
                                   static_cast<std::uint8_t>(wire::flags::resend | wire::flags::header_checksum)}) {
    CAPTURE(int{extra});
    const cut_message m{20000, extra};
    REQUIRE(m.datagrams.size() == 15);
    const wire::fragment_reference ref(m.datagrams[0], decoded(m.datagrams[0]));
    CHECK_FALSE(ref.empty());
    CHECK(wire::fragment_reference{}.empty());
    for (std::size_t k = 0; k < m.datagrams.size(); ++k) {
      CAPTURE(k);
      wire::fragment_datagram out;
      const bool taken = ref.next(m.datagrams[k], out);
      // The last is shorter (another size, another P): left to decode_fragment.
      CHECK(taken == (k + 1 < m.datagrams.size()));
      if (taken) check_same_fields(out, decoded(m.datagrams[k]));
    }
    // Fragments of another message (sequence, publisher, stream) of the same size: refused.
    wire::fragment_datagram out;
    CHECK_FALSE(ref.next(cut_message(20000, extra, 8).datagrams[1], out));
    CHECK_FALSE(ref.next(cut_message(20000, extra, 7, frag_pub + 1).datagrams[1], out));
    CHECK_FALSE(ref.next(cut_message(20000, extra, 7, frag_pub, "sensorz").datagrams[1], out));
    CHECK(ref.next(cut_message(20000, extra).datagrams[1], out));  // an identical copy of one: taken
    // A last fragment as reference takes only itself.
    const wire::fragment_reference last(m.datagrams.back(), decoded(m.datagrams.back()));
    CHECK(last.next(m.datagrams.back(), out));
    CHECK(out.frag.index == 14);
  }
}

TEST_CASE("fragment_reference never takes a datagram decode_fragment refuses or reads differently (fuzzed)",
          "[wire][fragment]") {
  // Random damage to the next fragments of a message (any byte, K's among them), sometimes
  // with the checksum made right again over the head or the whole datagram (as a forger
  // would): whatever `next` takes, decode_fragment must take too, with the same fields.
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  const auto rnd = [&x](std::uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  };
  std::size_t taken = 0, refused = 0;
  for (const std::uint8_t extra : {std::uint8_t{0}, wire::flags::header_checksum}) {
    const cut_message m{3000 + 1380 * 3, extra};  // four full fragments and a short last
    const wire::fragment_reference ref(m.datagrams[0], decoded(m.datagrams[0]));
    const std::size_t head = static_cast<std::size_t>(
        reinterpret_cast<const std::byte*>(decoded(m.datagrams[0]).frag.bytes.data()) - m.datagrams[0].data());
    const std::size_t k_off = head - frag_subject.size() - 14;  // K: after T, before F, the hash and the subject
    for (int round = 0; round < 20000; ++round) {
      bytes d = m.datagrams[rnd(m.datagrams.size() - 1)];
      const std::size_t changes = 1 + rnd(3);
      for (std::size_t c = 0; c < changes; ++c) {
        const std::size_t at = rnd(4) == 0 ? k_off - 2 + rnd(8) : rnd(d.size());  // K often
        d[at] = static_cast<std::byte>(rnd(4) == 0 ? rnd(256) : std::to_integer<unsigned>(d[at]) ^ (1u << rnd(8)));
      }
      switch (rnd(3)) {
        case 0: break;
        case 1: fix_checksum(d); break;
        default: racket::detail::store_u64(d.data() + d.size() - 8, racket::detail::xxh3(d.data(), head)); break;
      }
      CAPTURE(round, to_hex(d));
      wire::fragment_datagram out;
      if (ref.next(d, out)) {
        ++taken;
        std::error_code ec;
        const wire::fragment_datagram g = wire::decode_fragment(d, ec);
        REQUIRE_FALSE(ec);
        check_same_fields(out, g);
      } else {
        ++refused;
      }
    }
  }
  CHECK(taken > 1000);  // both outcomes were exercised
  CHECK(refused > 1000);
}

TEST_CASE("fragment_reference checks the padding of each fragment", "[wire][fragment]") {
  // Padded fragments (a run's datagrams made one size): the reference's padding length holds
  // for the next ones, whose padding must be zero like any decoder's.
  const bytes payload = frag_payload();
  raw_fragment r;
  r.padding = 5;
  r.payload = bytes(payload.begin(), payload.begin() + 64);
  const bytes first = r.encode();
  r.index = 1;
  r.payload = bytes(payload.begin() + 64, payload.begin() + 128);
  bytes second = r.encode();
  const wire::fragment_reference ref(first, decoded(first));
  wire::fragment_datagram out;
  CHECK(ref.next(second, out));
  CHECK(out.frag.index == 1);
  second[second.size() - 8 - 2] = std::byte{1};  // a padding byte, checksum made right
  fix_checksum(second);
  CHECK_FALSE(ref.next(second, out));
  CHECK(fragment_error(second) == err(errc::bad_length));
}
