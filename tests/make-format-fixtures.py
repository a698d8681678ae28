#!/usr/bin/python3
"""Write the container fixtures under tests/fixtures/formats/ and the
statistics that PyTorch and NumPy compute for each of their tensors.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-numpy).
The same weights go into every container (torch zip in several forms, npz
stored and compressed, .npy, safetensors), so that every reader must give
the same statistics. The safetensors package is not installed, so
safetensors files are written here with struct and json, following the
format: an 8-byte little-endian header length, a JSON header, the data.

Each NAME.expected file has one line per tensor, tab-separated:
name dtype shape elements nonzero min max sum, with the shape as
comma-separated dimensions ("-" for a 0-d tensor). The values come from
torch/numpy on the tensors as loaded, in logical (row-major) order.

Hostile inputs go under tests/fixtures/formats/bad/.
"""

import gzip
import io
import json
import os
import pickle
import random
import struct
import sys
import zipfile
import zlib

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "fixtures", "formats")
BAD = os.path.join(OUT, "bad")

TORCH_DTYPE_NAMES = {
    torch.float32: "float32", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.float64: "float64",
    torch.int8: "int8", torch.int16: "int16", torch.int32: "int32",
    torch.int64: "int64", torch.uint8: "uint8", torch.bool: "bool",
}
ST_DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int8: "I8", torch.int16: "I16",
    torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def weights():
    """Return the shared state dict: every dtype, pruned and quantized."""
    g = torch.Generator().manual_seed(2019)
    w = torch.randn(4, 3, 3, 3, generator=g)
    w[w.abs() < 0.5] = 0.0                       # pruned
    sd = {
        "conv1.weight": w,
        "conv1.bias": torch.randn(4, generator=g),
        "fc.weight": torch.randn(5, 8, generator=g).half(),
        "fc.bias": torch.randn(5, generator=g).to(torch.bfloat16),
        "bn.running_var": torch.rand(6, generator=g).double() + 0.5,
        "q.int8": torch.randint(-128, 128, (3, 7), generator=g,
                                dtype=torch.int8),
        "q.int16": torch.randint(-3000, 3000, (2, 5), generator=g,
                                 dtype=torch.int16),
        "q.int32": torch.randint(-2**31, 2**31 - 1, (9,), generator=g,
                                 dtype=torch.int32),
        "bn.num_batches_tracked": torch.tensor(1234567, dtype=torch.int64),
        "q.uint8": torch.randint(0, 256, (2, 2, 3), generator=g,
                                 dtype=torch.uint8),
        "mask": torch.rand(3, 4, generator=g) > 0.5,
        "empty": torch.zeros(0, 3),
    }
    return sd


def views():
    """Return tensors that share storages, with offsets and strides."""
    base = torch.arange(-12, 12, dtype=torch.float32).reshape(4, 6)
    conv = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    return {
        "base": base,
        "rows": base[1:3],                 # storage offset 6
        "transposed": base.t(),            # strides (1, 6)
        "strided": base[:, 1::2],          # offset 1, strides (6, 2)
        "channels_last": conv.contiguous(
            memory_format=torch.channels_last),
        "element": base[2, 3],             # 0-d view, offset 15
    }


def expected_lines(sd):
    lines = []
    for name, t in sd.items():
        d = t.detach().double()
        shape = ",".join(str(s) for s in t.shape) or "-"
        n = t.numel()
        lo = d.min().item() if n else 0.0
        hi = d.max().item() if n else 0.0
        lines.append("\t".join([
            name, TORCH_DTYPE_NAMES[t.dtype], shape, str(n),
            str(int((d != 0).sum().item())), repr(lo), repr(hi),
            repr(d.sum().item())]))
    return "\n".join(lines) + "\n"


def write(name, data, sd):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    stem = name.rsplit(".", 1)[0]
    with open(os.path.join(OUT, stem + ".expected"), "w") as f:
        f.write(expected_lines(sd))


