#!/usr/bin/env python3
"""Regenerates the .npy fixtures used by tests/engine/npy_test.c.

Run from anywhere: python3 tests/data/npy/make_fixtures.py
Needs numpy (Debian: apt-get install python3-numpy). The files are
committed, so the C tests never need Python; rerun this only to add a
fixture or to check a newer numpy still writes the same bytes.

The C test knows the values below; change them in both places.
"""
import io
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, arr):
    np.save(os.path.join(HERE, name), arr, allow_pickle=False)


def write_version(name, arr, version):
    with open(os.path.join(HERE, name), "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)


def f32_2x3():
    return np.array([[0.5, -1.25, 3.0], [65504.0, -0.0, 2.0 ** -20]],
                    dtype="<f4")


def main():
    # Supported: our decoder must read these and our encoder must write
    # exactly these bytes back.
    save("f32_2x3.npy", f32_2x3())
    save("i64_5.npy", np.array([0, -1, 2 ** 40, -2 ** 63, 2 ** 63 - 1],
                               dtype="<i8"))
    save("i8_scalar.npy", np.array(-7, dtype="i1"))
    save("i32_2x1x2.npy", np.array([[[1, -2]], [[2 ** 31 - 1, -2 ** 31]]],
                                   dtype="<i4"))
    save("i8_300.npy", (np.arange(300) % 256 - 128).astype("i1"))
    save("f32_0x3.npy", np.zeros((0, 3), dtype="<f4"))

    # Header only, from numpy's own header writer: numpy refuses to
    # allocate this (empty) shape, but it is the one kind of shape whose
    # header lands exactly on a 64-byte boundary, where numpy pads with 64
    # more spaces rather than none.
    buf = io.BytesIO()
    np.lib.format._write_array_header(
        buf, {"descr": "<f4", "fortran_order": False,
              "shape": (0, 100000, 100000000, 100000000, 100000000)},
        (1, 0))
    with open(os.path.join(HERE, "f32_empty_pad64.npy"), "wb") as f:
        f.write(buf.getvalue())

    # Same array as f32_2x3.npy in the later format versions.
    write_version("f32_2x3_v2.npy", f32_2x3(), (2, 0))
    write_version("f32_2x3_v3.npy", f32_2x3(), (3, 0))

    # Rejected: float64, Fortran order, big-endian.
    save("f64_2.npy", np.array([1.0, 2.0], dtype="<f8"))
    save("f32_fortran.npy", np.asfortranarray(f32_2x3()))
    save("f32_be.npy", f32_2x3().astype(">f4"))


if __name__ == "__main__":
    main()
