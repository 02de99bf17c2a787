#!/usr/bin/env python3
"""wgan against PyTorch on the same cases, run side by side.

Each round runs, for every case, `wgan bench` and then torch_wgan.py under every
PyTorch configuration (intra-op threads, inter-op threads, OpenBLAS threads), each in
its own process, so that a busy machine slows both alike and each process's peak RSS
is its own. The PyTorch configuration of a case is the one with the lowest median over
the rounds; the ratio of a case is the median over the rounds of
(PyTorch time / wgan time) with that configuration: above 1, wgan is faster.

    experiments/bench/compare.py                      # all cases, 3 rounds
    experiments/bench/compare.py --rounds 5 --case 8gaussians-gp --wgan build/wgan
    experiments/bench/compare.py --load 1          # beside one busy process
    experiments/bench/compare.py --load 2,nice     # beside two at the lowest priority

Needs only the standard library; PyTorch is looked for in /usr/bin/python3 (Debian's
python3-torch), this interpreter and python3 on PATH, or --python. Exit status 3
when no interpreter has torch (use --wgan-only to time wgan alone).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# case -> (experiment file, generator steps per repeat, warm-up steps)
CASES = {
    "8gaussians-clip": ("experiments/wgan-clip-8gaussians.yaml", 10, 2),
    "8gaussians-gp": ("experiments/wgan-gp-8gaussians.yaml", 10, 2),
    "8gaussians-sn": ("experiments/wgan-sn-8gaussians.yaml", 10, 2),
    "fashion-mnist-clip": ("experiments/wgan-clip-fashion-mnist.yaml", 2, 1),
    "fashion-mnist-gp": ("experiments/wgan-gp-fashion-mnist.yaml", 2, 1),
    "fashion-mnist-sn": ("experiments/wgan-sn-fashion-mnist.yaml", 2, 1),
}
TARGETS = {"8gaussians": 2.0, "fashion-mnist": 1.2}

# torch.set_num_threads, torch.set_num_interop_threads, OPENBLAS_NUM_THREADS (None:
# OpenBLAS's default, one thread per core)
DEFAULT_TORCH_CONFIGS = "1:1:-,2:1:-"


def parse_configs(text):
    configs = []
    for item in text.split(","):
        threads, interop, blas = item.split(":")
        configs.append((int(threads), int(interop), None if blas == "-" else int(blas)))
    return configs


def config_name(config):
    threads, interop, blas = config
    return "intra %d, inter %d, OpenBLAS %s" % (
        threads, interop, "default" if blas is None else blas)


def torch_candidates(explicit):
    if explicit:
        return [explicit]
    return [p for p in ["/usr/bin/python3", sys.executable, shutil.which("python3")] if p]


def find_torch_python(explicit):
    for python in torch_candidates(explicit):
        if not os.path.exists(python):
            continue
        probe = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return python, probe.stdout.strip()
    return None, None


def find_wgan(explicit):
    for path in [explicit, os.environ.get("WGAN"), os.path.join(ROOT, "build", "wgan")]:
        if path and os.access(path, os.X_OK):
            return path
    return None


def run_json(command, env=None):
    """Runs a command that prints one JSON object per line; returns the last one."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError("%s failed (exit %d):\n%s%s" % (
            " ".join(command), done.returncode, done.stdout, done.stderr))
    return json.loads(lines[-1])


def wgan_variant(text):
    """'cpu' or 'cpu,OMP_WAIT_POLICY=passive': a device spec and environment variables."""
    device, *assignments = text.split(",")
    env = dict(os.environ)
    for a in assignments:
        key, _, value = a.partition("=")
        env[key] = value
    return device, env


def wgan_command(wgan, case, device, scale):
    path, steps, warmup = CASES[case]
    return [wgan, "bench", path, "--device", device, "--json", "--steps",
            str(max(1, int(steps * scale))), "--warmup", str(warmup), "--repeat", "3"]


def torch_command(python, case, config, scale, device):
    _, steps, warmup = CASES[case]
    threads, interop, _ = config
    return [python, os.path.join(HERE, "torch_wgan.py"), "--case", case, "--steps",
            str(max(1, int(steps * scale))), "--warmup", str(warmup), "--repeat", "3",
            "--threads", str(threads), "--interop-threads", str(interop), "--device", device]


