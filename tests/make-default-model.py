#!/usr/bin/python3
"""Build the bundled default model and the statistics the C tests expect of it.

The model is a DenseNet-BC-100 for CIFAR-100 (growth rate 12, compression
0.5, 16 bottlenecks per dense block, 100 classes). It has the tensor names
and shapes of the published MicroNet Challenge entry, whose batch norms are
merged into per-channel Scale layers of shape (1, C, 1) and whose conv and
fc weights contain small integers. It is NOT trained: the weights are random numbers from a
fixed seed, pruned by magnitude and quantized, so the file scores like a
real entry but classifies nothing.

Pruning is by magnitude, per layer: every conv keeps the 25% of its weights
with the largest magnitude, except the first conv, which keeps 66% because
the published entry also prunes its first layer less. That makes 74.96%
conv sparsity overall. The fc layer keeps 50%. Conv weights are then
quantized to 4-bit signed integers in [-8, 7] and fc to 6-bit integers in
[-32, 31], one step size per output channel. The step is
folded into the Scale layer that follows the conv, as in the published entry.

Outputs, written next to this script's parent directory:
  data/default.pth                        torch.save zip format, a plain
                                          OrderedDict state dict
  tests/fixtures/default-model-expected.json
      per tensor: shape, element count, nonzeros, min, max, distinct values,
      first value; per conv and linear layer: nonzeros per output channel;
      per layer geometry measured with forward hooks; and the ops and params
      of all seven score types, counted by the independent Python
      implementation below of the formulas of the published DenseNet-100
      scorer (see count_layer). They are given twice: as that scorer counts,
      slips included, and with the slips corrected (challenge_totals).

Run with Debian's PyTorch: /usr/bin/python3 tests/make-default-model.py
With --check-reference FILE it instead scores the published checkpoint FILE
with the same counting code and compares the totals with the published
table, which checks this implementation against independent numbers.
"""

import argparse
import collections
import json
import math
import os
import sys

import torch
import torch.nn as nn

SEED = 20191204
GROWTH = 12
BOTTLENECKS = 16
CLASSES = 100
INPUT_SHAPE = (1, 3, 32, 32)
CONV_KEEP = 0.25
FIRST_CONV_KEEP = 0.66
FC_KEEP = 0.50
CONV_BITS = 4
FC_BITS = 6

# The MicroNet CIFAR-100 baseline, WideResNet-28-10.
BASELINE_OPS = 10.49e9
BASELINE_PARAMS = 36.5e6

# Exact totals of the published DenseNet-100 checkpoint (MicroNet Challenge
# CIFAR-100 entry of wps712/MicroNetChallenge) under its authors' counting,
# ops per score type 0-6, then params.
REFERENCE_OPS = [29420863.632553607, 40589889.928849898, 75308930.840835586,
                 42748064.928849898, 31579038.632553607, 29440684.632553607,
                 40609710.928849898]
REFERENCE_PARAMS = 49805.5625

# Score types: (conv accumulation, scale precision, average-pool precision).
SCORE_TYPES = [
    ("tree", "fp16", "fp16"),
    ("fixed", "fp16", "fp16"),
    ("fp32", "fp32", "fp32"),
    ("fixed", "fp32", "fp32"),
    ("tree", "fp32", "fp32"),
    ("tree", "fp16", "fp32"),
    ("fixed", "fp16", "fp32"),
]


