// SPDX-License-Identifier: MIT
#pragma once

// Wire format v3, whole (normative description: docs/wire-format.md): every room of
// include/racket/wire/ and detail/range_set.hpp (which code reached through this header).
// Include a room alone to depend on less:
//
//   wire/format.hpp   version, magic, kinds, flags, limits, `record`, sizes, `content_hash`,
//                     the common header checks and `peek_kind`
//   wire/writer.hpp   `datagram_writer` and `seal`: writing data datagrams (kind 1)
//   wire/decode.hpp   `decode` and `datagram_view`: reading data datagrams
//   wire/request.hpp  snapshot and repair requests (kind 2), fragment ranges included
//   wire/fragment.hpp     fragment datagrams: limits, sizes, `is_fragment_datagram`,
//                         `decode_fragment` (large messages, "Fragmented messages")
//   wire/fragmenter.hpp   `fragmenter`: cutting one large message into fragment datagrams
//   wire/announce.hpp announcements of publishers and subscribers (kind 3)
//
// The byte primitives (little-endian integers, varints, zigzag) are detail/wire_bytes.hpp.
//
// The rooms are included in the order the single header held them: with range_set.hpp first,
// g++ 12 compiled datagram_view::iterator's constructor with other registers in a program that
// includes racket.hpp (checked by diffing the assembly of bench/racket_bench.cpp).

#include "racket/wire/format.hpp"
#include "racket/wire/writer.hpp"
#include "racket/wire/decode.hpp"
#include "racket/wire/request.hpp"
#include "racket/detail/range_set.hpp"
#include "racket/wire/fragment.hpp"
#include "racket/wire/fragmenter.hpp"
#include "racket/wire/announce.hpp"  // last: the rooms above keep their order
