#!/usr/bin/env python3
# dissector_test.py: checks tools/wireshark/racket.lua through tshark. Holds the pcap writer
# (Ethernet + IPv4 + UDP frames built by hand), the test vectors read from docs/wire-format.md
# with the values the document gives for them, the hostile datagrams, and the checks on
# tshark's field output. It must NOT know the library's code: only the document and tshark.
#
#   dissector_test.py vectors DOC LUA WORKDIR   decode the document's vectors, check every field
#   dissector_test.py hostile DOC LUA WORKDIR   malformed datagrams: flagged, never a Lua error
#   dissector_test.py capture PCAP LUA          a live capture of sender/receiver (test_dissector.sh)
#
# Prints "ok: ..." / "FAIL: ..." lines; exits 1 if any check failed.
# SPDX-License-Identifier: MIT
import random
import re
import struct
import subprocess
import sys

failures = 0


def check(what, condition, detail=""):
    global failures
    if condition:
        print(f"ok: {what}")
    else:
        failures += 1
        print(f"FAIL: {what}" + (f"\n      {detail}" if detail else ""))


# pcap -----------------------------------------------------------------------------------------

def _ip_checksum(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def frame(payload, dst_port=19090, src_port=40000, dst="239.255.120.127", src="10.0.0.1"):
    """One Ethernet frame carrying payload as an IPv4 UDP datagram (UDP checksum 0: none)."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    addr = lambda a: bytes(int(x) for x in a.split("."))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 1, 17, 0, addr(src), addr(dst))
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    d = addr(dst)
    eth = bytes([0x01, 0x00, 0x5E, d[1] & 0x7F, d[2], d[3]]) + bytes.fromhex("020000000001") + b"\x08\x00"
    return eth + ip + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))  # LINKTYPE_ETHERNET
        for i, data in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(data), len(data)))
            f.write(data)


# tshark ---------------------------------------------------------------------------------------

FIELDS = [
    "frame.number", "racket.version", "racket.kind", "racket.record_count", "racket.publisher_id",
    "racket.stream", "racket.record.flags", "racket.record.flags.tombstone",
    "racket.record.flags.resend", "racket.record.flags.snapshot", "racket.record.subject_len",
    "racket.record.payload_len", "racket.record.interval_ms", "racket.record.sequence_delta",
    "racket.record.sequence", "racket.record.timestamp_delta", "racket.record.timestamp_ns",
    "racket.record.time", "racket.record.subject", "racket.record.payload", "racket.padding_len",
    "racket.checksum", "racket.checksum.status", "racket.range_count", "racket.requester_id",
    "racket.filter_len", "racket.filter", "racket.target_publisher", "racket.range.first",
    "racket.range.last", "racket.expert.truncated", "racket.expert.bad_version",
    "racket.expert.bad_kind", "racket.expert.bad_length", "racket.expert.bad_record",
    "racket.expert.bytes_left", "racket.expert.bad_checksum", "racket.expert.dissector_error", "_ws.expert.message",
    "_ws.lua.error", "_ws.malformed", "frame.protocols", "_ws.col.Protocol", "_ws.col.Info",
    "racket.announce.entry_count", "racket.announce.sender_id", "racket.announce.host", "racket.announce.role",
    "racket.announce.pid", "racket.announce.period_ms", "racket.announce.program", "racket.announce.stream",
    "racket.announce.subject_count", "racket.announce.rate_milli", "racket.announce.filter",
    "racket.record.flags.fragment", "racket.fragment.total_size", "racket.fragment.index", "racket.fragment.size",
    "racket.fragment.content_hash", "racket.fragment.count", "racket.fragment_range_count",
    "racket.fragment_range.sequence", "racket.fragment_range.first", "racket.fragment_range.last",
]


def tshark_fields(pcap, lua):
    """Runs tshark on pcap; returns (status, rows as dicts of field -> list of values, stderr)."""
    args = ["tshark", "-n", "-r", pcap, "-X", f"lua_script:{lua}", "-T", "fields",
            "-E", "separator=\t", "-E", "aggregator=\x1f", "-E", "occurrence=a"]
    for name in FIELDS:
        args += ["-e", name]
    run = subprocess.run(args, capture_output=True)
    rows = []
    for line in run.stdout.decode("utf-8", "replace").splitlines():
        values = line.split("\t")
        rows.append({name: (v.split("\x1f") if v != "" else []) for name, v in zip(FIELDS, values)})
    return run.returncode, rows, run.stderr.decode("utf-8", "replace")


def tshark_verbose(pcap, lua):
    run = subprocess.run(["tshark", "-n", "-r", pcap, "-X", f"lua_script:{lua}", "-V"], capture_output=True)
    return run.returncode, run.stdout.decode("utf-8", "replace"), run.stderr.decode("utf-8", "replace")


def stderr_clean(stderr):
    """tshark's stderr without the warning it prints when run as root (as in CI)."""
    return "\n".join(l for l in stderr.splitlines() if l.strip() and "could be dangerous" not in l)


def no_lua_errors(rows, verbose_text, stderr, what):
    check(f"{what}: no Lua error in tshark's output",
          "Lua Error" not in verbose_text and not any(r["_ws.lua.error"] for r in rows)
          and "Lua" not in stderr_clean(stderr), stderr_clean(stderr)[:2000])
    check(f"{what}: the dissector's own error guard never fired",
          not any(r["racket.expert.dissector_error"] for r in rows) and "racket.lua:" not in verbose_text)


# The document's vectors -----------------------------------------------------------------------

def read_vectors(doc):
    """{number: bytes} for every "### Vector N" of the Test vectors section, from the full-hex
    code block (vector 7: the appendix), checked against the size the document states."""
    text = open(doc, encoding="utf-8").read()
    start = text.index("## Test vectors")
    end = text.index("\n## ", start + 1)
    section = text[start:end]
    appendix = text[text.index("## Appendix: vector 7 in full"):]
    vectors, sizes = {}, {}
    parts = re.split(r"^### Vector (\d+):.*$", section, flags=re.M)
    for number, body in zip(parts[1::2], parts[2::2]):
        n = int(number)
        for block in re.findall(r"```\n(.*?)```", body, flags=re.S):
            if re.fullmatch(r"[0-9a-f]+\n", block):
                vectors[n] = bytes.fromhex(block)
        m = re.search(r"^- size (\d+) bytes", body, flags=re.M)
        if m:
            sizes[n] = int(m.group(1))
    block = re.search(r"```\n(.*?)```", appendix, flags=re.S).group(1)
    vectors[7] = bytes.fromhex("".join(block.split()))
    for n in sorted(sizes):
        check(f"vector {n} read from the document: {sizes[n]} bytes as stated",
              n in vectors and len(vectors[n]) == sizes[n])
    return vectors


def read_announce_vectors(doc):
    """{20: bytes, 21: bytes}: the one-line hex block of each vector of "Announcement (kind 3)"."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Announcement (kind 3)"):text.index("## Test vectors")]
    out = {}
    for n, body in re.findall(r"^### Vector (\d+):.*?$(.*?)(?=^### |\Z)", section, flags=re.M | re.S):
        blocks = re.findall(r"```\n([0-9a-f]+)\n```", body)
        if blocks:
            out[int(n)] = bytes.fromhex(blocks[-1])
    return out


def read_fragment_vectors(doc):
    """{"F1": bytes, ...}: the one-line hex block of each "#### Vector Fn" of "Fragmented messages"."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## Fragmented messages")
    section = text[start:text.index("\n## ", start + 1)]
    out = {}
    for n, body in re.findall(r"^#### Vector (F\d+):.*?$(.*?)(?=^#### |\Z)", section, flags=re.M | re.S):
        blocks = re.findall(r"```\n([0-9a-f]+)\n```", body)
        if blocks:
            out[n] = bytes.fromhex(blocks[-1])
    return out