class Scale(nn.Module):
    """Per-channel multiply and add, with weight and bias of shape (1, C, 1)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.weight.view(shape) + self.bias.view(shape)


class Quant(nn.Module):
    """Rounds and clamps activations to the unsigned 4-bit grid [0, 15]."""

    def forward(self, x):
        return torch.clamp(torch.round(x), 0, 15)


class Bottleneck(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.scale1 = Scale(channels)
        self.quant1 = Quant()
        self.conv1 = nn.Conv2d(channels, 4 * GROWTH, 1, bias=False)
        self.scale2 = Scale(4 * GROWTH)
        self.quant2 = Quant()
        self.conv2 = nn.Conv2d(4 * GROWTH, GROWTH, 3, padding=1, bias=False)
        self.scale3 = Scale(GROWTH)

    def forward(self, x):
        out = self.conv1(self.quant1(self.scale1(x)))
        out = self.conv2(self.quant2(self.scale2(out)))
        return torch.cat([x, self.scale3(out)], 1)


class Transition(nn.Module):
    def __init__(self, channels, out_channels):
        super().__init__()
        self.scale1 = Scale(channels)
        self.quant1 = Quant()
        self.conv1 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2)
        self.scale2 = Scale(out_channels)

    def forward(self, x):
        out = self.pool(self.conv1(self.quant1(self.scale1(x))))
        return self.scale2(out)


class DenseNet(nn.Module):
    def __init__(self):
        super().__init__()
        channels = 2 * GROWTH
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.scale1 = Scale(channels)
        for block in (1, 2, 3):
            layers = []
            for _ in range(BOTTLENECKS):
                layers.append(Bottleneck(channels))
                channels += GROWTH
            setattr(self, "dense%d" % block, nn.Sequential(*layers))
            if block < 3:
                out_channels = channels // 2
                setattr(self, "trans%d" % block,
                        Transition(channels, out_channels))
                channels = out_channels
        self.scale2 = Scale(channels)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(channels, CLASSES, bias=False)
        self.scale3 = Scale(CLASSES)

    def forward(self, x):
        x = self.scale1(self.conv1(x))
        x = self.trans1(self.dense1(x))
        x = self.trans2(self.dense2(x))
        x = self.dense3(x)
        x = self.pool(self.relu(self.scale2(x)))
        return self.scale3(self.fc(torch.flatten(x, 1)))


def prune_by_magnitude(weight, keep):
    """Zeroes all but the round(keep * numel) largest-magnitude weights.

    The largest weight of every output channel is always kept, so that no
    channel is all zero. The published counting charges a fixed-length layer
    with an all-zero channel a negative number of adds, which this default
    model should not exercise.
    """
    count = round(keep * weight.numel())
    flat = weight.abs().reshape(weight.shape[0], -1)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[torch.arange(flat.shape[0]), flat.argmax(dim=1)] = True
    rest = flat.masked_fill(mask, -1.0).flatten()
    kept = torch.topk(rest, count - flat.shape[0]).indices
    mask.view(-1)[kept] = True
    return weight * mask.view_as(weight)


def quantize_per_channel(weight, bits):
    """Returns (integer-valued weight, step per output channel).

    The step maps the largest magnitude of each channel to 2^(bits-1) - 0.5,
    so that after rounding both ends of [-2^(bits-1), 2^(bits-1) - 1] occur.
    """
    top = 2 ** (bits - 1)
    flat = weight.reshape(weight.shape[0], -1)
    step = flat.abs().max(dim=1).values / (top - 0.5)
    shape = (-1,) + (1,) * (weight.dim() - 1)
    q = torch.clamp(torch.round(weight / step.view(shape)), -top, top - 1)
    if not torch.all(step > 0) or not torch.all(torch.isfinite(q)):
        raise ValueError("an output channel has no nonzero weight")
    return q, step


def build_model():
    """Returns the pruned, quantized, untrained DenseNet from SEED."""
    torch.manual_seed(SEED)
    model = DenseNet()
    scale_after = {}  # conv or fc name -> the Scale that absorbs its step
    modules = dict(model.named_modules())

    with torch.no_grad():
        for name, module in modules.items():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
                # Uneven channel gains make the per-channel nonzero counts
                # differ after pruning, as they do in a trained network.
                gain = torch.empty(module.out_channels).uniform_(0.5, 1.5)
                module.weight.mul_(gain.view(-1, 1, 1, 1))
            elif isinstance(module, Scale):
                channels = module.weight.shape[1]
                module.weight.copy_(torch.empty(1, channels, 1)
                                    .uniform_(0.5, 1.5))
                module.bias.copy_(torch.empty(1, channels, 1)
                                  .uniform_(-2.0, 2.0))
        nn.init.normal_(model.fc.weight, std=0.05)

        for name, module in modules.items():
            if isinstance(module, Bottleneck):
                scale_after[name + ".conv1"] = name + ".scale2"
                scale_after[name + ".conv2"] = name + ".scale3"
            elif isinstance(module, Transition):
                scale_after[name + ".conv1"] = name + ".scale2"
        scale_after["conv1"] = "scale1"
        scale_after["fc"] = "scale3"

        for conv_name, scale_name in scale_after.items():
            layer = modules[conv_name]
            scale = modules[scale_name]
            is_fc = isinstance(layer, nn.Linear)
            if is_fc:
                keep = FC_KEEP
            elif conv_name == "conv1":
                keep = FIRST_CONV_KEEP
            else:
                keep = CONV_KEEP
            pruned = prune_by_magnitude(layer.weight, keep)
            q, step = quantize_per_channel(pruned,
                                           FC_BITS if is_fc else CONV_BITS)
            layer.weight.copy_(q)
            scale.weight.mul_(step.view(1, -1, 1))

        # As in the published entry, a Scale that only carries a conv's step
        # (no batch norm merged into it) has a zero bias.
        zero_bias = ["scale1", "trans1.scale2", "trans2.scale2"]
        zero_bias += [name + ".scale3" for name, m in modules.items()
                      if isinstance(m, Bottleneck)]
        for name in zero_bias:
            modules[name].bias.zero_()

        # Two layers where the first channel alone misleads: the published
        # counting decides "has a bias" from channel 0 only.
        modules["dense2.0.scale2"].bias[0, 0, 0] = 0.0
        modules["dense1.3.scale3"].bias[0, 0, 0] = 0.25

    return model


def measure_geometry(model):
    """Runs one CIFAR image through MODEL and returns the layers in execution
    order, as dicts of name, kind and input/output shapes without batch."""
    layers = []
    kinds = {nn.Conv2d: "conv", nn.Linear: "linear", Scale: "scale",
             nn.ReLU: "relu", nn.AvgPool2d: "avgpool"}

    def hook_for(name, kind):
        def hook(module, inputs, output):
            entry = {"name": name, "kind": kind,
                     "in": list(inputs[0].shape[1:]),
                     "out": list(output.shape[1:])}
            if kind == "avgpool":
                entry["window"] = module.kernel_size
            layers.append(entry)
        return hook

    handles = []
    for name, module in model.named_modules():
        kind = kinds.get(type(module))
        if kind:
            handles.append(module.register_forward_hook(hook_for(name, kind)))
    with torch.no_grad():
        model(torch.zeros(INPUT_SHAPE))
    for handle in handles:
        handle.remove()
    return layers


def tensor_statistics(state):
    """Returns per-tensor statistics computed by torch."""
    stats = collections.OrderedDict()
    for key, tensor in state.items():
        t = tensor.detach()
        entry = {
            "shape": list(t.shape),
            "dtype": str(t.dtype).replace("torch.", ""),
            "elements": t.numel(),
            "nonzero": int(torch.count_nonzero(t)),
            "min": float(t.min()),
            "max": float(t.max()),
            "distinct": int(torch.unique(t).numel()),
            "first": float(t.flatten()[0]),
        }
        if key.endswith(".weight") and t.dim() in (2, 4):
            per_channel = torch.count_nonzero(t.reshape(t.shape[0], -1), dim=1)
            entry["channel_nonzero"] = [int(n) for n in per_channel]
        stats[key] = entry
    return stats


def adder_tree_bits(bits, n):
    """Bit-adds of a pairwise tree over N numbers, BITS wide at level one."""
    total = 0
    while n > 1:
        total += (n // 2) * bits
        n = (n + 1) // 2
        bits += 1
    return total


def count_layer(layer, stats, score_type, rules="published"):
    """Returns (ops, params) of one layer under score type SCORE_TYPE.

    Written from the formulas of the published DenseNet-100 scorer. RULES
    "published" keeps its slips, and "challenge" corrects each of them:
    - Scale params: 1/2 or 1 whatever the width, where the corrected count
      is C/2 for the 16-bit weights plus C/2 for the biases.
    - Scale bias: judged by channel 0 alone, corrected to any nonzero value.
    - Average pool: an s x s window is charged as s, corrected to s * s.
    - Fixed-length adds of 32-bit inputs: divided by 32 twice, corrected
      to once.
    - Fixed-length accumulator width: uses the activation bits where the
      weight bits belong.
    - An all-zero channel under fixed-length adds: -1 adds, corrected to 0.
    Quant layers are free under both.
    """
    accum, scale_prec, pool_prec = SCORE_TYPES[score_type]
    published = rules == "published"
    kind = layer["kind"]

    if kind in ("conv", "linear"):
        w = stats[layer["name"] + ".weight"]
        out = layer["out"]
        channels = out[0]
        hw = out[1] * out[2] if kind == "conv" else 1
        elements = w["elements"]
        nonzero = w["nonzero"]
        k = elements // channels
        density = nonzero / elements
        if kind == "linear":
            wbits, abits, accum = FC_BITS, 32, "fp32"
        elif layer["name"] == "conv1":
            wbits, abits = CONV_BITS, 32
        else:
            wbits, abits = CONV_BITS, 4

        params = (elements + nonzero * wbits) / 32
        mults = nonzero * hw * max(wbits, abits) / 32
        fp32_adds = density * hw * channels * (k - 1)
        if accum == "fp32" or (accum == "tree" and abits == 32):
            adds = fp32_adds
        elif accum == "tree":
            adds = sum(adder_tree_bits(wbits + abits, n)
                       for n in w["channel_nonzero"]) * hw / 32
        elif abits == 32:
            adds = fp32_adds / 32 if published else fp32_adds
        else:
            magnitude_bits = abits if published else wbits
            width = math.floor(math.log2(
                (2 ** abits - 1) * (2 ** (magnitude_bits - 1) - 1) * k)) + 1
            if published:
                terms = [n - 1 for n in w["channel_nonzero"]]
            else:
                terms = [max(n - 1, 0) for n in w["channel_nonzero"]]
            adds = sum(width * t for t in terms) * hw / 32
        return mults + adds, params

    if kind == "scale":
        elements = math.prod(layer["in"])
        bias = stats[layer["name"] + ".bias"]
        if published:
            biased = bias["first"] != 0
            params = 1.0 if biased else 0.5
        else:
            biased = bias["nonzero"] > 0
            channels = layer["in"][0]
            params = channels if biased else channels / 2
        if not biased:
            return elements / 2, params
        if scale_prec == "fp16":
            return elements, params
        return elements / 2 + elements, params

    if kind == "relu":
        return math.prod(layer["out"]) / 2, 0.0

    if kind == "avgpool":
        s = layer["window"] if published else layer["window"] ** 2
        n = math.prod(layer["out"])
        if pool_prec == "fp16":
            return ((s - 1) + 1) * n / 2, 0.0
        return (s - 1) * n + n / 2, 0.0

    raise ValueError("no counting for layer kind " + kind)


def score(layers, stats, rules="published"):
    """Returns per-type totals and per-layer costs for every score type."""
    totals = []
    per_layer = [{"ops": []} for layer in layers]
    for score_type in range(len(SCORE_TYPES)):
        ops = params = 0.0
        for layer, row in zip(layers, per_layer):
            layer_ops, layer_params = count_layer(layer, stats, score_type,
                                                  rules)
            ops += layer_ops
            params += layer_params
            row["ops"].append(layer_ops)
            row["params"] = layer_params
        totals.append({
            "type": score_type,
            "ops": ops,
            "params": params,
            "op_score": ops / BASELINE_OPS,
            "param_score": params / BASELINE_PARAMS,
            "score": ops / BASELINE_OPS + params / BASELINE_PARAMS,
        })
    return totals, per_layer


def check_reference(path):
    """Scores the published checkpoint and compares with its table."""
    state = torch.load(path, map_location="cpu")
    model = DenseNet()
    model.load_state_dict(state)
    totals, _ = score(measure_geometry(model), tensor_statistics(state))
    failures = 0
    for row, expected in zip(totals, REFERENCE_OPS):
        ok = math.isclose(row["ops"], expected, rel_tol=1e-12)
        failures += not ok
        print("type %d: ops %.9f, expected %.9f %s"
              % (row["type"], row["ops"], expected, "ok" if ok else "WRONG"))
    ok = all(row["params"] == REFERENCE_PARAMS for row in totals)
    failures += not ok
    print("params %.4f, expected %.4f %s"
          % (totals[0]["params"], REFERENCE_PARAMS, "ok" if ok else "WRONG"))
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-reference", metavar="FILE",
                        help="score the published densenet-100.pth.tar and "
                        "compare with its published totals")
    args = parser.parse_args()
    if args.check_reference:
        return check_reference(args.check_reference)

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model_path = os.path.join(top, "data", "default.pth")
    json_path = os.path.join(top, "tests", "fixtures",
                             "default-model-expected.json")

    model = build_model()
    state = model.state_dict()
    os.makedirs(os.path.dirname(model_path), exist_ok=True)
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    torch.save(state, model_path)

    # Statistics come from the file as torch reads it back, not from memory.
    saved = torch.load(model_path, map_location="cpu")
    if list(saved.keys()) != list(state.keys()):
        sys.exit("make-default-model.py: saved keys differ from the model")
    stats = tensor_statistics(saved)
    for key, entry in stats.items():
        if min(entry.get("channel_nonzero", [1])) == 0:
            sys.exit("make-default-model.py: %s has an all-zero output "
                     "channel; choose another seed" % key)
    layers = measure_geometry(model)
    totals, per_layer = score(layers, stats)
    challenge_totals, challenge_per_layer = score(layers, stats, "challenge")
    for layer, row, challenge_row in zip(layers, per_layer,
                                         challenge_per_layer):
        layer.update(row)
        layer["challenge_ops"] = challenge_row["ops"]
        layer["challenge_params"] = challenge_row["params"]

    conv = [e for k, e in stats.items() if k.endswith(".weight")
            and len(e["shape"]) == 4]
    expected = collections.OrderedDict([
        ("file", "data/default.pth"),
        ("generator", "tests/make-default-model.py"),
        ("torch_version", torch.__version__),
        ("seed", SEED),
        ("input", list(INPUT_SHAPE[1:])),
        ("tensor_count", len(stats)),
        ("total_elements", sum(e["elements"] for e in stats.values())),
        ("conv_elements", sum(e["elements"] for e in conv)),
        ("conv_nonzero", sum(e["nonzero"] for e in conv)),
        ("bits", {"conv_weight": CONV_BITS, "fc_weight": FC_BITS,
                  "conv1_input": 32, "fc_input": 32, "other_conv_input": 4}),
        ("baseline", {"ops": BASELINE_OPS, "params": BASELINE_PARAMS}),
        ("note", "totals and per-layer ops/params follow the published "
                 "DenseNet-100 counting, slips included; challenge_totals "
                 "and challenge_ops/challenge_params correct the slips. "
                 "Quant layers are free in both. Python sums in layer "
                 "order, so compare with a relative tolerance of about "
                 "1e-12."),
        ("totals", totals),
        ("challenge_totals", challenge_totals),
        ("layers", layers),
        ("tensors", stats),
    ])
    with open(json_path, "w") as out:
        json.dump(expected, out, indent=1)
        out.write("\n")

    print("%s: %d tensors, %d bytes" % (model_path, len(stats),
                                        os.path.getsize(model_path)))
    for rules, rows in (("published", totals),
                        ("challenge", challenge_totals)):
        for row in rows:
            print("%s type %d: ops %r params %r score %.6f"
                  % (rules, row["type"], row["ops"], row["params"],
                     row["score"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
