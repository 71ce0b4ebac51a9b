// SPDX-License-Identifier: MIT
// detail::flat_index (the publisher's subject index) and detail::slab (its value storage).
#include "racket/detail/flat_index.hpp"
#include "racket/detail/slab.hpp"

#include "catch.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using racket::detail::flat_index;
using racket::detail::slab;

namespace {

// Keys live outside the index, as in the publisher: value i names keys[i].
struct model {
  std::vector<std::string> keys;
  std::map<std::string, std::uint32_t> expected;
  flat_index index;
  int hash_bits;

  std::uint64_t hash(const std::string& k) const {
    // Few distinct hashes force long probe runs, wrap-around and backward shifts.
    const auto full = std::hash<std::string>{}(k);
    return hash_bits >= 64 ? full : full & ((std::uint64_t{1} << hash_bits) - 1);
  }
  std::uint32_t find(const std::string& k) const {
    return index.find(hash(k), [&](std::uint32_t v) { return keys[v] == k; });
  }
};

}  // namespace

TEST_CASE("flat_index: random inserts and erases agree with std::map", "[flat_index]") {
  for (const int bits : {3, 7, 64}) {
    model m{.keys = {}, .expected = {}, .index = {}, .hash_bits = bits};
    std::mt19937_64 rng(1234 + static_cast<unsigned>(bits));
    std::vector<std::uint32_t> free_values;
    for (int step = 0; step < 20000; ++step) {
      const std::string k = "k" + std::to_string(rng() % 600);
      const auto it = m.expected.find(k);
      if (it == m.expected.end()) {
        std::uint32_t v;
        if (!free_values.empty()) {
          v = free_values.back();
          free_values.pop_back();
          m.keys[v] = k;
        } else {
          v = static_cast<std::uint32_t>(m.keys.size());
          m.keys.push_back(k);
        }
        REQUIRE(m.find(k) == flat_index::npos);
        m.index.insert(m.hash(k), v);
        m.expected.emplace(k, v);
      } else if (rng() % 2 == 0) {
        REQUIRE(m.index.erase(m.hash(k), it->second));
        free_values.push_back(it->second);
        m.keys[it->second] = "";
        m.expected.erase(it);
        REQUIRE(m.find(k) == flat_index::npos);
      }
      if (step % 997 == 0) {
        for (const auto& [key, value] : m.expected) REQUIRE(m.find(key) == value);
      }
    }
    REQUIRE(m.index.size() == m.expected.size());
    for (const auto& [key, value] : m.expected) CHECK(m.find(key) == value);
    CHECK(m.index.bucket_count() * 4 >= m.index.size() * 5);
  }
}

TEST_CASE("flat_index: erase of a value that is not there is refused", "[flat_index]") {
  flat_index index;
  CHECK_FALSE(index.erase(5, 1));
  index.insert(5, 1);
  CHECK_FALSE(index.erase(5, 2));
  CHECK(index.erase(5, 1));
  CHECK(index.empty());
  CHECK(index.find(5, [](std::uint32_t) { return true; }) == flat_index::npos);
}

TEST_CASE("slab: blocks do not overlap, freed blocks are reused by their class", "[slab]") {
  slab s;
  std::mt19937 rng(7);
  struct block {
    std::byte* p;
    std::size_t n;
    unsigned char fill;
  };
  std::vector<block> live;
  for (int step = 0; step < 5000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      const std::size_t n = 1 + rng() % 3000;  // small and large
      std::byte* p = s.allocate(n);
      const auto fill = static_cast<unsigned char>(rng());
      std::memset(p, fill, n);
      live.push_back({p, n, fill});
    } else {
      const std::size_t i = rng() % live.size();
      for (std::size_t j = 0; j < live[i].n; ++j) REQUIRE(live[i].p[j] == std::byte{live[i].fill});
      s.deallocate(live[i].p, slab::capacity_for(live[i].n));
      live[i] = live.back();
      live.pop_back();
    }
  }
  for (const block& b : live) {
    for (std::size_t j = 0; j < b.n; ++j) REQUIRE(b.p[j] == std::byte{b.fill});
    slab::deallocate_large(b.p, slab::capacity_for(b.n));
  }

  slab t;
  std::byte* a = t.allocate(77);
  CHECK(slab::capacity_for(77) == 80);
  t.deallocate(a, slab::capacity_for(77));
  CHECK(t.allocate(73) == a);  // same 80-byte class
  CHECK(t.allocate(77) != a);
}

TEST_CASE("slab: past its first 2 MiB a slab takes 2 MiB chunks aligned to 2 MiB", "[slab]") {
  slab s;
  constexpr std::size_t block = 80;
  constexpr std::size_t small_chunks = slab::huge_chunk_size / slab::chunk_size;
  std::vector<std::byte*> blocks;
  // Exactly the small chunks' worth of 80-byte blocks (a chunk holds 819 of them).
  const std::size_t per_chunk = slab::chunk_size / block;
  for (std::size_t i = 0; i < small_chunks * per_chunk; ++i) blocks.push_back(s.allocate(block));
  CHECK(s.chunk_bytes() == small_chunks * slab::chunk_size);

  // The next block opens the first large chunk, at its start.
  std::byte* first_large = s.allocate(block);
  CHECK(s.chunk_bytes() == small_chunks * slab::chunk_size + slab::huge_chunk_size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  CHECK(reinterpret_cast<std::uintptr_t>(first_large) % slab::huge_chunk_size == 0);
#endif
  blocks.push_back(first_large);

  // Fill past it: one more large chunk, and every block writable and apart from the others.
  const std::size_t per_large = slab::huge_chunk_size / block;
  for (std::size_t i = 0; i < per_large; ++i) blocks.push_back(s.allocate(block));
  CHECK(s.chunk_bytes() == small_chunks * slab::chunk_size + 2 * slab::huge_chunk_size);
  for (std::size_t i = 0; i < blocks.size(); ++i) std::memset(blocks[i], static_cast<int>(i & 0xFF), block);
  std::vector<std::byte*> sorted = blocks;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i) REQUIRE(sorted[i] - sorted[i - 1] >= static_cast<std::ptrdiff_t>(block));
  for (std::size_t i = 0; i < blocks.size(); ++i) REQUIRE(blocks[i][block - 1] == std::byte(i & 0xFF));

  // Freed blocks are reused before any new chunk is taken.
  const std::size_t held = s.chunk_bytes();
  for (std::size_t i = 0; i < 1000; ++i) s.deallocate(blocks[i], block);
  for (std::size_t i = 0; i < 1000; ++i) s.allocate(block);
  CHECK(s.chunk_bytes() == held);
}