# Vectors F1 to F6 as the document states their inputs: one message of 150 bytes (byte k is k)
# in fragments of 64 (F5 and F6 header-checksummed), and a request naming fragments.
FRAGMENT_PAYLOAD = bytes(range(150))
FRAGMENT_EXPECTED = {
    n: {"racket.kind": ["1"], "racket.record_count": ["1"], "racket.stream": ["sensors"],
        "racket.record.flags": [flags], "racket.record.subject": ["plant.map"], "racket.record.sequence": ["42"],
        "racket.record.interval_ms": ["1000"], "racket.record.timestamp_ns": ["1700000000000000000"],
        "racket.fragment.total_size": ["150"], "racket.fragment.index": [str(k)], "racket.fragment.size": ["64"],
        "racket.fragment.content_hash": ["0x6952ba6ae9207ef5"], "racket.fragment.count": ["3"],
        "racket.record.payload_len": [str(len(FRAGMENT_PAYLOAD[64 * k:64 * k + 64]))],
        "racket.record.payload": [FRAGMENT_PAYLOAD[64 * k:64 * k + 64].hex()],
        "racket.padding_len": ["0"], "racket.checksum.status": ["good"]}
    for n, flags, k in (("F1", "0x08", 0), ("F2", "0x0a", 1), ("F3", "0x08", 2), ("F5", "0x48", 0), ("F6", "0x4a", 2))
}
FRAGMENT_EXPECTED["F4"] = {
    "racket.kind": ["2"], "racket.stream": ["sensors"], "racket.requester_id": ["0xfedcba9876543210"],
    "racket.target_publisher": ["0x0123456789abcdef"], "racket.range_count": ["1"], "racket.range.first": ["40"],
    "racket.range.last": ["41"], "racket.fragment_range_count": ["2"], "racket.fragment_range.sequence": ["42", "43"],
    "racket.fragment_range.first": ["1", "0"], "racket.fragment_range.last": ["1", "4"],
    "racket.checksum.status": ["good"],
}
FRAGMENT_INFO = {"F1": "plant.map seq=42 frag=0/3", "F2": "plant.map seq=42 resend frag=1/3",
                 "F3": "plant.map seq=42 frag=2/3", "F4": "fragments=42:1-1,43:0-4",
                 "F5": "plant.map seq=42 frag=0/3", "F6": "plant.map seq=42 resend frag=2/3"}


