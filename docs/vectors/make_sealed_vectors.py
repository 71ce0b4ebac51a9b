#!/usr/bin/env python3
# make_sealed_vectors.py: the sealed-datagram test vectors of docs/wire-format.md ("Sealed
# datagram (kind 4)"), written from docs/security.md and docs/wire-format.md alone, with
# Python's hashlib (BLAKE2b) and the `cryptography` package (Debian python3-cryptography:
# AES-256-GCM, ChaCha20-Poly1305); HChaCha20, for XChaCha20-Poly1305, is written out below.
# It must NOT use libsodium or Racket's code: tests/security/test_sealer.cpp checks that the
# library reproduces what this prints.
#
#   python3 docs/vectors/make_sealed_vectors.py [DOC]   (DOC: docs/wire-format.md, for vector 1)
# SPDX-License-Identifier: MIT
import hashlib
import re
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305


def vector1(doc):
    text = open(doc, encoding="utf-8").read()
    body = re.split(r"^### Vector (\d+):.*$", text[text.index("## Test vectors"):], flags=re.M)
    for n, b in zip(body[1::2], body[2::2]):
        if n == "1":
            return bytes.fromhex(re.findall(r"```\n([0-9a-f]+)\n```", b)[-1])
    raise SystemExit("vector 1 not found")


def rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def hchacha20(key, nonce16):
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


KEY = bytes(range(32))
SENDER = 0x0123456789ABCDEF
COUNTER = 1
TIMESTAMP = 1700000000000000000


def seal(suite, inner):
    key_id = struct.unpack("<I", hashlib.blake2b(b"racket key id v1", key=KEY, digest_size=32).digest()[:4])[0]
    subkey = hashlib.blake2b(b"racket subkey v1" + struct.pack("<Q", SENDER), key=KEY, digest_size=32).digest()
    header = b"RKTM" + bytes([3, 4, suite, inner[5]]) + struct.pack("<IQQQ", key_id, SENDER, COUNTER, TIMESTAMP)
    nonce24 = struct.pack("<Q", COUNTER) + bytes(16)
    if suite == 1:
        body = AESGCM(subkey).encrypt(nonce24[:12], inner, header)
    elif suite == 2:
        body = ChaCha20Poly1305(hchacha20(subkey, nonce24[:16])).encrypt(bytes(4) + nonce24[16:], inner, header)
    else:
        body = inner + AESGCM(subkey).encrypt(nonce24[:12], b"", header + inner)
    return key_id, subkey, header + body


def main():
    doc = sys.argv[1] if len(sys.argv) > 1 else "docs/wire-format.md"
    inner = vector1(doc)
    for suite in (1, 2, 3):
        key_id, subkey, sealed = seal(suite, inner)
        print(f"suite {suite}: key_id 0x{key_id:08x} subkey {subkey.hex()} size {len(sealed)}")
        print(sealed.hex())


if __name__ == "__main__":
    main()
