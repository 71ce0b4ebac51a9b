-- SPDX-License-Identifier: MIT
-- racket.lua: a Wireshark / tshark dissector for Racket's wire format, version 3, written from
-- docs/wire-format.md alone: the header, every record of a data datagram (kind 1) with its
-- sequence and timestamp made absolute again, the padding and the trailer, fragment records
-- (flag 0x08: total size, index, fragment size, content hash, the fragment count derived),
-- snapshot requests (kind 2) with their fragment section, and announcements (kind 3), field by
-- field. Malformed datagrams are shown as far as they go and flagged
-- with expert info named after the decoder's errors (truncated, bad_version, bad_kind,
-- bad_checksum, bad_length, bad_record, and bytes_left for bytes after the last record or
-- range); the dissector never raises a Lua error on any input.
-- The trailer's XXH3-64 checksum is verified (XXH3 ported below, checked by the tests against
-- the document's vectors and libxxhash). It must NOT know the library's code, only the
-- document.
--
--   tshark -X lua_script:tools/wireshark/racket.lua -r capture.pcap
--   (or copy this file into Wireshark's personal Lua plugins folder, see the README)
--
-- Found by a heuristic on every UDP port (the magic "RKTM"), and registered on the default
-- pool's ports (19090-19097, a preference) so that "Decode As" is never needed.
-- Portable to Lua 5.1 to 5.4: no bit operators on numbers; 64-bit values are Wireshark's
-- UInt64 / Int64 objects.

local WIRE_VERSION = 3
local MAGIC = "RKTM"
local HARD_LIMIT = 65507      -- the largest datagram a receiver accepts
local HEADER_SIZE = 17        -- the fixed part of a data header (before the stream name)
local TRAILER_SIZE = 8
local INFO_RECORDS = 4        -- records named in the Info column before "..."

local racket = Proto("racket", "Racket multicast publish/subscribe")

racket.prefs.ports = Pref.range("UDP ports", "19090-19097",
  "UDP ports decoded as Racket without a heuristic (the default pool's port range); the " ..
  "heuristic finds Racket on any other port", 65535)

racket.prefs.verify_checksum = Pref.bool("Verify the checksum", true,
  "Compute XXH3-64 over each datagram and compare it with its trailer (costs some time on " ..
  "large captures)")

-- Fields -------------------------------------------------------------------------------------

local kind_names = { [1] = "data", [2] = "snapshot request", [3] = "announcement" }
local role_names = { [1] = "publisher", [2] = "subscriber" }

local F = {
  magic          = ProtoField.string("racket.magic", "Magic"),
  version        = ProtoField.uint8("racket.version", "Version"),
  kind           = ProtoField.uint8("racket.kind", "Kind", base.DEC, kind_names),
  record_count   = ProtoField.uint16("racket.record_count", "Record count"),
  publisher_id   = ProtoField.uint64("racket.publisher_id", "Publisher id", base.HEX),
  stream_len     = ProtoField.uint8("racket.stream_len", "Stream name length"),
  stream         = ProtoField.string("racket.stream", "Stream"),

  record         = ProtoField.none("racket.record", "Record"),
  flags          = ProtoField.uint8("racket.record.flags", "Flags", base.HEX),
  f_tombstone    = ProtoField.bool("racket.record.flags.tombstone", "Tombstone", 8, nil, 0x01),
  f_resend       = ProtoField.bool("racket.record.flags.resend", "Resend", 8, nil, 0x02),
  f_snapshot     = ProtoField.bool("racket.record.flags.snapshot", "Snapshot", 8, nil, 0x04),
  f_seq_next     = ProtoField.bool("racket.record.flags.sequence_next", "Sequence next", 8, nil, 0x10),
  f_same_int     = ProtoField.bool("racket.record.flags.same_interval", "Same interval", 8, nil, 0x20),
  f_fragment     = ProtoField.bool("racket.record.flags.fragment", "Fragment", 8, nil, 0x08),
  f_reserved     = ProtoField.uint8("racket.record.flags.reserved", "Reserved bits", base.HEX, nil, 0xC0),
  subject_len    = ProtoField.uint8("racket.record.subject_len", "Subject length"),
  payload_len    = ProtoField.uint32("racket.record.payload_len", "Payload length"),
  interval       = ProtoField.uint32("racket.record.interval_ms", "Interval (ms)"),
  seq_delta      = ProtoField.int64("racket.record.sequence_delta", "Sequence delta"),
  sequence       = ProtoField.uint64("racket.record.sequence", "Sequence"),
  ts_delta       = ProtoField.int64("racket.record.timestamp_delta", "Timestamp delta (ns)"),
  timestamp      = ProtoField.uint64("racket.record.timestamp_ns", "Timestamp (ns since 1970)"),
  time           = ProtoField.absolute_time("racket.record.time", "Timestamp", base.UTC),
  subject        = ProtoField.string("racket.record.subject", "Subject"),
  payload        = ProtoField.bytes("racket.record.payload", "Payload"),
  frag_total     = ProtoField.uint32("racket.fragment.total_size", "Message size (bytes)"),
  frag_index     = ProtoField.uint32("racket.fragment.index", "Fragment index"),
  frag_size      = ProtoField.uint16("racket.fragment.size", "Fragment size"),
  frag_hash      = ProtoField.uint64("racket.fragment.content_hash", "Content hash (XXH3-64)", base.HEX),
  frag_count     = ProtoField.uint32("racket.fragment.count", "Fragments in the message"),

  padding        = ProtoField.bytes("racket.padding", "Padding"),
  padding_len    = ProtoField.uint32("racket.padding_len", "Padding length"),
  checksum       = ProtoField.uint64("racket.checksum", "Checksum (XXH3-64)", base.HEX),
  checksum_state = ProtoField.string("racket.checksum.status", "Checksum status"),
  undecoded      = ProtoField.bytes("racket.undecoded", "Undecoded bytes"),

  range_count    = ProtoField.uint16("racket.range_count", "Range count"),
  requester_id   = ProtoField.uint64("racket.requester_id", "Requester id", base.HEX),
  filter_len     = ProtoField.uint8("racket.filter_len", "Filter length"),
  filter         = ProtoField.string("racket.filter", "Filter"),
  target         = ProtoField.uint64("racket.target_publisher", "Target publisher", base.HEX),
  range          = ProtoField.none("racket.range", "Range"),
  range_first    = ProtoField.uint64("racket.range.first", "First sequence"),
  range_last     = ProtoField.uint64("racket.range.last", "Last sequence"),
  frange_count   = ProtoField.uint8("racket.fragment_range_count", "Fragment range count"),
  frange         = ProtoField.none("racket.fragment_range", "Fragment range"),
  frange_seq     = ProtoField.uint64("racket.fragment_range.sequence", "Sequence"),
  frange_first   = ProtoField.uint32("racket.fragment_range.first", "First fragment"),
  frange_last    = ProtoField.uint32("racket.fragment_range.last", "Last fragment"),

  a_entry_count  = ProtoField.uint16("racket.announce.entry_count", "Entry count"),
  a_sender_id    = ProtoField.uint64("racket.announce.sender_id", "Sender id", base.HEX),
  a_host_len     = ProtoField.uint8("racket.announce.host_len", "Host name length"),
  a_host         = ProtoField.string("racket.announce.host", "Host"),
  a_role         = ProtoField.uint8("racket.announce.role", "Role", base.DEC, role_names),
  a_pid          = ProtoField.uint32("racket.announce.pid", "Process id"),
  a_period       = ProtoField.uint32("racket.announce.period_ms", "Announce period (ms)"),
  a_program_len  = ProtoField.uint8("racket.announce.program_len", "Program name length"),
  a_program      = ProtoField.string("racket.announce.program", "Program"),
  a_entry        = ProtoField.none("racket.announce.entry", "Entry"),
  a_stream_len   = ProtoField.uint8("racket.announce.stream_len", "Stream name length"),
  a_stream       = ProtoField.string("racket.announce.stream", "Stream"),
  a_subjects     = ProtoField.uint32("racket.announce.subject_count", "Subjects kept"),
  a_rate_milli   = ProtoField.uint64("racket.announce.rate_milli", "Rate (msgs/s x 1000)"),
  a_filter_count = ProtoField.uint8("racket.announce.filter_count", "Filter count"),
  a_filter_len   = ProtoField.uint8("racket.announce.filter_len", "Filter length"),
  a_filter       = ProtoField.string("racket.announce.filter", "Filter"),
}
local field_list = {}
for _, field in pairs(F) do field_list[#field_list + 1] = field end
racket.fields = field_list

-- Expert info: one entry per error of the decoder (docs/wire-format.md, "Decoding"), plus
-- "bytes_left" (a bad_length the decoder reports for bytes after the last record or range)
-- and "dissector_error", which a test asserts never appears.
local E = {
  oversize    = ProtoExpert.new("racket.expert.oversize", "Oversize datagram",
                                expert.group.MALFORMED, expert.severity.ERROR),
  truncated   = ProtoExpert.new("racket.expert.truncated", "Truncated datagram",
                                expert.group.MALFORMED, expert.severity.ERROR),
  bad_version = ProtoExpert.new("racket.expert.bad_version", "Bad wire version",
                                expert.group.MALFORMED, expert.severity.ERROR),
  bad_kind    = ProtoExpert.new("racket.expert.bad_kind", "Bad datagram kind",
                                expert.group.MALFORMED, expert.severity.ERROR),
  bad_length  = ProtoExpert.new("racket.expert.bad_length", "Bad length",
                                expert.group.MALFORMED, expert.severity.ERROR),
  bad_record  = ProtoExpert.new("racket.expert.bad_record", "Bad record",
                                expert.group.MALFORMED, expert.severity.ERROR),
  bad_checksum = ProtoExpert.new("racket.expert.bad_checksum", "Bad checksum",
                                expert.group.CHECKSUM, expert.severity.ERROR),
  bytes_left  = ProtoExpert.new("racket.expert.bytes_left", "Bytes left over",
                                expert.group.MALFORMED, expert.severity.ERROR),
  dissector_error = ProtoExpert.new("racket.expert.dissector_error", "Racket dissector error",
                                expert.group.MALFORMED, expert.severity.ERROR),
}
local expert_list = {}
for _, e in pairs(E) do expert_list[#expert_list + 1] = e end
racket.experts = expert_list

-- XXH3-64 -------------------------------------------------------------------------------------

-- XXH3-64 (seed 0, default secret) of bytes [0, n) of a Tvb, for n > 16 (a trailer covers at
-- least 18 bytes): the checksum of the trailer. Ported from xxHash 0.8.1's scalar code
-- (xxhash.h: XXH3_len_17to128_64b, XXH3_len_129to240_64b, XXH3_hashLong_64b) with Wireshark's
-- UInt64; tests/wireshark checks it against every test vector of docs/wire-format.md.
local xxh3 = {}
do
  local SECRET = {
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
  }
  local M32 = UInt64(0xFFFFFFFF)
  local P32_1, P32_2, P32_3 = UInt64(0x9E3779B1), UInt64(0x85EBCA77), UInt64(0xC2B2AE3D)
  local P64_1 = UInt64.fromhex("9E3779B185EBCA87")
  local P64_2 = UInt64.fromhex("C2B2AE3D27D4EB4F")
  local P64_3 = UInt64.fromhex("165667B19E3779F9")
  local P64_4 = UInt64.fromhex("85EBCA77C2B2AE63")
  local P64_5 = UInt64.fromhex("27D4EB2F165667C5")
  local AVALANCHE = UInt64.fromhex("165667919E3779F9")

  local secret64 = {}   -- offset -> UInt64, little-endian, at any byte offset
  local function sec(off)
    local v = secret64[off]
    if not v then
      local b = SECRET
      local lo = b[off + 1] + b[off + 2] * 0x100 + b[off + 3] * 0x10000 + b[off + 4] * 0x1000000
      local hi = b[off + 5] + b[off + 6] * 0x100 + b[off + 7] * 0x10000 + b[off + 8] * 0x1000000
      v = UInt64(lo, hi)
      secret64[off] = v
    end
    return v
  end

  local function mul128_fold64(lhs, rhs)
    local ll, lh = lhs:band(M32), lhs:rshift(32)
    local rl, rh = rhs:band(M32), rhs:rshift(32)
    local lo_lo, hi_lo, lo_hi, hi_hi = ll * rl, lh * rl, ll * rh, lh * rh
    local cross = lo_lo:rshift(32) + hi_lo:band(M32) + lo_hi
    local upper = hi_lo:rshift(32) + cross:rshift(32) + hi_hi
    local lower = cross:lshift(32):bor(lo_lo:band(M32))
    return lower:bxor(upper)
  end

  local function avalanche(h)
    h = h:bxor(h:rshift(37)) * AVALANCHE
    return h:bxor(h:rshift(32))
  end

  function xxh3.hash(tvb, n)
    local function rd(off) return tvb(off, 8):le_uint64() end
    local function mix16(off, s)
      return mul128_fold64(rd(off):bxor(sec(s)), rd(off + 8):bxor(sec(s + 8)))
    end
    local len = UInt64(n)
    if n <= 16 then return nil end
    if n <= 128 then
      local acc = len * P64_1
      if n > 32 then
        if n > 64 then
          if n > 96 then
            acc = acc + mix16(48, 96) + mix16(n - 64, 112)
          end
          acc = acc + mix16(32, 64) + mix16(n - 48, 80)
        end
        acc = acc + mix16(16, 32) + mix16(n - 32, 48)
      end
      acc = acc + mix16(0, 0) + mix16(n - 16, 16)
      return avalanche(acc)
    end
    if n <= 240 then
      local acc = len * P64_1
      for i = 0, 7 do acc = acc + mix16(16 * i, 16 * i) end
      acc = avalanche(acc)
      for i = 8, math.floor(n / 16) - 1 do acc = acc + mix16(16 * i, 16 * (i - 8) + 3) end
      acc = acc + mix16(n - 16, 136 - 17)
      return avalanche(acc)
    end
    local acc = { [0] = P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1 }
    local function accumulate(off, s)
      for i = 0, 7 do
        local data_val = rd(off + 8 * i)
        local data_key = data_val:bxor(sec(s + 8 * i))
        local j = (i % 2 == 0) and i + 1 or i - 1
        acc[j] = acc[j] + data_val
        acc[i] = acc[i] + data_key:band(M32) * data_key:rshift(32)
      end
    end
    local block_len = 64 * 16
    local nb_blocks = math.floor((n - 1) / block_len)
    for b = 0, nb_blocks - 1 do
      for s = 0, 15 do accumulate(b * block_len + 64 * s, 8 * s) end
      for i = 0, 7 do
        local a = acc[i]
        acc[i] = a:bxor(a:rshift(47)):bxor(sec(128 + 8 * i)) * P32_1
      end
    end
    local stripes = math.floor(((n - 1) - block_len * nb_blocks) / 64)
    for s = 0, stripes - 1 do accumulate(nb_blocks * block_len + 64 * s, 8 * s) end
    accumulate(n - 64, 192 - 64 - 7)
    local result = len * P64_1
    for i = 0, 3 do
      result = result + mul128_fold64(acc[2 * i]:bxor(sec(11 + 16 * i)), acc[2 * i + 1]:bxor(sec(11 + 16 * i + 8)))
    end
    return avalanche(result)
  end
end

-- Helpers ------------------------------------------------------------------------------------

local U0, U1 = UInt64(0), UInt64(1)

local function has(flags, mask)
  return math.floor(flags / mask) % 2 == 1
end

local function flag_names(flags)
  local names = {}
  if has(flags, 0x01) then names[#names + 1] = "tombstone" end
  if has(flags, 0x02) then names[#names + 1] = "resend" end
  if has(flags, 0x04) then names[#names + 1] = "snapshot" end
  if has(flags, 0x10) then names[#names + 1] = "sequence_next" end
  if has(flags, 0x20) then names[#names + 1] = "same_interval" end
  if has(flags, 0x08) then names[#names + 1] = "fragment" end
  if has(flags, 0x08) and has(flags, 0x40) then names[#names + 1] = "header_checksum" end
  if (has(flags, 0x40) and not has(flags, 0x08)) or has(flags, 0x80) then names[#names + 1] = "RESERVED" end
  if #names == 0 then return "none" end
  return table.concat(names, ", ")
end

local function hex64(u)
  return "0x" .. string.lower(u:tohex())
end

-- A printable form of raw bytes for the Info column (non-printable bytes as \xNN).
local function printable(s)
  return (s:gsub("[%z\1-\31\127]", function(c) return string.format("\\x%02x", c:byte()) end))
end

-- Reads the canonical unsigned LEB128 varint at off, never at or past limit.
-- Returns value (UInt64), size; or nil, size read, error, text.
local function read_varint(tvb, off, limit)
  local value = UInt64(0)
  for i = 0, 9 do
    if off + i >= limit then
      return nil, i, "bad_length", "varint cut off by the trailer"
    end
    local b = tvb(off + i, 1):uint()
    if i == 9 then
      if b ~= 1 then
        return nil, 10, "bad_record", string.format("non-canonical varint: 10th byte is %02x, not 01", b)
      end
      return value:bor(U1:lshift(63)), 10
    end
    value = value:bor(UInt64(b % 128):lshift(7 * i))
    if b < 128 then
      if i > 0 and b == 0 then
        return nil, i + 1, "bad_record", "non-canonical varint: ends in 00"
      end
      return value, i + 1
    end
  end
end

-- zigzag(d) -> d modulo 2^64 (UInt64) and as a signed Int64.
local function unzigzag(z)
  local half = z:rshift(1)
  local d = half
  if z:band(U1) == U1 then d = half:bnot() end
  return d, Int64.new(d:lower(), d:higher())
end

local function ns_time(ts)
  local billion = UInt64(1000000000)
  return NSTime.new((ts / billion):tonumber(), (ts % billion):tonumber())
end

local function valid_subject(s)
  if #s == 0 or s:find("\0", 1, true) or s:find("*", 1, true) then return false end
  if s:sub(1, 1) == "." or s:sub(-1) == "." or s:find("..", 1, true) then return false end
  return true
end

local function valid_filter(s)
  if #s == 0 or s:find("\0", 1, true) then return false end
  if s:sub(1, 1) == "." or s:sub(-1) == "." or s:find("..", 1, true) then return false end
  for token in s:gmatch("[^.]+") do
    if token:find("*", 1, true) and token ~= "*" then return false end
  end
  return true
end

local function flag(item, which, text)
  item:add_proto_expert_info(E[which], text)
end

local function undecoded(tree, tvb, from, to)
  if to > from then tree:add(F.undecoded, tvb(from, to - from)) end
end

-- Shows the 8-byte trailer at size - 8 and verifies it: XXH3-64 of every byte before it, or
-- of the first `covered` bytes (a header-checksummed fragment: up to the end of its subject).
-- Returns false when it does not match.
local function add_trailer(tree, tvb, size, covered)
  local item = tree:add_le(F.checksum, tvb(size - TRAILER_SIZE, TRAILER_SIZE))
  if not racket.prefs.verify_checksum then
    tree:add(F.checksum_state, "unverified"):set_generated()
    return true
  end
  local carried = tvb(size - TRAILER_SIZE, TRAILER_SIZE):le_uint64()
  local computed = xxh3.hash(tvb, covered or (size - TRAILER_SIZE))
  if not computed then  -- under 17 bytes: cannot happen, header and trailer are longer
    tree:add(F.checksum_state, "unverified"):set_generated()
    return true
  end
  if computed == carried then
    item:append_text(" [correct]")
    tree:add(F.checksum_state, "good"):set_generated()
    return true
  end
  item:append_text(" [incorrect, should be " .. hex64(computed) .. "]")
  tree:add(F.checksum_state, "bad"):set_generated()
  flag(item, "bad_checksum", "checksum " .. hex64(carried) .. " is not XXH3-64 of the bytes before it, " ..
    hex64(computed) .. ": corrupted, or cut short (a receiver drops it as bad_checksum)")
  return false
end

-- The common header's count (bytes 6-7) and id (8-15) of a datagram cut inside its 17-byte
-- header, as far as they are there; flags it truncated. Returns the Info text.
local function truncated_header(tree, tvb, size, count_field, id_field, what)
  if size >= 8 then tree:add_le(count_field, tvb(6, 2)) end
  if size >= 16 then tree:add_le(id_field, tvb(8, 8)) end
  flag(tree, "truncated", string.format("%d bytes end inside the %d-byte header", size, HEADER_SIZE))
  return what .. " [MALFORMED: truncated]"
end

-- The stream name (S at byte 16, the name at 17). Returns the name, or nil if not all there.
local function add_stream(tree, tvb, size)
  local s = tvb(16, 1):uint()
  tree:add(F.stream_len, tvb(16, 1))
  if s == 0 then return nil, s end
  if size < 17 + s then
    if size > 17 then tree:add(F.undecoded, tvb(17, size - 17)) end
    return nil, s
  end
  tree:add_packet_field(F.stream, tvb(17, s), ENC_UTF_8)
  return tvb(17, s):raw(), s
end

-- Data datagram (kind 1) ---------------------------------------------------------------------

local function dissect_record(tvb, tree, index, off, limit, prev, problems)
  -- Returns the offset after the record, or nil when the record's end cannot be known.
  local start = off
  local rec = tree:add(F.record, tvb(off, 1))
  local function fail(which, text)
    problems[#problems + 1] = which
    flag(rec, which, string.format("record %d: %s", index, text))
    rec:set_len(math.max(1, off - start))
    rec:set_text(string.format("Record %d: malformed", index))
    return nil
  end
  if off + 2 > limit then
    return fail("bad_length", "fewer than 2 bytes (flags, subject length) before the trailer")
  end
  local flags = tvb(off, 1):uint()
  local fitem = rec:add(F.flags, tvb(off, 1))
  fitem:append_text(" (" .. flag_names(flags) .. ")")
  fitem:add(F.f_tombstone, tvb(off, 1))
  fitem:add(F.f_resend, tvb(off, 1))
  fitem:add(F.f_snapshot, tvb(off, 1))
  fitem:add(F.f_seq_next, tvb(off, 1))
  fitem:add(F.f_same_int, tvb(off, 1))
  fitem:add(F.f_fragment, tvb(off, 1))
  fitem:add(F.f_reserved, tvb(off, 1))
  local l = tvb(off + 1, 1):uint()
  rec:add(F.subject_len, tvb(off + 1, 1))
  off = off + 2

  local v, n, err, text = read_varint(tvb, off, limit)
  if not v then off = off + n; return fail(err, "payload length: " .. text) end
  if v > UInt64(65535) then off = off + n; return fail("bad_record", "payload length " .. tostring(v) .. " > 65535") end
  local p = v:tonumber()
  rec:add(F.payload_len, tvb(off, n), p)
  off = off + n

  local interval = prev.interval
  if has(flags, 0x20) then
    rec:add(F.interval, interval):set_generated()
  else
    v, n, err, text = read_varint(tvb, off, limit)
    if not v then off = off + n; return fail(err, "interval: " .. text) end
    if v > UInt64(4294967295) then off = off + n; return fail("bad_record", "interval " .. tostring(v) .. " > 4294967295") end
    interval = v:tonumber()
    rec:add(F.interval, tvb(off, n), interval)
    off = off + n
  end

  local sequence
  if has(flags, 0x10) then
    sequence = prev.sequence + U1
    rec:add(F.seq_delta, Int64(1)):set_generated()
  else
    v, n, err, text = read_varint(tvb, off, limit)
    if not v then off = off + n; return fail(err, "sequence delta: " .. text) end
    local d, signed = unzigzag(v)
    sequence = prev.sequence + d
    rec:add(F.seq_delta, tvb(off, n), signed)
    off = off + n
  end
  local seq_item = rec:add(F.sequence, sequence)
  seq_item:set_generated()

  v, n, err, text = read_varint(tvb, off, limit)
  if not v then off = off + n; return fail(err, "timestamp delta: " .. text) end
  local d, signed = unzigzag(v)
  local timestamp = prev.timestamp + d
  rec:add(F.ts_delta, tvb(off, n), signed)
  rec:add(F.timestamp, timestamp):set_generated()
  rec:add(F.time, ns_time(timestamp)):set_generated()
  off = off + n

  -- A fragment record (docs/wire-format.md, "Fragment datagram"): T, K, F and the content hash
  -- come before the subject (check F3).
  local fragment = has(flags, 0x08)
  local total, findex, fsize, fcount
  if fragment then
    if off + 18 > limit then
      return fail("bad_length", "fewer than 18 bytes (total size, index, fragment size, content hash) before the trailer")
    end
    total = tvb(off, 4):le_uint()
    rec:add_le(F.frag_total, tvb(off, 4))
    findex = tvb(off + 4, 4):le_uint()
    rec:add_le(F.frag_index, tvb(off + 4, 4))
    fsize = tvb(off + 8, 2):le_uint()
    rec:add_le(F.frag_size, tvb(off + 8, 2))
    rec:add_le(F.frag_hash, tvb(off + 10, 8))
    if fsize > 0 then
      fcount = math.floor((total + fsize - 1) / fsize)
      rec:add(F.frag_count, fcount):set_generated()
    end
    off = off + 18
  end

  if off + l + p > limit then
    return fail("bad_length", string.format("subject (%d) and payload (%d) bytes run into the trailer", l, p))
  end
  local subject = ""
  if l > 0 then
    rec:add_packet_field(F.subject, tvb(off, l), ENC_UTF_8)
    subject = tvb(off, l):raw()
  end
  off = off + l
  if fragment and has(flags, 0x40) then prev.checksum_covers = off end  -- header-checksummed
  -- An empty payload too, so that tshark's field output has one payload per record.
  local pitem = rec:add(F.payload, tvb(off, p))
  if p == 0 then pitem:set_text("Payload: (empty)") end
  off = off + p
  rec:set_len(off - start)
  local fragment_text = ""
  if fragment then
    fragment_text = string.format(" fragment %d/%s of %d bytes", findex, fcount and tostring(fcount) or "?", total)
  end
  rec:set_text(string.format("Record %d: %s, sequence %s%s%s", index, printable(subject),
    tostring(sequence), has(flags, 0x01) and ", tombstone" or "", fragment_text))

  -- Check 14d: the record's bytes are all there; its values are checked now (F5 for fragments).
  local bad = {}
  if (has(flags, 0x40) and not fragment) or has(flags, 0x80) then bad[#bad + 1] = "a reserved flag bit is set" end
  if fragment then
    if index ~= 1 or prev.count ~= 1 then bad[#bad + 1] = "a fragment record that is not its datagram's only record" end
    if has(flags, 0x01) then bad[#bad + 1] = "a fragmented tombstone" end
    if p == 0 then bad[#bad + 1] = "a fragment of 0 bytes" end
    if total == 0 or total > 67108864 then bad[#bad + 1] = string.format("total size %d not in 1..67108864", total) end
    if fsize < 64 then bad[#bad + 1] = string.format("fragment size %d, under 64", fsize) end
    if total > 0 and fsize >= 64 then
      if findex >= fcount then
        bad[#bad + 1] = string.format("fragment index %d of %d fragments", findex, fcount)
      else
        local want = findex < fcount - 1 and fsize or total - (fcount - 1) * fsize
        if p ~= want then bad[#bad + 1] = string.format("fragment %d carries %d bytes, not %d", findex, p, want) end
      end
    end
  end
  if has(flags, 0x02) and has(flags, 0x04) then bad[#bad + 1] = "both resend and snapshot" end
  if sequence == U0 then bad[#bad + 1] = "sequence 0" end
  if has(flags, 0x01) and p ~= 0 then bad[#bad + 1] = "a tombstone with a payload" end
  if l == 0 then
    bad[#bad + 1] = "subject length 0"
  elseif not valid_subject(subject) then
    bad[#bad + 1] = "not a valid published subject"
  end
  if #bad > 0 then
    problems[#problems + 1] = "bad_record"
    flag(rec, "bad_record", string.format("record %d: %s", index, table.concat(bad, "; ")))
  end

  local word = ""
  if has(flags, 0x01) then word = " tombstone"
  elseif has(flags, 0x02) then word = " resend"
  elseif has(flags, 0x04) then word = " snapshot" end
  if fragment then word = word .. string.format(" frag=%d/%s", findex, fcount and tostring(fcount) or "?") end
  prev.summary[#prev.summary + 1] = string.format("%s seq=%s%s", printable(subject), tostring(sequence), word)
  prev.sequence, prev.interval, prev.timestamp = sequence, interval, timestamp
  return off
end

local function dissect_data(tvb, pinfo, tree, size)
  if size < HEADER_SIZE then
    if size >= 8 then tree:add_le(F.record_count, tvb(6, 2)) end
    if size >= 16 then tree:add_le(F.publisher_id, tvb(8, 8)) end
    undecoded(tree, tvb, math.min(size, size >= 16 and 16 or (size >= 8 and 8 or 6)), size)
    flag(tree, "truncated", string.format("%d bytes end inside the %d-byte header", size, HEADER_SIZE))
    return "data [MALFORMED: truncated]"
  end
  local count = tvb(6, 2):le_uint()
  tree:add_le(F.record_count, tvb(6, 2))
  local publisher = tvb(8, 8):le_uint64()
  tree:add_le(F.publisher_id, tvb(8, 8))
  local stream, s = add_stream(tree, tvb, size)
  local head = string.format("data stream=%s pub=%s", stream and printable(stream) or "?", hex64(publisher))
  if s == 0 then
    flag(tree, "bad_length", "stream name length 0")
    undecoded(tree, tvb, HEADER_SIZE, size)
    return head .. " [MALFORMED: bad_length]"
  end
  if size < HEADER_SIZE + s + TRAILER_SIZE then
    flag(tree, "truncated", string.format("%d bytes: header and trailer need %d", size, HEADER_SIZE + s + TRAILER_SIZE))
    return head .. " [MALFORMED: truncated]"
  end
  local limit = size - TRAILER_SIZE
  local problems = {}
  if count == 0 then
    problems[#problems + 1] = "bad_record"
    flag(tree, "bad_record", "record count 0")
  end
  if stream:find("\0", 1, true) then
    problems[#problems + 1] = "bad_record"
    flag(tree, "bad_record", "the stream name holds a NUL byte")
  end

  local prev = { sequence = UInt64(0), interval = 0, timestamp = UInt64(0), summary = {}, count = count }
  local off = HEADER_SIZE + s
  local done = 0
  for i = 1, count do
    local next_off = dissect_record(tvb, tree, i, off, limit, prev, problems)
    if not next_off then break end
    off = next_off
    done = i
  end
  if done == count then
    -- Padding: whatever is left before the trailer, all 00.
    local left = limit - off
    if left > 0 then
      local bytes = tvb(off, left):bytes()
      local nonzero = false
      for k = 0, left - 1 do
        if bytes:get_index(k) ~= 0 then nonzero = true; break end
      end
      if nonzero then
        local item = tree:add(F.undecoded, tvb(off, left))
        problems[#problems + 1] = "bytes_left"
        flag(item, "bytes_left", string.format(
          "%d bytes after record %d are not zero padding (bad_length: record count too small, or garbage)", left, count))
      else
        tree:add(F.padding, tvb(off, left))
      end
    end
    tree:add(F.padding_len, left):set_generated()
  else
    undecoded(tree, tvb, off, limit)
  end
  if not add_trailer(tree, tvb, size, prev.checksum_covers) then
    table.insert(problems, 1, "bad_checksum")  -- the decoder checks it before the records
  end

  local n = #prev.summary
  local info = string.format("%s %d record%s", head, count, count == 1 and "" or "s")
  if n > 0 then
    local shown = {}
    for i = 1, math.min(n, INFO_RECORDS) do shown[i] = prev.summary[i] end
    info = info .. ": " .. table.concat(shown, ", ") .. (n > INFO_RECORDS and ", ..." or "")
  end
  if #problems > 0 then info = info .. " [MALFORMED: " .. problems[1] .. "]" end
  return info
end

-- Snapshot request (kind 2) ------------------------------------------------------------------

local function dissect_request(tvb, pinfo, tree, size)
  if size < HEADER_SIZE then return truncated_header(tree, tvb, size, F.range_count, F.requester_id, "request") end
  local r = tvb(6, 2):le_uint()
  tree:add_le(F.range_count, tvb(6, 2))
  local requester = tvb(8, 8):le_uint64()
  tree:add_le(F.requester_id, tvb(8, 8))
  local stream, s = add_stream(tree, tvb, size)
  local head = string.format("request stream=%s from=%s", stream and printable(stream) or "?", hex64(requester))
  if s == 0 then
    flag(tree, "bad_length", "stream name length 0")
    undecoded(tree, tvb, HEADER_SIZE, size)
    return head .. " [MALFORMED: bad_length]"
  end
  if size < 18 + s then
    flag(tree, "truncated", "the filter length is missing")
    return head .. " [MALFORMED: truncated]"
  end
  local f = tvb(17 + s, 1):uint()
  local needed = 34 + s + f + 16 * r
  tree:add(F.filter_len, tvb(17 + s, 1))
  if size < needed then
    flag(tree, "truncated", string.format("%d bytes: %d ranges and a %d-byte filter need %d", size, r, f, needed))
    undecoded(tree, tvb, 18 + s, size)
    return head .. " [MALFORMED: truncated]"
  end
  local problems = {}
  local filter = "*"
  if f > 0 then
    tree:add_packet_field(F.filter, tvb(18 + s, f), ENC_UTF_8)
    filter = tvb(18 + s, f):raw()
    if not valid_filter(filter) then
      problems[#problems + 1] = "bad_record"
      flag(tree, "bad_record", "not a valid subject filter")
    end
  end
  local target = tvb(18 + s + f, 8):le_uint64()
  local titem = tree:add_le(F.target, tvb(18 + s + f, 8))
  if target == U0 then titem:append_text(" (every publisher)") end
  local ranges = {}
  local off = 26 + s + f
  for i = 1, r do
    local first, last = tvb(off, 8):le_uint64(), tvb(off + 8, 8):le_uint64()
    local item = tree:add(F.range, tvb(off, 16))
    item:set_text(string.format("Range %d: %s..%s", i, tostring(first), tostring(last)))
    item:add_le(F.range_first, tvb(off, 8))
    item:add_le(F.range_last, tvb(off + 8, 8))
    if first == U0 or first > last then
      problems[#problems + 1] = "bad_record"
      flag(item, "bad_record", string.format("range %d: first must be 1..last", i))
    end
    ranges[#ranges + 1] = tostring(first) .. "-" .. tostring(last)
    off = off + 16
  end
  -- The fragment section (docs/wire-format.md, "Fragment ranges in a repair request"): bytes
  -- past the ranges start with its count Q; the datagram must then be exactly 16 Q + 1 longer.
  local fragments = {}
  if size > needed then
    local q = tvb(off, 1):uint()
    local with_fragments = needed + 1 + 16 * q
    if size < with_fragments then
      local item = tree:add(F.undecoded, tvb(off, size - needed))
      problems[#problems + 1] = "truncated"
      flag(item, "truncated", string.format("%d bytes: a fragment section of %d ranges needs %d", size, q, with_fragments))
    elseif size > with_fragments then
      local item = tree:add(F.undecoded, tvb(off, size - needed))
      problems[#problems + 1] = "bytes_left"
      flag(item, "bytes_left", string.format("%d bytes left over (bad_length): the fields end at %d of %d",
        size - needed, needed - TRAILER_SIZE, size - TRAILER_SIZE))
    else
      local qitem = tree:add(F.frange_count, tvb(off, 1))
      if q == 0 or q > 64 then
        problems[#problems + 1] = "bad_record"
        flag(qitem, "bad_record", string.format("%d fragment ranges: 1..64", q))
      end
      if target == U0 then
        problems[#problems + 1] = "bad_record"
        flag(qitem, "bad_record", "fragment ranges without a target publisher")
      end
      off = off + 1
      for i = 1, q do
        local seq = tvb(off, 8):le_uint64()
        local first, last = tvb(off + 8, 4):le_uint(), tvb(off + 12, 4):le_uint()
        local item = tree:add(F.frange, tvb(off, 16))
        item:set_text(string.format("Fragment range %d: message %s, fragments %d..%d", i, tostring(seq), first, last))
        item:add_le(F.frange_seq, tvb(off, 8))
        item:add_le(F.frange_first, tvb(off + 8, 4))
        item:add_le(F.frange_last, tvb(off + 12, 4))
        if seq == U0 or first > last then
          problems[#problems + 1] = "bad_record"
          flag(item, "bad_record", string.format("fragment range %d: sequence must be >= 1 and first <= last", i))
        end
        fragments[#fragments + 1] = string.format("%s:%d-%d", tostring(seq), first, last)
        off = off + 16
      end
    end
  end
  if not add_trailer(tree, tvb, size) then
    table.insert(problems, 1, "bad_checksum")  -- the decoder checks it before the records
  end
  if stream:find("\0", 1, true) then
    problems[#problems + 1] = "bad_record"
    flag(tree, "bad_record", "the stream name holds a NUL byte")
  end
  if r > 64 then
    problems[#problems + 1] = "bad_record"
    flag(tree, "bad_record", string.format("%d ranges, more than 64", r))
  end
  if r > 0 and target == U0 then
    problems[#problems + 1] = "bad_record"
    flag(tree, "bad_record", "ranges without a target publisher")
  end

  local info = string.format("%s filter=%s target=%s", head, printable(filter),
    target == U0 and "all" or hex64(target))
  if r == 0 and #fragments == 0 then
    info = "full " .. info
  end
  if r > 0 then
    info = info .. " ranges=" .. table.concat(ranges, ",", 1, math.min(#ranges, INFO_RECORDS)) ..
      (#ranges > INFO_RECORDS and ",..." or "")
  end
  if #fragments > 0 then
    info = info .. " fragments=" .. table.concat(fragments, ",", 1, math.min(#fragments, INFO_RECORDS)) ..
      (#fragments > INFO_RECORDS and ",..." or "")
  end
  if #problems > 0 then info = info .. " [MALFORMED: " .. problems[1] .. "]" end
  return info
end

-- Announcement (kind 3) -------------------------------------------------------------------------

-- docs/wire-format.md, "Announcement (kind 3)": the header, then E entries in the role's layout,
-- then the trailer. Every read is checked against `limit` (the trailer's offset) first.
local function dissect_announce(tvb, pinfo, tree, size)
  if size < HEADER_SIZE then return truncated_header(tree, tvb, size, F.a_entry_count, F.a_sender_id, "announcement") end
  local e = tvb(6, 2):le_uint()
  tree:add_le(F.a_entry_count, tvb(6, 2))
  local sender = tvb(8, 8):le_uint64()
  tree:add_le(F.a_sender_id, tvb(8, 8))
  local h = tvb(16, 1):uint()
  tree:add(F.a_host_len, tvb(16, 1))
  local head = "announcement from=" .. hex64(sender)
  if h == 0 then
    flag(tree, "bad_length", "host name length 0")
    undecoded(tree, tvb, HEADER_SIZE, size)
    return head .. " [MALFORMED: bad_length]"
  end
  if size < 27 + h then
    flag(tree, "truncated", "the fixed fields after the host name are missing")
    undecoded(tree, tvb, HEADER_SIZE, size)
    return head .. " [MALFORMED: truncated]"
  end
  local p = tvb(26 + h, 1):uint()
  if size < 35 + h + p then
    flag(tree, "truncated", string.format("%d bytes: a %d-byte program name and the trailer need %d", size, p, 35 + h + p))
    undecoded(tree, tvb, HEADER_SIZE, size)
    return head .. " [MALFORMED: truncated]"
  end
  local problems = {}
  local host = tvb(17, h):raw()
  tree:add_packet_field(F.a_host, tvb(17, h), ENC_UTF_8)
  local role = tvb(17 + h, 1):uint()
  local ritem = tree:add(F.a_role, tvb(17 + h, 1))
  local pid = tvb(18 + h, 4):le_uint()
  tree:add_le(F.a_pid, tvb(18 + h, 4))
  local period = tvb(22 + h, 4):le_uint()
  local pitem = tree:add_le(F.a_period, tvb(22 + h, 4))
  tree:add(F.a_program_len, tvb(26 + h, 1))
  local program = ""
  if p > 0 then
    program = tvb(27 + h, p):raw()
    tree:add_packet_field(F.a_program, tvb(27 + h, p), ENC_UTF_8)
  end
  local function bad(item, text)
    problems[#problems + 1] = "bad_record"
    flag(item, "bad_record", text)
  end
  if role ~= 1 and role ~= 2 then bad(ritem, string.format("role %d: 1 = publisher, 2 = subscriber", role)) end
  if e == 0 or e > 64 then bad(tree, string.format("%d entries: 1..64", e)) end
  if period == 0 or period > 86400000 then bad(pitem, "period_ms not in 1..86400000") end
  if host:find("\0", 1, true) or program:find("\0", 1, true) then bad(tree, "a NUL byte in the host or program name") end

  local limit = size - TRAILER_SIZE
  local off = 27 + h + p
  local names = {}
  for i = 1, e do
    if role ~= 1 and role ~= 2 then break end
    if off + 1 > limit then
      problems[#problems + 1] = "truncated"
      flag(tree, "truncated", string.format("entry %d runs into the trailer", i))
      break
    end
    local sl = tvb(off, 1):uint()
    local fixed = role == 1 and 12 or 1  -- subject count + rate, or the filter count
    if off + 1 + sl + fixed > limit then
      problems[#problems + 1] = "truncated"
      flag(tree, "truncated", string.format("entry %d runs into the trailer", i))
      break
    end
    local start = off
    local entry = tree:add(F.a_entry, tvb(off, 1))
    entry:add(F.a_stream_len, tvb(off, 1))
    local stream = ""
    if sl == 0 then
      bad(entry, string.format("entry %d: stream name length 0", i))
    else
      stream = tvb(off + 1, sl):raw()
      entry:add_packet_field(F.a_stream, tvb(off + 1, sl), ENC_UTF_8)
      if stream:find("\0", 1, true) then bad(entry, string.format("entry %d: a NUL in the stream name", i)) end
    end
    off = off + 1 + sl
    local text
    if role == 1 then
      local subjects = tvb(off, 4):le_uint()
      entry:add_le(F.a_subjects, tvb(off, 4))
      local rate = tvb(off + 4, 8):le_uint64()
      entry:add_le(F.a_rate_milli, tvb(off + 4, 8))
      off = off + 12
      text = string.format("%s subjects=%d rate=%s/1000", printable(stream), subjects, tostring(rate))
    else
      local n = tvb(off, 1):uint()
      local nitem = entry:add(F.a_filter_count, tvb(off, 1))
      off = off + 1
      if n > 16 then bad(nitem, string.format("entry %d: %d filters, more than 16", i, n)) end
      local filters = {}
      for k = 1, math.min(n, 16) do
        if off + 1 > limit then break end
        local fl = tvb(off, 1):uint()
        if off + 1 + fl > limit then
          off = limit + 1
          break
        end
        entry:add(F.a_filter_len, tvb(off, 1))
        local filter = ""
        if fl > 0 then
          filter = tvb(off + 1, fl):raw()
          entry:add_packet_field(F.a_filter, tvb(off + 1, fl), ENC_UTF_8)
        end
        if fl == 0 or not valid_filter(filter) then bad(entry, string.format("entry %d: filter %d is not a valid filter", i, k)) end
        filters[#filters + 1] = printable(filter)
        off = off + 1 + fl
      end
      if off > limit then
        problems[#problems + 1] = "truncated"
        flag(entry, "truncated", string.format("entry %d runs into the trailer", i))
        break
      end
      text = printable(stream) .. " filters=" .. table.concat(filters, ",")
    end
    entry:set_len(off - start)
    entry:set_text(string.format("Entry %d: %s", i, text))
    names[#names + 1] = text
  end
  if off < limit and #problems == 0 then
    local item = tree:add(F.undecoded, tvb(off, limit - off))
    problems[#problems + 1] = "bytes_left"
    flag(item, "bytes_left", string.format("%d bytes between the last entry and the trailer (bad_length)", limit - off))
  end
  if not add_trailer(tree, tvb, size) then
    table.insert(problems, 1, "bad_checksum")  -- the decoder checks it before the fields
  end
  local info = string.format("%s %s host=%s pid=%d program=%s period=%dms: %s", head,
    role_names[role] or ("role " .. role), printable(host), pid, printable(program), period,
    table.concat(names, ", ", 1, math.min(#names, INFO_RECORDS)) .. (#names > INFO_RECORDS and ", ..." or ""))
  if #problems > 0 then info = info .. " [MALFORMED: " .. problems[1] .. "]" end
  return info
end

-- Dispatch -----------------------------------------------------------------------------------

-- kind -> function(tvb, pinfo, tree, size) returning the Info text.
local kinds = {
  [1] = dissect_data,
  [2] = dissect_request,
  [3] = dissect_announce,
}

local function dissect(tvb, pinfo, tree)
  local size = tvb:len()
  pinfo.cols.protocol:set("RACKET")
  local root = tree:add(racket, tvb(0, size))
  root:add(F.magic, tvb(0, 4))
  if tvb:reported_len() > size then
    flag(root, "truncated", string.format("captured %d of the datagram's %d bytes", size, tvb:reported_len()))
  end
  if size > HARD_LIMIT then
    flag(root, "oversize", string.format("%d bytes, more than the %d a receiver accepts", size, HARD_LIMIT))
  end
  if size < 5 then
    flag(root, "truncated", "no version byte")
    return "[MALFORMED: truncated] no version byte"
  end
  local version = tvb(4, 1):uint()
  local vitem = root:add(F.version, tvb(4, 1))
  if version ~= WIRE_VERSION then
    flag(vitem, "bad_version", string.format("version %d; this dissector decodes version %d", version, WIRE_VERSION))
    if size >= 6 then root:add(F.kind, tvb(5, 1)) end
    undecoded(root, tvb, math.min(size, 6), size)
    return string.format("version %d (not decoded) [MALFORMED: bad_version]", version)
  end
  if size < 6 then
    flag(root, "truncated", "no kind byte")
    return "[MALFORMED: truncated] no kind byte"
  end
  local kind = tvb(5, 1):uint()
  local kitem = root:add(F.kind, tvb(5, 1))
  local dissector = kinds[kind]
  if not dissector then
    flag(kitem, "bad_kind", string.format("kind %d is not decoded by this dissector (version %d: 1 = data, 2 = request, 3 = announcement)", kind, WIRE_VERSION))
    undecoded(root, tvb, 6, size)
    return string.format("kind %d (not decoded) [MALFORMED: bad_kind]", kind)
  end
  local info = dissector(tvb, pinfo, root, size)
  root:append_text(", " .. info)
  return info
end

local function is_racket(tvb)
  return tvb:len() >= 4 and tvb(0, 4):raw() == MAGIC
end

function racket.dissector(tvb, pinfo, tree)
  if not is_racket(tvb) then return 0 end
  local ok, result = pcall(dissect, tvb, pinfo, tree)
  if ok then
    pinfo.cols.info:set(result)
  else
    -- A bug of this file, never of the input: a test asserts it never shows.
    tree:add_proto_expert_info(E.dissector_error, "racket.lua: " .. tostring(result))
    pinfo.cols.info:set("racket.lua error")
  end
  return tvb:len()
end

local function heuristic(tvb, pinfo, tree)
  if not is_racket(tvb) then return false end
  racket.dissector(tvb, pinfo, tree)
  return true
end
racket:register_heuristic("udp", heuristic)

local udp_port = DissectorTable.get("udp.port")
local registered_ports = racket.prefs.ports
udp_port:add(registered_ports, racket)

function racket.prefs_changed()
  if registered_ports ~= racket.prefs.ports then
    udp_port:remove(registered_ports, racket)
    registered_ports = racket.prefs.ports
    udp_port:add(registered_ports, racket)
  end
end
