#!/usr/bin/env python3
"""The wgan benchmark cases in PyTorch, for `compare.py`.

Same networks, batch sizes, optimizers and step structure as experiments/*.yaml:

  8gaussians-{clip,gp,sn}     the WGAN-GP toy MLPs 2-512-512-512-{2,1}, batch 256
  fashion-mnist-{clip,gp,sn}  the WGAN-GP MNIST model (DIM 64), batch 50

One generator step = n_critic (5) critic updates, each on a new real batch (weight
clipping after each), then one generator update. Critic steps draw G(z) without
building its graph (torch.no_grad), the generator step freezes the critic's
parameters: the work wgan's step graphs do, written as a PyTorch user would.

Prints one JSON object per case on stdout: ms per generator step (median, min, max
over repeats), threads, peak RSS of the process (getrusage, KiB) and, on a GPU, the
peak memory PyTorch allocated there.

    /usr/bin/python3 torch_wgan.py --case 8gaussians-gp --threads 2 --steps 20
    python3 torch_wgan.py --device cuda --case fashion-mnist-gp
"""
import argparse
import gzip
import json
import math
import os
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as error:  # the comparison is optional: say so and stop
    print(
        "torch_wgan.py: PyTorch is not installed for %s (%s); on Debian: apt install "
        "python3-torch, then run this with /usr/bin/python3" % (sys.executable, error),
        file=sys.stderr,
    )
    sys.exit(3)

CASES = [
    "8gaussians-clip",
    "8gaussians-gp",
    "8gaussians-sn",
    "fashion-mnist-clip",
    "fashion-mnist-gp",
    "fashion-mnist-sn",
]
FASHION_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


# ---- networks ----


def toy_mlp(inputs, outputs, sn):
    wrap = nn.utils.spectral_norm if sn else (lambda m: m)
    layers, width = [], inputs
    for _ in range(3):
        layers += [wrap(nn.Linear(width, 512)), nn.ReLU()]
        width = 512
    layers.append(wrap(nn.Linear(width, outputs)))
    return nn.Sequential(*layers)


class MnistGenerator(nn.Module):
    """WGAN-GP's MNIST generator; ends in tanh as wgan's (data in [-1, 1])."""

    def __init__(self, dim=64, noise=128):
        super().__init__()
        self.dim = dim
        self.fc = nn.Linear(noise, 4 * 4 * 4 * dim)
        self.deconv1 = nn.ConvTranspose2d(4 * dim, 2 * dim, 5, 2, 2, output_padding=1)
        self.deconv2 = nn.ConvTranspose2d(2 * dim, dim, 5, 2, 2, output_padding=1)
        self.deconv3 = nn.ConvTranspose2d(dim, 1, 5, 2, 2, output_padding=1)

    def forward(self, z):
        x = torch.relu(self.fc(z)).view(-1, 4 * self.dim, 4, 4)
        x = torch.relu(self.deconv1(x))[:, :, :7, :7]
        x = torch.relu(self.deconv2(x))
        return torch.tanh(self.deconv3(x))


def mnist_critic(dim, sn):
    wrap = nn.utils.spectral_norm if sn else (lambda m: m)
    return nn.Sequential(
        wrap(nn.Conv2d(1, dim, 5, 2, 2)),
        nn.LeakyReLU(0.2),
        wrap(nn.Conv2d(dim, 2 * dim, 5, 2, 2)),
        nn.LeakyReLU(0.2),
        wrap(nn.Conv2d(2 * dim, 4 * dim, 5, 2, 2)),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        wrap(nn.Linear(4 * 4 * 4 * dim, 1)),
    )


# ---- data: batches made on the fly, as wgan's data plugins do ----


class EightGaussians:
    def __init__(self, batch, device):
        angles = torch.arange(8, dtype=torch.float32) * (math.pi / 4)
        self.centers = 2 * torch.stack([torch.cos(angles), torch.sin(angles)], 1).to(device)
        self.batch, self.device = batch, device

    def __call__(self):
        pick = torch.randint(0, 8, (self.batch,), device=self.device)
        noise = torch.randn(self.batch, 2, device=self.device)
        return (self.centers[pick] + 0.02 * noise) / 1.414


