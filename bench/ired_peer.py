"""PyTorch peer of bench/ired.ts: the same SudokuEBM, loss, batch and sampling loop on the CPU.

Usage: /usr/bin/python3 bench/ired_peer.py '<json spec>'  -> prints one JSON line of timings.
With "mode": "curve" in the spec: trains the CPU default on the puzzles of a CSV for a wall-time
budget, snapshots the EMA weights every few seconds and scores each snapshot on held-out puzzles
(see curve_main) -> one JSON line with the learning curve (bench/ired_curve.ts).
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


def reverse(model, sa, s1m, step, inp, mask, y, opt_steps):
    """The reverse process of @x/ired's sampleBoards from y (deterministic), conditioned on the
    givens (inp, mask): per landscape a denoising step, then opt_steps energy-descent steps kept
    only where they lower the energy."""
    B = inp.shape[0]
    for t in range(len(sa) - 1, -1, -1):
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
            y = torch.where((e1 > e0)[:, None], y, y1).detach()
        y = y.clamp(-sa[t], sa[t])
        if t > 0:
            y = y / sa[t] * sa[t - 1]
    return y


def sample(model, sa, s1m, step, batch, opt_steps, gen):
    B = batch
    sol = torch.randint(0, 9, (B, 81), generator=gen)
    mask = (torch.rand(B, 81, generator=gen) < 0.45).float().repeat_interleave(9, 1)
    inp = onehot(sol).view(B, 729) * mask - (1 - mask)
    y = torch.randn(B, 729, generator=gen)
    return reverse(model, sa, s1m, step, inp, mask, y, opt_steps)


def read_csv(path):
    """RRN CSV (quiz,solution; 81 digits each, 0 = blank) -> (quiz digits, solution digits) int64 (N, 81)."""
    quiz, sol = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            q, s = line.split(",")
            quiz.append([int(c) for c in q])
            sol.append([int(c) for c in s])
    return torch.tensor(quiz, dtype=torch.long), torch.tensor(sol, dtype=torch.long)


def encode(quiz, sol):
    """±1 encodings as in @x/ired: label (solution one-hot), inp (givens one-hot, blanks all -1), mask."""
    B = quiz.shape[0]
    label = onehot(sol - 1).view(B, 729)
    given = (quiz > 0).float().repeat_interleave(9, 1)
    inp = label * given - (1 - given)
    return label, inp, given


def curve_step(model, opt, sa, s1m, quiz, sol, spec, gen):
    """One training step of the IRED loss on real puzzles (denoising MSE on the gradient + w * contrastive)."""
    B = quiz.shape[0]
    label, inp, mask = encode(quiz, sol)
    t = torch.randint(0, len(sa), (B,), generator=gen)
    a, s = sa[t][:, None], s1m[t][:, None]
    noise = torch.randn(B, 729, generator=gen)
    xt = (a * label + s * noise) * (1 - mask) + mask * a * inp
    _, g = model.grad(inp, xt, t, True)
    out = g * (1 - mask) + mask * noise
    mse = F.mse_loss(out, noise)
    noise2 = torch.randn(B, 729, generator=gen)
    flip = torch.rand(B, 81, generator=gen) < spec["negativeCorruption"]
    digits = sol - 1
    neg = onehot(torch.where(flip, torch.randint(0, 9, (B, 81), generator=gen), digits)).view(B, 729)
    pos = (a * label + s * noise2) * (1 - mask) + mask * a * inp
    ngt = (a * neg + s * noise2) * (1 - mask) + mask * a * inp
    e = model(torch.cat([inp, inp]), torch.cat([pos, ngt]), torch.cat([t, t]))
    con = F.softplus(e[:B] - e[B:]).mean()
    loss = mse + spec["contrastiveWeight"] * con
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), spec["train"]["clipNorm"])
    opt.step()
    return float(loss)


def solve(model, sa, s1m, step, quiz, opt_steps, gen):
    """The reverse process of @x/ired's sampleBoards (deterministic after the initial draw) -> digits."""
    B = quiz.shape[0]
    _, inp, mask = encode(quiz, torch.where(quiz > 0, quiz, torch.ones_like(quiz)))
    y = torch.randn(B, 729, generator=gen)
    y = reverse(model, sa, s1m, step, inp, mask, y, opt_steps)
    return y.view(B, 81, 9).argmax(-1) + 1


