"""Long runs of the differential fuzzer (``tests/fuzzgraph.py``) against NumPy.

    python benches/fuzz.py --minutes 30 --device cpu
    python benches/fuzz.py --minutes 120 --graphs 20000 --device cpu
    python benches/fuzz.py --minutes 10 --device opencl:0 --seed 5000000 --batch 20

Graphs run in batches in a child process, so a crash in generated code (a segfault, an
abort in a driver) or a hang does not take the run down: the parent sees the child die or
time out, counts the batch's graphs as crashed/hung, and reruns each of them alone in a
fresh child to find the one responsible. The child is also restarted every
``--restart`` graphs (a long-lived process accumulates loaded programs).

Reports graphs run, mismatches, errors (zyx raised where NumPy did not), compile errors,
crashes and hangs, and prints a minimal runnable repro for each failure (``--out`` also
writes them to a file). Record the counts in benches/RESULTS.md ("Fuzzing").
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")


# ----------------------------------------------------------------- child
def child(device: str) -> None:
    """Read "seed count" lines; for each batch print one JSON line per graph."""
    sys.path.insert(0, TESTS)
    import fuzzgraph as fg
    dts = fg.device_dtypes(device)
    crash_on = int(os.environ.get("ZYX_FUZZ_CRASH_ON", "-1"))  # tests the crash isolation
    for line in sys.stdin:
        s0, n = (int(x) for x in line.split())
        if s0 <= crash_on < s0 + n:
            os.abort()
        progs = [fg.generate(s, device, dts) for s in range(s0, s0 + n)]
        for p, o in zip(progs, fg.run_batch(progs)):
            rec = {"seed": p.seed, "status": o.status, "message": o.message}
            if o.status != "ok":
                try:
                    rec["repro"] = fg.repro(p, fg.minimize(p, o), o)
                except Exception as e:  # noqa: BLE001 - the report must go on
                    rec["repro"] = f"(minimizing failed: {e})\n" + p.text()
            print(json.dumps(rec), flush=True)
        print(json.dumps({"done": s0}), flush=True)


# ----------------------------------------------------------------- parent
class Worker:
    """A child process running batches; a thread reads its output lines into a queue, so
    the parent can wait with a timeout (select() on a buffered text pipe misses lines
    already read ahead)."""

    def __init__(self, device: str):
        import queue
        import threading
        self.device = device
        self.proc = subprocess.Popen([sys.executable, __file__, "--child", "--device", device],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.graphs = 0

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the child exited

    def run(self, s0: int, n: int, timeout: float):
        """(outcome records of seeds s0..s0+n-1, None), or (None, "crash ..."/"hang")."""
        import queue
        try:
            self.proc.stdin.write(f"{s0} {n}\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # the child is gone; reading says how
        recs, deadline = [], time.time() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                self.kill()
                return None, "hang"
            if line is None:
                self.proc.wait()
                return None, f"crash (exit status {self.proc.returncode})"
            rec = json.loads(line)
            if "done" in rec:
                self.graphs += n
                return recs, None
            recs.append(rec)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.kill()


def _program_text(seed: int, device: str) -> str:
    """The whole program of a graph that crashed its process (it cannot be shrunk by running)."""
    try:
        sys.path.insert(0, TESTS)
        import fuzzgraph as fg
        p = fg.generate(seed, device, fg.device_dtypes(device))
        return fg.repro(p, p.stmts, fg.Outcome(seed, "crash"))
    except Exception as e:  # noqa: BLE001
        return f"# fuzzgraph.generate({seed}, {device!r}, ...) failed here too: {e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--graphs", type=int, default=0, help="stop after this many graphs (0: only --minutes)")
    ap.add_argument("--seed", type=int, default=0, help="first seed (the suite uses 1000000 and up)")
    ap.add_argument("--batch", type=int, default=0, help="graphs per child batch (default: 50 cpu, 15 else)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds a batch may take before it is a hang")
    ap.add_argument("--restart", type=int, default=1000, help="graphs before the child is restarted")
    ap.add_argument("--out", help="write the failures' repros here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.device)
        return
    batch = args.batch or (50 if args.device == "cpu" else 15)
    counts: Counter = Counter()
    failures: list[dict] = []
    t_end = time.time() + args.minutes * 60
    seed = args.seed
    worker = Worker(args.device)
    t0 = time.time()
    while time.time() < t_end and not (args.graphs and sum(counts.values()) >= args.graphs):
        if worker.graphs >= args.restart:
            worker.close()
            worker = Worker(args.device)
        recs, trouble = worker.run(seed, batch, args.timeout)
        if recs is None:  # isolate the graph that crashed or hung, one child each
            print(f"batch at seed {seed}: {trouble}; rerunning its graphs one per process", flush=True)
            worker = Worker(args.device)
            recs = []
            for s in range(seed, seed + batch):
                one = Worker(args.device)
                r, t = one.run(s, 1, args.timeout)
                if r is not None:
                    one.close()
                    recs += r
                else:
                    recs.append({"seed": s, "status": t.split()[0], "message": t, "repro": _program_text(s, args.device)})
        for r in recs:
            counts[r["status"]] += 1
            if r["status"] != "ok":
                failures.append(r)
                print(f"seed {r['seed']}: {r['status']}: {r['message'].splitlines()[0] if r['message'] else ''}",
                      flush=True)
        seed += batch
        done = sum(counts.values())
        print(f"[{time.time() - t0:6.0f}s] {done} graphs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
              flush=True)
    worker.close()
    total = sum(counts.values())
    print(f"\n{args.device}: {total} graphs (seeds {args.seed}..{seed - 1}) in {time.time() - t0:.0f} s: "
          f"{counts['mismatch']} mismatches, {counts['error']} errors, {counts['compile_error']} compile errors, "
          f"{counts['crash']} crashes, {counts['hang']} hangs")
    text = "\n\n".join(f"# seed {r['seed']}: {r['status']}: {r['message']}\n{r.get('repro', '')}" for r in failures)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    elif failures:
        print("\n" + text)


if __name__ == "__main__":
    main()
