// SPDX-License-Identifier: MIT
#pragma once

// Subjects and filters: what a published subject may be (`validate_subject`, `subject`) and
// how a filter with `*` wildcards is parsed and matched (`subject_filter`). Plain values;
// knows nothing of streams or the network.

#include "racket/detail/config.hpp"
#include "racket/error.hpp"

#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace racket {

/// Largest subject or filter, in bytes.
inline constexpr std::size_t max_subject_size = 255;

/// Most tokens a valid subject or filter can have (`a.b.…` filling 255 bytes).
inline constexpr std::size_t max_subject_tokens = (max_subject_size + 1) / 2;

/// Checks that `s` is a valid published subject, in one pass without allocating.
///
/// A subject is 1..255 bytes of dot-separated, non-empty tokens (`plant.line3.temp`). It may
/// hold no wildcard: a `*` anywhere (as a token or inside one) is refused, and so is a NUL byte.
/// Every other byte is allowed and compared exactly: UTF-8, spaces, `>`, `#`, upper and lower
/// case (`Plant` and `plant` are different subjects).
///
/// \returns an empty `std::error_code` if valid, else `errc::invalid_subject`.
inline std::error_code validate_subject(std::string_view s) noexcept;

namespace detail {

// Word-at-a-time helpers: 0x80 in each byte of `w` that is zero, 0 in every other (exact: no
// borrow crosses bytes, unlike the classic `(w - 0x01..) & ~w` test).
constexpr std::uint64_t zero_bytes(std::uint64_t w) noexcept {
  constexpr std::uint64_t low7 = 0x7F7F7F7F7F7F7F7Full;
  return ~(((w & low7) + low7) | w | low7);
}
constexpr std::uint64_t bytes_equal(std::uint64_t w, unsigned char c) noexcept {
  return zero_bytes(w ^ (0x0101010101010101ull * c));
}

#if defined(__SSE2__)
// subject_bytes_ok for n >= 8, sixteen bytes at a time: a bit per byte for NUL or `*`, and
// one for `.`, where two neighbouring bits are `..`.
RACKET_HOT_INLINE bool subject_bytes_ok_sse2(const char* p, std::size_t n) noexcept {
  const __m128i zero = _mm_setzero_si128(), star = _mm_set1_epi8('*'), dot = _mm_set1_epi8('.');
  unsigned bad = 0, dots = 0;
  const auto scan = [&](__m128i v) {
    bad = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, zero), _mm_cmpeq_epi8(v, star))));
    dots = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot)));
  };
  if (n < 16) {
    // The first and the last eight bytes side by side (they overlap): every pair of
    // neighbours lies inside one of the two halves, so the pair across them is not looked at.
    std::uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
    scan(_mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a)));
    return (bad | (dots & (dots >> 1) & 0x7F7Fu)) == 0;
  }
  unsigned any_bad = 0, double_dot = 0, carry = 0;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    scan(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    any_bad |= bad;
    double_dot |= (dots & (dots >> 1)) | (dots & carry);  // and the pair across the last chunk
    carry = dots >> 15;
  }
  if (i != n) {
    // The last sixteen bytes, overlapping what was checked (as in the word-wise version).
    scan(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16)));
    any_bad |= bad;
    double_dot |= dots & (dots >> 1);
  }
  return (any_bad | double_dot) == 0;
}
#endif

// The subject rules, eight bytes at a time (little-endian hosts; sixteen with SSE2): no NUL,
// no `*`, no `..`; the first and last bytes are checked by the caller. Subjects are checked
// on every publish and in every received record, so this is on both hot paths.
RACKET_HOT_INLINE bool subject_bytes_ok(const char* p, std::size_t n) noexcept {
#if defined(__SSE2__)
  if (n >= 8) return subject_bytes_ok_sse2(p, n);
#endif
  if (n < 8) {
    char prev = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = p[i];
      if (c == '\0' || c == '*' || (c == '.' && prev == '.')) return false;
      prev = c;
    }
    return true;
  }
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  constexpr std::uint64_t stars = ones * '*', dotted = ones * '.';
  // Per word: any byte zero or `*` (the classic test, exact as a yes/no once masked with the
  // high bits), and where the dots are (exact per byte), to find two in a row, also across
  // the previous word's last byte. No branch until the end.
  std::uint64_t carry = 0, nul_or_star = 0, double_dot = 0;
  std::size_t i = 0;
  std::uint64_t w;
  for (; i + 8 <= n; i += 8) {
    std::memcpy(&w, p + i, 8);
    const std::uint64_t s = w ^ stars;
    const std::uint64_t dots = zero_bytes(w ^ dotted);
    nul_or_star |= ((w - ones) & ~w) | ((s - ones) & ~s);
    double_dot |= dots & ((dots << 8) | carry);
    carry = dots >> 56;
  }
  if (i != n) {
    // The last eight bytes, overlapping what was checked: every pair of neighbours in them
    // is inside the word, and every earlier pair was checked above.
    std::memcpy(&w, p + n - 8, 8);
    const std::uint64_t s = w ^ stars;
    const std::uint64_t dots = zero_bytes(w ^ dotted);
    nul_or_star |= ((w - ones) & ~w) | ((s - ones) & ~s);
    double_dot |= dots & (dots << 8);
  }
  return ((nul_or_star & highs) | double_dot) == 0;
}

}  // namespace detail

