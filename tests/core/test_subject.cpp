#include "racket/subject.hpp"

#include "catch.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using namespace std::string_view_literals;

namespace {

// "a.b.c..." of exactly n bytes (n odd gives single-byte tokens throughout).
std::string dotted(std::size_t n) {
  std::string s;
  while (s.size() < n) {
    if (!s.empty()) s += '.';
    s += 'x';
  }
  s.resize(n, 'y');  // keeps the last token non-empty when n is even
  if (s.back() == '.') s.back() = 'z';
  return s;
}

std::string what_of_subject(std::string_view s) {
  try {
    racket::subject x{s};
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::invalid_subject);
    return e.what();
  }
  FAIL("subject constructor did not throw for '" << std::string(s) << "'");
  return {};
}

std::string what_of_filter(std::string_view f) {
  try {
    racket::subject_filter x{f};
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::invalid_filter);
    return e.what();
  }
  FAIL("filter constructor did not throw for '" << std::string(f) << "'");
  return {};
}

}  // namespace

TEST_CASE("valid subjects are accepted by every entry point", "[subject]") {
  const std::vector<std::string> good = {
      "a",
      "plant",
      "plant.line3.temp",
      "Plant.LINE3.Temp",
      "a.b.c.d.e.f.g.h",
      "with space.and tab\t",
      "gt>.hash#.plus+.dollar$",
      ">",
      "#",
      "\xc3\xa9t\xc3\xa9.\xe6\xb8\xa9\xe5\xba\xa6",  // UTF-8 "été.温度"
      "\xff\xfe",                                   // arbitrary non-UTF-8 bytes are opaque
      dotted(255),
      std::string(255, 'q'),
  };
  for (const auto& s : good) {
    INFO("subject '" << s << "'");
    CHECK_FALSE(racket::validate_subject(s));

    std::error_code ec = racket::errc::bad_magic;  // must be cleared
    const auto parsed = racket::subject::parse(s, ec);
    CHECK_FALSE(ec);
    CHECK(parsed.str() == s);
    CHECK(parsed.size() == s.size());
    CHECK_FALSE(parsed.empty());

    const racket::subject thrown{s};
    CHECK(thrown.str() == s);
    CHECK(thrown == parsed);
  }
  CHECK(dotted(255).size() == 255);
}

TEST_CASE("invalid subjects are refused with errc::invalid_subject", "[subject]") {
  const std::vector<std::string> bad = {
      "",
      ".",
      "..",
      ".a",
      "a.",
      "a..b",
      "*",
      "a.*",
      "*.a",
      "a.*.b",
      "pl*nt",
      "a.b*",
      "a.*b",
      "**",
      std::string("a\0b", 3),
      std::string("\0", 1),
      std::string("a.\0", 3),
      dotted(256),
      std::string(256, 'q'),
      std::string(1000, 'q'),
  };
  for (const auto& s : bad) {
    INFO("subject '" << s << "' (" << s.size() << " bytes)");
    CHECK(racket::validate_subject(s) == racket::errc::invalid_subject);

    std::error_code ec;
    const auto parsed = racket::subject::parse(s, ec);
    CHECK(ec == racket::errc::invalid_subject);
    CHECK(parsed.empty());
    CHECK(parsed.str().empty());

    CHECK_THROWS_AS(racket::subject{s}, std::system_error);
  }
}

TEST_CASE("subject exceptions name the bad text", "[subject]") {
  const std::string dots = what_of_subject("a..b");
  CHECK(dots.find("subject 'a..b'") != std::string::npos);
  CHECK(dots.find("invalid subject") != std::string::npos);

  CHECK(what_of_subject("plant.*").find("'plant.*'") != std::string::npos);

  // A NUL must not cut the message short: it is escaped.
  const std::string nul = what_of_subject(std::string("ab\0cd", 5));
  CHECK(nul.find("'ab\\x00cd'") != std::string::npos);

  // Oversized text is cut, with its size noted.
  const std::string big = what_of_subject(std::string(256, 'q'));
  CHECK(big.find("subject '" + std::string(64, 'q') + "...'") != std::string::npos);
  CHECK(big.find("(256 bytes)") != std::string::npos);
  CHECK(big.find(std::string(65, 'q')) == std::string::npos);
}

TEST_CASE("subjects compare bytewise and case sensitively", "[subject]") {
  const racket::subject a{"plant.a"};
  const racket::subject b{"plant.b"};
  const racket::subject upper{"Plant.a"};
  CHECK(a == racket::subject{"plant.a"});
  CHECK(a != b);
  CHECK(a < b);
  CHECK(b > a);
  CHECK(a != upper);
  CHECK(upper < a);  // 'P' < 'p'
  CHECK((a <=> racket::subject{"plant.a"}) == std::strong_ordering::equal);

  const racket::subject none;
  CHECK(none.empty());
  CHECK(none.size() == 0);
  CHECK(none < a);
}

