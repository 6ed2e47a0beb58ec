"""Job throughput: Dramatiq messages per second through Redis, one worker process, our broker.

The broker is the app's own (`listingflow.worker.broker.build_broker`: RedisBroker + Dramatiq's
AsyncIO middleware + TaskDatabases), built in bench/_jobs_actors.py for --redis-url (Redis db 14
by default, flushed before each case and after the run). Two cases:

- noop: N (default 20,000) messages to an async actor that only INCRs a Redis counter.
- io: N (default 2,000) messages to an async actor that awaits asyncio.sleep(0.2) (simulated
  I/O) and then INCRs the counter.

For each case every message is enqueued first (not timed), then ONE real worker process is
started: `dramatiq bench._jobs_actors --processes 1 --threads T --queues Q` in its own process
group. This process polls the counter every 5 ms. Two figures are printed:

- processing rate: messages completed from the first completion to the last, over that time.
  The targets (noop >= 2,000/s, io >= 200/s per worker process) are judged on this figure.
- wall rate: N over the time from starting the worker to the last completion (includes the
  interpreter and import start-up, which the start-up column shows).

Concurrency of async actors in Dramatiq 2.x: the AsyncIO middleware runs every coroutine on one
event loop per process, but each worker thread blocks in `EventLoopThread.run_coroutine` until
its own coroutine finishes, so coroutines in flight = --threads. With a 0.2 s await the ceiling
is threads / 0.2 messages per second: 8 threads give at most 40/s, the default --io-threads 64
gives at most 320/s. Prefetch is 2 x threads per queue (Dramatiq's default). The no-op case is
bound by per-message overhead instead (thread hand-off to the loop, Redis fetch/ack): on a
2-core AMD EPYC, shared with Redis and this poller, 2 threads gave ~500/s, 8 ~1,800/s and 16
(the default --noop-threads) 1,900-2,200/s, i.e. around the target; 32 was no faster.

The worker is stopped with SIGTERM to its process group, then SIGKILL after 10 s, also when a
case fails or on Ctrl-C; the Redis db is flushed at the end.

    .venv/bin/python bench/jobs_throughput.py [--redis-url redis://127.0.0.1:6379/14]
        [--noop-n 20000] [--io-n 2000] [--noop-threads 16] [--io-threads 64]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from _support import stop_group

ROOT = Path(__file__).resolve().parent.parent
NOOP_TARGET = 2_000.0
IO_TARGET = 200.0


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_case(
    name: str, actor: object, queue: str, n: int, threads: int, url: str, client: redis.Redis
) -> dict[str, float]:
    from bench import _jobs_actors as actors

    client.flushdb()
    t = time.perf_counter()
    for _ in range(n):
        actor.send()  # type: ignore[attr-defined]
    enqueue_s = time.perf_counter() - t

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src")])
    env["BENCH_REDIS_URL"] = url
    cmd = [
        str(Path(sys.executable).parent / "dramatiq"),
        "bench._jobs_actors",
        "--processes",
        "1",
        "--threads",
        str(threads),
        "--queues",
        queue,
    ]
    timeout = 60.0 + n / 20
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            first_t = first_c = None
            while True:
                done = int(client.get(actors.DONE_KEY) or 0)
                now = time.perf_counter()
                if done and first_t is None:
                    first_t, first_c = now, done
                if done >= n:
                    end = now
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {proc.returncode} at {done}/{n}")
                if now - start > timeout:
                    raise RuntimeError(f"timed out after {timeout:.0f} s at {done}/{n}")
                time.sleep(0.005)
        except BaseException:
            stop_group(proc)
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            print(f"--- worker log ({name}) ---\n{tail}", file=sys.stderr)
            raise
        finally:
            stop_group(proc)
    time.sleep(0.2)
    final = int(client.get(actors.DONE_KEY) or 0)
    if final != n:
        raise RuntimeError(f"{name}: counter {final} != {n} messages")
    assert first_t is not None and first_c is not None
    window = end - first_t
    return {
        "enqueue_s": enqueue_s,
        "startup_s": first_t - start,
        "processing_rate": (n - first_c) / window if window > 0 else float("inf"),
        "wall_rate": n / (end - start),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--noop-n", type=int, default=20_000)
    parser.add_argument("--io-n", type=int, default=2_000)
    parser.add_argument("--noop-threads", type=int, default=16)
    parser.add_argument("--io-threads", type=int, default=64)
    args = parser.parse_args()

    def _exit_on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # so the worker's process group is stopped on the way out

    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)

    os.environ["BENCH_REDIS_URL"] = args.redis_url
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    import dramatiq
    from bench import _jobs_actors as actors

    client = redis.Redis.from_url(args.redis_url)
    client.ping()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cpu_model()}, {cores} cores usable ({os.cpu_count()} online)")
    print(
        f"python {platform.python_version()}, dramatiq {dramatiq.__version__}, "
        f"redis-py {redis.__version__}, broker {args.redis_url} "
        f"({type(actors.broker).__name__} + "
        f"{', '.join(type(m).__name__ for m in actors.broker.middleware)})"
    )
    cases = [
        ("noop", actors.bench_noop, "bench_noop", args.noop_n, args.noop_threads, NOOP_TARGET),
        ("io 0.2 s", actors.bench_io, "bench_io", args.io_n, args.io_threads, IO_TARGET),
    ]
    print(
        f"{'case':<9} {'N':>6} {'threads':>7} {'enqueue s':>9} {'start-up s':>10} "
        f"{'items/s':>9} {'wall/s':>8}  target"
    )
    try:
        for name, actor, queue, n, threads, target in cases:
            r = run_case(name, actor, queue, n, threads, args.redis_url, client)
            met = "met" if r["processing_rate"] >= target else "NOT met"
            print(
                f"{name:<9} {n:>6} {threads:>7} {r['enqueue_s']:>9.2f} {r['startup_s']:>10.2f} "
                f"{r['processing_rate']:>9.0f} {r['wall_rate']:>8.0f}  "
                f">= {target:,.0f}/s per process: {met}",
                flush=True,
            )
    finally:
        client.flushdb()
        client.close()
    print(
        "items/s: per worker process, first to last completion; wall/s: N over worker start "
        "to last completion. Async actors: coroutines in flight = --threads."
    )


if __name__ == "__main__":
    main()
