#!/usr/bin/env python3
"""Writes the fuzz seed corpora from the wire-format test vectors (docs/wire-format.md,
tests/core/test_wire.cpp). Run from anywhere: python3 fuzz/corpus/make_seeds.py
SPDX-License-Identifier: MIT"""
import os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
V1 = bytes.fromhex("524b544d01010100efcdab89674523010773656e736f727300100400e8030000010000000000000000002a36fe9c9717245f4c18c647f163706c616e742e6c696e65332e74656d7032312e35c2854adcf23699c2")
V2 = bytes.fromhex("524b544d010103001032547698badcfe06737461747573000b0200f4010000070000000000000015cd853dfe9c9717dc659f527991be126465762e612e73746174657570010b000000000000080000000000000015ae7b43fe9c9717115121a8812768ff6465762e622e7374617465020b0400f40100000500000000000000158f7149fe9c9717cecae7f6037d71236465762e632e7374617465646f776ee122cc499a05e7da")
V3 = bytes.fromhex("524b544d0101010001000000000000000974656c656d6574727900180600000000002a000000000000000100000000000000abd40c12f2d62e717573696e652e636166c3a92e74656d70c3a972617475726500017f80feffcde5ba6c36a41265")

def record(flags, interval, seq, ts, subject, payload=b"", h=0):
    return struct.pack("<BBHIQQQ", flags, len(subject), len(payload), interval, seq, ts, h) + subject + payload

def datagram(pub, stream, records, count=None):
    # The trailer is left zero: the fuzz targets recompute it.
    body = b"RKTM" + bytes([1, 1]) + struct.pack("<HQ", count if count is not None else len(records), pub)
    body += bytes([len(stream)]) + stream + b"".join(records)
    return body + b"\0" * 8

def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# --- fuzz_wire: the vectors, truncations and odd-but-interesting shapes.
for i, v in enumerate((V1, V2, V3), 1):
    write("wire", f"vector{i}", v)
    write("wire", f"vector{i}-truncated", v[: len(v) // 2])
write("wire", "max-name-lengths", datagram(7, b"s" * 255, [record(0, 1000, 1, 1, b"a." * 127 + b"b", b"x" * 64)]))
write("wire", "many-records", datagram(9, b"sensors", [record(0, 10, n + 1, n, b"plant.s%d" % n, b"v") for n in range(40)]))
write("wire", "tombstone", datagram(3, b"status", [record(1, 0, 5, 5, b"dev.a.state")]))
write("wire", "count-mismatch", datagram(3, b"status", [record(0, 0, 5, 5, b"a")], count=2))
write("wire", "header-only", V1[:17])

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
    return datagram(pub, stream, [record(flags, interval, seq0 + k, seq0 + k, s, payload) for k, s in enumerate(subjects)])

for r in range(3):
    write("subscriber", f"vectors-r{r}", b"".join(op_raw(v) for v in (V1, V2, V3)) + op_dgram(V1, r) + op_dgram(V2, r) + op_dgram(V3, r))
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
