"""PyTorch peer of bench/ired.ts: the same SudokuEBM, loss, batch and sampling loop on the CPU.

Usage: /usr/bin/python3 bench/ired_peer.py '<json spec>'  -> prints one JSON line of timings.
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def swish(x):
    return x * torch.sigmoid(x)


class Block(nn.Module):
    def __init__(self, c, k, tdim):
        super().__init__()
        self.c = c
        self.conv1 = nn.Conv2d(c, c, k, padding=k // 2)
        self.conv2 = nn.Conv2d(c, c, k, padding=k // 2)
        nn.init.normal_(self.conv2.weight, 0.0, 1e-5)
        self.film = nn.Linear(tdim, 2 * c)

    def forward(self, x, temb):
        g = self.film(temb)
        gain, bias = g[:, : self.c, None, None], g[:, self.c :, None, None]
        h = swish(self.conv1(x))
        h = swish((gain + 1) * self.conv2(h) + bias)
        return x + h


class SudokuEBM(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.fourier = m["fourierDim"]
        self.t1 = nn.Linear(m["fourierDim"], m["timeDim"])
        self.t2 = nn.Linear(m["timeDim"], m["timeDim"])
        c = m["channels"]
        self.stem = nn.Conv2d(18, c, m["stemKernel"], padding=m["stemKernel"] // 2)
        self.blocks = nn.ModuleList([Block(c, m["kernel"], m["timeDim"]) for _ in range(m["blocks"])])
        self.out = nn.Conv2d(c, 9, m["outKernel"], padding=m["outKernel"] // 2)

    def temb(self, t):
        half = self.fourier // 2
        f = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
        a = t[:, None].float() * f[None]
        e = torch.cat([a.sin(), a.cos()], -1)
        return self.t2(F.gelu(self.t1(e), approximate="tanh"))

    def forward(self, inp, y, t):
        b = inp.shape[0]
        x = torch.cat([inp.view(b, 9, 9, 9), y.view(b, 9, 9, 9)], -1).permute(0, 3, 1, 2)
        temb = self.temb(t)
        h = swish(self.stem(x))
        for blk in self.blocks:
            h = blk(h, temb)
        return self.out(h).pow(2).sum(dim=[1, 2, 3])

    def grad(self, inp, y, t, create_graph):
        y = y if y.requires_grad else y.requires_grad_(True)
        e = self(inp, y, t)
        (g,) = torch.autograd.grad(e.sum(), y, create_graph=create_graph)
        return e, g


def schedule(T, s=0.008):
    x = torch.linspace(0, T, T + 1, dtype=torch.float64)
    ac = torch.cos(((x / T) + s) / (1 + s) * math.pi * 0.5) ** 2
    ac = ac / ac[0]
    betas = torch.clip(1 - ac[1:] / ac[:-1], 0, 0.999)
    acp = torch.cumprod(1 - betas, 0)
    return acp.sqrt().float(), (1 - acp).sqrt().float(), (betas * (1 / (1 - acp)).sqrt()).float()


def onehot(d):
    return F.one_hot(d, 9).float() * 2 - 1


def train_step(model, opt, sa, s1m, batch, gen):
    B = batch
    sol = torch.randint(0, 9, (B, 81), generator=gen)
    label = onehot(sol).view(B, 729)
    mask = (torch.rand(B, 81, generator=gen) < 0.45).float().repeat_interleave(9, 1)
    inp = label * mask - (1 - mask)
    t = torch.randint(0, len(sa), (B,), generator=gen)
    a, s = sa[t][:, None], s1m[t][:, None]
    noise = torch.randn(B, 729, generator=gen)
    xt = (a * label + s * noise) * (1 - mask) + mask * a * inp
    _, g = model.grad(inp, xt, t, True)
    out = g * (1 - mask) + mask * noise
    mse = F.mse_loss(out, noise)
    noise2 = torch.randn(B, 729, generator=gen)
    flip = torch.rand(B, 81, generator=gen) < 0.05
    neg = onehot(torch.where(flip, torch.randint(0, 9, (B, 81), generator=gen), sol)).view(B, 729)
    pos = (a * label + s * noise2) * (1 - mask) + mask * a * inp
    ngt = (a * neg + s * noise2) * (1 - mask) + mask * a * inp
    e = model(torch.cat([inp, inp]), torch.cat([pos, ngt]), torch.cat([t, t]))
    con = F.softplus(e[:B] - e[B:]).mean()
    loss = mse + 0.05 * con
    opt.zero_grad()
    loss.backward()
    if opt is not None and not getattr(opt, "grads_only", False):
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return float(loss)


def sample(model, sa, s1m, step, batch, opt_steps, gen):
    B = batch
    sol = torch.randint(0, 9, (B, 81), generator=gen)
    mask = (torch.rand(B, 81, generator=gen) < 0.45).float().repeat_interleave(9, 1)
    inp = onehot(sol).view(B, 729) * mask - (1 - mask)
    y = torch.randn(B, 729, generator=gen)
    T = len(sa)
    for t in range(T - 1, -1, -1):
        tt = torch.full((B,), t)
        cond = mask * sa[t] * inp
        y = y * (1 - mask) + cond
        _, g = model.grad(inp, y.detach(), tt, False)
        x0 = ((y - s1m[t] * g) / sa[t]).clamp(-1, 1)
        y = (sa[t] * x0 * (1 - mask) + cond).detach()
        for _ in range(opt_steps):
            e0, g = model.grad(inp, y.detach(), tt, False)
            y1 = ((y - step[t] * g) * (1 - mask) + cond).clamp(-sa[t], sa[t]).detach()
            with torch.no_grad():
                e1 = model(inp, y1, tt)
            bad = e1 > e0
            y = torch.where(bad[:, None], y, y1).detach()
        y = y.clamp(-sa[t], sa[t])
        if t > 0:
            y = y / sa[t] * sa[t - 1]
    return y


def main():
    spec = json.loads(sys.argv[1])
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    device = spec.get("device", "cpu")
    if device != "cpu":
        torch.set_default_device(device)
    torch.manual_seed(0)
    gen = torch.Generator(device=device).manual_seed(0)
    model = SudokuEBM(spec["model"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    opt.grads_only = bool(spec.get("gradsOnly", False))
    sa, s1m, step = schedule(10)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "device": device}
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    B = spec["trainBatch"]
    train_step(model, opt, sa, s1m, B, gen)
    sync()
    t0 = time.perf_counter()
    for _ in range(spec["trainReps"]):
        train_step(model, opt, sa, s1m, B, gen)
    sync()
    out["trainStepSeconds"] = (time.perf_counter() - t0) / spec["trainReps"]
    SB = spec["sampleBatch"]
    times = {}
    for k in spec["sampleOptSteps"]:
        sync()
        t0 = time.perf_counter()
        sample(model, sa, s1m, step, SB, k, gen)
        sync()
        times[k] = time.perf_counter() - t0
    out["sampleSeconds"] = {str(k): v for k, v in times.items()}
    out["peakRssMb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device != "cpu":
        out["peakGpuMb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