def run_fragment_vectors(doc, lua, work):
    vectors = read_fragment_vectors(doc)
    check("the document has fragment vectors F1 to F6", sorted(vectors) == ["F1", "F2", "F3", "F4", "F5", "F6"],
          f"got {sorted(vectors)}")
    names = sorted(vectors)
    pcap = f"{work}/fragments.pcap"
    write_pcap(pcap, [frame(vectors[n]) for n in names])
    status, rows, stderr = tshark_fields(pcap, lua)
    check("tshark exits 0 on the fragment vectors", status == 0, stderr_clean(stderr))
    if len(rows) != len(names):
        check("one row per fragment vector", False, f"got {len(rows)}")
        return
    for row, n in zip(rows, names):
        check(f"vector {n}: no expert info", not row["_ws.expert.message"], str(row["_ws.expert.message"]))
        for name, want in FRAGMENT_EXPECTED[n].items():
            got = row[name]
            if name in ("racket.requester_id", "racket.target_publisher", "racket.fragment.content_hash"):
                got = [g.lower() for g in got]
            if name == "racket.record.payload":
                got = payload_hex(got)
            check(f"vector {n}: {name} = {want}", got == want, f"got {got}")
        if n != "F4":
            check(f"vector {n}: the fragment flag is shown", bool_text(row["racket.record.flags.fragment"]) == [1],
                  str(row["racket.record.flags.fragment"]))
        info = row["_ws.col.Info"][0] if row["_ws.col.Info"] else ""
        check(f"vector {n}: Info shows {FRAGMENT_INFO[n]!r}", FRAGMENT_INFO[n] in info, f"got {info!r}")
    status, text, stderr = tshark_verbose(pcap, lua)
    check("tshark -V exits 0 on the fragment vectors", status == 0)
    no_lua_errors(rows, text, stderr, "fragment vectors")


# Vectors 20 and 21 as the document states their inputs.
ANNOUNCE_EXPECTED = {
    20: {"racket.announce.sender_id": ["0x0102030405060708"], "racket.announce.host": ["h1"],
         "racket.announce.role": ["1"], "racket.announce.pid": ["4242"], "racket.announce.period_ms": ["5000"],
         "racket.announce.program": ["sender"], "racket.announce.entry_count": ["2"],
         "racket.announce.stream": ["plant", "fx"], "racket.announce.subject_count": ["3", "0"],
         "racket.announce.rate_milli": ["2000", "0"], "racket.announce.filter": [],
         "racket.checksum.status": ["good"]},
    21: {"racket.announce.sender_id": ["0x1122334455667788"], "racket.announce.host": ["h2"],
         "racket.announce.role": ["2"], "racket.announce.pid": ["7"], "racket.announce.period_ms": ["5000"],
         "racket.announce.program": ["receiver"], "racket.announce.entry_count": ["1"],
         "racket.announce.stream": ["plant"], "racket.announce.subject_count": [],
         "racket.announce.filter": ["a.*", "b"], "racket.checksum.status": ["good"]},
}


def run_announce_vectors(doc, lua, work):
    vectors = read_announce_vectors(doc)
    check("the document has announcement vectors 20 and 21", sorted(vectors) == [20, 21], f"got {sorted(vectors)}")
    numbers = sorted(vectors)
    pcap = f"{work}/announce.pcap"
    write_pcap(pcap, [frame(vectors[n], dst_port=19094) for n in numbers])
    status, rows, stderr = tshark_fields(pcap, lua)
    check("tshark exits 0 on the announcement vectors", status == 0, stderr_clean(stderr))
    if len(rows) != len(numbers):
        check("one row per announcement vector", False, f"got {len(rows)}")
        return
    for i, n in enumerate(numbers):
        row = rows[i]
        check(f"vector {n}: kind 3, no expert info", row["racket.kind"] == ["3"] and not row["_ws.expert.message"],
              str(row["_ws.expert.message"]))
        for name, want in ANNOUNCE_EXPECTED[n].items():
            got = row[name]
            if name == "racket.announce.sender_id":
                got = [g.lower() for g in got]
            check(f"vector {n}: {name} = {want}", got == want, f"got {got}")


def rec(flags, interval, seq_delta, sequence, ts_delta, ts, subject, payload, tombstone=0, resend=0, snapshot=0):
    return dict(flags=flags, interval=interval, seq_delta=seq_delta, sequence=sequence, ts_delta=ts_delta,
                ts=ts, subject=subject, payload=payload, tombstone=tombstone, resend=resend, snapshot=snapshot)


T0 = 1700000000000000000
BLOB_A = bytes(k % 251 for k in range(20000))
BLOB_B = bytes(k % 251 for k in range(16383))
V2_B = bytes(range(130))

# The document's inputs (docs/wire-format.md, "Test vectors"), as the dissector must show them.
# flags are the byte on the wire (the inputs' flags plus sequence_next 0x10 / same_interval 0x20).
EXPECTED = {
    1: dict(kind=1, pub="0x0123456789abcdef", stream="sensors", checksum="0x8ed6d7b2098e5c5e", padding=0,
            records=[rec(0x10, 1000, 1, 1, T0, T0, "plant.line3.temp", b"21.5")]),
    2: dict(kind=1, pub="0xfedcba9876543210", stream="status", checksum="0xf74a835868b58eef", padding=0,
            records=[rec(0x00, 500, 7, 7, 1700000000123456789, 1700000000123456789, "dev.a.state", b"up"),
                     rec(0x30, 500, 1, 8, 1000, 1700000000123457789, "dev.b.state", V2_B),
                     rec(0x31, 500, 1, 9, 2000, 1700000000123459789, "dev.c.state", b"", tombstone=1),
                     rec(0x22, 500, -4, 5, -1123459789, 1699999999000000000, "dev.d.state", b"down", resend=1),
                     rec(0x00, 0, 5, 10, 1200000000, 1700000000200000000, "dev.e.event", b"x"),
                     rec(0x30, 0, 1, 11, 1, 1700000000200000001, "dev.f.event", b"")]),
    3: dict(kind=1, pub="0x0000000000000001", stream="telemetry", checksum="0xfceadad07402c4e6", padding=0,
            records=[rec(0x20, 0, 42, 42, 1, 1, "usine.café.température", bytes.fromhex("00017f80feff"))]),
    4: dict(kind=1, pub="0x0123456789abcdef", stream="sensors", checksum="0xeb477037b62420f3", padding=0,
            records=[rec(0x04, 1000, 9, 9, T0, T0, "plant.line3.temp", b"21.5", snapshot=1)]),
    5: dict(kind=2, requester="0x0123456789abcdef", stream="sensors", filter="plant.*", target="0x0000000000000000",
            ranges=[], checksum="0xb838db5e473d8541"),
    6: dict(kind=2, requester="0xfedcba9876543210", stream="status", filter=None, target="0x1122334455667788",
            ranges=[(5, 7), (10, 10)], checksum="0x12054b8c571ddb2c"),
    7: dict(kind=1, pub="0x0000000000000002", stream="bulk", checksum="0x3fc6424cc851823c", padding=0,
            records=[rec(0x10, 60000, 1, 1, T0, T0, "blob.a", BLOB_A),
                     rec(0x30, 60000, 1, 2, 0, T0, "blob.b", BLOB_B)]),
    8: dict(kind=1, pub="0x0123456789abcdef", stream="sensors", checksum="0xa26100bbf729abdc", padding=1,
            records=[rec(0x10, 1000, 1, 1, T0, T0, "plant.line3.temp", b"21.5")]),
    9: dict(kind=1, pub="0x0123456789abcdef", stream="sensors", checksum="0x22074acbf960cfbe", padding=59,
            records=[rec(0x00, 1000, 20, 20, T0, T0, "plant.a", b"1"),
                     rec(0x30, 1000, 1, 21, 1500, T0 + 1500, "plant.b", b"22")]),
}


