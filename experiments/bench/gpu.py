#!/usr/bin/env python3
"""The GPU comparison in one command: wgan's OpenCL backend against PyTorch CUDA on the
six cases, the kernel calls per step with and without fusion, and the first logged
losses of each case on the GPU set against the cpu backend's with the same seed.

    experiments/bench/gpu.py --out gpu-results        # on a machine with an NVIDIA GPU
    experiments/bench/gpu.py --device opencl --torch-device cpu --quick   # a dry run on PoCL
    experiments/bench/gpu.py --device opencl --losses-only --case 8gaussians-gp

Steps, each written under --out:
  1. OpenCL setup: when no OpenCL GPU is listed by `wgan devices` and NVIDIA's driver
     library (libnvidia-opencl.so.1) is on the loader's path or in a usual folder, an
     ICD file naming it is written and OCL_ICD_VENDORS points at it for every later
     step (docs/portability.md: no package needs installing).
  2. compare.jsonl / compare.txt: experiments/bench/compare.py --device <device>
     --torch-device <torch device>, PyTorch at one intra-op thread (the GPU does the
     work).
  3. fusion.txt: bench/fusion.py on the device: ms and kernel calls per generator step
     with fusion off and on.
  4. losses.csv / losses.txt: `wgan run` of each case for --loss-steps generator steps,
     logging every step (evaluation off), on the device and on the cpu, same seed; per
     case and loss column the largest difference relative to the column's scale.

Needs the standard library only; PyTorch is run by compare.py (its --python).
"""
import argparse
import csv
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from compare import CASES  # noqa: E402  (the same six cases)

LOSS_COLUMNS = ("critic_loss", "generator_loss", "w_estimate", "penalty")
NVIDIA_LIBRARY = "libnvidia-opencl.so.1"
NVIDIA_FOLDERS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64",
                  "/usr/local/cuda/lib64")


def log(*parts):
    print(*parts, flush=True)


def run(command, env, out_path=None, check=True):
    log("$ " + " ".join(command))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    text = done.stdout + (("\n" + done.stderr) if done.stderr.strip() else "")
    if out_path:
        with open(out_path, "w") as f:
            f.write(text)
    if check and done.returncode != 0:
        sys.exit("gpu.py: %s failed (exit %d):\n%s" % (command[0], done.returncode,
                                                         text[-3000:]))
    return done


def find_nvidia_library():
    try:
        listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            if NVIDIA_LIBRARY in line and "=>" in line:
                return line.split("=>")[1].strip()
    except OSError:
        pass
    for folder in NVIDIA_FOLDERS + tuple(os.environ.get("LD_LIBRARY_PATH", "").split(":")):
        path = os.path.join(folder, NVIDIA_LIBRARY) if folder else ""
        if path and os.path.exists(path):
            return path
    return None


def opencl_setup(wgan, env, out):
    """Points OCL_ICD_VENDORS at an ICD file for NVIDIA's driver when no GPU is listed."""
    listing = run([wgan, "devices"], env, os.path.join(out, "devices.txt"), check=False).stdout
    if "GPU" in listing or env.get("OCL_ICD_VENDORS"):
        return env
    library = find_nvidia_library()
    if not library:
        log("no OpenCL GPU listed and no %s found: the OpenCL runs use what is listed"
            % NVIDIA_LIBRARY)
        return env
    vendors = tempfile.mkdtemp(prefix="wgan-icd-")
    with open(os.path.join(vendors, "nvidia.icd"), "w") as f:
        f.write(library + "\n")
    env = dict(env, OCL_ICD_VENDORS=vendors)
    log("OCL_ICD_VENDORS=%s (nvidia.icd: %s)" % (vendors, library))
    run([wgan, "devices"], env, os.path.join(out, "devices.txt"), check=False)
    return env