class Images:
    """Fashion-MNIST training images in [-1, 1], or random images of that shape."""

    def __init__(self, batch, random_data, device):
        self.batch = batch
        if random_data or not os.path.exists(FASHION_MNIST):
            if not random_data:
                print("torch_wgan.py: %s not found, using random images" % FASHION_MNIST,
                      file=sys.stderr)
            self.images = torch.rand(60000, 1, 28, 28) * 2 - 1
        else:
            with gzip.open(FASHION_MNIST, "rb") as f:
                raw = f.read()
            count = int.from_bytes(raw[4:8], "big")
            pixels = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8)
            self.images = pixels.view(count, 1, 28, 28).float() / 127.5 - 1
        self.images = self.images.to(device)
        self.at = 0

    def __call__(self):
        if self.at + self.batch > len(self.images):
            self.at = 0
        x = self.images[self.at : self.at + self.batch]
        self.at += self.batch
        return x


# ---- one case ----


class Case:
    def __init__(self, name, random_data, foreach, device):
        data, method = name.rsplit("-", 1)
        self.device = device
        self.method = method
        sn = method == "sn"
        if data == "8gaussians":
            self.batch, self.noise_dim, self.lam = 256, 2, 0.1
            self.G, self.D = toy_mlp(2, 2, False), toy_mlp(2, 1, sn)
            self.data = EightGaussians(self.batch, device)
        else:
            self.batch, self.noise_dim, self.lam = 50, 128, 10.0
            self.G, self.D = MnistGenerator(), mnist_critic(64, sn)
            self.data = Images(self.batch, random_data, device)
        self.G, self.D = self.G.to(device), self.D.to(device)
        self.n_critic = 5
        if method == "clip":
            make = lambda p: torch.optim.RMSprop(p, lr=5e-5, foreach=foreach)
        else:
            make = lambda p: torch.optim.Adam(p, lr=1e-4, betas=(0.5, 0.9), foreach=foreach)
        self.optD, self.optG = make(self.D.parameters()), make(self.G.parameters())
        self.d_params = list(self.D.parameters())

    def gradient_penalty(self, real, fake):
        shape = [real.shape[0]] + [1] * (real.dim() - 1)
        e = torch.rand(shape, device=self.device)
        x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(x_hat).sum(), x_hat, create_graph=True)
        norm = torch.sqrt(grad.pow(2).flatten(1).sum(1) + 1e-12)
        return self.lam * ((norm - 1) ** 2).mean()

    def noise(self):
        return torch.randn(self.batch, self.noise_dim, device=self.device)

    def critic_step(self):
        real = self.data()
        with torch.no_grad():
            fake = self.G(self.noise())
        loss = self.D(fake).mean() - self.D(real).mean()
        if self.method == "gp":
            loss = loss + self.gradient_penalty(real, fake)
        self.optD.zero_grad(set_to_none=True)
        loss.backward()
        self.optD.step()
        if self.method == "clip":
            with torch.no_grad():
                for p in self.d_params:
                    p.clamp_(-0.01, 0.01)

    def generator_step(self):
        for p in self.d_params:
            p.requires_grad_(False)
        loss = -self.D(self.G(self.noise())).mean()
        self.optG.zero_grad(set_to_none=True)
        loss.backward()
        self.optG.step()
        for p in self.d_params:
            p.requires_grad_(True)

    def step(self):
        for _ in range(self.n_critic):
            self.critic_step()
        self.generator_step()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", choices=CASES, help="repeatable; default all")
    ap.add_argument("--steps", type=int, default=10, help="generator steps per repeat")
    ap.add_argument("--warmup", type=int, default=3, help="untimed generator steps first")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--interop-threads", type=int, default=1)
    ap.add_argument("--foreach", type=int, choices=[0, 1], default=None,
                    help="optimizer foreach implementation (default: PyTorch's choice)")
    ap.add_argument("--random-data", action="store_true",
                    help="random images instead of Fashion-MNIST")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_wgan.py: this PyTorch has no usable CUDA device")
    # GPU work is asynchronous: wait for it before reading the clock
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.interop_threads)
    torch.manual_seed(args.seed)
    foreach = None if args.foreach is None else bool(args.foreach)
    for name in args.case or CASES:
        case = Case(name, args.random_data, foreach, device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(args.warmup):
            case.step()
        times = []
        for _ in range(args.repeat):
            sync()
            start = time.perf_counter()
            for _ in range(args.steps):
                case.step()
            sync()
            times.append((time.perf_counter() - start) * 1e3 / args.steps)
        gpu_peak = (torch.cuda.max_memory_allocated(device) / 1024
                    if device.type == "cuda" else None)
        print(json.dumps({
            "case": name,
            "ms_median": statistics.median(times),
            "ms_min": min(times),
            "ms_max": max(times),
            "threads": args.threads,
            "interop_threads": args.interop_threads,
            "foreach": args.foreach,
            "torch": torch.__version__,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "device": args.device,
            "gpu_peak_kib": gpu_peak,
        }), flush=True)


if __name__ == "__main__":
    main()