def score(pred, quiz, sol):
    blank = quiz == 0
    correct = (pred == sol) & blank
    exact = (pred == sol).all(dim=1)
    return int(correct.sum()), int(blank.sum()), int(exact.sum())


class PoolTrainer:
    """The IRED training loop of curve and train modes: model, Adam, EMA (as @x/ired's trainer),
    batches drawn from a seeded permutation of the puzzle pool per epoch."""

    def __init__(self, model_cfg, train_cfg, loss_spec, landscapes, seed, quiz, sol, threads):
        import copy

        torch.set_num_threads(int(threads))
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.model = SudokuEBM(model_cfg)
        self.tr = train_cfg
        self.opt = torch.optim.Adam(self.model.parameters(), lr=train_cfg["learningRate"],
                                    betas=(train_cfg["beta1"], train_cfg["beta2"]))
        self.ema = copy.deepcopy(self.model)
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.sa, self.s1m, self.step_size = schedule(landscapes)
        self.loss_spec = loss_spec
        self.quiz, self.sol = quiz, sol
        self.order = torch.randperm(len(quiz), generator=self.gen)
        self.cursor = 0
        self.n = 0

    def step(self):
        B = self.tr["batchSize"]
        if self.cursor + B > len(self.quiz):
            self.order = torch.randperm(len(self.quiz), generator=self.gen)
            self.cursor = 0
        idx = self.order[self.cursor:self.cursor + B]
        self.cursor += B
        curve_step(self.model, self.opt, self.sa, self.s1m, self.quiz[idx], self.sol[idx], self.loss_spec,
                   self.gen)
        self.n += 1
        ev = self.tr["ema"]
        if self.n % ev["every"] == 0:
            with torch.no_grad():
                if self.n <= ev["startAfter"]:
                    self.ema.load_state_dict(self.model.state_dict())
                else:
                    for pe, pm in zip(self.ema.parameters(), self.model.parameters()):
                        pe.mul_(ev["decay"]).add_(pm, alpha=1 - ev["decay"])


def curve_main(spec):
    """Trains for spec["seconds"] of wall time; snapshots EMA weights every spec["every"] seconds."""
    quiz, sol = read_csv(spec["trainCsv"])
    t = PoolTrainer(spec["model"], spec["train"], spec, spec["landscapes"], spec["seed"], quiz, sol,
                    spec.get("threads", 1))
    hq, hs = read_csv(spec["heldoutCsv"])
    snaps = []
    w0 = time.perf_counter()
    c0 = time.process_time()
    next_snap = 0.0
    while True:
        wall = time.perf_counter() - w0
        if wall >= next_snap or wall >= spec["seconds"]:
            snaps.append({"wall": wall, "cpu": time.process_time() - c0, "step": t.n,
                          "ema": {k: v.clone() for k, v in t.ema.state_dict().items()}})
            next_snap += spec["every"]
            print(f"torch: step {t.n}, {wall:.0f} s", file=sys.stderr, flush=True)
        if wall >= spec["seconds"]:
            break
        t.step()
    ema = t.ema
    out = []
    for snap in snaps:
        ema.load_state_dict(snap["ema"])
        egen = torch.Generator().manual_seed(spec["seed"] + 1)
        c = b = x = 0
        for i in range(0, len(hq), 50):
            pred = solve(ema, t.sa, t.s1m, t.step_size, hq[i:i + 50], spec["optSteps"], egen)
            cc, bb, xx = score(pred, hq[i:i + 50], hs[i:i + 50])
            c, b, x = c + cc, b + bb, x + xx
        out.append({"wall": snap["wall"], "cpu": snap["cpu"], "step": snap["step"],
                    "blankCellAccuracy": c / b, "boardAccuracy": x / len(hq)})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "params": sum(p.numel() for p in t.model.parameters()), "snapshots": out,
                      "trainPuzzles": len(quiz), "heldout": len(hq)}))


