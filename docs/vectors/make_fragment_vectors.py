#!/usr/bin/env python3
"""The fragment vectors of docs/wire-format.md ("Fragmented messages"), written from that
section alone: a fragment record encoder and the request extension that names fragments.
Shares only the basic helpers (xxh3 via the xxhsum CLI, varint, zigzag, header) with
make_vectors.py, nothing with include/racket/wire.

    python3 docs/vectors/make_fragment_vectors.py     # prints vectors F1..F6
SPDX-License-Identifier: MIT"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vectors import (KIND_DATA, KIND_REQUEST, RESEND, SAME_INTERVAL, SEQUENCE_NEXT, TS, content_hash,  # noqa: E402
                          header, pattern, varint, xxh3, zigzag)

FRAGMENT = 0x08
HEADER_CHECKSUM = 0x40
MIN_FRAGMENT_SIZE = 64


def varint_size(v):
    return len(varint(v))


def fragment_size(max_datagram, stream, subject, interval, seq, ts):
    """F: the largest P whose fragment record fills a datagram of max_datagram bytes."""
    fixed = 17 + len(stream) + 2 + (0 if interval == 0 else varint_size(interval)) + \
        (0 if seq == 1 else varint_size(zigzag(seq))) + varint_size(zigzag(ts)) + 18 + len(subject) + 8
    avail = max_datagram - fixed  # for P and its varint
    best = 0
    for p in range(1, 65536):
        if p + varint_size(p) <= avail:
            best = p
    return best


def fragment_datagram(pub, stream, flags, interval, seq, ts, subject, payload, f, k):
    t = len(payload)
    n = (t + f - 1) // f
    assert 0 <= k < n
    part = payload[k * f:(k + 1) * f]
    fl = flags | FRAGMENT | (SEQUENCE_NEXT if seq == 1 else 0) | (SAME_INTERVAL if interval == 0 else 0)
    rec = bytes([fl, len(subject)]) + varint(len(part))
    if interval != 0:
        rec += varint(interval)
    if seq != 1:
        rec += varint(zigzag(seq))
    rec += varint(zigzag(ts))
    rec += struct.pack("<IIHQ", t, k, f, content_hash(stream, subject, payload))
    rec += subject
    head = header(KIND_DATA, 1, pub, stream) + rec
    rec += part
    d = header(KIND_DATA, 1, pub, stream) + rec
    # header_checksum: the checksum covers the bytes before the payload only
    return d + struct.pack("<Q", xxh3(head if flags & HEADER_CHECKSUM else d)), rec


def fragment_request(requester, stream, filt, target, ranges, fragments):
    d = header(KIND_REQUEST, len(ranges), requester, stream) + bytes([len(filt)]) + filt + struct.pack("<Q", target)
    for first, last in ranges:
        d += struct.pack("<QQ", first, last)
    if fragments:
        d += bytes([len(fragments)])
        for seq, first, last in fragments:
            d += struct.pack("<QII", seq, first, last)
    return d + struct.pack("<Q", xxh3(d))


PUB = 0x0123456789ABCDEF
STREAM = b"sensors"
SUBJECT = b"plant.map"
PAYLOAD = pattern(150)
SEQ = 42
INTERVAL = 1000
MAX_DATAGRAM = 138

FRAGMENT_VECTORS = {  # name -> (flags, fragment index)
    "F1": (0, 0),
    "F2": (RESEND, 1),
    "F3": (0, 2),
    "F5": (HEADER_CHECKSUM, 0),
    "F6": (HEADER_CHECKSUM | RESEND, 2),
}
REQUEST_VECTOR = (0xFEDCBA9876543210, STREAM, b"", PUB, [(40, 41)], [(42, 1, 1), (43, 0, 4)])


def main():
    f = fragment_size(MAX_DATAGRAM, STREAM, SUBJECT, INTERVAL, SEQ, TS)
    print(f"fragment_size F = {f} for a {MAX_DATAGRAM}-byte datagram; "
          f"content_hash = 0x{content_hash(STREAM, SUBJECT, PAYLOAD):016x}")
    for name, (flags, k) in FRAGMENT_VECTORS.items():
        d, rec = fragment_datagram(PUB, STREAM, flags, INTERVAL, SEQ, TS, SUBJECT, PAYLOAD, f, k)
        print(f"### vector {name}: {len(d)} bytes, checksum 0x{struct.unpack('<Q', d[-8:])[0]:016x}")
        print("  header  " + header(KIND_DATA, 1, PUB, STREAM).hex())
        print("  record  " + rec.hex())
        print("  all     " + d.hex())
    d = fragment_request(*REQUEST_VECTOR)
    print(f"### vector F4 (request): {len(d)} bytes, checksum 0x{struct.unpack('<Q', d[-8:])[0]:016x}")
    print("  all     " + d.hex())


if __name__ == "__main__":
    main()
