#!/usr/bin/env python3
"""An encoder for Racket wire format version 3, written from docs/wire-format.md alone (it
shares no code with include/racket/wire.hpp), and the test vectors it produces.

    python3 docs/vectors/make_vectors.py          # prints every vector (hex, sizes, hashes)
    python3 docs/vectors/make_vectors.py --hex 7  # vector 7's bytes in full, 64 to a line
                                                  # (the appendix of docs/wire-format.md)

XXH3-64 (seed 0) comes from the xxhsum CLI (`xxhsum -H3`), there being no xxhash module in
the standard library. fuzz/corpus/make_seeds.py imports this file to write the fuzz seeds.
SPDX-License-Identifier: MIT"""
import os
import struct
import subprocess
import sys
import tempfile

MAGIC = b"RKTM"
VERSION = 3
KIND_DATA, KIND_REQUEST = 1, 2
TOMBSTONE, RESEND, SNAPSHOT, SEQUENCE_NEXT, SAME_INTERVAL = 0x01, 0x02, 0x04, 0x10, 0x20
M64 = (1 << 64) - 1


def xxh3(data: bytes) -> int:
    """XXH3-64, seed 0, via `xxhsum -H3` (prints 'XXH3 (file) = 16 hex digits')."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
        name = f.name
    try:
        out = subprocess.run(["xxhsum", "-H3", name], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(name)
    return int(out.strip().split()[-1], 16)


def varint(v: int) -> bytes:
    """Canonical unsigned LEB128: 7 bits a byte, low group first, high bit = more follow."""
    assert 0 <= v <= M64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(delta: int) -> int:
    """delta modulo 2^64 read as int64 n, then (n << 1) ^ (n >> 63) as an unsigned 64-bit number."""
    n = delta & M64
    if n >= 1 << 63:
        n -= 1 << 64
    return ((n << 1) ^ (n >> 63)) & M64


def content_hash(stream: bytes, subject: bytes, payload: bytes) -> int:
    return xxh3(bytes([len(stream)]) + stream + bytes([len(subject)]) + subject + payload)


class Rec:
    def __init__(self, flags, interval, seq, ts, subject, payload=b""):
        self.flags, self.interval, self.seq, self.ts = flags, interval, seq, ts
        self.subject, self.payload = subject, payload


def records(recs):
    """Encodes a datagram's records: deltas from the previous record (from 0 for the first),
    sequence_next / same_interval whenever they apply."""
    out = bytearray()
    prev_seq = prev_ts = prev_interval = 0
    for r in recs:
        seq_next = (r.seq - prev_seq) & M64 == 1
        same_interval = r.interval == prev_interval
        flags = r.flags | (SEQUENCE_NEXT if seq_next else 0) | (SAME_INTERVAL if same_interval else 0)
        out += bytes([flags, len(r.subject)]) + varint(len(r.payload))
        if not same_interval:
            out += varint(r.interval)
        if not seq_next:
            out += varint(zigzag(r.seq - prev_seq))
        out += varint(zigzag(r.ts - prev_ts))
        out += r.subject + r.payload
        prev_seq, prev_ts, prev_interval = r.seq, r.ts, r.interval
    return bytes(out)


def header(kind, count, ident, stream, version=VERSION):
    return MAGIC + bytes([version, kind]) + struct.pack("<HQ", count, ident) + bytes([len(stream)]) + stream


def datagram(pub, stream, recs, count=None, trailer=True, body=None, padding=0):
    """A data datagram with `padding` zero bytes between the last record and the trailer (the
    checksum covers them); trailer=False leaves the checksum zero (the fuzz targets recompute it)."""
    d = header(KIND_DATA, len(recs) if count is None else count, pub, stream)
    d += records(recs) if body is None else body
    d += b"\0" * padding
    return d + (struct.pack("<Q", xxh3(d)) if trailer else b"\0" * 8)


def request(requester, stream, filt, target, ranges):
    d = header(KIND_REQUEST, len(ranges), requester, stream) + bytes([len(filt)]) + filt + struct.pack("<Q", target)
    for first, last in ranges:
        d += struct.pack("<QQ", first, last)
    return d + struct.pack("<Q", xxh3(d))


def pattern(n):
    """The payload of the long vectors: byte k is k mod 251."""
    return bytes(k % 251 for k in range(n))


TS = 1700000000000000000

# Data vectors: number -> (publisher_id, stream, records[, padding bytes]).
DATA_VECTORS = {
    1: (0x0123456789ABCDEF, b"sensors", [Rec(0, 1000, 1, TS, b"plant.line3.temp", b"21.5")]),
    2: (0xFEDCBA9876543210, b"status", [
        Rec(0, 500, 7, 1700000000123456789, b"dev.a.state", b"up"),
        Rec(0, 500, 8, 1700000000123457789, b"dev.b.state", pattern(130)),
        Rec(TOMBSTONE, 500, 9, 1700000000123459789, b"dev.c.state"),
        Rec(RESEND, 500, 5, 1699999999000000000, b"dev.d.state", b"down"),
        Rec(0, 0, 10, 1700000000200000000, b"dev.e.event", b"x"),
        Rec(0, 0, 11, 1700000000200000001, b"dev.f.event"),
    ]),
    3: (0x0000000000000001, b"telemetry",
        [Rec(0, 0, 42, 1, "usine.café.température".encode(), bytes.fromhex("00017f80feff"))]),
    4: (0x0123456789ABCDEF, b"sensors", [Rec(SNAPSHOT, 1000, 9, TS, b"plant.line3.temp", b"21.5")]),
    7: (0x0000000000000002, b"bulk", [
        Rec(0, 60000, 1, TS, b"blob.a", pattern(20000)),
        Rec(0, 60000, 2, TS, b"blob.b", pattern(16383)),
    ]),
    # Vector 1 padded by one byte.
    8: (0x0123456789ABCDEF, b"sensors", [Rec(0, 1000, 1, TS, b"plant.line3.temp", b"21.5")], 1),
    # Two records padded to a 128-byte segment: 59 bytes of padding.
    9: (0x0123456789ABCDEF, b"sensors", [
        Rec(0, 1000, 20, TS, b"plant.a", b"1"),
        Rec(0, 1000, 21, TS + 1500, b"plant.b", b"22"),
    ], 59),
}


def data_vector(n, trailer=True):
    """The bytes of data vector n."""
    pub, stream, recs, *padding = DATA_VECTORS[n]
    return datagram(pub, stream, recs, trailer=trailer, padding=padding[0] if padding else 0)

REQUEST_VECTORS = {
    5: (0x0123456789ABCDEF, b"sensors", b"plant.*", 0, []),
    6: (0xFEDCBA9876543210, b"status", b"", 0x1122334455667788, [(5, 7), (10, 10)]),
}


def split_records(pub, stream, recs):
    """Hex of each record, for the documentation's line-by-line listing."""
    out, prev = [], b""
    for i in range(1, len(recs) + 1):
        cur = records(recs[:i])
        out.append(cur[len(prev):].hex())
        prev = cur
    return out


