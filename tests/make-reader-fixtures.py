#!/usr/bin/python3
"""Write the legacy torch checkpoint fixtures under tests/fixtures/readers/
and the statistics that PyTorch computes for each of their tensors.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-numpy):

    /usr/bin/python3 tests/make-reader-fixtures.py
    /usr/bin/python3 tests/make-reader-fixtures.py --reference FILE

The second form writes densenet-100.expected from the reference
checkpoint FILE, which is not copied into the repository.

Each NAME.expected file starts with "format F" and "count N" lines, then
has one line per tensor, space-separated:

    key name dtype shape elements nonzero min max distinct all_integer
    sum channel_nonzero

with the shape and the per-channel nonzero counts as comma-separated
numbers ("-" when empty). Statistics are computed by torch on the tensor
as torch.load returns it, with pruning masks multiplied in; distinct is
the torch.unique count, written as 65536+ past 65536 values.

Hostile files go under tests/fixtures/readers/bad/; each is described
where it is made.
"""

import collections
import gzip
import io
import os
import pickle
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "fixtures", "readers")
BAD = os.path.join(OUT, "bad")
DISTINCT_CAP = 65536

DTYPE_NAMES = {
    torch.float32: "float32", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.float64: "float64",
    torch.int8: "int8", torch.int16: "int16", torch.int32: "int32",
    torch.int64: "int64", torch.uint8: "uint8", torch.bool: "bool",
}


def legacy_save(obj, path, protocol=2):
    torch.save(obj, path, pickle_protocol=protocol,
               _use_new_zipfile_serialization=False)


def fmt(x):
    return repr(float(x))


def stats_line(key, name, t, masked=False):
    """Return one expected line for tensor T, computed by torch. The sum
    of a masked tensor is written as "-": the test sums the stored
    elements, which the mask does not change."""
    d = t.detach().double()
    n = t.numel()
    flat = d.reshape(-1)
    nz = int((flat != 0).sum())
    if n:
        lo, hi = fmt(flat.min()), fmt(flat.max())
        finite_int = bool(torch.isfinite(flat).all() and
                          (flat == flat.trunc()).all())
        distinct = torch.unique(flat).numel()
    else:
        lo = hi = "0.0"
        finite_int = True
        distinct = 0
    dist = f"{DISTINCT_CAP}+" if distinct > DISTINCT_CAP else str(distinct)
    shape = ",".join(str(s) for s in t.shape) or "-"
    if t.dim() == 0:
        chans = [nz]
    else:
        chans = [int((d[c] != 0).sum()) for c in range(t.shape[0])]
    chan = ",".join(str(c) for c in chans) or "-"
    return (f"{key} {name} {DTYPE_NAMES[t.dtype]} {shape} {n} {nz} {lo} {hi} "
            f"{dist} {int(finite_int)} {'-' if masked else fmt(flat.sum())} {chan}")


def write_expected(base, fmt_name, rows):
    """ROWS: (key, name, tensor[, masked]) in the order the checkpoint
    stores them."""
    with open(os.path.join(OUT, base + ".expected"), "w") as f:
        f.write(f"format {fmt_name}\ncount {len(rows)}\n")
        for row in rows:
            f.write(stats_line(*row) + "\n")


def flat_rows(sd, prefix=""):
    return [(k, prefix + k, v) for k, v in sd.items()]


# ---------------------------------------------------------------------
# Checkpoints that must load.

def make_dtypes():
    """Every dtype of enum ms_dtype, plus a tensor past the distinct cap."""
    g = torch.Generator().manual_seed(1)
    base = torch.randn(3, 4, generator=g)
    sd = collections.OrderedDict([
        ("f32", base),
        ("f16", (base * 3).half()),
        ("bf16", (base * 5).to(torch.bfloat16)),
        ("f64", base.double() / 7),
        ("i8", torch.tensor([[-8, 0, 7], [3, 0, -1]], dtype=torch.int8)),
        ("i16", torch.tensor([-300, 0, 299], dtype=torch.int16)),
        ("i32", torch.tensor([1 << 20, -5, 0, 0], dtype=torch.int32)),
        ("i64", torch.tensor([1 << 40, -(1 << 33), 0], dtype=torch.int64)),
        ("u8", torch.tensor([0, 15, 255, 3], dtype=torch.uint8)),
        ("b", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 3)),
        ("many", torch.randn(70, 1000, generator=g)),
    ])
    legacy_save(sd, os.path.join(OUT, "legacy-dtypes.pth"))
    write_expected("legacy-dtypes", "torch-legacy", flat_rows(sd))


