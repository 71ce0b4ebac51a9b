#!/usr/bin/env python3
"""Writes the fuzz seed corpora from the wire-format test vectors (docs/wire-format.md,
tests/wire/), encoded with the independent wire-format v3 encoder in
docs/vectors/make_vectors.py (XXH3 via the xxhsum CLI). Run from anywhere:
    python3 fuzz/corpus/make_seeds.py
It also converts the datagrams inside the subscriber regression inputs
(fuzz/corpus/subscriber/regression-*) to version 3, keeping their meaning: a version-2 one
differs only in its version byte (and its checksum, when that was right); a version-1 one has
its records re-encoded. Inputs already in version 3 are left as they are.
SPDX-License-Identifier: MIT"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "docs", "vectors"))
import make_vectors as mv  # noqa: E402

Rec = mv.Rec
TS0 = mv.TS
V = {n: mv.data_vector(n) for n in (1, 2, 3, 4, 8, 9)}
REQ = {n: mv.request(*mv.REQUEST_VECTORS[n]) for n in (5, 6)}


def datagram(pub, stream, records, count=None, padding=0):
    # The trailer is left zero: the fuzz targets recompute it.
    return mv.datagram(pub, stream, records, count=count, trailer=False, padding=padding)


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- fuzz_wire: the vectors, truncations and odd-but-interesting shapes.
for i in (1, 2, 3):
    write("wire", f"vector{i}", V[i])
    write("wire", f"vector{i}-truncated", V[i][: len(V[i]) // 2])
write("wire", "vector4-snapshot", V[4])
# Padding (version 3): vectors 8 and 9; a GSO segment: as many 64-byte values as fit 1452 bytes,
# padded to 1452; a few records with long padding; padding holding one nonzero byte (rejected
# once the checksum is right).
# Announcements (kind 3): vectors 20 and 21 of docs/wire-format.md, as hex (no encoder here).
write("wire", "announce-publisher", bytes.fromhex(
    "524b544d0303020008070605040302010268310192100000881300000673656e64657205706c616e7403000000d007000000000000"
    "026678000000000000000000000000142a0b65197d8720"))
write("wire", "announce-subscriber", bytes.fromhex(
    "524b544d03030100887766554433221102683202070000008813000008726563656976657205706c616e740203612e2a01622f2463"
    "ee356f768b"))
write("wire", "vector8-padded", V[8])
write("wire", "vector9-padded", V[9])
SEGMENT = []
while len(datagram(9, b"sensors", SEGMENT + [Rec(0, 1000, len(SEGMENT) + 1, TS0 + 3000 * len(SEGMENT),
                                                 b"plant.s%02d" % len(SEGMENT), bytes(range(64)))])) <= 1452:
    SEGMENT.append(Rec(0, 1000, len(SEGMENT) + 1, TS0 + 3000 * len(SEGMENT), b"plant.s%02d" % len(SEGMENT), bytes(range(64))))
write("wire", "padded-segment", datagram(9, b"sensors", SEGMENT, padding=1452 - len(datagram(9, b"sensors", SEGMENT))))
LONG = [Rec(0, 10, n + 1, n, b"plant.s%d" % n, b"v") for n in range(12)]
write("wire", "padded-long", datagram(9, b"sensors", LONG, padding=1452 - len(datagram(9, b"sensors", LONG))))
write("wire", "padding-nonzero",
      datagram(3, b"status", [Rec(0, 0, 5, 5, b"a")])[:-8] + bytes(10) + b"\x01" + bytes(5) + b"\0" * 8)
write("wire", "max-name-lengths", datagram(7, b"s" * 255, [Rec(0, 1000, 1, 1, b"a." * 127 + b"b", b"x" * 64)]))
write("wire", "many-records", datagram(9, b"sensors", [Rec(0, 10, n + 1, n, b"plant.s%d" % n, b"v") for n in range(40)]))
write("wire", "tombstone", datagram(3, b"status", [Rec(1, 0, 5, 5, b"dev.a.state")]))
write("wire", "count-mismatch", datagram(3, b"status", [Rec(0, 0, 5, 5, b"a")], count=2))
write("wire", "header-only", V[1][:17])
# Every delta form: resends going back, explicit intervals, the longest varints, a 3-byte P.
M = (1 << 64) - 1
write("wire", "deltas", datagram(5, b"d", [
    Rec(0, 0xFFFFFFFF, 1 << 63, 1 << 63, b"a", b"1"),
    Rec(2, 0, 1, M, b"b.c"),
    Rec(4, 0, 2, 0, b"d", bytes(200)),
    Rec(1, 7, M, 1, b"e"),
    Rec(0, 7, 3, 1, b"f", bytes(16384)),
]))
# A spelled-out sequence delta of +1 and a repeated interval: valid, but not the writer's form.
write("wire", "explicit-forms", mv.header(mv.KIND_DATA, 2, 6, b"e")
      + bytes([0x00, 1, 1, 10, 2, 4]) + b"a" + b"v" + bytes([0x00, 1, 1, 10, 2, 4]) + b"b" + b"w" + b"\0" * 8)
# Non-canonical varints (rejected).
write("wire", "overlong-varint", mv.header(mv.KIND_DATA, 1, 6, b"e") + bytes([0x30, 1]) + b"\x80\x00" + b"\x02a" + b"\0" * 8)
write("wire", "eleven-byte-varint", mv.header(mv.KIND_DATA, 1, 6, b"e") + bytes([0x30, 1, 0]) + b"\x80" * 10 + b"\x01a" + b"\0" * 8)

# --- fuzz_subject: u8 split, filter text, subject text.
pairs = [(b"plant.*", b"plant.a.b"), (b"plant.*.temp", b"plant.line3.temp"), (b"*", b"x"),
         (b"a.*.*", b"a.b"), (b"plant.line3.temp", b"plant.line3.temp"), (b"pl*nt", b"a..b"),
         (b"usine.caf\xc3\xa9.*", "usine.café.température".encode()), (b"*.*.*", b"a.b.c.d"),
         (b"a" * 255, b"b." * 127 + b"c"), (b"dev.*.state", b"dev.a.state")]
for i, (f, s) in enumerate(pairs):
    write("subject", f"pair{i}", bytes([len(f)]) + f + s)

# --- fuzz_pool: u8 len(prefix), u8 len(ports), prefix, ports, stream name.
pools = [(b"239.255.0.0/16", b"19090-19097", b"sensors"), (b"ff15::/16", b"19090..19097", b"status"),
         (b"224.0.0.0/4", b"1", b"telemetry"), (b"ff00::/8", b"1-65535", b"x" * 255),
         (b"239.255.0.1/16", b"0-10", b"a\0b"), (b"10.0.0.0/8", b"19090", b""),
         (b"ff15::%eth0/16", b"9-8", b"s"), (b"239.255.255.254/31", b"65535", "usine".encode())]
for i, (p, r, n) in enumerate(pools):
    write("pool", f"pool{i}", bytes([len(p), len(r)]) + p + r + n)


# --- fuzz_subscriber: opcodes 0 datagram (u8 receiver, u16 len, bytes), 1 time (u16 ms),
#     2 toggle (u8 slot), 3 raw (u16 len, bytes).
def op_dgram(d, receiver=0):
    return bytes([0, receiver]) + struct.pack("<H", len(d)) + d


def op_raw(d):
    return bytes([3]) + struct.pack("<H", len(d)) + d


def op_time(ms):
    return bytes([1]) + struct.pack("<H", ms)


def op_toggle(i):
    return bytes([2, i])


def values(pub, stream, subjects, seq0=1, interval=1000, flags=0, payload=b"v"):
    return datagram(pub, stream, [Rec(flags, interval, seq0 + k, seq0 + k, s, payload) for k, s in enumerate(subjects)])


VV = (V[1], V[2], V[3])
for r in range(3):
    write("subscriber", f"vectors-r{r}", b"".join(op_raw(v) for v in VV) + b"".join(op_dgram(v, r) for v in VV))
subs = [b"plant.line3.temp", b"plant.a", b"plant.b.temp", b"x.y.temp", b"plant.q.r.s"]
write("subscriber", "values-dup-expire",
      b"".join(op_dgram(values(1, b"sensors", subs), r) for r in range(4)) + op_dgram(values(1, b"sensors", subs), 0)
      + op_time(1500) + op_dgram(values(1, b"sensors", subs, seq0=10), 1) + op_time(4000) + op_time(4000))
write("subscriber", "eviction",
      b"".join(op_dgram(values(p, b"sensors", [b"plant.s%d" % (p * 10 + k) for k in range(5)]), 0) for p in range(1, 8)))
write("subscriber", "tombstone-event",
      op_dgram(values(5, b"status", [b"dev.a.state", b"dev.b.state"]), 1)
      + op_dgram(values(5, b"status", [b"dev.a.state"], seq0=3, interval=0, flags=1, payload=b""), 1)
      + op_dgram(values(5, b"status", [b"dev.c.state"], seq0=4, interval=0), 1)
      + op_dgram(values(5, b"status", [b"dev.c.state"], seq0=4, interval=0), 1) + op_time(200))
write("subscriber", "handler-throws",
      op_dgram(values(2, b"sensors", [b"plant.x"], payload=b"!boom"), 0)
      + op_dgram(values(2, b"sensors", [b"plant.y"], seq0=2, payload=b"~"), 0)
      + op_dgram(values(2, b"sensors", [b"plant.z"], seq0=3, payload=b"ok"), 0))
write("subscriber", "toggle-replay",
      op_dgram(values(2, b"sensors", [b"plant.line3.temp"]), 0) + op_toggle(0) + op_toggle(0)
      + op_dgram(values(2, b"sensors", [b"plant.line3.temp"], seq0=2, payload=b"#"), 0) + op_toggle(1) + op_toggle(1))
write("subscriber", "stale-gaps",
      op_dgram(values(9, b"status", [b"dev.a.state"], seq0=10), 1) + op_dgram(values(9, b"status", [b"dev.a.state"], seq0=5), 1)
      + op_dgram(values(9, b"status", [b"dev.a.state"], seq0=20, payload=b"w"), 1)
      + op_dgram(values(8, b"status", [b"dev.a.state"], seq0=1, payload=b"z"), 1))
write("subscriber", "padded",
      op_dgram(V[9], 0) + op_dgram(datagram(4, b"sensors", [Rec(0, 1000, 1, 1, b"plant.a", b"1")], padding=90), 1)
      + op_dgram(datagram(4, b"sensors", [Rec(0, 1000, 2, 2, b"plant.a", b"2")], padding=3), 1)
      + op_dgram(datagram(4, b"sensors", [Rec(0, 1000, 2, 2, b"plant.a", b"2")]), 1) + op_raw(V[8]))
write("subscriber", "snapshot-and-request",
      op_dgram(V[4], 0) + op_raw(REQ[5]) + op_raw(REQ[6])
      + op_dgram(datagram(7, b"sensors", [Rec(0, 1000, 3, 10, b"plant.a", b"1"), Rec(2, 1000, 1, 5, b"plant.b", b"0")]), 0))


# --- Older datagrams inside regression inputs, converted to version 3.
def v2_to_v3(d):
    """A version-2 datagram (data or request) as version 3: the same bytes with version byte 3,
    and the checksum recomputed if it was right; None if `d` is not version 2."""
    if len(d) < 6 or d[:5] != b"RKTM\x02":
        return None
    out = d[:4] + bytes([mv.VERSION]) + d[5:]
    if len(d) >= 8 and struct.unpack_from("<Q", d, len(d) - 8)[0] == mv.xxh3(d[:-8]):
        out = out[:-8] + struct.pack("<Q", mv.xxh3(out[:-8]))
    return out


def v1_to_v3(d):
    """A version-1 data datagram's records in version 3 (flags, interval, sequence, timestamp,
    subject and payload kept; bytes after the last record kept), or None if `d` is not one."""
    if len(d) < 25 or d[:6] != b"RKTM\x01\x01":
        return None
    count, pub = struct.unpack_from("<HQ", d, 6)
    s = d[16]
    off, end = 17 + s, len(d) - 8
    if off > end:
        return None
    recs = []
    for _ in range(count):
        if end - off < 32:
            return None
        flags, l, p, interval, seq, ts, _hash = struct.unpack_from("<BBHIQQQ", d, off)
        if end - off - 32 < l + p:
            return None
        body = d[off + 32: off + 32 + l + p]
        recs.append(Rec(flags & ~0x30, interval, seq, ts, body[:l], body[l:]))
        off += 32 + l + p
    out = mv.header(mv.KIND_DATA, count, pub, d[17:17 + s]) + mv.records(recs) + d[off:end]
    checksum_ok = struct.unpack_from("<Q", d, end)[0] == mv.xxh3(d[:end])
    return out + (struct.pack("<Q", mv.xxh3(out)) if checksum_ok else d[end:])


def convert_ops(data):
    out, i, changed = bytearray(), 0, False
    while i < len(data):
        op = data[i]
        i += 1
        if op % 4 in (0, 3):
            head = bytes([op])
            if op % 4 == 0:
                head += data[i:i + 1]
                i += 1
            n = int.from_bytes(data[i:i + 2].ljust(2, b"\0"), "little")
            i += 2
            d = data[i:i + n]
            i += n
            new = v2_to_v3(d)
            if new is None:
                new = v1_to_v3(d)
            if new is not None:
                changed = True
                d = new
            out += head + struct.pack("<H", len(d)) + d
        elif op % 4 == 1:
            out += bytes([op]) + data[i:i + 2]
            i += 2
        else:
            out += bytes([op]) + data[i:i + 1]
            i += 1
    return bytes(out), changed


sub_dir = os.path.join(HERE, "subscriber")
for name in sorted(os.listdir(sub_dir)):
    if name.startswith("regression-"):
        path = os.path.join(sub_dir, name)
        with open(path, "rb") as f:
            data = f.read()
        new, changed = convert_ops(data)
        if changed:
            with open(path, "wb") as f:
                f.write(new)
            print(f"converted {name} to wire version 3")