def main():
    for n in sorted(set(DATA_VECTORS) | set(REQUEST_VECTORS)):
        if n in DATA_VECTORS:
            pub, stream, recs, *padding = DATA_VECTORS[n]
            d = data_vector(n)
            print(f"### vector {n}: {len(d)} bytes, checksum 0x{struct.unpack('<Q', d[-8:])[0]:016x}")
            for r in recs:
                print(f"  content_hash({r.subject.decode()}) = 0x{content_hash(stream, r.subject, r.payload):016x}")
            print("  header  " + header(KIND_DATA, len(recs), pub, stream).hex())
            for h in split_records(pub, stream, recs):
                print("  record  " + (h if len(h) <= 400 else h[:120] + f"...({len(h) // 2} bytes)"))
            if padding:
                print(f"  padding {padding[0]} bytes 00")
            print("  trailer " + d[-8:].hex())
            print("  all     " + (d.hex() if len(d) <= 1024 else f"(long: --hex {n} prints it)"))
        else:
            d = request(*REQUEST_VECTORS[n])
            print(f"### vector {n} (request): {len(d)} bytes, checksum 0x{struct.unpack('<Q', d[-8:])[0]:016x}")
            print("  all     " + d.hex())


def print_hex(n):
    """Vector n's bytes in hex, 64 bytes (128 digits) to a line."""
    d = data_vector(n) if n in DATA_VECTORS else request(*REQUEST_VECTORS[n])
    h = d.hex()
    for i in range(0, len(h), 128):
        print(h[i:i + 128])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--hex":
        print_hex(int(sys.argv[2]))
    else:
        main()
