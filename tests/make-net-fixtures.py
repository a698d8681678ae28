#!/usr/bin/python3
"""Write tests/nets/NAME.shapes: the state_dict keys and shapes of real
PyTorch models, with the dense params and multiply-accumulates that
PyTorch itself measures, for the built-in network descriptions.

Needs Debian's python3-torch and python3-torchvision:
    /usr/bin/python3 tests/make-net-fixtures.py tests/nets

Each file starts with '#' lines: "# params N" counts every parameter
(weights, biases, batch-norm affine pairs; not running statistics), and
"# macs N" sums, over every Conv2d and Linear, output elements times
input channels per group times the kernel area, measured with forward
hooks on one input image. Then one line per tensor: "KEY D0 D1 ...".
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Scale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, c, 1))
        self.bias = nn.Parameter(torch.zeros(1, c, 1))

    def forward(self, x):
        n, c, h, w = x.shape
        return (x.view(n, c, -1) * self.weight + self.bias).view(n, c, h, w)


class Bottleneck(nn.Module):
    def __init__(self, c, growth):
        super().__init__()
        self.scale1 = Scale(c)
        self.conv1 = nn.Conv2d(c, 4 * growth, 1, bias=False)
        self.scale2 = Scale(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)
        self.scale3 = Scale(growth)

    def forward(self, x):
        y = self.scale3(self.conv2(self.scale2(self.conv1(self.scale1(x)))))
        return torch.cat([x, y], 1)


class Transition(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.scale1 = Scale(c)
        self.conv1 = nn.Conv2d(c, c // 2, 1, bias=False)
        self.scale2 = Scale(c // 2)

    def forward(self, x):
        return self.scale2(F.avg_pool2d(self.conv1(self.scale1(x)), 2))


class DenseNetBC(nn.Module):
    """DenseNet-BC-100 with batch norms merged into Scale layers, named
    as in the MicroNet Challenge checkpoint."""

    def __init__(self, growth=12, blocks=16, classes=100):
        super().__init__()
        c = 2 * growth
        self.conv1 = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.scale1 = Scale(c)
        for b in range(3):
            layers = []
            for _ in range(blocks):
                layers.append(Bottleneck(c, growth))
                c += growth
            setattr(self, 'dense%d' % (b + 1), nn.Sequential(*layers))
            if b < 2:
                setattr(self, 'trans%d' % (b + 1), Transition(c))
                c //= 2
        self.scale2 = Scale(c)
        self.fc = nn.Linear(c, classes, bias=False)
        self.scale3 = Scale(classes)

    def forward(self, x):
        x = self.scale1(self.conv1(x))
        x = self.trans1(self.dense1(x))
        x = self.trans2(self.dense2(x))
        x = F.relu(self.scale2(self.dense3(x)))
        x = F.avg_pool2d(x, 8).flatten(1)
        return self.scale3(self.fc(x).view(-1, 100, 1, 1)).flatten(1)


class WideBlock(nn.Module):
    """Pre-activation basic block of WideResNet (Zagoruyko and
    Komodakis), with the attribute names that common PyTorch ports use."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout
        self.convShortcut = None if self.equal else \
            nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        if self.equal:
            out = self.relu1(self.bn1(x))
        else:
            x = self.relu1(self.bn1(x))
            out = x
        out = self.conv2(self.relu2(self.bn2(self.conv1(out))))
        return (x if self.equal else self.convShortcut(x)) + out


class WideGroup(nn.Module):
    def __init__(self, n, cin, cout, stride):
        super().__init__()
        self.layer = nn.Sequential(*[
            WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1)
            for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth=28, widen=10, classes=100):
        super().__init__()
        n = (depth - 4) // 6
        w = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(3, w[0], 3, 1, 1, bias=False)
        self.block1 = WideGroup(n, w[0], w[1], 1)
        self.block2 = WideGroup(n, w[1], w[2], 2)
        self.block3 = WideGroup(n, w[2], w[3], 2)
        self.bn1 = nn.BatchNorm2d(w[3])
        self.relu = nn.ReLU()
        self.fc = nn.Linear(w[3], classes)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        x = F.avg_pool2d(self.relu(self.bn1(x)), 8).flatten(1)
        return self.fc(x)


class CifarBlock(nn.Module):
    """Basic block of the CIFAR ResNets of He et al. (2016) with the
    parameter-free shortcut (option A): subsample and zero-pad."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        s = x[:, :, ::self.stride, ::self.stride]
        if self.pad:
            s = F.pad(s, (0, 0, 0, 0, self.pad // 2, self.pad // 2))
        return F.relu(out + s)


class CifarResNet(nn.Module):
    def __init__(self, n, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for i, (c, s) in enumerate([(16, 1), (32, 2), (64, 2)]):
            blocks = []
            for j in range(n):
                blocks.append(CifarBlock(cin, c, s if j == 0 else 1))
                cin = c
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*blocks))
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


def measure(model, size):
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            macs[0] += out.numel() * (m.in_channels // m.groups) * k
        elif isinstance(m, nn.Linear):
            macs[0] += out.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    params = sum(p.numel() for p in model.parameters())
    return params, macs[0]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'tests/nets'
    tv = torchvision.models
    models = {
        'densenet-bc-100': (DenseNetBC(), 32),
        'wrn-28-10': (WideResNet(), 32),
        'resnet-20': (CifarResNet(3), 32),
        'resnet-32': (CifarResNet(5), 32),
        'resnet-18': (tv.resnet18(), 224),
        'resnet-50': (tv.resnet50(), 224),
        'mobilenet-v2-1.4': (tv.mobilenet_v2(width_mult=1.4), 224),
        'efficientnet-b0': (tv.efficientnet_b0(), 224),
    }
    for name, (model, size) in models.items():
        params, macs = measure(model, size)
        with open(os.path.join(out, name + '.shapes'), 'w') as f:
            f.write('# %s: state_dict keys and shapes, made by '
                    'make-net-fixtures.py (torch %s, torchvision %s)\n'
                    % (name, torch.__version__, torchvision.__version__))
            f.write('# params %d\n# macs %d\n' % (params, macs))
            for key, t in model.state_dict().items():
                f.write(' '.join([key] + [str(d) for d in t.shape]) + '\n')
        print(name, params, macs)


if __name__ == '__main__':
    main()
