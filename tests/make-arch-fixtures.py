#!/usr/bin/python3
"""Write checkpoints and torch-measured counts for the built-in networks.

Each architecture gets two files under tests/fixtures/:
  arch-NAME.pth.gz  its state dict with every tensor zeroed, saved with
                    torch.save (zip format) and then gzip-compressed, so
                    that it is tiny but has the real names and shapes;
  arch-NAME.json    the tensor names, shapes and dtypes in state-dict order,
                    the dense params (numel of every nn.Parameter, split
                    into conv/linear and batch-norm parts), and the
                    multiply-accumulates (MACs) of every conv and linear
                    layer, measured with forward hooks on one input image.

MACs of a conv are output elements x (input channels / groups) x kernel
height x kernel width, and of a linear layer input features x output
features. Bias adds are not included.

It also writes small fixtures for --describe tests, with random weights
from a fixed seed (not zeroed): describe-tiny-cnn.pth and
describe-tiny-mobile.pth (plain state dicts, zip format), and
describe-tiny-cnn-wrapped.pth.tar (the tiny CNN in the legacy format,
wrapped as {'state_dict': ..., 'epoch': 3} with 'module.' key prefixes as
torch.nn.DataParallel saves them), each with a JSON of the same kind.
The legacy format stores memory addresses as storage keys, so only that
file changes from run to run.

Run with Debian's PyTorch and torchvision:
    /usr/bin/python3 tests/make-arch-fixtures.py
"""

import collections
import gzip
import io
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

SEED = 20191204
IMAGENET_INPUT = (1, 3, 224, 224)
CIFAR_INPUT = (1, 3, 32, 32)

# The num_params and GFLOPS fields that the torchvision model pages
# (pytorch.org/vision/stable/models) print for the ImageNet weights. Their
# GFLOPS count multiply-adds, rounded to two decimals. A mismatch means that
# the installed torchvision builds another variant.
TORCHVISION_DOCUMENTED = {
    "resnet18": (11689512, 1.81),
    "resnet50": (25557032, 4.09),
    "efficientnet_b0": (5288548, 0.39),
}

# The MicroNet Challenge CIFAR-100 baseline is this WideResNet-28-10, which
# the challenge counts as 36.5M params and 10.49e9 ops (a multiply and an
# add per MAC, to two decimals of 1e9).
MICRONET_BASELINE = ("wrn28_10", 36.5, 10.49)


