#include "racket/subscription_index.hpp"

#include "catch.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

// Counts global allocations so tests can prove that matching does not allocate. Every
// unaligned form is replaced so that each allocation and its release go through malloc/free.
// (This replacement is program wide: link this file into its own test executable.)
// ThreadSanitizer's runtime defines the global operators itself (a link error if we do too),
// so under TSan the counting test is left out; the other builds run it.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RACKET_TEST_NO_NEW_REPLACEMENT 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define RACKET_TEST_NO_NEW_REPLACEMENT 1
#endif

#ifndef RACKET_TEST_NO_NEW_REPLACEMENT
namespace {
std::atomic<std::size_t> allocations{0};

void* counted_alloc(std::size_t size) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}

// Out of line so that GCC, once operator delete is inlined, does not see free() applied to
// what operator new returned (-Wmismatched-new-delete): here they are a matching pair.
[[gnu::noinline]] void counted_free(void* p) noexcept { std::free(p); }
}  // namespace

void* operator new(std::size_t size) {
  if (void* p = counted_alloc(size)) return p;
  throw std::bad_alloc{};
}
void* operator new[](std::size_t size) {
  if (void* p = counted_alloc(size)) return p;
  throw std::bad_alloc{};
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
#endif

namespace {

using index_type = racket::subscription_index<std::string>;
using id_type = index_type::id_type;

std::set<id_type> matches_of(const index_type& index, std::string_view subject) {
  std::set<id_type> out;
  index.for_each_match(subject, [&](id_type id, const std::string&) {
    const bool fresh = out.insert(id).second;
    CHECK(fresh);  // once per subscription
  });
  return out;
}

racket::subject_filter filter(std::string_view f) { return racket::subject_filter{f}; }

}  // namespace

TEST_CASE("insert, find, size and erase", "[subscription_index]") {
  index_type index;
  CHECK(index.empty());
  CHECK(index.size() == 0);
  CHECK(index.node_count() == 0);
  CHECK(index.find(1) == nullptr);
  CHECK_FALSE(index.erase(1));

  const id_type a = index.insert(filter("plant.a"), "A");
  const id_type b = index.insert(filter("plant.*"), "B");
  CHECK(a != 0);
  CHECK(b != 0);
  CHECK(a != b);
  CHECK(index.size() == 2);
  CHECK_FALSE(index.empty());
  REQUIRE(index.find(a) != nullptr);
  CHECK(*index.find(a) == "A");
  REQUIRE(index.find(b) != nullptr);
  CHECK(*index.find(b) == "B");
  CHECK(index.find(0) == nullptr);

  *index.find(a) = "A2";  // the non-const overload gives write access
  CHECK(*std::as_const(index).find(a) == "A2");

  CHECK(index.erase(a));
  CHECK_FALSE(index.erase(a));
  CHECK(index.find(a) == nullptr);
  CHECK(index.size() == 1);
  CHECK(matches_of(index, "plant.a") == std::set<id_type>{b});

  // Ids are never reused, not even after an erase.
  const id_type c = index.insert(filter("plant.a"), "C");
  CHECK(c != a);
  CHECK(c != b);
  CHECK(c > b);
  CHECK(matches_of(index, "plant.a") == std::set<id_type>{b, c});
}

TEST_CASE("every match kind", "[subscription_index]") {
  index_type index;
  const id_type exact = index.insert(filter("plant.l3.temp"), "exact");
  const id_type inner = index.insert(filter("plant.*.temp"), "inner");
  const id_type trailing = index.insert(filter("plant.*"), "trailing");
  const id_type all = index.insert(filter("*"), "all");
  const id_type two_plus = index.insert(filter("*.*"), "two+");
  const id_type first_star = index.insert(filter("*.l3.temp"), "first");
  const id_type inner_trailing = index.insert(filter("plant.*.*"), "inner+trailing");
  const id_type short_exact = index.insert(filter("plant"), "plant");
  const id_type upper = index.insert(filter("Plant.l3.temp"), "upper");
  const id_type utf8 = index.insert(filter("\xc3\xa9t\xc3\xa9.*"), "utf8");

  CHECK(matches_of(index, "plant.l3.temp") ==
        std::set<id_type>{exact, inner, trailing, all, two_plus, first_star, inner_trailing});
  CHECK(matches_of(index, "plant.l4.temp") ==
        std::set<id_type>{inner, trailing, all, two_plus, inner_trailing});
  CHECK(matches_of(index, "plant.l3") == std::set<id_type>{trailing, all, two_plus});
  CHECK(matches_of(index, "plant") == std::set<id_type>{all, short_exact});
  CHECK(matches_of(index, "plant.l3.temp.x") == std::set<id_type>{trailing, all, two_plus, inner_trailing});
  CHECK(matches_of(index, "Plant.l3.temp") == std::set<id_type>{upper, all, two_plus, first_star});
  CHECK(matches_of(index, "other") == std::set<id_type>{all});
  CHECK(matches_of(index, "\xc3\xa9t\xc3\xa9.x.y") == std::set<id_type>{utf8, all, two_plus});

  // Values arrive with their ids.
  index.for_each_match("plant", [&](id_type id, const std::string& v) {
    CHECK(*index.find(id) == v);
  });
}

TEST_CASE("subjects the index cannot hold match nothing", "[subscription_index]") {
  index_type index;
  index.insert(filter("*"), "all");
  CHECK(matches_of(index, "").empty());
  CHECK(matches_of(index, std::string(256, 'q')).empty());
  std::string dots(255, '.');  // 256 empty tokens: more than any valid subject has
  CHECK(matches_of(index, dots).empty());
  CHECK(matches_of(index, std::string(255, 'q')).size() == 1);
}

TEST_CASE("the same filter twice is two subscriptions", "[subscription_index]") {
  index_type index;
  for (const auto* f : {"a.b", "a.*", "*.b", "*"}) {
    INFO("filter " << f);
    const id_type first = index.insert(filter(f), "1");
    const id_type second = index.insert(filter(f), "2");
    CHECK(first != second);
    CHECK(matches_of(index, "a.b") == std::set<id_type>{first, second});
    CHECK(index.erase(first));
    CHECK(matches_of(index, "a.b") == std::set<id_type>{second});
    CHECK(index.erase(second));
    CHECK(matches_of(index, "a.b").empty());
    CHECK(index.node_count() == 0);
  }
}

TEST_CASE("erase prunes the trie", "[subscription_index]") {
  index_type index;
  const id_type deep = index.insert(filter("a.b.c.*.e"), "deep");
  CHECK(index.node_count() == 5);  // a, b, c, *, e
  const id_type shared = index.insert(filter("a.b.*"), "shared prefix");
  CHECK(index.node_count() == 5);  // a trailing `*` needs no node of its own
  const id_type wild = index.insert(filter("a.*.c.*"), "wild");
  CHECK(index.node_count() == 7);  // the `*` under a, and c under it
  const id_type root_star = index.insert(filter("*"), "all");
  CHECK(index.node_count() == 7);
  const id_type exact = index.insert(filter("a.b.c"), "exact");
  CHECK(index.node_count() == 7);  // filters without a wildcard need no trie node
  CHECK(matches_of(index, "a.b.c") == std::set<id_type>{shared, root_star, exact});

  CHECK(index.erase(deep));
  CHECK(index.node_count() == 4);  // e, * and c under b went; b stays for a.b.*
  CHECK(matches_of(index, "a.b.x") == std::set<id_type>{shared, root_star});
  CHECK(matches_of(index, "a.b.c.d.e") == std::set<id_type>{shared, root_star, wild});
  CHECK(index.erase(wild));
  CHECK(index.node_count() == 2);
  CHECK(index.erase(root_star));
  CHECK(index.erase(exact));
  CHECK(index.node_count() == 2);
  CHECK(matches_of(index, "a.b.c").size() == 1);
  CHECK(index.erase(shared));
  CHECK(index.node_count() == 0);
  CHECK(index.empty());
  CHECK(matches_of(index, "a.b.c").empty());

  // Refilling after a full prune works.
  const id_type again = index.insert(filter("a.b.c.*.e"), "again");
  CHECK(index.node_count() == 5);
  CHECK(matches_of(index, "a.b.c.d.e") == std::set<id_type>{again});
}

TEST_CASE("an empty filter is kept but matches nothing", "[subscription_index]") {
  index_type index;
  const id_type id = index.insert(racket::subject_filter{}, "none");
  CHECK(index.size() == 1);
  CHECK(index.node_count() == 0);
  CHECK(matches_of(index, "a").empty());
  CHECK(index.erase(id));
  CHECK(index.empty());
}

TEST_CASE("move-only values and moves of the index", "[subscription_index]") {
  racket::subscription_index<std::unique_ptr<int>> index;
  const auto a = index.insert(filter("x.*"), std::make_unique<int>(7));
  racket::subscription_index<std::unique_ptr<int>> moved{std::move(index)};
  CHECK(index.empty());           // NOLINT(bugprone-use-after-move): documented state
  CHECK(index.node_count() == 0);  // NOLINT(bugprone-use-after-move)
  int seen = 0;
  moved.for_each_match("x.y", [&](auto id, const std::unique_ptr<int>& v) {
    CHECK(id == a);
    seen = *v;
  });
  CHECK(seen == 7);

  const auto b = index.insert(filter("x.y"), std::make_unique<int>(8));  // NOLINT(bugprone-use-after-move)
  CHECK(b != a);  // the moved-from index keeps its id counter
  index = std::move(moved);
  CHECK(moved.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(index.size() == 1);
  CHECK(index.find(b) == nullptr);
  REQUIRE(index.find(a) != nullptr);
  CHECK(**index.find(a) == 7);
}

#ifndef RACKET_TEST_NO_NEW_REPLACEMENT
TEST_CASE("matching does not allocate", "[subscription_index]") {
  index_type index;
  index.insert(filter("plant.*.temp"), "inner");
  index.insert(filter("plant.*"), "trailing");
  index.insert(filter("*"), "all");
  for (int i = 0; i < 1000; ++i) index.insert(filter("plant.l" + std::to_string(i) + ".temp"), "exact");
  const racket::subject_filter wild = filter("plant.*.temp");
  const std::string long_subject = std::string(200, 'p') + ".l7.temp";

  std::size_t calls = 0;
  bool matched = false;
  const std::size_t before = allocations.load();
  index.for_each_match("plant.l7.temp", [&](id_type, const std::string&) { ++calls; });
  index.for_each_match(long_subject, [&](id_type, const std::string&) { ++calls; });
  matched = wild.matches("plant.l7.temp");
  const std::size_t after = allocations.load();

  CHECK(after == before);
  CHECK(calls == 5);  // exact, inner, trailing, all; then all
  CHECK(matched);

  // The counter does count: an insert allocates.
  index.insert(filter("x.y.z"), "x");
  CHECK(allocations.load() > after);
}
#endif

TEST_CASE("randomised equivalence with a linear scan", "[subscription_index]") {
  // A tiny alphabet so that wildcards, shared prefixes and duplicates all happen often.
  const std::vector<std::string> alphabet = {"a", "b", "c", "A", "\xc3\xa9"};
  std::mt19937_64 rng{0x5eed'cafe'f00dULL};
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };

  const auto random_filter = [&] {
    std::string f;
    const std::size_t tokens = 1 + pick(5);
    for (std::size_t i = 0; i < tokens; ++i) {
      if (i) f += '.';
      f += pick(4) == 0 ? std::string("*") : alphabet[pick(alphabet.size())];
    }
    return f;
  };
  const auto random_subject = [&] {
    std::string s;
    const std::size_t tokens = 1 + pick(6);
    for (std::size_t i = 0; i < tokens; ++i) {
      if (i) s += '.';
      s += alphabet[pick(alphabet.size())];
    }
    return s;
  };

  index_type index;
  std::vector<std::pair<id_type, racket::subject_filter>> live;
  for (int i = 0; i < 2000; ++i) {
    auto f = filter(random_filter());
    live.emplace_back(index.insert(f, std::string(f.str())), f);
  }
  std::vector<std::string> subjects;
  for (int i = 0; i < 5000; ++i) subjects.push_back(random_subject());
  REQUIRE(index.size() == 2000);

  const auto check_all = [&] {
    std::size_t total = 0;
    std::size_t mismatches = 0;
    for (const auto& s : subjects) {
      std::set<id_type> expected;
      for (const auto& [id, f] : live) {
        if (f.matches(s)) expected.insert(id);
      }
      std::set<id_type> got;
      std::size_t calls = 0;
      index.for_each_match(s, [&](id_type id, const std::string& v) {
        ++calls;
        got.insert(id);
        if (!racket::subject_filter{v}.matches(s)) ++mismatches;  // value travels with its id
      });
      if (got != expected || calls != got.size()) {
        ++mismatches;
        INFO("subject " << s);
        CHECK(got == expected);
        CHECK(calls == got.size());
      }
      total += expected.size();
    }
    CHECK(mismatches == 0);
    return total;
  };

  const std::size_t total_before = check_all();
  CHECK(total_before > 5000);  // the alphabet is small enough that wildcards hit often

  std::shuffle(live.begin(), live.end(), rng);
  for (std::size_t i = 0; i < 1000; ++i) REQUIRE(index.erase(live[i].first));
  live.erase(live.begin(), live.begin() + 1000);
  REQUIRE(index.size() == 1000);
  const std::size_t total_after = check_all();
  CHECK(total_after > 0);
  CHECK(total_after < total_before);

  for (const auto& [id, f] : live) REQUIRE(index.erase(id));
  CHECK(index.empty());
  CHECK(index.node_count() == 0);
  CHECK(matches_of(index, "a.b.c").empty());
}

TEST_CASE("matches_everything: only while every subscription is a lone '*'", "[subscription_index]") {
  index_type index;
  CHECK_FALSE(index.matches_everything());  // nothing subscribed matches nothing
  const id_type all1 = index.insert(filter("*"), "all1");
  const id_type all2 = index.insert(filter("*"), "all2");
  CHECK(index.matches_everything());
  std::set<id_type> listed;
  std::vector<std::string> values;
  index.for_each_catch_all([&](id_type id, const std::string& v) {
    listed.insert(id);
    values.push_back(v);
  });
  CHECK(listed == std::set<id_type>{all1, all2});
  // Exactly what for_each_match gives, for subjects of every shape.
  for (const char* s : {"a", "plant.line3.temp", "x.y.z.w.v", "a.b"}) CHECK(matches_of(index, s) == listed);

  // Any other filter shape ends it, and erasing that one brings it back.
  for (const char* other : {"plant.*", "plant.a", "*.temp", "a"}) {
    const id_type o = index.insert(filter(other), "other");
    INFO("with " << other);
    CHECK_FALSE(index.matches_everything());
    CHECK(index.erase(o));
    CHECK(index.matches_everything());
  }
  CHECK(index.erase(all1));
  CHECK(index.matches_everything());
  CHECK(index.erase(all2));
  CHECK_FALSE(index.matches_everything());
}