def make_protocols():
    """The same small state dict at every protocol torch can load back."""
    sd = collections.OrderedDict([
        ("conv.weight", torch.tensor([[1.0, -2.0], [0.0, 4.0]])),
        ("conv.bias", torch.tensor([0.5, 0.0])),
    ])
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        path = os.path.join(OUT, f"legacy-proto{proto}.pth")
        try:
            legacy_save(sd, path, protocol=proto)
            torch.load(path)
        except Exception as e:   # protocol 0 cannot pickle the storage ids
            print(f"protocol {proto}: skipped ({e.__class__.__name__})")
            if os.path.exists(path):
                os.remove(path)
            continue
        write_expected(f"legacy-proto{proto}", "torch-legacy",
                       flat_rows(sd))


def make_views():
    """Tensors sharing one storage at offsets, transposed, strided and
    channels_last; the file stores the storage once."""
    base = torch.arange(-12.0, 36.0)                 # 48 elements
    cl = torch.arange(48.0).reshape(2, 3, 4, 2) - 20
    sd = collections.OrderedDict([
        ("base", base),
        ("slice", base[5:11]),
        ("matrix", base[12:].view(6, 6)),
        ("transposed", base[12:].view(6, 6).t()),
        ("strided", base[1::5]),
        ("column", base.view(8, 6)[:, 2]),
        ("channels_last", cl.contiguous(memory_format=torch.channels_last)),
    ])
    assert not sd["transposed"].is_contiguous()
    assert sd["channels_last"].stride() != cl.stride()
    legacy_save(sd, os.path.join(OUT, "legacy-views.pth"))
    loaded = torch.load(os.path.join(OUT, "legacy-views.pth"))
    write_expected("legacy-views", "torch-legacy", flat_rows(loaded))


class RunInfo:
    """A user class: the checkpoint contains an instance that no reader can
    rebuild, which must be skipped."""

    def __init__(self):
        self.host = "trainer"
        self.seed = 7


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)


def make_training():
    """A whole training checkpoint: weights under 'state_dict' with
    DataParallel's 'module.' prefixes, and many other values."""
    torch.manual_seed(3)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(2, 2, 5, 5)
    net.fc(net.bn(net.conv(x)).mean((2, 3))).sum().backward()
    opt.step()
    sd = collections.OrderedDict(
        ("module." + k, v) for k, v in net.state_dict().items())
    ck = {
        "epoch": 90,
        "arch": "net",
        "best_acc1": 71.25,
        "note": None,
        "flags": [True, False],
        "big": 2 ** 70,
        "negative_big": -(2 ** 65) + 3,
        "numpy": np.arange(6, dtype=np.float32).reshape(2, 3),
        "info": RunInfo(),
        "state_dict": sd,
        "optimizer": opt.state_dict(),
        "history": {1: 0.5, 2: 0.25},
    }
    path = os.path.join(OUT, "legacy-training.pth")
    legacy_save(ck, path)
    with open(path, "rb") as f:
        data = f.read()
    with gzip.open(os.path.join(OUT, "legacy-training.pth.gz"), "wb") as f:
        f.write(data)

    loaded = torch.load(path)
    rows = [("numpy", "numpy", torch.from_numpy(loaded["numpy"]))]
    for k, v in loaded["state_dict"].items():
        rows.append((k[len("module."):], "state_dict." + k, v))
    for pid, st in loaded["optimizer"]["state"].items():
        for k, v in st.items():
            name = f"optimizer.state.{pid}.{k}"
            rows.append((name, name, v))
    write_expected("legacy-training", "torch-legacy", rows)
    write_expected("legacy-training.pth", "torch-legacy+gzip", rows)


def make_pruned():
    """torch.nn.utils.prune's weight_orig/weight_mask pair, and a
    NAME.mask tensor next to NAME.weight."""
    torch.manual_seed(5)
    net = Net()
    prune.l1_unstructured(net.conv, "weight", amount=0.6)
    sd = net.state_dict()
    mask = (torch.rand(3, 4) > 0.5).float()
    sd["fc.mask"] = mask
    legacy_save(sd, os.path.join(OUT, "legacy-pruned.pth"))
    rows = []
    for k, v in sd.items():
        if k.endswith("mask"):
            continue
        if k == "conv.weight_orig":
            rows.append(("conv.weight", k, v * sd["conv.weight_mask"], True))
        elif k == "fc.weight":
            rows.append((k, k, v * mask, True))
        else:
            rows.append((k, k, v))
    write_expected("legacy-pruned", "torch-legacy", rows)


