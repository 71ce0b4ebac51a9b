// SPDX-License-Identifier: MIT
// wire_bench: the codec's hot loops alone, in one process, without the network (it sends
// nothing; safe to run anywhere). Prints nanoseconds per datagram, the best of five rounds:
//
//   decode   wire::decode of one data datagram into a record vector (checksum and every
//            record check included), as a subscriber does for each datagram it receives;
//   encode   datagram_writer: begin, append every record, finish (with the checksum);
//   xxh3     the checksum alone over the same bytes.
//
// The datagram is 1452 bytes at most (the default max_datagram_size), filled with 64-byte
// payloads on subjects "bench.s000000"... as the throughput benchmark's are (`--payload N`
// for another size). docs/performance.md says what it found.
#include "racket/racket.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

template <class F>
double best_ns_per_call(int calls, F&& f) {
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / calls);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t payload_size = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--payload" && i + 1 < argc) {
      payload_size = std::strtoul(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: wire_bench [--payload BYTES]\n");
      return 2;
    }
  }
  using namespace racket;
  const std::size_t max_size = wire::default_max_datagram_size;
  std::vector<std::byte> payload(payload_size, std::byte{0x5A});
  // As many records as fit, each the next sequence, 300 ns after the previous one. The
  // subjects' storage is reserved up front: the records' views point into it.
  std::vector<std::string> subjects;
  subjects.reserve(max_size);
  std::vector<wire::record> records;
  {
    std::vector<std::byte> probe(max_size);
    wire::datagram_writer w{std::span<std::byte>(probe)};
    w.begin(0x1234, "tput");
    for (std::uint64_t n = 0;; ++n) {
      char subject[32];
      std::snprintf(subject, sizeof subject, "bench.s%06llu", static_cast<unsigned long long>(n));
      subjects.emplace_back(subject);
      wire::record r;
      r.sequence = 1000 + n;
      r.timestamp_ns = 1'800'000'000'000'000'000ull + 300ull * n;
      r.subject = subjects.back();
      r.payload = payload;
      if (!w.append(r)) break;
      records.push_back(r);
    }
  }
  if (records.empty()) {
    std::fprintf(stderr, "wire_bench: a %zu-byte payload does not fit a %zu-byte datagram\n", payload_size, max_size);
    return 2;
  }

  std::vector<std::byte> buf(max_size);
  std::size_t size = 0;
  auto encode = [&] {
    wire::datagram_writer w{std::span<std::byte>(buf)};
    w.begin(0x1234, "tput");
    for (const wire::record& r : records) w.append(r);
    size = w.finish().size();
  };
  encode();

  std::vector<wire::record> decoded;
  std::error_code ec;
  std::size_t seen = 0;
  auto decode = [&] {
    const wire::datagram_view v = wire::decode(std::span<const std::byte>(buf.data(), size), ec, max_size, decoded);
    seen += v.record_count();
  };
  decode();
  if (ec || decoded.size() != records.size()) {
    std::fprintf(stderr, "wire_bench: the datagram does not decode: %s\n", ec.message().c_str());
    return 1;
  }
  std::uint64_t sum = 0;
  auto hash = [&] { sum += detail::xxh3(buf.data(), size - wire::trailer_size); };

  const int calls = 200'000;
  const double dec = best_ns_per_call(calls, decode);
  const double enc = best_ns_per_call(calls, encode);
  const double xx = best_ns_per_call(calls, hash);
  std::printf("datagram: %zu bytes, %zu records of %zu-byte payloads; XXH3 AVX2 loop: %s\n", size, records.size(),
              payload_size, detail::xxh3_uses_avx2() ? "yes" : "no");
  std::printf("decode %.1f ns/datagram (%.2f ns/record), encode %.1f ns/datagram (%.2f ns/record), xxh3 %.1f ns\n", dec,
              dec / static_cast<double>(records.size()), enc, enc / static_cast<double>(records.size()), xx);
  // The loops' results, printed so that none of them can be optimised away.
  std::printf("(records decoded: %zu, hash sum %016llx)\n", seen, static_cast<unsigned long long>(sum));
  return 0;
}