def torch_bytes(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


def storage_dtypes(pkl):
    """Map each storage key of a data.pkl to its dtype."""
    keys = {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "_rebuild_tensor_v2":
                return lambda *args: None
            return super().find_class(module, name)

        def persistent_load(self, pid):
            keys[pid[2]] = pid[1].dtype
            return None

    Reader(io.BytesIO(pkl)).load()
    return keys


def rezip(data, top=None, byteorder=None, force_zip64=False,
          compress=zipfile.ZIP_STORED):
    """Rewrite a torch zip under top folder TOP, with or without a byteorder
    record, swapping every storage's bytes when BYTEORDER is 'big'."""
    src = zipfile.ZipFile(io.BytesIO(data))
    names = src.namelist()
    old_top = names[0].split("/")[0]
    top = top or old_top
    dtypes = storage_dtypes(src.read(old_top + "/data.pkl"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as dst:
        for n in names:
            rest = n[len(old_top) + 1:]
            body = src.read(n)
            if rest == "byteorder":
                continue
            if rest.startswith("data/") and byteorder == "big":
                size = torch.empty(0, dtype=dtypes[rest[5:]]).element_size()
                a = np.frombuffer(body, dtype="u%d" % size if size > 1
                                  else "u1")
                body = a.byteswap().tobytes()
            with dst.open(top + "/" + rest, "w",
                          force_zip64=force_zip64) as f:
                f.write(body)
        if byteorder is not None:
            dst.writestr(top + "/byteorder", byteorder)
    return out.getvalue()


def zip64_archive(members):
    """Write a zip whose central directory uses ZIP64 for every size and
    offset, and a ZIP64 end record: MEMBERS is a list of (name, bytes,
    deflate). Python's zipfile only does this for files over 4 GiB."""
    out = bytearray()
    central = bytearray()
    for name, body, deflate in members:
        raw = name.encode()
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            packed = c.compress(body) + c.flush()
        else:
            packed = body
        crc = zlib.crc32(body)
        method = 8 if deflate else 0
        local = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(body), len(packed))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, method, 0,
                           0x21, crc, 0xffffffff, 0xffffffff, len(raw),
                           len(extra)) + raw + extra + packed
        extra = struct.pack("<HHQQQ", 1, 24, len(body), len(packed), local)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0,
                               method, 0, 0x21, crc, 0xffffffff, 0xffffffff,
                               len(raw), len(extra), 0, 0, 0, 0,
                               0xffffffff) + raw + extra
    cd_offset = len(out)
    out += central
    eocd64 = len(out)
    n = len(members)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, n, n,
                       len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064b50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff,
                       0xffffffff, 0xffffffff, 0)
    return bytes(out)


def safetensors_bytes(sd, order, pad):
    """Write SD as safetensors, header entries in ORDER, padded with PAD
    spaces; the data follows in the order of the keys of SD."""
    header, blobs, at = {}, [], 0
    for name, t in sd.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    ordered = {"__metadata__": {"format": "pt"}}
    for name in order:
        ordered[name] = header[name]
    text = json.dumps(ordered).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def npy_header(shape):
    """Return a version 1.0 header for float32 data of SHAPE (a Python
    tuple literal), padded as NumPy pads it."""
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