TEST_CASE("valid filters are accepted by every entry point", "[subject][filter]") {
  struct row {
    std::string text;
    bool wildcard;
  };
  const std::vector<row> good = {
      {"a", false},
      {"plant.line3.temp", false},
      {"*", true},
      {"plant.*", true},
      {"plant.*.temp", true},
      {"*.b", true},
      {"a.*.*", true},
      {"*.*.*", true},
      {"Plant.>.#", false},
      {"\xc3\xa9t\xc3\xa9.*", true},
      {dotted(255), false},
      {std::string(253, 'q') + ".*", true},
  };
  for (const auto& [text, wildcard] : good) {
    INFO("filter '" << text << "'");
    CHECK_FALSE(racket::validate_filter(text));

    std::error_code ec = racket::errc::bad_magic;
    const auto parsed = racket::subject_filter::parse(text, ec);
    CHECK_FALSE(ec);
    CHECK(parsed.str() == text);
    CHECK(parsed.has_wildcard() == wildcard);
    CHECK_FALSE(parsed.empty());

    const racket::subject_filter thrown{text};
    CHECK(thrown.str() == text);
    CHECK(thrown.has_wildcard() == wildcard);
    CHECK(thrown == parsed);
  }
}

TEST_CASE("invalid filters are refused with errc::invalid_filter", "[subject][filter]") {
  const std::vector<std::string> bad = {
      "",
      ".",
      ".a",
      "a.",
      "a..b",
      "*.",
      ".*",
      "*..*",
      "pl*nt",
      "a.*b",
      "a.b*",
      "**",
      "a.**",
      "*a",
      std::string("a\0b", 3),
      std::string("a.*\0", 4),
      dotted(256),
      std::string(254, 'q') + ".*",
      std::string(256, 'q'),
  };
  for (const auto& f : bad) {
    INFO("filter '" << f << "' (" << f.size() << " bytes)");
    CHECK(racket::validate_filter(f) == racket::errc::invalid_filter);

    std::error_code ec;
    const auto parsed = racket::subject_filter::parse(f, ec);
    CHECK(ec == racket::errc::invalid_filter);
    CHECK(parsed.empty());
    CHECK_FALSE(parsed.has_wildcard());
    CHECK_FALSE(parsed.matches("a"));

    CHECK_THROWS_AS(racket::subject_filter{f}, std::system_error);
  }
}

TEST_CASE("filter exceptions name the bad text", "[subject][filter]") {
  const std::string star = what_of_filter("pl*nt.a");
  CHECK(star.find("subject filter 'pl*nt.a'") != std::string::npos);
  CHECK(star.find("invalid subject filter") != std::string::npos);
  CHECK(what_of_filter("a..b").find("'a..b'") != std::string::npos);
  CHECK(what_of_filter("").find("subject filter ''") != std::string::npos);
}

TEST_CASE("a subject is a valid filter that matches only itself", "[subject][filter]") {
  for (const auto* s : {"a", "plant.line3.temp", "x.y"}) {
    CHECK_FALSE(racket::validate_filter(s));
    CHECK(racket::subject_filter{s}.matches(s));
  }
  CHECK(racket::subject_filter{"a.b"}.matches(racket::subject{"a.b"}));
  CHECK_FALSE(racket::subject_filter{"a.b"}.matches(racket::subject{"a.c"}));
}