namespace detail {

// validate_subject as a bool (no error_code to build): the wire decoder's check.
RACKET_HOT_INLINE bool is_valid_subject(std::string_view s) noexcept {
  if (s.empty() || s.size() > max_subject_size || s.front() == '.' || s.back() == '.') return false;
  if constexpr (std::endian::native == std::endian::little) {
    return subject_bytes_ok(s.data(), s.size());
  } else {
    char prev = 0;
    for (const char c : s) {
      if (c == '\0' || c == '*' || (c == '.' && prev == '.')) return false;
      prev = c;
    }
    return true;
  }
}

}  // namespace detail

inline std::error_code validate_subject(std::string_view s) noexcept {
  if (!detail::is_valid_subject(s)) return errc::invalid_subject;
  return {};
}

/// Checks that `f` is a valid subscription filter, in one pass without allocating.
///
/// A filter has the token syntax of a subject (1..255 bytes, dot-separated non-empty tokens, no
/// NUL, every other byte allowed), except that a token may be exactly `*`. A `*` inside a longer
/// token (`pl*nt`, `a.*b`, `a.**`) is refused.
///
/// \returns an empty `std::error_code` if valid, else `errc::invalid_filter`.
inline std::error_code validate_filter(std::string_view f) noexcept {
  if (f.empty() || f.size() > max_subject_size) return errc::invalid_filter;
  std::size_t token_size = 0;
  bool token_is_star = false;
  for (const char c : f) {
    if (c == '.') {
      if (token_size == 0) return errc::invalid_filter;
      token_size = 0;
      token_is_star = false;
    } else if (c == '\0') {
      return errc::invalid_filter;
    } else if (c == '*') {
      if (token_size != 0) return errc::invalid_filter;
      token_is_star = true;
      ++token_size;
    } else {
      if (token_is_star) return errc::invalid_filter;
      ++token_size;
    }
  }
  if (token_size == 0) return errc::invalid_filter;
  return {};
}

namespace detail {


// Walks the dot-separated tokens of `s`. An empty `s` has no tokens; otherwise every byte
// belongs to a token, so invalid input ("a..b") yields empty tokens rather than misbehaving.
class token_cursor {
 public:
  explicit constexpr token_cursor(std::string_view s) noexcept : s_(s), done_(s.empty()) {}

  constexpr bool done() const noexcept { return done_; }

  // Precondition: !done().
  constexpr std::string_view next() noexcept {
    const std::size_t end = s_.find('.', pos_);
    if (end == std::string_view::npos) {
      done_ = true;
      return {s_.data() + pos_, s_.size() - pos_};
    }
    const std::string_view token{s_.data() + pos_, end - pos_};
    pos_ = end + 1;
    return token;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  bool done_;
};

}  // namespace detail

/// A validated published subject: 1..255 bytes of dot-separated tokens without wildcards.
///
/// Owns its text. The only subject that is not valid is the empty one, which exists as the
/// default value and as the result of a failed `parse`. Subjects compare and order bytewise.
///
/// \code
/// racket::subject s{"plant.line3.temp"};            // throws std::system_error if invalid
/// std::error_code ec;
/// auto t = racket::subject::parse("plant..temp", ec); // ec == racket::errc::invalid_subject
/// \endcode
class subject {
 public:
  /// Constructs the empty subject (not publishable; `empty()` is true).
  subject() noexcept = default;

  /// Validates and copies `s`.
  /// \throws std::system_error with `errc::invalid_subject`, what() naming `s`.
  explicit subject(std::string_view s) : str_(checked(s)) {}