def torch_env(config):
    env = dict(os.environ)
    if config[2] is not None:
        env["OPENBLAS_NUM_THREADS"] = str(config[2])
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", choices=list(CASES),
                    help="repeatable; default all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the generator steps timed per repeat")
    ap.add_argument("--wgan", help="the wgan program (default $WGAN, else build/wgan)")
    ap.add_argument("--device", action="append",
                    help="wgan device to time, optionally with environment variables: "
                         "'cpu', 'opencl', 'cpu,OMP_WAIT_POLICY=passive'; repeatable "
                         "(default cpu)")
    ap.add_argument("--python", help="a Python interpreter with torch")
    ap.add_argument("--torch-configs", default=DEFAULT_TORCH_CONFIGS,
                    help="threads:interop:openblas,... ('-' for OpenBLAS's default); "
                         "default " + DEFAULT_TORCH_CONFIGS)
    ap.add_argument("--torch-device", default="cpu",
                    help="where PyTorch runs: cpu (default), cuda or cuda:N")
    ap.add_argument("--wgan-only", action="store_true", help="do not run PyTorch")
    ap.add_argument("--out", help="append every measurement to this JSON-lines file")
    ap.add_argument("--load", type=parse_load, default=(0, 0), metavar="N[,nice]",
                    help="run beside N busy processes, at the lowest priority with ',nice'")
    ap.add_argument("--summarize", nargs="+", metavar="FILE",
                    help="only print the tables of measurements saved with --out")
    args = ap.parse_args()
    if args.summarize:
        records = []
        for path in args.summarize:
            with open(path) as f:
                for line in f:
                    if line.strip():
                        records.append(json.loads(line))
                        records[-1].setdefault("session", path)
        summarize(records)
        return
    cases = args.case or list(CASES)
    devices = args.device or ["cpu"]
    configs = parse_configs(args.torch_configs)

    wgan = find_wgan(args.wgan)
    if not wgan:
        sys.exit("compare.py: no wgan program: build it (make build) or pass --wgan PATH")
    python, version = (None, None) if args.wgan_only else find_torch_python(args.python)
    if not python and not args.wgan_only:
        print("compare.py: PyTorch is not installed for %s; install it (Debian: apt install "
              "python3-torch) or pass --python, or run with --wgan-only"
              % ", ".join(dict.fromkeys(torch_candidates(args.python))), file=sys.stderr)
        sys.exit(3)

    load = os.getloadavg()
    print("machine: %d CPUs, %s, load %.2f %.2f %.2f" % (
        os.cpu_count(), cpu_model(), *load))
    busy, niceness = args.load
    if busy:
        print("beside %d busy process%s at nice %d" % (busy, "" if busy == 1 else "es", niceness))
    competitors = start_load(busy, niceness)
    try:
        measure(args, cases, devices, configs, wgan, python, version, busy, niceness)
    finally:
        stop_load(competitors)


def measure(args, cases, devices, configs, wgan, python, version, busy, niceness):
    print("wgan: %s; PyTorch: %s" % (wgan, "%s (%s)" % (python, version) if python else "-"))
    out = open(args.out, "a") if args.out else None
    session = time.strftime("%Y%m%d-%H%M%S")
    records = []
    for r in range(args.rounds):
        for case in cases:
            for device in devices:
                spec, env = wgan_variant(device)
                res = run_json(wgan_command(wgan, case, spec, args.scale), env)
                res.update(session=session, round=r, case=case, tool="wgan",
                           wgan_device=device, load=os.getloadavg()[0], busy=busy,
                           busy_nice=niceness)
                records.append(res)
                record(out, res)
                print("round %d  %-20s wgan %-30s %9.2f ms" % (
                    r + 1, case, device, res["ms_median"]), flush=True)
            for config in configs if python else []:
                res = run_json(torch_command(python, case, config, args.scale,
                                             args.torch_device), torch_env(config))
                name = config_name(config)
                if args.torch_device != "cpu":
                    name += " on " + args.torch_device
                res.update(session=session, round=r, case=case, tool="torch", config=name,
                           load=os.getloadavg()[0], busy=busy, busy_nice=niceness)
                records.append(res)
                record(out, res)
                print("round %d  %-20s torch %-30s %9.2f ms" % (
                    r + 1, case, config_name(config), res["ms_median"]), flush=True)
    print("load after: %.2f %.2f %.2f\n" % os.getloadavg())
    summarize(records)


