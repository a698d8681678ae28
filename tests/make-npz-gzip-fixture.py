#!/usr/bin/python3
"""Write fixtures/formats/npz-mixed.npz.gz: a gzip-wrapped npz of over
64 KiB, so that the gzip reader walks its members as they are inflated.
Member a.npy is stored and b.npy deflated; both hold float32 values
i % 7 - 3, which gzip packs small. Run with NumPy: make-npz-gzip-fixture.py
[OUTDIR]."""
import gzip
import io
import os
import sys
import zipfile

import numpy as np


def member(zf, name, array, method):
    data = io.BytesIO()
    np.lib.format.write_array(data, array)
    zf.writestr(zipfile.ZipInfo(name), data.getvalue(), compress_type=method)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "fixtures", "formats")
    a = (np.arange(64 * 3 * 3 * 32) % 7 - 3).astype(np.float32)
    b = (np.arange(128 * 64) % 7 - 3).astype(np.float32)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        member(zf, "a.npy", a.reshape(64, 3, 3, 32), zipfile.ZIP_STORED)
        member(zf, "b.npy", b.reshape(128, 64), zipfile.ZIP_DEFLATED)
    with open(os.path.join(outdir, "npz-mixed.npz.gz"), "wb") as f:
        f.write(gzip.compress(raw.getvalue(), 9, mtime=0))


if __name__ == "__main__":
    main()