class CifarBasicBlock(nn.Module):
    """The basic block of the CIFAR ResNets of He et al. (2016).

    The shortcut is option A of the paper: when the shape changes, the input
    is subsampled by 2 and zero-padded to the new width, with no parameters.
    """

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride,
                               padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes - in_planes if stride != 1 or in_planes != planes \
            else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x
        if self.pad is not None:
            shortcut = x[:, :, ::2, ::2]
            shortcut = F.pad(shortcut, (0, 0, 0, 0,
                                        self.pad // 2, self.pad // 2))
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR: widths 16, 32, 64 and n blocks per stage."""

    def __init__(self, blocks_per_stage, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for stage, planes in enumerate((16, 32, 64), start=1):
            blocks = []
            for index in range(blocks_per_stage):
                stride = 2 if stage > 1 and index == 0 else 1
                blocks.append(CifarBasicBlock(in_planes, planes, stride))
                in_planes = planes
            setattr(self, "layer%d" % stage, nn.Sequential(*blocks))
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


class WideBasicBlock(nn.Module):
    """Pre-activation block of a WideResNet (Zagoruyko and Komodakis, 2016),
    with a 1x1 conv shortcut named convShortcut when the shape changes."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride,
                               padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.equal_in_out = in_planes == planes and stride == 1
        if not self.equal_in_out:
            self.convShortcut = nn.Conv2d(in_planes, planes, 1,
                                          stride=stride, bias=False)

    def forward(self, x):
        act = self.relu1(self.bn1(x))
        out = self.conv1(act)
        out = self.conv2(self.relu2(self.bn2(out)))
        shortcut = x if self.equal_in_out else self.convShortcut(act)
        return out + shortcut


class WideGroup(nn.Module):
    def __init__(self, blocks, in_planes, planes, stride):
        super().__init__()
        self.layer = nn.Sequential(*[
            WideBasicBlock(in_planes if i == 0 else planes, planes,
                           stride if i == 0 else 1)
            for i in range(blocks)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-width: widths 16, 16k, 32k, 64k, (depth - 4) / 6 blocks per
    group, tensor names conv1, block1.layer.0.bn1, ..., bn1, fc."""

    def __init__(self, depth=28, widen=10, classes=100):
        super().__init__()
        blocks = (depth - 4) // 6
        widths = (16, 16 * widen, 32 * widen, 64 * widen)
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.block1 = WideGroup(blocks, widths[0], widths[1], 1)
        self.block2 = WideGroup(blocks, widths[1], widths[2], 2)
        self.block3 = WideGroup(blocks, widths[2], widths[3], 2)
        self.bn1 = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(widths[3], classes)

    def forward(self, x):
        out = self.conv1(x)
        out = self.block3(self.block2(self.block1(out)))
        out = self.relu(self.bn1(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)


class TinyCnn(nn.Module):
    """Two conv/batch-norm/ReLU stages (the second with a conv bias and
    stride 2), a global average pool and a linear classifier."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


class TinyMobile(nn.Module):
    """A stem conv, one inverted-residual block (1x1 expand, 3x3 depthwise,
    1x1 project, residual add) in the MobileNetV2 manner, and a classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU6())
        self.block = nn.Sequential(
            nn.Conv2d(16, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU6(),
            nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False),
            nn.BatchNorm2d(64), nn.ReLU6(),
            nn.Conv2d(64, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.classifier = nn.Linear(16, 10)

    def forward(self, x):
        out = self.stem(x)
        out = out + self.block(out)
        return self.classifier(F.adaptive_avg_pool2d(out, 1).flatten(1))


def architectures():
    """Returns (name, how it is built, constructor, input shape) rows."""
    models = torchvision.models
    return [
        ("resnet18", "torchvision.models.resnet18()",
         models.resnet18, IMAGENET_INPUT),
        ("resnet50", "torchvision.models.resnet50()",
         models.resnet50, IMAGENET_INPUT),
        ("mobilenet_v2_1.4", "torchvision.models.mobilenet_v2(width_mult=1.4)",
         lambda: models.mobilenet_v2(width_mult=1.4), IMAGENET_INPUT),
        ("efficientnet_b0", "torchvision.models.efficientnet_b0()",
         models.efficientnet_b0, IMAGENET_INPUT),
        ("resnet20", "CifarResNet(3 blocks per stage, 10 classes)",
         lambda: CifarResNet(3), CIFAR_INPUT),
        ("resnet32", "CifarResNet(5 blocks per stage, 10 classes)",
         lambda: CifarResNet(5), CIFAR_INPUT),
        ("wrn28_10", "WideResNet(depth 28, widen 10, 100 classes)",
         WideResNet, CIFAR_INPUT),
    ]


def measure(model, input_shape):
    """Returns the per-layer MACs of every conv and linear layer of MODEL,
    measured with forward hooks on one zero image of INPUT_SHAPE."""
    layers = []

    def hook_for(name):
        def hook(module, inputs, output):
            entry = {"name": name, "in": list(inputs[0].shape[1:]),
                     "out": list(output.shape[1:])}
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                entry.update(kind="conv", kernel=[kh, kw],
                             stride=list(module.stride),
                             padding=list(module.padding),
                             groups=module.groups)
                entry["macs"] = (output[0].numel()
                                 * (module.in_channels // module.groups)
                                 * kh * kw)
            else:
                entry.update(kind="linear",
                             macs=module.in_features * module.out_features)
            entry["bias"] = module.bias is not None
            layers.append(entry)
        return hook

    handles = [module.register_forward_hook(hook_for(name))
               for name, module in model.named_modules()
               if isinstance(module, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    for handle in handles:
        handle.remove()
    return layers


def describe(name, built_by, model, input_shape, state, file_name):
    """Returns the JSON record of MODEL, whose saved tensors are STATE."""
    conv_linear = bn = 0
    for module in model.modules():
        count = sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            conv_linear += count
        elif isinstance(module, nn.BatchNorm2d):
            bn += count
    layers = measure(model, input_shape)
    return collections.OrderedDict([
        ("name", name),
        ("file", "tests/fixtures/" + file_name),
        ("generator", "tests/make-arch-fixtures.py"),
        ("built_by", built_by),
        ("torch_version", torch.__version__),
        ("torchvision_version", torchvision.__version__),
        ("input", list(input_shape[1:])),
        ("params", sum(p.numel() for p in model.parameters())),
        ("params_conv_linear", conv_linear),
        ("params_batchnorm", bn),
        ("macs", sum(layer["macs"] for layer in layers)),
        ("tensor_count", len(state)),
        ("tensors", [{"name": key, "shape": list(t.shape),
                      "dtype": str(t.dtype).replace("torch.", "")}
                     for key, t in state.items()]),
        ("layers", layers),
    ])


def write_json(path, record):
    with open(path, "w") as out:
        json.dump(record, out, indent=1)
        out.write("\n")


def write_zeroed(directory, name, built_by, build, input_shape):
    """Writes arch-NAME.pth.gz and arch-NAME.json and returns the record."""
    torch.manual_seed(SEED)
    model = build()
    state = model.state_dict()
    with torch.no_grad():
        for tensor in state.values():
            tensor.zero_()

    # Saved to memory, the zip's top folder is "archive" (saved to a path it
    # is named after the file). The gzip header gets a fixed timestamp, so
    # that reruns give the same bytes.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    file_name = "arch-%s.pth.gz" % name
    with open(os.path.join(directory, file_name), "wb") as raw:
        with gzip.GzipFile("arch-%s.pth" % name, "wb", 9, raw, mtime=0) \
                as out:
            out.write(buffer.getvalue())

    record = describe(name, built_by, model, input_shape, state, file_name)
    write_json(os.path.join(directory, "arch-%s.json" % name), record)
    return record


def write_describe_fixtures(directory):
    """Writes the small --describe fixtures with random weights."""
    records = []
    for name, built_by, cls in (("tiny-cnn", "TinyCnn()", TinyCnn),
                                ("tiny-mobile", "TinyMobile()", TinyMobile)):
        torch.manual_seed(SEED)
        model = cls()
        state = model.state_dict()
        file_name = "describe-%s.pth" % name
        torch.save(state, os.path.join(directory, file_name))
        record = describe(name, built_by, model, CIFAR_INPUT, state,
                          file_name)
        write_json(os.path.join(directory, "describe-%s.json" % name), record)
        records.append(record)

        if name == "tiny-cnn":
            wrapped = collections.OrderedDict(
                ("module." + key, t) for key, t in state.items())
            file_name = "describe-tiny-cnn-wrapped.pth.tar"
            torch.save({"state_dict": wrapped, "epoch": 3},
                       os.path.join(directory, file_name),
                       _use_new_zipfile_serialization=False)
            record = describe("tiny-cnn-wrapped",
                              "TinyCnn() in DataParallel, legacy format",
                              model, CIFAR_INPUT, wrapped, file_name)
            record["wrapper"] = {"state_dict_key": "state_dict",
                                 "key_prefix": "module.", "epoch": 3}
            write_json(os.path.join(directory,
                                    "describe-tiny-cnn-wrapped.json"), record)
            records.append(record)
    return records


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    directory = os.path.join(top, "tests", "fixtures")
    os.makedirs(directory, exist_ok=True)

    records = [write_zeroed(directory, *row) for row in architectures()]
    records += write_describe_fixtures(directory)

    status = 0
    for record in records:
        documented = TORCHVISION_DOCUMENTED.get(record["name"])
        if documented is not None:
            params, giga_macs = documented
            if record["params"] != params:
                print("%s: %d params, torchvision documents %d"
                      % (record["name"], record["params"], params))
                status = 1
            if round(record["macs"] / 1e9, 2) != giga_macs:
                print("%s: %d MACs, torchvision documents %.2f G"
                      % (record["name"], record["macs"], giga_macs))
                status = 1
        if record["name"] == MICRONET_BASELINE[0]:
            if (round(record["params"] / 1e6, 1) != MICRONET_BASELINE[1]
                    or round(2 * record["macs"] / 1e9, 2)
                    != MICRONET_BASELINE[2]):
                print("%s: %d params and %d MACs differ from the MicroNet "
                      "baseline" % (record["name"], record["params"],
                                    record["macs"]))
                status = 1
        size = os.path.getsize(os.path.join(top, record["file"]))
        print("%-18s %9d params %13d MACs %4d tensors %8d bytes"
              % (record["name"], record["params"], record["macs"],
                 record["tensor_count"], size))
    return status


if __name__ == "__main__":
    sys.exit(main())