def read_losses(folder):
    with open(os.path.join(folder, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    return [{c: float(r[c]) for c in LOSS_COLUMNS if r.get(c) not in (None, "")} for r in rows]


def loss_record(args, env, cases):
    rows, summary = [], []
    for case in cases:
        experiment = os.path.join(ROOT, CASES[case][0])
        runs = {}
        for device in (args.device, "cpu"):
            folder = os.path.join(args.out, "runs", "%s-%s" % (case, device.replace(":", "")))
            shutil.rmtree(folder, ignore_errors=True)
            run([args.wgan, "run", experiment, "--device", device, "--out", folder,
                 "--progress", "quiet", "--set", "train.steps=%d" % args.loss_steps,
                 "--set", "train.log_every=1", "--set", "train.sample_every=%d" % args.loss_steps,
                 "--set", "train.checkpoint_every=%d" % args.loss_steps,
                 "--set", "eval.enabled=false"], env)
            runs[device] = read_losses(folder)
        gpu, cpu = runs[args.device], runs["cpu"]
        for column in LOSS_COLUMNS:
            pairs = [(g[column], c[column]) for g, c in zip(gpu, cpu) if column in g and column in c]
            if not pairs:
                continue
            scale = max(max(abs(c) for _, c in pairs), 1e-12)
            worst = max(abs(g - c) for g, c in pairs) / scale
            first_off = next((i + 1 for i, (g, c) in enumerate(pairs)
                              if abs(g - c) > 1e-3 * scale), None)
            summary.append((case, column, len(pairs), worst, first_off))
            for step, (g, c) in enumerate(pairs, 1):
                rows.append((case, step, column, g, c))
    with open(os.path.join(args.out, "losses.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "step", "column", args.device, "cpu"])
        w.writerows(rows)
    lines = ["first %d logged steps, %s against cpu, same seed; difference relative to the "
             "column's largest |cpu value|" % (args.loss_steps, args.device),
             "%-20s %-16s %6s %12s %s" % ("case", "column", "steps", "worst", "first step off by 1e-3")]
    for case, column, n, worst, first_off in summary:
        lines.append("%-20s %-16s %6d %12.3g %s" % (case, column, n, worst,
                                                   first_off if first_off else "none"))
    with open(os.path.join(args.out, "losses.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    log("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wgan", default=os.environ.get("WGAN", os.path.join(ROOT, "build", "wgan")))
    ap.add_argument("--python", help="a Python interpreter with torch (compare.py's --python)")
    ap.add_argument("--device", default="opencl", help="wgan's device (default opencl)")
    ap.add_argument("--torch-device", default="cuda")
    ap.add_argument("--out", default="gpu-results")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loss-steps", type=int, default=100)
    ap.add_argument("--case", action="append", choices=list(CASES))
    ap.add_argument("--losses-only", action="store_true",
                    help="only step 4, the loss record (no timing)")
    ap.add_argument("--quick", action="store_true",
                    help="a dry run: 8 gaussians only, 1 round, 5 loss steps, scaled-down timing")
    args = ap.parse_args()
    cases = args.case or list(CASES)
    if args.quick:
        cases = [c for c in cases if c.startswith("8gaussians")]
        args.rounds, args.loss_steps = 1, 5
    os.makedirs(args.out, exist_ok=True)
    env = opencl_setup(args.wgan, dict(os.environ), args.out)

    if args.losses_only:
        loss_record(args, env, cases)
        return
    compare = [sys.executable, os.path.join(HERE, "compare.py"), "--wgan", args.wgan,
               "--device", args.device, "--torch-device", args.torch_device,
               "--torch-configs", "1:1:-", "--rounds", str(args.rounds),
               "--out", os.path.join(args.out, "compare.jsonl")]
    if args.python:
        compare += ["--python", args.python]
    if args.quick:
        compare += ["--scale", "0.3"]
    for case in cases:
        compare += ["--case", case]
    for f in glob.glob(os.path.join(args.out, "compare.jsonl")):
        os.remove(f)
    log(run(compare, env, os.path.join(args.out, "compare.txt")).stdout)

    fusion = [sys.executable, os.path.join(ROOT, "bench", "fusion.py"), "--wgan", args.wgan,
              "--device", args.device, "--rounds", "1", "--repeat", "1" if args.quick else "3"]
    for case in cases:
        fusion += ["--case", case]
    log(run(fusion, env, os.path.join(args.out, "fusion.txt")).stdout)

    loss_record(args, env, cases)
    log("written: %s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