# Our parameter names and layouts (@x/ired parameterShapes): dense weights [in, out] (torch [out, in]),
# conv kernels [kh, kw, in, out] (torch [out, in, kh, kw]); the channel order of the 18-channel input
# (9 givens, then 9 of y) and of FiLM's (gain, bias) halves is the same in both.
def name_map(blocks):
    """(torch name, our name, kind) for every parameter: kind "w" a dense weight (transposed),
    "k" a conv kernel (axes permuted), "b" as it is."""
    m = [("t1.weight", "time/fc1/w", "w"), ("t1.bias", "time/fc1/b", "b"),
         ("t2.weight", "time/fc2/w", "w"), ("t2.bias", "time/fc2/b", "b")]
    for n in ("stem", "out"):
        m += [(f"{n}.weight", f"{n}/kernel", "k"), (f"{n}.bias", f"{n}/bias", "b")]
    for i in range(blocks):
        for c in ("conv1", "conv2"):
            m += [(f"blocks.{i}.{c}.weight", f"block{i}/{c}/kernel", "k"),
                  (f"blocks.{i}.{c}.bias", f"block{i}/{c}/bias", "b")]
        m += [(f"blocks.{i}.film.weight", f"block{i}/film/w", "w"),
              (f"blocks.{i}.film.bias", f"block{i}/film/b", "b")]
    return m


# torch [out, in] -> ours [in, out]; torch [out, in, kh, kw] -> ours [kh, kw, in, out]; and back.
TO_OURS = {"w": lambda t: t.t(), "k": lambda t: t.permute(2, 3, 1, 0), "b": lambda t: t}
FROM_OURS = {"w": lambda t: t.t(), "k": lambda t: t.permute(3, 2, 0, 1), "b": lambda t: t}


def to_ours(model):
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    return {ours: TO_OURS[kind](sd[theirs]) for theirs, ours, kind in name_map(len(model.blocks))}


def from_ours(model, tensors):
    """Inverse of to_ours: loads weights given in our names and layouts into a torch SudokuEBM."""
    model.load_state_dict({theirs: FROM_OURS[kind](tensors[ours]).contiguous()
                           for theirs, ours, kind in name_map(len(model.blocks))})


