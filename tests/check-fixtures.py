#!/usr/bin/python3
"""Check that every fixture checkpoint reloads with torch.load and matches
the JSON written beside it.

For each JSON in tests/fixtures/ this loads the checkpoint it names
(gunzipping .gz files and unwrapping {'state_dict': ...}), then compares the
tensor names, order, shapes and dtypes. The zeroed architecture files must
contain only zeros, and the default model's per-tensor statistics are
recomputed with torch and compared value by value.

Run with Debian's PyTorch: /usr/bin/python3 tests/check-fixtures.py
Prints one line per file and exits 1 when any check fails.
"""

import glob
import gzip
import io
import json
import os
import sys

import torch

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_checkpoint(path):
    """Returns the state dict stored in PATH, which may be gzip-compressed."""
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as raw:
            obj = torch.load(io.BytesIO(raw.read()), map_location="cpu")
    else:
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    return obj


def check_tensor_list(record, state, problems):
    if len(state) != record["tensor_count"]:
        problems.append("%d tensors, JSON %d"
                        % (len(state), record["tensor_count"]))
    names = [entry["name"] for entry in record["tensors"]]
    if names != list(state.keys()):
        problems.append("tensor names or order differ")
        return
    for entry in record["tensors"]:
        tensor = state[entry["name"]]
        if list(tensor.shape) != entry["shape"]:
            problems.append("%s: shape %s, JSON %s"
                            % (entry["name"], list(tensor.shape),
                               entry["shape"]))
        if str(tensor.dtype) != "torch." + entry["dtype"]:
            problems.append("%s: dtype %s, JSON %s"
                            % (entry["name"], tensor.dtype, entry["dtype"]))


def check_default_model(record, state, problems):
    tensors = record["tensors"]
    if list(tensors.keys()) != list(state.keys()):
        problems.append("tensor names or order differ")
        return
    if len(state) != record["tensor_count"]:
        problems.append("%d tensors, JSON %d"
                        % (len(state), record["tensor_count"]))
    for key, entry in tensors.items():
        t = state[key]
        actual = {
            "shape": list(t.shape),
            "elements": t.numel(),
            "nonzero": int(torch.count_nonzero(t)),
            "min": float(t.min()),
            "max": float(t.max()),
            "distinct": int(torch.unique(t).numel()),
            "first": float(t.flatten()[0]),
        }
        if "channel_nonzero" in entry:
            actual["channel_nonzero"] = [
                int(n) for n in
                torch.count_nonzero(t.reshape(t.shape[0], -1), dim=1)]
        for field, value in actual.items():
            if entry[field] != value:
                problems.append("%s: %s is %r, JSON %r"
                                % (key, field, value, entry[field]))


def main():
    failures = 0
    for json_path in sorted(glob.glob(os.path.join(TOP, "tests", "fixtures",
                                                   "*.json"))):
        with open(json_path) as f:
            record = json.load(f)
        path = os.path.join(TOP, record["file"])
        problems = []
        state = load_checkpoint(path)

        if isinstance(record["tensors"], dict):
            check_default_model(record, state, problems)
        else:
            check_tensor_list(record, state, problems)
            if os.path.basename(path).startswith("arch-"):
                nonzero = sum(int(torch.count_nonzero(t))
                              for t in state.values())
                if nonzero:
                    problems.append("%d nonzero values in a zeroed file"
                                    % nonzero)

        failures += bool(problems)
        print("%s: %s" % (record["file"],
                          "; ".join(problems[:5]) if problems else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
