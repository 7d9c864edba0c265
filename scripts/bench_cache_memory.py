#!/usr/bin/env python3
"""What the Redis client-side cache costs in memory per cached session.

Starts the release BenchHummingbird with `--config sessionkit-redis-cached`, creates N sessions
(`GET /counter` without a cookie: a create, which the cache never fills), reads the server's
resident memory, loads each session once (`GET /read`: a miss that fills the cache), reads it
again, and reports (after - before) / N. A second pass over the same cookies must be answered
from the cache: the server's HGETALL count (INFO commandstats) proves how many were.

    eval "$(scripts/services.sh start)"
    (cd Benchmarks && swift build -c release --scratch-path ../.build-bench --product BenchHummingbird)
    python3 scripts/bench_cache_memory.py --bin-dir .build-bench/x86_64-unknown-linux-gnu/release [--sessions 10000]

The payload is the bench's one counter (`n`); the heap beyond it is the cache's entry, its
dictionary slot, the fill order and the record. Never part of `swift test` or `.ci/run`.
"""
import argparse
import http.client
import os
import re
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1))


def hgetall_calls(redis_port):
    stats = subprocess.run(["redis-cli", "-p", str(redis_port), "INFO", "commandstats"],
                           capture_output=True, text=True, check=True).stdout
    match = re.search(r"cmdstat_hgetall:calls=(\d+)", stats)
    return int(match.group(1)) if match else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--sessions", type=int, default=10000,
                        help="sessions to cache (both passes must fit in the cache's 10 s maxStaleness)")
    parser.add_argument("--port", type=int, default=18121)
    args = parser.parse_args()
    url = os.environ.get("SESSIONKIT_REDIS_URL")
    if not url:
        sys.exit("SESSIONKIT_REDIS_URL is not set (scripts/services.sh start prints it)")
    redis_port = int(url.rsplit(":", 1)[1].split("/")[0].split("?")[0])
    server = subprocess.Popen([os.path.join(args.bin_dir, "BenchHummingbird"), "--config", "sessionkit-redis-cached",
                               "--port", str(args.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
                connection.request("GET", "/plain")
                connection.getresponse().read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)  # polling until the server listens

        def get(path, cookie=None):
            connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = connection.getresponse()
            body = response.read()
            return response, body

        cookies = []
        for _ in range(args.sessions):
            response, _ = get("/counter")
            cookies.append(response.getheader("Set-Cookie").split(";", 1)[0])
        before = rss_kib(server.pid)
        started = time.time()
        for cookie in cookies:
            _, body = get("/read", cookie)
            assert body == b"1", body
        after = rss_kib(server.pid)
        calls = hgetall_calls(redis_port)
        for cookie in cookies:
            get("/read", cookie)
        second_pass_misses = hgetall_calls(redis_port) - calls
        elapsed = time.time() - started
        print(f"{args.sessions} sessions cached: resident memory {before} KiB -> {after} KiB, "
              f"{(after - before) * 1024 / args.sessions:.0f} B per cached session "
              f"(payload: one small integer); second pass: {args.sessions - second_pass_misses} of {args.sessions} "
              f"answered from the cache ({elapsed:.1f} s for both passes)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