def hexflags(v):
    return f"0x{v:02x}"


def bool_text(values):
    """tshark prints booleans as 1/0 or True/False depending on its version."""
    return [{"1": 1, "True": 1, "0": 0, "False": 0}.get(v, v) for v in values]


def payload_hex(values):
    """tshark shows an empty bytes field (a tombstone's payload) as <MISSING>."""
    return ["" if v == "<MISSING>" else v.replace(":", "") for v in values]


def utc_text(ns):
    import datetime
    t = datetime.datetime.fromtimestamp(ns // 10**9, tz=datetime.timezone.utc)
    return t.strftime("%b %e, %Y %H:%M:%S") + f".{ns % 10**9:09d} UTC"


def check_vector(n, row, exp):
    what = f"vector {n}"
    eq = lambda field, value, got: check(f"{what}: {field} = {value!r}", got == value, f"got {got!r}")
    eq("version", ["3"], row["racket.version"])
    eq("kind", [str(exp["kind"])], row["racket.kind"])
    eq("stream", [exp["stream"]], row["racket.stream"])
    eq("checksum shown", [exp["checksum"]], row["racket.checksum"])
    eq("checksum status", ["good"], row["racket.checksum.status"])
    eq("protocol column", ["RACKET"], row["_ws.col.Protocol"])
    check(f"{what}: no expert info", not row["_ws.expert.message"], f"got {row['_ws.expert.message']}")
    if exp["kind"] == 1:
        records = exp["records"]
        eq("publisher_id", [exp["pub"]], row["racket.publisher_id"])
        eq("record_count", [str(len(records))], row["racket.record_count"])
        eq("flags", [hexflags(r["flags"]) for r in records], row["racket.record.flags"])
        eq("tombstone flags", [r["tombstone"] for r in records], bool_text(row["racket.record.flags.tombstone"]))
        eq("resend flags", [r["resend"] for r in records], bool_text(row["racket.record.flags.resend"]))
        eq("snapshot flags", [r["snapshot"] for r in records], bool_text(row["racket.record.flags.snapshot"]))
        eq("subjects", [r["subject"] for r in records], row["racket.record.subject"])
        eq("subject lengths", [str(len(r["subject"].encode())) for r in records], row["racket.record.subject_len"])
        eq("payload lengths", [str(len(r["payload"])) for r in records], row["racket.record.payload_len"])
        eq("payloads", [r["payload"].hex() for r in records], payload_hex(row["racket.record.payload"]))
        eq("intervals (ms)", [str(r["interval"]) for r in records], row["racket.record.interval_ms"])
        eq("sequence deltas", [str(r["seq_delta"]) for r in records], row["racket.record.sequence_delta"])
        eq("sequences", [str(r["sequence"]) for r in records], row["racket.record.sequence"])
        eq("timestamp deltas", [str(r["ts_delta"]) for r in records], row["racket.record.timestamp_delta"])
        eq("timestamps (ns)", [str(r["ts"]) for r in records], row["racket.record.timestamp_ns"])
        times = row["racket.record.time"]
        check(f"{what}: timestamps as UTC times", len(times) == len(records) and all(
            t.startswith(utc_text(r["ts"])) for t, r in zip(times, records)),
            f"got {times}, want {[utc_text(r['ts']) for r in records]}")
        eq("padding length", [str(exp["padding"])], row["racket.padding_len"])
        info = row["_ws.col.Info"][0] if row["_ws.col.Info"] else ""
        want = f"data stream={exp['stream']} pub={exp['pub']} {len(records)} record"
        check(f"{what}: Info column starts {want!r}", info.startswith(want), f"got {info!r}")
        check(f"{what}: Info names the first record with its sequence",
              f"{records[0]['subject']} seq={records[0]['sequence']}" in info, f"got {info!r}")
    else:
        ranges = exp["ranges"]
        eq("requester_id", [exp["requester"]], row["racket.requester_id"])
        eq("range_count", [str(len(ranges))], row["racket.range_count"])
        eq("filter length", [str(len(exp["filter"] or ""))], row["racket.filter_len"])
        eq("filter", [exp["filter"]] if exp["filter"] else [], row["racket.filter"])
        eq("target_publisher", [exp["target"]], row["racket.target_publisher"])
        eq("range firsts", [str(a) for a, _ in ranges], row["racket.range.first"])
        eq("range lasts", [str(b) for _, b in ranges], row["racket.range.last"])
        info = row["_ws.col.Info"][0] if row["_ws.col.Info"] else ""
        check(f"{what}: Info column says request", "request stream=" + exp["stream"] in info, f"got {info!r}")


def run_vectors(doc, lua, work):
    vectors = read_vectors(doc)
    check("the document has vectors 1 to 9", sorted(vectors) == list(range(1, 10)), f"got {sorted(vectors)}")
    numbers = sorted(vectors)
    # Vectors on a port of the default range (the port registration) and again on another port
    # (the heuristic): both decode the same.
    frames = [frame(vectors[n]) for n in numbers] + [frame(vectors[n], dst_port=5555) for n in numbers]
    pcap = f"{work}/vectors.pcap"
    write_pcap(pcap, frames)
    status, rows, stderr = tshark_fields(pcap, lua)
    check("tshark exits 0 on the vectors", status == 0, stderr_clean(stderr))
    check("one row per frame", len(rows) == len(frames), f"got {len(rows)}")
    if len(rows) != len(frames):
        return
    for i, n in enumerate(numbers):
        check_vector(n, rows[i], EXPECTED[n])
        check_vector(n, rows[len(numbers) + i], EXPECTED[n])
    status, text, stderr = tshark_verbose(pcap, lua)
    check("tshark -V exits 0 on the vectors", status == 0)
    no_lua_errors(rows, text, stderr, "vectors")
    with open(f"{work}/vectors.txt", "w", encoding="utf-8") as f:
        f.write(text)
    check_checksums(vectors[1], lua, work)
    run_announce_vectors(doc, lua, work)
    run_fragment_vectors(doc, lua, work)


def xxh3_library():
    """XXH3_64bits of the system's libxxhash (Debian libxxhash0, which libxxhash-dev brings)."""
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("xxhash")
    if not name:
        return None
    function = ctypes.CDLL(name).XXH3_64bits
    function.restype = ctypes.c_uint64
    function.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lambda data: function(data, len(data))


def check_checksums(v1, lua, work):
    """The dissector's XXH3-64 against libxxhash's, on vector 1 padded so that the checksummed
    bytes cover every length from 58 to 300 (XXH3's 17-128, 129-240 and long paths) and the
    long path's block edges (1024 bytes a block)."""
    xxh3 = xxh3_library()
    check("libxxhash found (to check the dissector's XXH3 beyond the vectors)", xxh3 is not None)
    if xxh3 is None:
        return
    body = v1[:-8]
    lengths = list(range(len(body), 301)) + [1023, 1024, 1025, 1087, 1088, 2047, 2048, 2049, 4096, 9000]
    frames = []
    for n in lengths:
        data = body + bytes(n - len(body))
        frames.append(frame(data + struct.pack("<Q", xxh3(data))))
    pcap = f"{work}/checksums.pcap"
    write_pcap(pcap, frames)
    run = subprocess.run(["tshark", "-n", "-r", pcap, "-X", f"lua_script:{lua}", "-T", "fields",
                          "-e", "racket.checksum.status", "-e", "racket.padding_len"], capture_output=True)
    got = run.stdout.decode().split("\n")[:-1]
    want = [f"good\t{n - len(body)}" for n in lengths]
    check(f"checksums over {lengths[0]}..300 and {lengths[-10:]} bytes: all verified good, as libxxhash computes",
          run.returncode == 0 and got == want,
          f"mismatches at {[n for n, g, w in zip(lengths, got, want) if g != w][:20]} {stderr_clean(run.stderr.decode())}")


# Hostile datagrams ----------------------------------------------------------------------------

def hostile_cases(v):
    """(name, datagram, expert that must be shown) -- each a way the document says to reject."""
    v1, v5, v6 = v[1], v[5], v[6]
    a21 = v["a21"]
    f1 = v["F1"]
    f1_record = 24  # F1: flags at 24, L 25, P 26, interval 27-28, sequence 29, timestamp 30-38
    f1_fixed = 39   # T (4), K (4), F (2), content hash (8)

    def f1_with(offset, raw, count=1):
        out = f1[:offset] + raw + f1[offset + len(raw):]
        return with_count(count, out)
    body1 = v1[:-8]
    trailer = v1[-8:]
    header1 = v1[:24]  # magic .. stream "sensors"
    record1 = body1[24:]

    def with_count(n, body):
        return body[:6] + struct.pack("<H", n) + body[8:]

    def req(ranges, target=0, filt=b"", extra=b"", count=None):
        r = len(ranges) if count is None else count
        out = b"RKTM\x03\x02" + struct.pack("<H", r) + bytes(8) + b"\x07sensors" + bytes([len(filt)]) + filt
        out += struct.pack("<Q", target) + b"".join(struct.pack("<QQ", a, b) for a, b in ranges)
        return out + extra + bytes(8)

    data = lambda records, count: with_count(count, header1) + records + trailer
    return [
        ("magic only", b"RKTM", "truncated"),
        ("no kind byte", b"RKTM\x03", "truncated"),
        ("version 2", v1[:4] + b"\x02" + v1[5:], "bad_version"),
        ("version 255, 5 bytes", b"RKTM\xff", "bad_version"),
        ("kind 9", v1[:5] + b"\x09" + v1[6:], "bad_kind"),
        ("a data datagram marked kind 3 (read as an announcement: its fields run past the end)", v1[:5] + b"\x03" + v1[6:], "truncated"),
        ("an announcement cut inside its header", a21[:14], "truncated"),
        ("an announcement with host length 0", a21[:16] + b"\x00" + a21[17:], "bad_length"),
        ("an announcement cut inside its entries", a21[:40], "truncated"),
        ("an announcement with one byte changed", a21[:30] + b"X" + a21[31:], "bad_checksum"),
        ("vector 1 with one payload byte changed", v1[:55] + b"X" + v1[56:], "bad_checksum"),
        ("vector 5 with its checksum changed", v5[:-1] + b"\x00", "bad_checksum"),
        ("data cut inside the fixed header", v1[:12], "truncated"),
        ("data cut before the trailer fits", v1[:30], "truncated"),
        ("data cut inside the record", v1[:50], "bad_length"),
        ("stream name length 0", v1[:16] + b"\x00" + v1[17:], "bad_length"),
        ("garbage after a valid header", header1 + b"\xff" * 20 + trailer, "bad_record"),
        ("random garbage after a valid header", header1 + bytes(random.Random(7).randrange(256) for _ in range(40)) + trailer, None),
        ("non-zero bytes after the last record", body1 + b"\x00\x07\x00" + trailer, "bytes_left"),
        ("record_count 2, one record", data(record1, 2), "bad_length"),
        ("record_count 65535, one record", data(record1, 65535), "bad_length"),
        ("record_count 0", data(record1, 0), "bad_record"),
        ("reserved flag 0x40", data(b"\x50" + record1[1:], 1), "bad_record"),
        ("flag 0x08 on a record without the fragment fields", data(b"\x18" + record1[1:], 1), "bad_length"),
        ("fragment F1 with record_count 2", f1_with(0, b"", count=2), "bad_record"),
        ("fragment F1 with index 3 of 3", f1_with(f1_fixed + 4, struct.pack("<I", 3)), "bad_record"),
        ("fragment F1 with fragment size 63", f1_with(f1_fixed + 8, struct.pack("<H", 63)), "bad_record"),
        ("fragment F1 with fragment size 65 (P is not F)", f1_with(f1_fixed + 8, struct.pack("<H", 65)), "bad_record"),
        ("fragment F1 with total size 0", f1_with(f1_fixed, struct.pack("<I", 0)), "bad_record"),
        ("fragment F1 with total size 64 MiB + 1", f1_with(f1_fixed, struct.pack("<I", 67108865)), "bad_record"),
        ("fragment F1 with total size 2^32 - 1", f1_with(f1_fixed, struct.pack("<I", 0xFFFFFFFF)), "bad_record"),
        ("fragment F1 marked tombstone", f1_with(f1_record, b"\x09"), "bad_record"),
        ("fragment F1 marked resend and snapshot", f1_with(f1_record, b"\x0e"), "bad_record"),
        ("fragment F1 cut inside its fixed fields", with_count(1, f1[:f1_fixed + 10]) + f1[-8:], "bad_length"),
        ("fragment F1 with 2 bytes of garbage after it", f1[:-8] + b"\x00\x07" + f1[-8:], "bytes_left"),
        ("request with a fragment section of 0 ranges", req([], target=5, extra=b"\x00"), "bad_record"),
        ("request with a fragment section cut short", req([], target=5, extra=b"\x02" + bytes(16)), "truncated"),
        ("request with fragment ranges but no target", req([], extra=b"\x01" + struct.pack("<QII", 4, 0, 1)), "bad_record"),
        ("request with a fragment range of sequence 0", req([], target=5, extra=b"\x01" + struct.pack("<QII", 0, 0, 1)), "bad_record"),
        ("request with a fragment range first > last", req([], target=5, extra=b"\x01" + struct.pack("<QII", 4, 7, 2)), "bad_record"),
        ("resend and snapshot both", data(b"\x16" + record1[1:], 1), "bad_record"),
        ("sequence 0", data(b"\x20\x01\x00\x00\x00a", 1), "bad_record"),
        ("non-canonical varint 80 00", data(b"\x30\x01\x80\x00\x00a", 1), "bad_record"),
        ("an 11-byte varint", data(b"\x30\x01\x00" + b"\x80" * 10 + b"\x01a", 1), "bad_record"),
        ("payload length 65536", data(b"\x30\x01\x80\x80\x04\x00a", 1), "bad_record"),
        ("tombstone with a payload", data(b"\x31\x01\x01\x00ax", 1), "bad_record"),
        ("subject a..b", data(b"\x30\x04\x00\x00a..b", 1), "bad_record"),
        ("subject with *", data(b"\x30\x03\x00\x00a.*", 1), "bad_record"),
        ("subject length 0", data(b"\x30\x00\x00\x00", 1), "bad_record"),
        ("stream name with a NUL", v1[:17] + b"sen\x00ors" + v1[24:], "bad_record"),
        ("request cut short", v5[:40], "truncated"),
        ("request without filter length", v5[:24], "truncated"),
        ("request claiming 65535 ranges", v5[:6] + b"\xff\xff" + v5[8:], "truncated"),
        ("request with 4 bytes left over", v6[:-8] + b"\x00\x00\x00\x00" + v6[-8:], "bytes_left"),
        ("request with ranges but no target", req([(1, 2)]), "bad_record"),
        ("request range first > last", req([(9, 3)], target=5), "bad_record"),
        ("request range first 0", req([(0, 3)], target=5), "bad_record"),
        ("request with a bad filter a*", req([], filt=b"a*"), "bad_record"),
        ("request with 65 ranges", req([(1, 1)] * 65, target=5), "bad_record"),
    ]


def run_hostile(doc, lua, work):
    vectors = read_vectors(doc)
    vectors["a21"] = read_announce_vectors(doc)[21]
    fragments = read_fragment_vectors(doc)
    vectors.update(fragments)
    cases = hostile_cases(vectors)
    frames = [frame(d) for _, d, _ in cases]
    # Not Racket: no magic, on a Racket port and on another port.
    foreign = [b"hello", b"RKT", b"\x00" * 64, b"rktm\x03\x01"]
    frames += [frame(d) for d in foreign] + [frame(d, dst_port=5555) for d in foreign]
    # Every truncation of vectors 2, 6 and 9 and a few thousand random byte changes: none may
    # make the dissector fail.
    rng = random.Random(23)
    fuzz = []
    announce = read_announce_vectors(doc)
    vectors["a20"], vectors["a21"] = announce[20], announce[21]
    for n in (2, 6, 9, "a20", "a21", "F1", "F4"):
        fuzz += [vectors[n][:k] for k in range(4, len(vectors[n]))]
    for _ in range(3000):
        base = bytearray(vectors[rng.choice([1, 2, 3, 4, 5, 6, 8, 9, "a20", "a21", "F1", "F3", "F4"])])
        for _ in range(rng.randint(1, 4)):
            base[rng.randrange(4, len(base))] = rng.randrange(256)
        fuzz.append(bytes(base))
    pcap = f"{work}/hostile.pcap"
    write_pcap(pcap, frames)
    status, rows, stderr = tshark_fields(pcap, lua)
    check("tshark exits 0 on the hostile datagrams", status == 0, stderr_clean(stderr))
    check("one row per frame", len(rows) == len(frames), f"got {len(rows)} of {len(frames)}")
    if len(rows) != len(frames):
        return
    for i, (name, _, expert) in enumerate(cases):
        row = rows[i]
        shown = [e for e in ("truncated", "bad_version", "bad_kind", "bad_length", "bad_record", "bytes_left",
                             "bad_checksum")
                 if row[f"racket.expert.{e}"]]
        info = row["_ws.col.Info"][0] if row["_ws.col.Info"] else ""
        if expert:
            check(f"{name}: shown as Racket, flagged {expert}", row["_ws.col.Protocol"] == ["RACKET"] and expert in shown,
                  f"experts {shown} {row['_ws.expert.message']} info {info!r}")
        else:
            check(f"{name}: shown as Racket and flagged malformed", row["_ws.col.Protocol"] == ["RACKET"] and shown,
                  f"experts {shown} info {info!r}")
        check(f"{name}: Info says MALFORMED", "[MALFORMED: " in info, f"got {info!r}")
    for j, d in enumerate(foreign * 2):
        row = rows[len(cases) + j]
        check(f"not Racket ({d[:8]!r}): left to other dissectors", "racket" not in row["frame.protocols"][0].split(":"),
              f"protocols {row['frame.protocols']}")
    status, text, stderr = tshark_verbose(pcap, lua)
    check("tshark -V exits 0 on the hostile datagrams", status == 0)
    no_lua_errors(rows, text, stderr, "hostile")

    # The mutated datagrams' strings may hold tabs and newlines, which tshark's field output
    # does not escape: only fields that cannot hold them are asked for.
    pcap = f"{work}/fuzz.pcap"
    write_pcap(pcap, [frame(d) for d in fuzz])
    args = ["tshark", "-n", "-r", pcap, "-X", f"lua_script:{lua}", "-T", "fields", "-e", "frame.number",
            "-e", "_ws.col.Protocol", "-e", "racket.expert.dissector_error", "-e", "_ws.lua.error"]
    run = subprocess.run(args, capture_output=True)
    lines = run.stdout.decode("utf-8", "replace").splitlines()
    check(f"{len(fuzz)} truncated and mutated vectors: tshark exits 0", run.returncode == 0,
          stderr_clean(run.stderr.decode("utf-8", "replace")))
    check(f"{len(fuzz)} truncated and mutated vectors: all shown as Racket, none a dissector or Lua error",
          len(lines) == len(fuzz) and all(l.split("\t")[1:] == ["RACKET", "", ""] for l in lines),
          "\n".join(l for l in lines if l.split("\t")[1:] != ["RACKET", "", ""])[:2000])
    status, text, stderr = tshark_verbose(pcap, lua)
    check(f"{len(fuzz)} truncated and mutated vectors: tshark -V exits 0, no Lua error",
          status == 0 and "Lua Error" not in text and "racket.lua:" not in text, stderr_clean(stderr))


# Live capture ---------------------------------------------------------------------------------

def run_capture(pcap, lua, demo_stream, other_stream):
    status, rows, stderr = tshark_fields(pcap, lua)
    check("tshark exits 0 on the capture", status == 0, stderr_clean(stderr))
    racket_rows = [r for r in rows if r["_ws.col.Protocol"] == ["RACKET"]]
    check("the capture holds Racket datagrams", len(racket_rows) > 0, f"{len(rows)} frames")
    for r in racket_rows:
        if r["_ws.expert.message"]:
            check(f"frame {r['frame.number']}: no expert info", False, str(r["_ws.expert.message"]))
    data = [r for r in racket_rows if r["racket.kind"] == ["1"]]
    requests = [r for r in racket_rows if r["racket.kind"] == ["2"]]
    announcements = [r for r in racket_rows if r["racket.kind"] == ["3"]]
    streams = {r["racket.stream"][0] for r in data + requests}
    check(f"both streams seen: {demo_stream}, {other_stream}", {demo_stream, other_stream} <= streams, f"got {streams}")
    # The senders announce their streams (first within 200 ms of their first publish).
    announced = {(st, r["racket.announce.program"][0] if r["racket.announce.program"] else "")
                 for r in announcements if r["racket.announce.role"] == ["1"] for st in r["racket.announce.stream"]}
    check(f"{demo_stream} announced by its sender", (demo_stream, "sender") in announced, f"got {announced}")
    records = []  # (stream, publisher, flags fields, subject, sequence, payload)
    for r in data:
        n = len(r["racket.record.subject"])
        check(f"frame {r['frame.number']}: {r['racket.record_count'][0]} records decoded",
              str(n) == r["racket.record_count"][0] and len(r["racket.record.sequence"]) == n)
        for k in range(n):
            records.append(dict(stream=r["racket.stream"][0], pub=r["racket.publisher_id"][0],
                                subject=r["racket.record.subject"][k], seq=int(r["racket.record.sequence"][k]),
                                tombstone=bool_text(r["racket.record.flags.tombstone"])[k],
                                resend=bool_text(r["racket.record.flags.resend"])[k],
                                snapshot=bool_text(r["racket.record.flags.snapshot"])[k],
                                payload=bytes.fromhex(payload_hex(r["racket.record.payload"])[k])))
    demo = [x for x in records if x["stream"] == demo_stream]
    subjects = {x["subject"] for x in demo}
    check(f"{demo_stream}: subjects ws.a, ws.b, ws.c", subjects == {"ws.a", "ws.b", "ws.c"}, f"got {subjects}")
    check(f"{demo_stream}: payloads as sent", all(x["payload"] in (b"hello", b"") for x in demo),
          str({x["payload"] for x in demo}))
    pubs = {x["pub"] for x in demo}
    check(f"{demo_stream}: one publisher", len(pubs) == 1, str(pubs))
    # Live, snapshot and tombstone records take the counter's next number; resends repeat one.
    new = [x["seq"] for x in demo if not x["resend"]]
    check(f"{demo_stream}: live records numbered 1, 2, 3 first", new[:3] == [1, 2, 3], f"got {new[:10]}")
    check(f"{demo_stream}: every new sequence number once, 1..{len(new)}, none missing",
          sorted(new) == list(range(1, len(new) + 1)), f"got {new}")
    resent = [x for x in demo if x["resend"]]
    check(f"{demo_stream}: resends carry the sequence of a value sent before",
          resent and all(x["seq"] in new for x in resent), f"{len(resent)} resends")
    snaps = [x for x in demo if x["snapshot"]]
    check(f"{demo_stream}: snapshot records answer the request, for every subject",
          sorted({x["subject"] for x in snaps}) == ["ws.a", "ws.b", "ws.c"], f"got {[x['subject'] for x in snaps]}")
    tombs = [x for x in demo if x["tombstone"]]
    check(f"{demo_stream}: a tombstone for each subject at exit (--withdraw)",
          sorted(x["subject"] for x in tombs) == ["ws.a", "ws.b", "ws.c"] and all(x["payload"] == b"" for x in tombs),
          f"got {[x['subject'] for x in tombs]}")
    check(f"{demo_stream}: the tombstones take the last numbers", tombs and min(x["seq"] for x in tombs) > max(
        x["seq"] for x in demo if not x["tombstone"]))
    other = [x for x in records if x["stream"] == other_stream]
    check(f"{other_stream}: subject ws.x with payload 42, sequence 1",
          any(x["subject"] == "ws.x" and x["payload"] == b"42" and x["seq"] == 1 for x in other),
          str(other[:3]))
    demo_requests = [r for r in requests if r["racket.stream"] == [demo_stream]]
    check(f"a snapshot request for {demo_stream} was captured", len(demo_requests) >= 1, f"{len(requests)} requests")
    if demo_requests:
        r = demo_requests[0]
        check("the request is a full one: no ranges, every publisher, filter ws.*",
              r["racket.range_count"] == ["0"] and r["racket.target_publisher"] == ["0x0000000000000000"]
              and r["racket.filter"] == ["ws.*"], str({k: r[k] for k in ("racket.range_count", "racket.filter", "racket.target_publisher")}))
        info = r["_ws.col.Info"][0]
        check("its Info column", info.startswith(f"full request stream={demo_stream} from=0x"), info)
    for r in racket_rows:
        print(f"    | {r['frame.number'][0]:>3} {r['_ws.col.Info'][0]}")
    status, text, stderr = tshark_verbose(pcap, lua)
    no_lua_errors(racket_rows, text, stderr, "capture")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "vectors" and len(sys.argv) == 5:
        run_vectors(*sys.argv[2:])
    elif cmd == "hostile" and len(sys.argv) == 5:
        run_hostile(*sys.argv[2:])
    elif cmd == "capture" and len(sys.argv) == 6:
        run_capture(*sys.argv[2:])
    else:
        print(__doc__ or "usage: see the file's header", file=sys.stderr)
        sys.exit(2)
    if failures:
        print(f"dissector_test.py {cmd}: {failures} check(s) failed")
        sys.exit(1)
    print(f"dissector_test.py {cmd}: all passed")


if __name__ == "__main__":
    main()
