#!/usr/bin/env python3
"""What fusion of element-wise chains removes: each case timed by `wgan bench` with
fusion off (WGAN_FUSE=0) and on, alternately, in the same rounds.

    bench/fusion.py                                  # the six cases on the cpu, 3 rounds
    bench/fusion.py --device opencl --rounds 5
    bench/fusion.py --case 8gaussians-gp --steps 10

Prints per case and setting the median ms per generator step over the rounds (each
round's figure is wgan bench's median of its repeats), the kernel calls per generator
step and the plans' memory, then the ratios unfused / fused. Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

sys.path.insert(0, os.path.join(ROOT, "experiments", "bench"))
from compare import CASES  # noqa: E402  (case -> experiment, steps per repeat, warm-up)


def bench(wgan, case, fuse, args):
    experiment, steps, warmup = CASES[case]
    command = [wgan, "bench", os.path.join(ROOT, experiment), "--json", "--repeat",
               str(args.repeat), "--steps", str(args.steps or steps), "--warmup", str(warmup),
               "--device", args.device]
    env = dict(os.environ, WGAN_FUSE="1" if fuse else "0")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("fusion.py: %s failed (%d): %s" % (" ".join(command), done.returncode,
                                                     done.stderr.strip()))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wgan", default=os.path.join(ROOT, "build", "wgan"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=0, help="generator steps per repeat")
    parser.add_argument("--case", action="append", choices=sorted(CASES),
                        help="a case to run (repeatable; default all)")
    args = parser.parse_args()
    cases = args.case or list(CASES)
    results = {(c, f): [] for c in cases for f in (0, 1)}
    for r in range(args.rounds):
        for case in cases:
            for fuse in ((0, 1) if r % 2 == 0 else (1, 0)):
                results[(case, fuse)].append(bench(args.wgan, case, fuse, args))
                print("round %d/%d %-20s fusion %-3s %8.2f ms" % (
                    r + 1, args.rounds, case, "on" if fuse else "off",
                    results[(case, fuse)][-1]["ms_median"]), file=sys.stderr)
    device = results[(cases[0], 1)][0]["device"]
    print("device: %s; %d rounds, medians over the rounds" % (device, args.rounds))
    print("%-20s %12s %12s %7s %9s %9s %7s %10s %10s" % (
        "case", "off ms", "on ms", "ratio", "calls off", "calls on", "ratio",
        "MiB off", "MiB on"))
    for case in cases:
        off, on = results[(case, 0)], results[(case, 1)]
        ms_off = statistics.median(x["ms_median"] for x in off)
        ms_on = statistics.median(x["ms_median"] for x in on)
        calls_off, calls_on = off[0]["kernel_calls"], on[0]["kernel_calls"]
        mib = 1024.0 * 1024.0
        print("%-20s %12.2f %12.2f %7.3f %9d %9d %7.2f %10.1f %10.1f" % (
            case, ms_off, ms_on, ms_off / ms_on, calls_off, calls_on, calls_off / calls_on,
            off[0]["plan_bytes"] / mib, on[0]["plan_bytes"] / mib))


if __name__ == "__main__":
    main()
