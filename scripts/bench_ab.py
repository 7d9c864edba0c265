#!/usr/bin/env python3
"""A/B benchmark of two builds of the benchmark servers, side by side in one run.

    python3 scripts/bench_ab.py --base-bin DIR --head-bin DIR --out DIR [--rounds 3] [--seconds 2]

Both builds of every configuration run at the same time (servers on core 0, wrk on core 1).
Each round measures every route of every configuration on both builds back to back, the
order of base and head alternating, so drift of the machine hits both sides alike. Besides
requests/s it reads the server's CPU time (/proc/PID/stat, user + system) around each run:
CPU microseconds per request is the cost of the code, and moves far less with the machine's
noise than throughput does. The verdict per route is the median over the rounds of the
paired head/base ratio. scripts/bench-compare.sh builds the two sides and calls this.
"""
import argparse
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_http  # noqa: E402


def cpu_seconds(pid):
    """User + system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server, route, seconds, connections):
    before = cpu_seconds(server.process.pid)
    result = bench_http.run_wrk(server, route, seconds, connections)
    after = cpu_seconds(server.process.pid)
    result["cpu_us"] = (after - before) * 1e6 / result["requests"] if result["requests"] else None
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-bin", required=True)
    parser.add_argument("--head-bin", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", help="comma-separated framework/configuration keys (bare is always added)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    chosen = bench_http.CONFIGURATIONS
    if args.only:
        wanted = set(args.only.split(",")) | {f"{c[0]}/bare" for c in bench_http.CONFIGURATIONS}
        chosen = [c for c in chosen if f"{c[0]}/{c[1]}" in wanted]

    pairs = []
    try:
        for framework, name, binary, config, label in chosen:
            pair = {}
            for side, bin_dir in (("base", args.base_bin), ("head", args.head_bin)):
                log_dir = os.path.join(args.out, "logs", side)
                os.makedirs(log_dir, exist_ok=True)
                pair[side] = bench_http.Server(framework, name, binary, config, label, bin_dir, log_dir)
            pairs.append(pair)
        for pair in pairs:
            for server in pair.values():
                server.wait_ready()
                server.fetch_cookie()
                for route in bench_http.ROUTES:
                    bench_http.run_wrk(server, route, args.warmup, args.connections)
        samples = {}
        for round_index in range(args.rounds):
            for pair in pairs:
                for route_index, route in enumerate(bench_http.ROUTES):
                    order = ("base", "head") if (round_index + route_index) % 2 == 0 else ("head", "base")
                    results = {side: measure(pair[side], route, args.seconds, args.connections) for side in order}
                    key = pair["base"].key + (route,)
                    samples.setdefault(key, []).append(results)
                    print(f"round {round_index + 1}/{args.rounds} {key[0]:11} {key[1]:20} {route:8} "
                          f"base {results['base']['rps']:8.0f} req/s {results['base']['cpu_us']:7.1f} us/req   "
                          f"head {results['head']['rps']:8.0f} req/s {results['head']['cpu_us']:7.1f} us/req", flush=True)
    finally:
        for pair in pairs:
            for server in pair.values():
                server.stop()

    rows = []
    for (framework, name, route), runs in samples.items():
        def median(side, field):
            return statistics.median(run[side][field] for run in runs)
        rows.append({
            "framework": framework, "configuration": name, "route": route,
            "base_rps": median("base", "rps"), "head_rps": median("head", "rps"),
            "base_cpu_us": median("base", "cpu_us"), "head_cpu_us": median("head", "cpu_us"),
            "rps_ratio": statistics.median(run["head"]["rps"] / run["base"]["rps"] for run in runs),
            "cpu_ratio": statistics.median(run["head"]["cpu_us"] / run["base"]["cpu_us"] for run in runs),
            "errors": sum(run[side]["errors"] for run in runs for side in ("base", "head")),
        })
    with open(os.path.join(args.out, "ab.csv"), "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"{args.rounds} paired round(s) of {args.seconds} s per route and side, wrk -t1 -c{args.connections}; "
        "medians; ratios are head/base per round, then the median.",
        "",
        "| framework | configuration | route | base req/s | head req/s | head/base req/s | base CPU µs/req | head CPU µs/req | head/base CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['framework']} | {row['configuration']} | {row['route']} | {row['base_rps']:,.0f} | {row['head_rps']:,.0f} | "
            f"{row['rps_ratio']:.3f} | {row['base_cpu_us']:.1f} | {row['head_cpu_us']:.1f} | {row['cpu_ratio']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "ab.md"), "w") as out:
        out.write(text)
    print()
    print(text)
    return 1 if any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