  /// Validates and copies `s`; never throws on invalid input.
  /// \returns the subject and clears `ec`, or sets `ec` to `errc::invalid_subject` and returns
  /// an empty subject.
  /// \throws std::bad_alloc only.
  static subject parse(std::string_view s, std::error_code& ec) {
    ec = validate_subject(s);
    if (ec) return subject{};
    subject out;
    out.str_.assign(s);
    return out;
  }

  /// The subject text.
  std::string_view str() const noexcept { return str_; }

  /// Size of the text in bytes.
  std::size_t size() const noexcept { return str_.size(); }

  /// True only for the default-constructed or failed-parse subject.
  bool empty() const noexcept { return str_.empty(); }

  /// Bytewise equality.
  friend bool operator==(const subject& a, const subject& b) noexcept { return a.str_ == b.str_; }

  /// Bytewise (lexicographic) order.
  friend std::strong_ordering operator<=>(const subject& a, const subject& b) noexcept {
    return a.str() <=> b.str();
  }

 private:
  static std::string_view checked(std::string_view s) {
    if (const std::error_code ec = validate_subject(s)) {
      detail::throw_error(ec, detail::quote_for_error("subject", s));
    }
    return s;
  }

  std::string str_;
};

/// A validated subscription filter: a subject pattern with optional `*` tokens.
///
/// - A `*` as the LAST token matches ONE OR MORE remaining tokens: `plant.*` matches
///   `plant.a` and `plant.a.b`, not `plant`. The filter `*` alone matches every subject.
/// - A `*` anywhere else matches exactly one token: `plant.*.temp` matches `plant.l3.temp`,
///   not `plant.temp` nor `plant.a.b.temp`.
/// - Every other token matches exactly, bytewise and case sensitive.
///
/// Filters compare and order bytewise by their text.
///
/// \code
/// racket::subject_filter f{"plant.*.temp"};
/// f.matches("plant.line3.temp");   // true
/// f.matches("plant.line3.press");  // false
/// \endcode
class subject_filter {
 public:
  /// Constructs the empty filter, which matches nothing.
  subject_filter() noexcept = default;

  /// Validates and copies `f`.
  /// \throws std::system_error with `errc::invalid_filter`, what() naming `f`.
  explicit subject_filter(std::string_view f) : str_(checked(f)), has_wildcard_(star_in(f)) {}

  /// Validates and copies `f`; never throws on invalid input.
  /// \returns the filter and clears `ec`, or sets `ec` to `errc::invalid_filter` and returns
  /// an empty filter.
  /// \throws std::bad_alloc only.
  static subject_filter parse(std::string_view f, std::error_code& ec) {
    ec = validate_filter(f);
    if (ec) return subject_filter{};
    subject_filter out;
    out.str_.assign(f);
    out.has_wildcard_ = star_in(f);
    return out;
  }

  /// True if `subj` matches this filter. Does not allocate.
  ///
  /// `subj` is assumed to be a valid subject (see `validate_subject`); for any other input the
  /// answer is unspecified but memory safe. The empty filter matches nothing.
  bool matches(std::string_view subj) const noexcept {
    if (!has_wildcard_) return !str_.empty() && str_ == subj;
    detail::token_cursor f{str_};
    detail::token_cursor s{subj};
    while (!f.done()) {
      const std::string_view ft = f.next();
      if (s.done()) return false;
      const std::string_view st = s.next();
      if (ft == "*") {
        if (f.done()) return true;  // trailing `*`: this and any further tokens
        continue;
      }
      if (ft != st) return false;
    }
    return s.done();
  }

  /// True if `subj` matches this filter.
  bool matches(const subject& subj) const noexcept { return matches(subj.str()); }

  /// The filter text.
  std::string_view str() const noexcept { return str_; }

  /// True if any token is `*`.
  bool has_wildcard() const noexcept { return has_wildcard_; }

  /// True only for the default-constructed or failed-parse filter.
  bool empty() const noexcept { return str_.empty(); }

  /// Bytewise equality of the filter text.
  friend bool operator==(const subject_filter& a, const subject_filter& b) noexcept {
    return a.str_ == b.str_;
  }

  /// Bytewise (lexicographic) order of the filter text.
  friend std::strong_ordering operator<=>(const subject_filter& a, const subject_filter& b) noexcept {
    return a.str() <=> b.str();
  }

 private:
  static std::string_view checked(std::string_view f) {
    if (const std::error_code ec = validate_filter(f)) {
      detail::throw_error(ec, detail::quote_for_error("subject filter", f));
    }
    return f;
  }

  static bool star_in(std::string_view f) noexcept { return f.find('*') != std::string_view::npos; }

  std::string str_;
  bool has_wildcard_ = false;
};

}  // namespace racket