def parse_load(text):
    """'N' or 'N,nice' -> (N, niceness): N busy processes at normal or lowest priority."""
    count, _, how = text.partition(",")
    if not count.isdigit() or how not in ("", "nice"):
        raise argparse.ArgumentTypeError("--load takes N or N,nice, not %r" % text)
    return int(count), 19 if how else 0


def start_load(count, niceness):
    """Busy loops that hold a core each for as long as the measurement runs, as another
    user's job would (docs/performance.md, "Under load")."""
    loop = "import os\nos.nice(%d)\nwhile True: pass\n" % niceness
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]


def stop_load(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def record(out, res):
    if out:
        res["time"] = time.time()
        out.write(json.dumps(res) + "\n")
        out.flush()


def summarize(records):
    """Tables from measurement records (what --out writes), paired by session and round."""
    mib = 1024.0
    cases = [c for c in CASES if any(r["case"] == c for r in records)]
    variants = []
    for r in records:
        if r["tool"] == "wgan" and r["wgan_device"] not in variants:
            variants.append(r["wgan_device"])
    for i, v in enumerate(variants):
        print("wgan[%d] = wgan bench --device %s" % (i + 1, v))
    print("ratio = PyTorch time / wgan time, the median over rounds of the pair measured in "
          "the same round (above 1: wgan is faster)\n")

    def runs(case, tool, key, value):
        return {(r["session"], r["round"]): r for r in records
                if r["case"] == case and r["tool"] == tool and r.get(key) == value}

    head = "%-20s %-34s %9s" % ("case", "PyTorch threads (best)", "PyTorch")
    for i, _ in enumerate(variants):
        head += " %11s %7s" % ("wgan[%d]" % (i + 1), "ratio")
    print(head + " %7s" % "target")
    memory = []
    for case in cases:
        configs = sorted({r["config"] for r in records if r["case"] == case and r["tool"] == "torch"})
        line = "%-20s" % case
        best = None
        if configs:
            best = min(configs, key=lambda c: statistics.median(
                r["ms_median"] for r in runs(case, "torch", "config", c).values()))
            torch_runs = runs(case, "torch", "config", best)
            line += " %-34s %9.2f" % (best, statistics.median(
                r["ms_median"] for r in torch_runs.values()))
        else:
            line += " %-34s %9s" % ("-", "-")
        for v in variants:
            mine = runs(case, "wgan", "wgan_device", v)
            if not mine:
                line += " %11s %7s" % ("-", "-")
                continue
            line += " %11.2f" % statistics.median(r["ms_median"] for r in mine.values())
            pairs = [torch_runs[k]["ms_median"] / mine[k]["ms_median"]
                     for k in mine if best and k in torch_runs]
            line += " %6.2fx" % statistics.median(pairs) if pairs else " %7s" % "-"
        print(line + " %6.1fx" % TARGETS[case.rsplit("-", 1)[0]])
        first = runs(case, "wgan", "wgan_device", variants[0]).values() if variants else []
        memory.append((case, max((r["peak_rss_kib"] for r in first), default=0) / mib,
                       max((r["plan_bytes"] + r["persistent_bytes"] for r in first),
                           default=0) / mib / mib,
                       max((r["peak_rss_kib"] for r in torch_runs.values()), default=0) / mib
                       if best else None))
    print("\n%-20s %18s %18s %18s" % ("case", "wgan[1] peak RSS", "wgan[1] device",
                                      "PyTorch peak RSS"))
    for case, rss, device, torch_rss in memory:
        print("%-20s %14.1f MiB %14.1f MiB %18s" % (
            case, rss, device, "-" if torch_rss is None else "%.1f MiB" % torch_rss))

if __name__ == "__main__":
    try:
        main()
    except RuntimeError as error:
        sys.exit("compare.py: %s" % error)
