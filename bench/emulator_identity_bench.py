"""What proving the emulator's identity costs, and how soon an orphaned emulator stops itself.

    python -m bench.emulator_identity_bench              # 5 emulators, 200 proofs each
    python -m bench.emulator_identity_bench --emulators 3 --proofs 50

For each of N fresh emulators (own private state directory under a temporary folder):
- start: `process.start` until the emulator proves its token (what `local start` waits for);
- proof: one `identify` round trip (reading the owner credentials, a SigV4-signed
  challenge -> HMAC over /_dataops/health, the emulator's gate verifying the signature),
  what every `--local` command pays once (median and 95th percentile over the proofs);
- stop: `process.stop` (proof again, signed POST /_dataops/stop with the token, wait for the
  process through its pidfd), for half of the emulators;
- self-stop: for the other half, the state directory is deleted and the time until the
  emulator process has exited is measured (it checks its state file every second).
Wall-clock times on this machine, printed as a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from dataops_cli.local import process
from dataops_cli.local.instance import identify
from dataops_cli.local.state import pid_alive


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulators", type=int, default=5)
    parser.add_argument("--proofs", type=int, default=200)
    args = parser.parse_args()
    starts: list[float] = []
    proofs: list[float] = []
    stops: list[float] = []
    self_stops: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dataops-bench-identity-") as tmp:
        for index in range(args.emulators):
            directory = Path(tmp) / f"state-{index}"
            began = time.perf_counter()
            state = process.start(directory)
            starts.append(time.perf_counter() - began)
            try:
                for _ in range(args.proofs):
                    began = time.perf_counter()
                    assert identify(state.endpoint, state.token, directory).verdict == "ours"
                    proofs.append(time.perf_counter() - began)
                if index % 2 == 0:
                    began = time.perf_counter()
                    process.stop(directory)
                    stops.append(time.perf_counter() - began)
                else:
                    began = time.perf_counter()
                    shutil.rmtree(directory)
                    while pid_alive(state.pid):
                        process.ProcessHandle(state.pid).gone()  # reaps it: it is this process's child
                        time.sleep(0.01)
                    self_stops.append(time.perf_counter() - began)
            finally:
                if pid_alive(state.pid):
                    handle = process.ProcessHandle(state.pid)
                    handle.send(9)
                    handle.close()
    print(f"{'measure':<44}{'n':>5}{'median':>10}{'p95/max':>10}")
    rows = [
        ("start (process.start until proven), s", starts, 1.0),
        ("one proof (identify round trip), ms", proofs, 1000.0),
        ("local stop (proof + HTTP stop + exit), s", stops, 1.0),
        ("self-stop after rm -r state dir, s", self_stops, 1.0),
    ]
    for label, values, scale in rows:
        if values:
            top = percentile(values, 0.95) if len(values) >= 20 else max(values)
            print(f"{label:<44}{len(values):>5}{statistics.median(values) * scale:>10.2f}{top * scale:>10.2f}")


if __name__ == "__main__":
    main()
