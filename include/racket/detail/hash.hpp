// SPDX-License-Identifier: MIT
#pragma once

// xxHash is used header-only: every hash in Racket is XXH3-64 with seed 0.
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace racket::detail {

inline std::uint64_t xxh3(const void* data, std::size_t size) noexcept {
  return XXH3_64bits(data, size);
}

inline std::uint64_t xxh3(std::string_view s) noexcept { return xxh3(s.data(), s.size()); }

inline std::uint64_t xxh3(std::span<const std::byte> s) noexcept { return xxh3(s.data(), s.size()); }

}  // namespace racket::detail
