"""PyTorch peer of `pnpm bench operators`: the same operator rollouts on the CPU.

Reads a JSON spec written by bench/operators.ts ({"timesteps", "realizations", "channels",
"noisePeriod", "icCorrelation", "operators": [OperatorParams...]}) and rolls every operator out
with the same architecture (circular-padded convs, group/instance norm, tanh-GELU, noise block on
the last hidden features, 1x1 head), noise (Gaussian/Laplace, separable circular Gaussian blur,
schedules) and update policy, with torch's own RNG. Prints one JSON line:
{"opsPerSecond", "seconds", "operators", "threads", "torch"}.
Usage: /usr/bin/python3 bench/operators_torch.py spec.json [threads]
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def blur(x, sigma):
    # x: [B, C, H, W]; circular separable Gaussian, as fields.ts
    if sigma < 0.5:
        return x
    r = max(1, math.ceil(3 * sigma))
    k = torch.tensor([math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-r, r + 1)], dtype=x.dtype)
    k = k / k.sum()
    b, c, h, w = x.shape
    reps_w = (r + w - 1) // w
    reps_h = (r + h - 1) // h
    xw = x.repeat(1, 1, 1, 2 * reps_w + 1)[..., reps_w * w - r: reps_w * w + w + r]
    y = F.conv2d(xw.reshape(b * c, 1, h, -1), k.view(1, 1, 1, -1)).reshape(b, c, h, w)
    yh = y.repeat(1, 1, 2 * reps_h + 1, 1)[:, :, reps_h * h - r: reps_h * h + h + r, :]
    return F.conv2d(yh.reshape(b * c, 1, -1, w), k.view(1, 1, -1, 1)).reshape(b, c, h, w)


class Net(torch.nn.Module):
    def __init__(self, p, channels):
        super().__init__()
        k = p["kernelSize"]
        base = p["baseChannels"]
        widths = [base * 2 ** min(i, 2) for i in range(p["numLayers"])]
        self.residual = p["numLayers"] > 3
        self.p = p
        self.stem = torch.nn.Conv2d(channels, base, k)
        self.blocks = torch.nn.ModuleList()
        cin = base
        for cout in widths:
            a = torch.nn.Conv2d(cin, cout, k)
            b = torch.nn.Conv2d(cout, cout, k) if self.residual else None
            s = torch.nn.Conv2d(cin, cout, 1) if self.residual and cin != cout else None
            self.blocks.append(torch.nn.ModuleList([m for m in (a, b, s) if m is not None]))
            self.blocks[-1].kinds = (b is not None, s is not None)
            cin = cout
        self.hidden = cin
        self.head = torch.nn.Conv2d(cin, channels, 1)

    def conv(self, x, layer):
        pad = (layer.kernel_size[0] - 1) // 2
        if pad > 0:
            x = F.pad(x, (pad, pad, pad, pad), mode="circular")
        return layer(x)

    def norm(self, x):
        n = self.p["normalization"]
        if n == "none":
            return x
        c = x.shape[1]
        g = c if n == "instance" else next(d for d in (4, 3, 2, 1) if c % d == 0)
        return F.group_norm(x, g, eps=1e-5)

    def block(self, x, layer):
        return F.gelu(self.norm(self.conv(x, layer)), approximate="tanh")

    def forward(self, x, noise, amp):
        h = self.block(x, self.stem)
        for mods in self.blocks:
            has_b, has_s = mods.kinds
            if not has_b:
                h = self.block(h, mods[0])
            else:
                inner = self.norm(self.conv(self.block(h, mods[0]), mods[1]))
                skip = self.conv(h, mods[2]) if has_s else h
                h = F.gelu(inner + skip, approximate="tanh")
        if amp != 0:
            h = h * (1 + amp * noise) if self.p["noiseType"] == "multiplicative" else h + amp * noise
        return self.conv(h, self.head)


def amplitude(p, t, steps, period):
    s = p["noiseSchedule"]
    if s == "constant":
        return p["noiseScale"]
    if s == "annealing":
        return p["noiseScale"] * (1 - t / steps)
    return p["noiseScale"] * (1 + 0.5 * math.sin(2 * math.pi * t / period))


def noise_field(p, m, c, g):
    if p["noiseType"] == "laplace":
        x = torch.distributions.Laplace(0.0, 1 / math.sqrt(2)).sample((m, c, g, g))
    else:
        x = torch.randn(m, c, g, g)
    sigma = p["spatialCorrelation"] * g
    if sigma >= 0.5:
        x = blur(x, sigma)
        x = x / x.std()
    return x


@torch.no_grad()
def rollout(spec, p):
    c, m, steps = spec["channels"], spec["realizations"], spec["timesteps"]
    g = p["gridSize"]
    net = Net(p, c).eval()
    ic = blur(torch.randn(1, c, g, g), spec["icCorrelation"] * g)
    ic = (ic - ic.mean(dim=(2, 3), keepdim=True)) / ic.std(dim=(2, 3), keepdim=True)
    x = ic.repeat(m, 1, 1, 1)
    traj = torch.empty(m, steps, c, g, g)
    traj[:, 0] = x
    for t in range(1, steps):
        amp = amplitude(p, t, steps, spec["noisePeriod"])
        noise = noise_field(p, m, net.hidden, g) if amp != 0 else None
        y = net(x, noise, amp)
        pol = p["updatePolicy"]
        x = y if pol == "autoregressive" else x + p["dt"] * y if pol == "residual" else p["alpha"] * x + (1 - p["alpha"]) * y
        traj[:, t] = x
    return traj


def main():
    spec = json.load(open(sys.argv[1]))
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rollout(spec, spec["operators"][0])  # warm-up
    t0 = time.perf_counter()
    for p in spec["operators"]:
        rollout(spec, p)
    sec = time.perf_counter() - t0
    n = len(spec["operators"])
    print(json.dumps({"opsPerSecond": n / sec, "seconds": sec, "operators": n, "threads": threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
