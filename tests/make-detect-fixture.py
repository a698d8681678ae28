#!/usr/bin/python3
"""Write tests/fixtures/resnet18-10class.pth.gz: torchvision's ResNet-18
built for 10 classes, every tensor zeroed so that it compresses to almost
nothing. Its tensor names match the built-in resnet-18 description, whose
classifier has 1000 outputs, so microscore must choose that description,
report the size mismatch, and score it with --param=classes=10.

Run with Debian's python3-torch and python3-torchvision."""
import gzip
import io
import os

import torch
import torchvision

here = os.path.dirname(os.path.abspath(__file__))
model = torchvision.models.resnet18(num_classes=10)
state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
buffer = io.BytesIO()
torch.save(state, buffer)
path = os.path.join(here, "fixtures", "resnet18-10class.pth.gz")
with open(path, "wb") as f:
    # mtime=0 keeps the output identical from run to run.
    f.write(gzip.compress(buffer.getvalue(), mtime=0))
print(path, os.path.getsize(path), "bytes; fc.weight",
      tuple(model.fc.weight.shape))