TEST_CASE("filter matching table", "[subject][filter]") {
  struct row {
    const char* filter;
    std::string_view subject;
    bool expected;
  };
  const std::string big = dotted(255);
  const row rows[] = {
      // exact
      {"plant.line3.temp", "plant.line3.temp", true},
      {"plant.line3.temp", "plant.line3.tem", false},
      {"plant.line3.temp", "plant.line3.temp.x", false},
      {"plant.line3.temp", "plant.line3", false},
      {"plant", "plant", true},
      {"plant", "plantx", false},
      {"plant", "plant.a", false},
      {"ab.c", "a.bc", false},
      // case sensitive
      {"plant.a", "Plant.a", false},
      {"Plant.A", "Plant.A", true},
      {"plant.*", "PLANT.a", false},
      // trailing `*`: one or more tokens
      {"plant.*", "plant.a", true},
      {"plant.*", "plant.a.b", true},
      {"plant.*", "plant.a.b.c.d.e", true},
      {"plant.*", "plant", false},
      {"plant.*", "plants.a", false},
      {"plant.*", "other.a", false},
      {"a.b.*", "a.b.c", true},
      {"a.b.*", "a.b", false},
      {"a.b.*", "a.c.d", false},
      // `*` alone: everything
      {"*", "a", true},
      {"*", "a.b", true},
      {"*", "x.y.z.w", true},
      {"*", std::string_view(big), true},
      // inner `*`: exactly one token
      {"plant.*.temp", "plant.l3.temp", true},
      {"plant.*.temp", "plant.temp", false},
      {"plant.*.temp", "plant.a.b.temp", false},
      {"plant.*.temp", "plant.l3.temp.x", false},
      {"plant.*.temp", "plant.l3.press", false},
      {"*.b", "a.b", true},
      {"*.b", "x.b", true},
      {"*.b", "b", false},
      {"*.b", "a.b.c", false},
      {"*.b", "a.c", false},
      // `*` inner then trailing
      {"a.*.*", "a.b.c", true},
      {"a.*.*", "a.b.c.d", true},
      {"a.*.*", "a.b", false},
      {"a.*.*", "a", false},
      {"a.*.*", "b.b.c", false},
      {"*.*", "a", false},
      {"*.*", "a.b", true},
      {"*.*", "a.b.c", true},
      {"*.*.c", "a.b.c", true},
      {"*.*.c", "a.b.d", false},
      // UTF-8 tokens compare bytewise
      {"\xc3\xa9t\xc3\xa9.*", "\xc3\xa9t\xc3\xa9.x", true},
      {"\xc3\xa9t\xc3\xa9.*", "ete.x", false},
      {"*.\xe6\xb8\xa9", "a.\xe6\xb8\xa9", true},
      // other bytes are literal, not wildcards
      {"a.>", "a.b", false},
      {"a.>", "a.>", true},
      {"a.#", "a.b", false},
      // longest filter and subject
      {big.c_str(), std::string_view(big), true},
  };
  for (const auto& r : rows) {
    INFO("filter '" << r.filter << "' subject '" << r.subject << "'");
    REQUIRE_FALSE(racket::validate_filter(r.filter));
    REQUIRE_FALSE(racket::validate_subject(r.subject));
    CHECK(racket::subject_filter{r.filter}.matches(r.subject) == r.expected);
  }
}

TEST_CASE("matches is memory safe on input it does not expect", "[subject][filter]") {
  const racket::subject_filter star{"*"};
  const racket::subject_filter inner{"a.*.c"};
  const racket::subject_filter exact{"a.b"};
  const racket::subject_filter none;
  CHECK_FALSE(star.matches(""));
  CHECK_FALSE(inner.matches(""));
  CHECK_FALSE(exact.matches(""));
  CHECK_FALSE(none.matches(""));
  CHECK_FALSE(none.matches("a"));
  // Results for invalid subjects are unspecified; these only must not crash.
  (void)inner.matches("a..c");
  (void)inner.matches("...");
  (void)star.matches(".");
  CHECK(std::string(none.str()).empty());
}

// validate_subject checks eight or sixteen bytes at a time: compare it with the rules spelled
// out one byte at a time, on strings built from the bytes that matter, at every length around
// the word and vector boundaries (several chunks and an overlapping tail), and with the
// interesting byte at every position.
namespace {
bool reference_valid_subject(std::string_view s) {
  if (s.empty() || s.size() > racket::max_subject_size) return false;
  bool token_empty = true;
  for (const char c : s) {
    if (c == '.') {
      if (token_empty) return false;
      token_empty = true;
    } else if (c == '*' || c == '\0') {
      return false;
    } else {
      token_empty = false;
    }
  }
  return !token_empty;
}
}  // namespace

TEST_CASE("validate_subject agrees with the byte-by-byte rules", "[subject]") {
  const std::string alphabet{'a', '.', '*', '\0', 'Z', '\x80', '\xff', '-', '/', '+'};
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::size_t checked = 0, valid = 0;
  for (std::size_t len = 0; len <= 72; ++len) {
    for (int trial = 0; trial < 400; ++trial) {
      std::string s(len, 'a');
      // Mostly ordinary bytes with dots, so that valid subjects are common too.
      for (auto& c : s) {
        const auto r = next() % 16;
        c = r < 10 ? 'a' : r < 13 ? '.' : alphabet[next() % alphabet.size()];
      }
      const bool want = reference_valid_subject(s);
      INFO("subject bytes: " << len);
      REQUIRE(static_cast<bool>(racket::validate_subject(s)) == !want);
      ++checked;
      if (want) ++valid;
    }
    // One special byte at each position of an otherwise valid subject.
    for (std::size_t at = 0; at < len; ++at) {
      for (const char c : {'.', '*', '\0'}) {
        std::string s(len, 'q');
        s[at] = c;
        REQUIRE(static_cast<bool>(racket::validate_subject(s)) == !reference_valid_subject(s));
        if (at + 1 < len) {
          s[at + 1] = c;  // and two in a row (`..` across a word boundary among them)
          REQUIRE(static_cast<bool>(racket::validate_subject(s)) == !reference_valid_subject(s));
        }
      }
    }
  }
  CHECK(valid > 1000);  // the generator does produce valid subjects
  CHECK(checked == 73 * 400);
  CHECK(racket::validate_subject(std::string(255, 'a')) == std::error_code{});
  CHECK(racket::validate_subject(std::string(256, 'a')) == racket::errc::invalid_subject);
}
