#!/usr/bin/env python3
"""Data-parallel `wgan run` on 1 and 2 MPI ranks side by side, and what the measured
gradient volume would cost on more ranks (docs/scaling.md).

    python3 bench/scaling.py [--experiment FILE] [--steps N] [--ranks 1,2] [--repeat R]

For each rank count it trains the experiment (same global batch, evaluation and
pictures off) R times and takes the median of summary.json's seconds per generator step
and of its data_parallel entry (the bytes each rank sums, the time in MPI_Allreduce and
in the whole exchange). The projection for 8 and 64 ranks assumes the one-rank step
time divided by K (ideal compute scaling, an upper bound on speed-up: small shards use
the cores worse) plus a ring allreduce of the measured bytes per generator step:
2 (K - 1) / K * bytes at the link's bandwidth, plus 2 (K - 1) latencies per sum."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def train(wgan, experiment, ranks, steps, folder):
    cmd = [wgan, "run", experiment, "--out", folder, "--progress", "quiet", "--device", "cpu",
           "--set", f"train.steps={steps}", "--set", f"train.log_every={steps}",
           "--set", "train.sample_every=0", "--set", f"train.checkpoint_every={steps}",
           "--set", "eval.enabled=false"]
    if ranks > 1:
        cmd = ["mpirun", "--oversubscribe", "-n", str(ranks)] + cmd
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run(cmd, check=True, env=env)
    with open(os.path.join(folder, "summary.json")) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default=os.path.join(ROOT, "experiments/wgan-gp-8gaussians.yaml"))
    p.add_argument("--wgan", default=os.path.join(ROOT, "build/wgan"))
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--ranks", default="1,2")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--bandwidth-gbit", type=float, default=100.0)
    p.add_argument("--latency-us", type=float, default=2.0)
    a = p.parse_args()
    if shutil.which("mpirun") is None:
        sys.exit("bench/scaling.py: no mpirun on PATH (apt-get install openmpi-bin)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in [int(x) for x in a.ranks.split(",")]:
            ms, share, exch, volume, sums = [], [], [], 0, 0
            for r in range(a.repeat):  # alternate nothing: one rank count at a time, medians
                s = train(a.wgan, a.experiment, k, a.steps, os.path.join(tmp, f"k{k}-{r}"))
                step = s["seconds_per_generator_step"]
                ms.append(1000 * step)
                dp = s.get("data_parallel")
                if dp:
                    total = step * s["generator_steps"]
                    share.append(dp["allreduce_seconds"] / total)
                    exch.append(dp["exchange_seconds"] / total)
                    volume = dp["allreduce_bytes_per_generator_step"]
                    sums = dp["allreduce_calls"] / s["generator_steps"]
            rows.append((k, statistics.median(ms), max(ms), statistics.median(share) if share else 0,
                         statistics.median(exch) if exch else 0, volume, sums))
    print(f"{os.path.basename(a.experiment)}, {a.steps} generator steps, median of {a.repeat}")
    print("| ranks | ms / step (worst) | steps / s | allreduce share | exchange share | bytes summed / step |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for k, m, worst, sh, ex, vol, _ in rows:
        print(f"| {k} | {m:.1f} ({worst:.1f}) | {1000 / m:.2f} | {100 * sh:.1f}% | {100 * ex:.1f}% | {vol:.0f} |")
    one = rows[0][1]
    vol = next((r[5] for r in rows if r[5]), 0)
    sums = next((r[6] for r in rows if r[6]), 0)
    if not vol:
        return
    bw = a.bandwidth_gbit * 1e9 / 8
    print(f"\nprojection at {a.bandwidth_gbit:g} Gb/s, {a.latency_us:g} us latency, "
          f"{vol / 1e6:.2f} MB in {sums:.0f} sums per generator step:")
    print("| ranks | compute ms (one rank / K) | allreduce ms | step ms | speed-up |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for k in (2, 8, 64):
        comm = 1000 * (2 * (k - 1) / k * vol / bw + sums * 2 * (k - 1) * a.latency_us * 1e-6)
        step = one / k + comm
        print(f"| {k} | {one / k:.2f} | {comm:.2f} | {step:.2f} | {one / step:.1f}x |")


if __name__ == "__main__":
    main()
