// SPDX-License-Identifier: MIT
// libFuzzer target: validate_subject, validate_filter, subject::parse, subject_filter::parse
// and subject_filter::matches, with a reference matcher to compare against.
//
// Input: u8 split, then the bytes; the first `split` bytes are the filter text, the rest the
// subject text (both are also parsed as the other kind).
#include "racket/subject.hpp"

#include "fuzz_common.hpp"

#include "racket/subscription_index.hpp"
#include "racket/wire.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// The specification, written as plainly as possible.
bool reference_matches(std::string_view filter, std::string_view subj) {
  const auto f = split(filter);
  const auto s = split(subj);
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (i >= s.size()) return false;
    if (f[i] == "*") {
      if (i + 1 == f.size()) return true;
      continue;
    }
    if (f[i] != s[i]) return false;
  }
  return f.size() == s.size();
}

bool reference_valid(std::string_view s, bool filter) {
  if (s.empty() || s.size() > 255) return false;
  for (auto t : split(s)) {
    if (t.empty()) return false;
    if (t.find('\0') != std::string_view::npos) return false;
    if (t.find('*') != std::string_view::npos && !(filter && t == "*")) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;
  racket::fuzz::input in{data, size};
  const std::size_t cut = in.u8();
  const std::string filter_text(in.text(cut));
  const std::string subject_text(in.text(in.size()));

  for (const std::string& text : {filter_text, subject_text}) {
    const bool subject_ok = !racket::validate_subject(text);
    const bool filter_ok = !racket::validate_filter(text);
    RACKET_FUZZ_CHECK(subject_ok == reference_valid(text, false));
    RACKET_FUZZ_CHECK(filter_ok == reference_valid(text, true));
    RACKET_FUZZ_CHECK(subject_ok == racket::detail::is_valid_wire_subject(text));
    if (subject_ok) RACKET_FUZZ_CHECK(filter_ok);

    std::error_code ec;
    const auto s = racket::subject::parse(text, ec);
    RACKET_FUZZ_CHECK(!ec == subject_ok && s.empty() == !subject_ok);
    if (subject_ok) RACKET_FUZZ_CHECK(s.str() == text);
    const auto f = racket::subject_filter::parse(text, ec);
    RACKET_FUZZ_CHECK(!ec == filter_ok && f.empty() == !filter_ok);
    // The throwing constructors must throw std::system_error exactly when parse fails, with
    // the text (escaped, maybe cut) in what().
    try {
      racket::subject t{text};
      RACKET_FUZZ_CHECK(subject_ok);
    } catch (const std::system_error& e) {
      RACKET_FUZZ_CHECK(!subject_ok && e.code() == racket::errc::invalid_subject);
      RACKET_FUZZ_CHECK(std::string_view(e.what()).find("subject '") != std::string_view::npos);
    }
    try {
      racket::subject_filter t{text};
      RACKET_FUZZ_CHECK(filter_ok);
    } catch (const std::system_error& e) {
      RACKET_FUZZ_CHECK(!filter_ok && e.code() == racket::errc::invalid_filter);
    }
  }

  std::error_code ec;
  const auto filter = racket::subject_filter::parse(filter_text, ec);
  if (!ec) {
    // matches() must be memory safe for any input, and right for every valid subject.
    const bool m = filter.matches(subject_text);
    if (!racket::validate_subject(subject_text)) {
      RACKET_FUZZ_CHECK(m == reference_matches(filter_text, subject_text));
      // The trie index must agree with the filter.
      racket::subscription_index<int> index;
      index.insert(filter, 1);
      bool indexed = false;
      index.for_each_match(subject_text, [&](std::uint64_t, const int&) { indexed = true; });
      RACKET_FUZZ_CHECK(indexed == m);
    }
    // A filter always matches itself when it has no wildcard.
    if (!filter.has_wildcard()) RACKET_FUZZ_CHECK(filter.matches(filter_text));
  }
  return 0;
}
