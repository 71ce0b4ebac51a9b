// SPDX-License-Identifier: MIT
// The reader of the test vectors docs/wire-format.md gives in full: the wire, fragment and
// security tests all compare against the document itself, not a copy of its hex.
#pragma once

#include "catch.hpp"

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace racket_test {

// The bytes of vector `name` ("1", "F3", "S2", ...): the last fenced block that holds nothing
// but lowercase hex digits (one line, or several for a long vector) under a heading that
// starts "Vector NAME" (the vector's own section) or "Appendix: vector NAME" (one that spells a
// long vector out). Empty when there is none.
inline std::vector<std::byte> doc_vector(std::string_view name) {
  const std::filesystem::path doc = std::filesystem::path(__FILE__).parent_path() / ".." / "docs" / "wire-format.md";
  INFO(doc.string());
  std::ifstream in(doc);
  REQUIRE(in.good());
  const std::regex heading(R"(^#+ (?:[A-Za-z]+: )?[Vv]ector ([A-Z]?[0-9]+)\b)");
  const std::regex hex_line("^[0-9a-f]+$");
  std::string current;
  bool in_block = false;
  bool all_hex = false;
  std::string block;
  std::string found;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      if (in_block && all_hex && !block.empty() && current == name) found = block;
      in_block = !in_block;
      all_hex = true;
      block.clear();
    } else if (in_block) {
      if (std::regex_match(line, hex_line)) {
        block += line;
      } else {
        all_hex = false;
      }
    } else if (line.rfind('#', 0) == 0) {
      std::smatch m;
      current = std::regex_search(line, m, heading) ? m[1].str() : std::string{};
    }
  }
  std::vector<std::byte> out;
  out.reserve(found.size() / 2);
  for (std::size_t i = 0; i + 1 < found.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoi(found.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace racket_test