def npz_bytes(arrays, compressed):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def main():
    os.makedirs(BAD, exist_ok=True)
    sd = weights()
    pt = torch_bytes(sd)
    write("torch-all.pt", pt, sd)
    # torch 1.13 writes no byteorder record, so this also covers a missing
    # one; the rewrites add "little" or "big".
    write("torch-renamed.pt", rezip(pt, top="my model v2",
                                    byteorder="little"), sd)
    write("torch-big.pt", rezip(pt, byteorder="big"), sd)
    write("torch-zip64.pt", rezip(pt, force_zip64=True), sd)
    write("torch-deflated.pt", rezip(pt, compress=zipfile.ZIP_DEFLATED), sd)
    src = zipfile.ZipFile(io.BytesIO(pt))
    write("torch-zip64cd.pt", zip64_archive(
        [(n, src.read(n), n.endswith("data.pkl")) for n in src.namelist()]),
        sd)
    vs = views()
    write("torch-views.pt", torch_bytes(vs), vs)

    # NumPy has no bfloat16: the npz and npy fixtures hold the rest.
    np_sd = {k: v for k, v in sd.items() if v.dtype != torch.bfloat16}
    arrays = {k: v.numpy() for k, v in np_sd.items()}
    write("npz-stored.npz", npz_bytes(arrays, False), np_sd)
    write("npz-compressed.npz", npz_bytes(arrays, True), np_sd)
    write("npz-zip64.npz", zip64_archive(
        [(k + ".npy", npy_bytes(a), i % 2 == 1)
         for i, (k, a) in enumerate(arrays.items())]), np_sd)

    w = sd["conv1.weight"]
    one = {"w": w}
    write("npy-c.npy", npy_bytes(w.numpy()), one)
    write("npy-fortran.npy", npy_bytes(np.asfortranarray(w.numpy())), one)
    write("npy-v2-big.npy", npy_bytes(w.numpy().astype(">f4"), (2, 0)),
          one)
    write("npy-v3.npy", npy_bytes(w.numpy(), (3, 0)), one)
    f64 = {"w": sd["bn.running_var"]}
    write("npy-f64-big.npy", npy_bytes(f64["w"].numpy().astype(">f8")), f64)

    order = list(sd.keys())
    random.Random(7).shuffle(order)
    write("safetensors-all.safetensors", safetensors_bytes(sd, order, 37),
          sd)
    write_bad(sd, pt)
    write_corpus(sd, vs)


def write_corpus(sd, vs):
    """Seed the fuzzing corpora (tests/fuzz/corpus/HARNESS/) with small
    valid inputs."""
    corpus = os.path.join(os.path.dirname(OUT), "..", "fuzz", "corpus")
    seeds = {
        "zip": ["torch-all.pt", "torch-views.pt", "torch-zip64cd.pt",
                "torch-deflated.pt", "npz-compressed.npz", "npz-zip64.npz"],
        "npy": ["npy-c.npy", "npy-fortran.npy", "npy-v2-big.npy"],
        "safetensors": ["safetensors-all.safetensors"],
    }
    for harness, files in seeds.items():
        os.makedirs(os.path.join(corpus, harness), exist_ok=True)
        for name in files:
            with open(os.path.join(OUT, name), "rb") as f:
                data = f.read()
            with open(os.path.join(corpus, harness, name), "wb") as f:
                f.write(data)
    os.makedirs(os.path.join(corpus, "legacy"), exist_ok=True)
    for name, d in [("legacy-all.pt", sd), ("legacy-views.pt", vs)]:
        with open(os.path.join(corpus, "legacy", name), "wb") as f:
            torch.save(d, f, _use_new_zipfile_serialization=False)
    write_gzip_corpus(corpus)


def write_gzip_corpus(corpus):
    """Seed the gzip harness with small files of each format, plain and
    gzip-compressed (with a fixed timestamp, so the seeds do not change
    from run to run). The legacy ones come from tests/fixtures/readers/."""
    readers = os.path.join(os.path.dirname(OUT), "readers")
    sources = [os.path.join(OUT, "torch-all.pt"),
               os.path.join(OUT, "npy-c.npy"),
               os.path.join(OUT, "safetensors-all.safetensors"),
               os.path.join(readers, "legacy-proto2.pth"),
               os.path.join(readers, "legacy-magic-proto0.pth")]
    os.makedirs(os.path.join(corpus, "gzip"), exist_ok=True)
    for path in sources:
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.join(corpus, "gzip", os.path.basename(path))
        with open(name, "wb") as f:
            f.write(data)
        with open(name + ".gz", "wb") as f:
            f.write(gzip.compress(data, 9, mtime=0))


