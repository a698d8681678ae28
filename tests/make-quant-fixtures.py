#!/usr/bin/python3
"""Write the fixtures of quantized checkpoints and of checkpoints with
objects that are not tensors under tests/fixtures/readers/, with the
statistics that PyTorch computes, in the format that
tests/make-reader-fixtures.py documents.

Run with Debian's /usr/bin/python3 (python3-torch 1.13):

    /usr/bin/python3 tests/make-quant-fixtures.py

A quantized tensor is expected to load as its stored integers, so each
line describes torch's int_repr() of it. The .expected files of these
fixtures name tensors by their key path; the key column is the binding
name microscore must give them.
"""

import argparse
import importlib.util
import io
import os
import struct

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "reader_fixtures", os.path.join(HERE, "make-reader-fixtures.py"))
rf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rf)
OUT = rf.OUT


def plain(t):
    """The tensor microscore reads: the stored integers of a quantized
    tensor, the tensor itself otherwise."""
    return t.int_repr() if t.is_quantized else t.detach()


def packed_key(name):
    """The binding name of a quantized Linear's (weight, bias) item."""
    stem, _, index = name.rpartition("._packed_params._packed_params.")
    return stem + (".weight" if index == "0" else ".bias")


def rows_of(sd):
    rows = []
    for k, v in sd.items():
        if isinstance(v, torch.Tensor):
            rows.append((k, k, plain(v)))
        elif isinstance(v, tuple):
            for i, item in enumerate(v):
                if isinstance(item, torch.Tensor):
                    name = f"{k}.{i}"
                    rows.append((packed_key(name), name, plain(item)))
    return rows


def make_tensors():
    """quantize_per_tensor and quantize_per_channel in each storage type,
    in the zip format and the legacy one."""
    torch.manual_seed(11)
    x = torch.randn(4, 6) * 3
    sd = {
        "per_tensor_u8": torch.quantize_per_tensor(x, 0.05, 7, torch.quint8),
        "per_tensor_i8": torch.quantize_per_tensor(x, 0.1, -3, torch.qint8),
        "per_tensor_i32": torch.quantize_per_tensor(x, 0.001, 0,
                                                    torch.qint32),
        "per_channel_i8": torch.quantize_per_channel(
            x, torch.tensor([0.1, 0.2, 0.3, 0.05]),
            torch.tensor([0, 1, -2, 0]), 0, torch.qint8),
        "per_channel_axis1_u8": torch.quantize_per_channel(
            x, torch.linspace(0.02, 0.2, 6), torch.arange(6), 1,
            torch.quint8),
        "plain": x,
    }
    rows = [(k, k, plain(v)) for k, v in sd.items()]
    torch.save(sd, os.path.join(OUT, "quant-tensors.pt"))
    rf.write_expected("quant-tensors", "torch-zip", rows)
    rf.legacy_save(sd, os.path.join(OUT, "quant-tensors-legacy.pth"))
    rf.write_expected("quant-tensors-legacy", "torch-legacy", rows)


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 4, 5)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.conv1(self.quant(x)))
        return self.dequant(self.fc(x.flatten(1)))


def make_models():
    """A static quantization (torch.ao.quantization.convert) of a conv and
    a linear layer, and a dynamic one of two linear layers, one without
    bias."""
    torch.manual_seed(12)
    m = Small().eval()
    m.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    prepared = torch.ao.quantization.prepare(m)
    prepared(torch.randn(8, 3, 6, 6))
    sd = torch.ao.quantization.convert(prepared).state_dict()
    torch.save(sd, os.path.join(OUT, "quant-static.pt"))
    rf.write_expected("quant-static", "torch-zip", rows_of(sd))

    torch.manual_seed(13)
    m = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))
    sd = torch.ao.quantization.quantize_dynamic(
        m, {nn.Linear}, dtype=torch.qint8).state_dict()
    torch.save(sd, os.path.join(OUT, "quant-dynamic.pt"))
    rf.write_expected("quant-dynamic", "torch-zip", rows_of(sd))


def make_not_tensors():
    """Objects that are not tensors next to the weights: an
    argparse.Namespace, as training scripts save their arguments, at the
    top level and inside a "state_dict" wrapper."""
    torch.manual_seed(14)
    w = torch.randn(3, 2)
    args = argparse.Namespace(lr=0.1, arch="tiny")
    torch.save({"conv1.weight": w, "args": args},
               os.path.join(OUT, "namespace-args.pt"))
    rf.write_expected("namespace-args", "torch-zip",
                      [("conv1.weight", "conv1.weight", w)])
    torch.save({"state_dict": {"module.fc.weight": w,
                               "module.fc.extra": args}, "epoch": 3},
               os.path.join(OUT, "namespace-wrapped.pt"))
    rf.write_expected("namespace-wrapped", "torch-zip",
                      [("fc.weight", "state_dict.module.fc.weight", w)])


def write_bad(name, data):
    with open(os.path.join(rf.BAD, name), "wb") as f:
        f.write(data)


def make_bad():
    """Placeholders where a tensor's data must be, which stay errors."""
    s, k = rf.s, rf.k
    system = b"cposix\nsystem\n(" + s("x") + b"tR"
    # A posix.system call as the storage of _rebuild_tensor_v2.
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + system + k(0) +
              b"(" + k(2) + b"t(" + k(1) + b"t" +
              b"\x89ccollections\nOrderedDict\n)RtR")
    write_bad("storage-system.pth", rf.legacy_file(
        b"}(" + s("fc.weight") + tensor + b"u", []))
    # A torch._utils._rebuild_* function the reader does not know.
    unknown = (b"ctorch._utils\n_rebuild_device_tensor_from_numpy\n(" +
               s("x") + b"tR")
    write_bad("rebuild-unknown.pth", rf.legacy_file(
        b"}(" + s("fc.weight") + unknown + b"u", []))
    # A quantized tensor whose per-channel scales are a posix.system call.
    pid = (b"(" + s("storage") + b"ctorch\nQInt8Storage\n" + s("0") +
           s("cpu") + k(2) + b"tQ")
    qparams = (b"(ctorch\nper_channel_affine\n" + system + system + k(0) +
               b"t")
    qtensor = (b"ctorch._utils\n_rebuild_qtensor\n(" + pid + k(0) + b"(" +
               k(2) + b"t(" + k(1) + b"t" + qparams +
               b"\x89ccollections\nOrderedDict\n)RtR")
    write_bad("qtensor-scales-system.pth", rf.legacy_file(
        b"}(" + s("fc.weight") + qtensor + b"u", [("0", 2, b"\x01\x02")]))


def main():
    make_tensors()
    make_models()
    make_not_tensors()
    make_bad()


if __name__ == "__main__":
    main()