# ---------------------------------------------------------------------
# Hostile and broken files. Handmade pickles use protocol 2 opcodes.

MAGIC = 0x1950a86a20f9469cfc6c


def header(magic=MAGIC):
    """The three pickles that start a legacy file."""
    info = {"protocol_version": 1001, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return (pickle.dumps(magic, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps(info, protocol=2))


def s(text):
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def k(n):
    return b"J" + struct.pack("<i", n)


def tensor_ops(key, numel, shape, stride, offset=0, v2=True):
    """Opcodes that rebuild a float32 tensor of storage KEY, with
    _rebuild_tensor_v2 or, when V2 is false, with the older
    _rebuild_tensor(storage, offset, size, stride)."""
    pid = (b"(" + s("storage") + b"ctorch\nFloatStorage\n" + s(key) +
           s("cpu") + k(numel) + b"Nt" + b"Q")
    dims = b"(" + b"".join(k(d) for d in shape) + b"t"
    strides = b"(" + b"".join(k(d) for d in stride) + b"t"
    if not v2:
        return (b"ctorch._utils\n_rebuild_tensor\n(" + pid + k(offset) +
                dims + strides + b"tR")
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + k(offset) +
            dims + strides + b"\x89ccollections\nOrderedDict\n)R" + b"tR")


def legacy_file(obj_ops, storages):
    """A legacy file: header, the object pickle from OBJ_OPS, the key
    list, then each (key, count, data) storage."""
    keys = [key for key, _, _ in storages]
    out = header() + b"\x80\x02" + obj_ops + b"." + pickle.dumps(keys, 2)
    for _, count, data in storages:
        out += struct.pack("<q", count) + data
    return out


def floats(*xs):
    return struct.pack(f"<{len(xs)}f", *xs)


class Evil:
    """Pickles as a call to os.system; loading must never run it."""

    def __reduce__(self):
        return (os.system, ("touch microscore-pickle-ran",))


class Thing:
    pass


def write_bad(name, data):
    with open(os.path.join(BAD, name), "wb") as f:
        f.write(data)


def make_bad():
    good_bias = tensor_ops("0", 2, [2], [1])

    # REDUCE of os.system where a weight should be; as a torch.save of a
    # state dict (protocol 2) and at protocol 4, where globals are
    # STACK_GLOBAL.
    for proto, name in ((2, "reduce-system.pth"),
                        (4, "stack-global.pth")):
        buf = io.BytesIO()
        legacy_save(collections.OrderedDict(
            [("fc.weight", Evil()), ("fc.bias", torch.zeros(2))]),
            buf, protocol=proto)
        write_bad(name, buf.getvalue())
    # NEWOBJ: an instance of a user class in place of a weight.
    buf = io.BytesIO()
    legacy_save(collections.OrderedDict(
        [("fc.weight", Thing()), ("fc.bias", torch.zeros(2))]), buf)
    write_bad("newobj.pth", buf.getvalue())
    # INST and OBJ, which only Python 2 picklers write.
    inst = b"(" + s("x") + b"iposix\nsystem\n"
    obj = b"(cposix\nsystem\n" + s("x") + b"o"
    for name, ops in (("inst.pth", inst), ("obj.pth", obj)):
        write_bad(name, legacy_file(
            b"}(" + s("fc.weight") + ops + s("fc.bias") + good_bias + b"u",
            [("0", 2, floats(1, 2))]))
    # The data of a parameter built by an unknown call.
    param = (b"ctorch._utils\n_rebuild_parameter\n(" + b"cposix\nsystem\n(" +
             s("x") + b"tR" + b"\x88ccollections\nOrderedDict\n)RtR")
    write_bad("parameter.pth", legacy_file(
        b"}(" + s("w") + param + b"u", []))

    # Interpreter errors, in the first pickle of the stream.
    write_bad("stack-underflow.pth", b"\x80\x02a.")
    write_bad("mark-underflow.pth", b"\x80\x02]K\x01e.")
    write_bad("memo-range.pth", b"\x80\x02]q\x00h\x05.")
    write_bad("setitem-list.pth", b"\x80\x02]K\x01K\x02s.")
    write_bad("unknown-opcode.pth", b"\x80\x02\xff.")
    write_bad("wrong-magic.pth", header(MAGIC + 1))
    # 100000 nested lists, and a list that contains itself next to a
    # tensor (that one must load).
    deep = b"]" * 100000 + b"a" * 99999
    write_bad("deep.pth", legacy_file(
        b"}(" + s("w") + good_bias + s("deep") + deep + b"u",
        [("0", 2, floats(1, 2))]))
    loop = b"]q\x00h\x00a"
    with open(os.path.join(OUT, "self-reference.pth"), "wb") as f:
        f.write(legacy_file(b"}(" + s("w") + good_bias + s("loop") + loop +
                            b"u", [("0", 2, floats(1, 0))]))
    write_expected("self-reference", "torch-legacy",
                   [("w", "w", torch.tensor([1.0, 0.0]))])
    # A storage whose element count runs past the end of the file.
    write_bad("storage-eof.pth", legacy_file(
        b"}(" + s("w") + tensor_ops("0", 1000, [2], [1]) + b"u",
        [("0", 1000, floats(1, 2))]))
    # A tensor that views more elements than its storage holds.
    write_bad("tensor-past-storage.pth", legacy_file(
        b"}(" + s("w") + tensor_ops("0", 4, [2, 3], [3, 1]) + b"u",
        [("0", 4, floats(1, 2, 3, 4))]))
    # A shape whose element count overflows 64 bits.
    write_bad("element-overflow.pth", legacy_file(
        b"}(" + s("w") + tensor_ops("0", 4, [1 << 22, 1 << 22, 1 << 22],
                                    [0, 0, 0]) + b"u",
        [("0", 4, floats(1, 2, 3, 4))]))


def make_protocol0_header():
    """legacy-proto2.pth's state dict with the three header pickles (magic
    number, format version, system info) pickled again at protocol 0, so
    that the stream starts with the LONG opcode
    'L119547037146038801333356L\\n.' and no PROTO opcode. (Protocol 1
    writes the magic number the same way, and the rest in binary.)"""
    sd = collections.OrderedDict([
        ("conv.weight", torch.tensor([[1.0, -2.0], [0.0, 4.0]])),
        ("conv.bias", torch.tensor([0.5, 0.0])),
    ])
    buf = io.BytesIO()
    legacy_save(sd, buf)
    data = buf.getvalue()
    buf.seek(0)
    header = [pickle.load(buf) for _ in range(3)]
    assert header[0] == MAGIC
    out = b"".join(pickle.dumps(v, protocol=0) for v in header)
    assert out.startswith(b"L119547037146038801333356L\n.")
    path = os.path.join(OUT, "legacy-magic-proto0.pth")
    with open(path, "wb") as f:
        f.write(out + data[buf.tell():])
    write_expected("legacy-magic-proto0", "torch-legacy",
                   flat_rows(torch.load(path)))


def make_rebuild_v1():
    """Tensors built by the old torch._utils._rebuild_tensor(storage,
    storage_offset, size, stride), which older torch versions wrote in
    place of _rebuild_tensor_v2: a strided 2x3 view at offset 1 and a
    plain vector. The expected values come from torch.load of the file."""
    w = tensor_ops("0", 8, [2, 3], [1, 2], offset=1, v2=False)
    b = tensor_ops("1", 3, [3], [1], v2=False)
    path = os.path.join(OUT, "legacy-rebuild-v1.pth")
    with open(path, "wb") as f:
        f.write(legacy_file(b"}(" + s("w") + w + s("b") + b + b"u",
                            [("0", 8, floats(0, 1, -2, 3, 0, 5, 6.5, -7)),
                             ("1", 3, floats(0.25, 0, -1))]))
    loaded = torch.load(path)
    assert not loaded["w"].is_contiguous()
    write_expected("legacy-rebuild-v1", "torch-legacy", flat_rows(loaded))


def make_reference(path):
    sd = torch.load(path)
    write_expected("densenet-100", "torch-legacy", flat_rows(sd))


def main():
    os.makedirs(BAD, exist_ok=True)
    if len(sys.argv) == 3 and sys.argv[1] == "--reference":
        make_reference(sys.argv[2])
        return
    make_dtypes()
    make_protocols()
    make_views()
    make_training()
    make_pruned()
    make_protocol0_header()
    make_rebuild_v1()
    make_bad()


if __name__ == "__main__":
    main()