def write_bad(sd, pt):
    def bad(name, data):
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)

    # Storage members longer than the pickle's element counts allow.
    src = zipfile.ZipFile(io.BytesIO(pt))
    names = src.namelist()
    first = [n for n in names if "/data/" in n][0]
    for name, deflate in [("torch-storage-deflated-lie.pt", True),
                          ("torch-storage-stored-lie.pt", False)]:
        bad(name, zip64_archive(
            [(n, src.read(n) + (bytes(4096) if n == first else b""),
              deflate and n == first) for n in names]))
    bad("torch-no-pickle.pt", npz_bytes({"x": np.zeros(3)}, False))

    arr = np.zeros(4, dtype="<f4")
    good = npy_bytes(arr)
    # A member that declares its true npy size but whose deflate stream
    # goes on to inflate 256 MiB of zeros.
    bomb_body = good + bytes(256 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = c.compress(bomb_body) + c.flush()
    bad("bomb-small-declared.npz", raw_zip("x.npy", packed, len(good),
                                           zlib.crc32(good)))
    # A member that declares almost 4 GiB from a few bytes.
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = c.compress(good) + c.flush()
    bad("bomb-huge-declared.npz", raw_zip("x.npy", packed, 0xfffffff0, 0))
    # A member that declares the size its header needs, 1 GiB, but is
    # small: the ratio check rejects it before any allocation.
    hdr = npy_header("(268435456,)")
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = c.compress(hdr) + c.flush()
    bad("lying-header-size.npz", raw_zip("x.npy", packed,
                                         len(hdr) + 2**30, 0))
    bad("local-offset-past-end.npz", raw_zip("x.npy", good, len(good),
                                             zlib.crc32(good),
                                             local_offset=1 << 20))
    bad("stored-size-past-end.npz", raw_zip("x.npy", good, len(good) + 999,
                                            zlib.crc32(good),
                                            method=0, stored_extra=999))
    bad("npy-shape-lie.npy", good.replace(b"(4,)", b"(5,)"))
    bad("npy-header-length-lie.npy", good[:8] + b"\xff\x7f" + good[10:])
    bad("npy-bad-dict.npy", good.replace(b"'shape'", b"'shape''"))
    bad("npy-overflow.npy", npy_header("(4611686018427387904, 8)") +
        bytes(16))
    bad("npy-bad-descr.npy", good.replace(b"<f4", b"<c8"))

    t = {"a": torch.zeros(2), "b": torch.ones(3)}
    st = safetensors_bytes(t, ["a", "b"], 0)
    hdr_len = struct.unpack("<Q", st[:8])[0]
    head = json.loads(st[8:8 + hdr_len])
    for name, edit in [
        ("overlap", {"b": [4, 16]}),
        ("hole", {"a": [0, 8], "b": [12, 24]}),
        ("past-end", {"b": [8, 2000]}),
    ]:
        h = dict(head)
        for k, off in edit.items():
            h[k] = dict(h[k], data_offsets=off,
                        shape=[(off[1] - off[0]) // 4])
        text = json.dumps(h).encode()
        body = st[8 + hdr_len:] + (bytes(4) if name == "hole" else b"")
        bad("st-%s.safetensors" % name,
            struct.pack("<Q", len(text)) + text + body)
    h = dict(head, a={"dtype": "F32", "shape": [2**62, 2**62],
                      "data_offsets": [0, 8]})
    text = json.dumps(h).encode()
    bad("st-overflow.safetensors",
        struct.pack("<Q", len(text)) + text + st[8 + hdr_len:])
    bad("st-header-past-end.safetensors",
        struct.pack("<Q", 1 << 40) + st[8:])
    bad("st-bad-json.safetensors", st.replace(b'"dtype"', b"'dtype'", 1))


def raw_zip(name, packed, declared, crc, local_offset=0, method=8,
            stored_extra=0):
    """Write a one-member zip with the sizes and offset given, true or not."""
    raw = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method, 0, 0x21,
                        crc, len(packed), declared, len(raw), 0) + raw
    data = local + packed
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0,
                          method, 0, 0x21, crc, len(packed) + stored_extra,
                          declared, len(raw), 0, 0, 0, 0, 0,
                          local_offset) + raw
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(central),
                       len(data), 0)
    return data + central + eocd


if __name__ == "__main__":
    sys.exit(main())