def write_weights(directory, meta, tensors):
    """Writes the bench cache format of bench/ired_ttc.ts (meta.json + ema.f32), meta.json last."""
    import os

    os.makedirs(directory, exist_ok=True)
    entries, chunks, offset = [], [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        entries.append({"name": name, "shape": list(t.shape), "offset": offset, "length": t.numel()})
        chunks.append(t.reshape(-1).numpy().astype("<f4").tobytes())
        offset += t.numel()
    for fname, data in (("ema.f32", b"".join(chunks)),
                        ("meta.json", (json.dumps({**meta, "tensors": entries}, indent=1) + "\n").encode())):
        with open(os.path.join(directory, fname + ".tmp"), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(os.path.join(directory, fname + ".tmp"), os.path.join(directory, fname))


def read_weights(directory):
    import numpy as np
    import os

    with open(os.path.join(directory, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    flat = torch.from_numpy(np.fromfile(os.path.join(directory, "ema.f32"), dtype="<f4"))
    return meta, {t["name"]: flat[t["offset"]:t["offset"] + t["length"]].view(*t["shape"]) for t in meta["tensors"]}


def train_main(spec):
    """Trains the model for spec["seconds"] of wall time (or spec["steps"] steps) on the puzzles of
    spec["trainCsv"]; every spec["every"] seconds and at the end writes the EMA weights in our names
    and layouts to spec["outDir"]/step-<n>/ (the bench cache format) and scores them on
    spec["heldoutCsv"] with 0 opt steps (progress on stderr). Prints the last directory as JSON."""
    import os

    cfg = spec["config"]
    loss_spec = {"negativeCorruption": cfg["diffusion"]["negativeCorruption"],
                 "contrastiveWeight": cfg["diffusion"]["contrastiveWeight"], "train": cfg["train"]}
    quiz, sol = read_csv(spec["trainCsv"])
    t = PoolTrainer(cfg["model"], cfg["train"], loss_spec, cfg["diffusion"]["landscapes"], spec["seed"],
                    quiz, sol, spec.get("threads", 1))
    hq, hs = read_csv(spec["heldoutCsv"])
    max_steps = spec.get("steps") or float("inf")
    w0, c0 = time.perf_counter(), time.process_time()
    load0 = os.getloadavg()[0]
    next_snap = spec["every"]

    def snapshot():
        wall = time.perf_counter() - w0
        meta = {"key": f"torch-seed{spec['seed']}-step{t.n}", "seed": spec["seed"], "steps": t.n,
                "config": cfg, "wallSeconds": wall, "cpuSeconds": time.process_time() - c0,
                "loadAtStart": load0, "loadAtEnd": os.getloadavg()[0],
                "trainer": f"pytorch {torch.__version__} ({torch.get_num_threads()} threads)",
                "trainPuzzles": len(quiz)}
        d = os.path.join(spec["outDir"], f"step-{t.n}")
        # The trained model's own energies on fixed inputs: whoever loads the weights can check
        # that it computes the same function (layouts and all).
        cgen = torch.Generator().manual_seed(12345)
        _, inp, _ = encode(hq[:4], torch.where(hq[:4] > 0, hq[:4], torch.ones_like(hq[:4])))
        y = torch.randn(inp.shape[0], 729, generator=cgen)
        tt = torch.arange(inp.shape[0]) * 3 % len(t.sa)
        with torch.no_grad():
            e = t.ema(inp, y, tt)
        meta["check"] = {"inp": inp.tolist(), "y": y.tolist(), "t": tt.tolist(), "energy": e.tolist()}
        write_weights(d, meta, to_ours(t.ema))
        egen = torch.Generator().manual_seed(spec["seed"] + 1)
        pred = solve(t.ema, t.sa, t.s1m, t.step_size, hq, 0, egen)
        c, b, x = score(pred, hq, hs)
        print(f"torch: step {t.n}, {wall:.0f} s, held-out blank-cell {c / b:.3f}, boards {x}/{len(hq)} -> {d}",
              file=sys.stderr, flush=True)
        return d

    while True:
        wall = time.perf_counter() - w0
        if wall >= spec["seconds"] or t.n >= max_steps:
            break
        if wall >= next_snap:
            snapshot()
            next_snap += spec["every"]
        t.step()
    print(json.dumps({"dir": snapshot(), "steps": t.n}))


def energy_main(spec):
    """Energies E(inp, y, t) of the weights in spec["weightsDir"] (loaded through from_ours) on the
    boards given in the spec (lists of 729 floats): the check for weights written before train
    mode recorded the trained model's own energies ("check" in meta.json)."""
    meta, tensors = read_weights(spec["weightsDir"])
    model = SudokuEBM(meta["config"]["model"])
    from_ours(model, tensors)
    with torch.no_grad():
        e = model(torch.tensor(spec["inp"]), torch.tensor(spec["y"]), torch.tensor(spec["t"]))
    print(json.dumps({"energy": e.tolist()}))


def main():
    spec = json.loads(sys.argv[1])
    if spec.get("mode") == "curve":
        curve_main(spec)
        return
    if spec.get("mode") == "train":
        train_main(spec)
        return
    if spec.get("mode") == "energy":
        energy_main(spec)
        return
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
