#!/usr/bin/env python3
"""Recompute a Refute trace commitment independently (hashlib only).

usage: refute model run M.rfm --trace --json -o Y.npy | verify_trace.py Y.npy

Checks that "trace_root" is the RFC 9162 Merkle Tree Hash of "leaves"
(blake2b-256 suite), and that the last leaf is the leaf hash of the output
tensor in Y.npy under the canonical encoding:
    H(0x00 || u8 count || u8 dtype || u8 rank || u64le dims... || data).
Prints "ok" and exits 0, or says what differs and exits 1.
"""
import hashlib
import json
import struct
import sys


def h(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def mth(leaves):
    if len(leaves) == 0:
        return h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def npy_tensor(path):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", "not an npy file"
    major = raw[6]
    if major == 1:
        hlen = struct.unpack("<H", raw[8:10])[0]
        start = 10 + hlen
    else:
        hlen = struct.unpack("<I", raw[8:12])[0]
        start = 12 + hlen
    header = raw[start - hlen:start].decode("latin1")
    hd = eval(header)  # the header is a Python literal by definition
    dtypes = {"<f4": 1, "|i1": 2, "<i4": 3, "<i8": 4}
    return dtypes[hd["descr"]], tuple(hd["shape"]), raw[start:]


def main():
    doc = json.load(sys.stdin)
    if doc["hash"] != "blake2b-256":
        print("only the blake2b-256 suite is checked here")
        return 1
    leaves = [bytes.fromhex(x) for x in doc["leaves"]]
    if mth(leaves).hex() != doc["trace_root"]:
        print("trace_root is not the RFC 9162 root of the leaves")
        return 1
    if len(sys.argv) > 1:
        dtype, shape, data = npy_tensor(sys.argv[1])
        enc = bytes([0, 1, dtype, len(shape)])
        enc += b"".join(struct.pack("<Q", d) for d in shape) + data
        if h(enc) != leaves[-1]:
            print("the last leaf is not the hash of the output tensor")
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
