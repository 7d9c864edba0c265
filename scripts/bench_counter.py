#!/usr/bin/env python3
"""The counter benchmark of issue 18: what `modify` and `increment` cost next to `get` + `set`.

Run it through `scripts/bench-http.sh --counter` (which builds the release servers and starts
PostgreSQL and Redis). For SessionKit on Hummingbird with the memory, SQLite, PostgreSQL and
Redis stores, one server each (pinned to core 0), it measures three counter routes:

  get-set    GET /counter            get, add one, set (last writer wins)
  modify     GET /counter-modify     modify(default: 0) { $0 += 1 } (compare-and-set)
  increment  GET /counter-increment  increment() (one native store operation)

in two settings, each in interleaved rounds (every store and route once per round, the stores'
and the routes' order rotated each round, wrk pinned to core 1), reporting medians:

  uncontended  wrk -c32 over 256 sessions (each request takes the next session's cookie, so two
               requests rarely share a session): the cost of a request with nobody competing
               for its key; the ratio of CPU time per request, modify / get-set, is what the
               issue's 10% target is about (requests/s is reported too).
  contended    wrk -c32 on one session: all 32 connections change one key at once; besides
               requests/s it counts the non-2xx answers and the updates lost, from the final
               counter read back against the acknowledged requests.

Writes counter.md and counter.json into --out.
"""
import argparse
import datetime
import http.client
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_http import Server, machine_description, pinned  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402

STORES = ["memory", "sqlite", "postgres", "redis"]
ROUTES = {"get-set": "/counter", "modify": "/counter-modify", "increment": "/counter-increment"}


def fresh_cookie(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/counter")
    response = connection.getresponse()
    response.read()
    cookies = [value.split(";", 1)[0] for name, value in response.getheaders() if name.lower() == "set-cookie"]
    connection.close()
    if response.status != 200 or not cookies:
        raise RuntimeError(f"{server.name}: GET /counter answered {response.status} without a cookie")
    return "; ".join(cookies)


def read_counter(server, cookie):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/read", headers={"Cookie": cookie})
    body = connection.getresponse().read().decode()
    connection.close()
    return int(body.strip())


def wrk(server, path, cookies, seconds, connections, script_dir):
    """wrk with one cookie, or (a list) a Lua script that gives each request the next one."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if isinstance(cookies, str):
        command += ["-H", f"Cookie: {cookies}"]
    else:
        script = os.path.join(script_dir, "cookies.lua")
        with open(script, "w") as out:
            out.write("cookies = {" + ",".join(json.dumps(c) for c in cookies) + "}\n")
            out.write("i = 0\nrequest = function()\n  i = i % #cookies + 1\n"
                      "  return wrk.format(nil, nil, {[\"Cookie\"] = cookies[i]})\nend\n")
        command += ["-s", script]
    command.append(f"http://127.0.0.1:{server.port}{path}")
    output = subprocess.run(pinned(1, command), capture_output=True, text=True, timeout=seconds + 60).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    socket = sum(int(g) for g in m.groups()) if (m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)) else 0
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), "requests": requests,
            "non2xx": non2xx, "socket_errors": socket}


TICKS = os.sysconf("SC_CLK_TCK")
STORE_PROCESSES = {"redis-server", "postgres"}


def cpu_seconds(pid):
    """utime + stime of one process, in seconds (from /proc; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def store_cpu_seconds():
    """utime + stime of every Redis and PostgreSQL process (PostgreSQL has one per connection),
    by PID, so a process that ends during a run cannot make the difference negative."""
    snapshot = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                continue
            if name in STORE_PROCESSES:
                snapshot[entry] = cpu_seconds(entry)
    return snapshot


def store_cpu_delta(before, after):
    """The store processes' CPU time between two snapshots (a new process counts from zero)."""
    return sum(max(0.0, value - before.get(pid, 0.0)) for pid, value in after.items())


def measure(server, route, seconds, setting, script_dir):
    """One wrk run on fresh sessions; the lost updates from the counters read back, and the CPU
    time per request of the server and of the store's processes (the cost, which unlike
    requests/s does not move with what else the machine does)."""
    cookies = [fresh_cookie(server) for _ in range(256 if setting == "uncontended" else 1)]  # each counter starts at 1
    server_before, store_before = cpu_seconds(server.process.pid), store_cpu_seconds()
    result = wrk(server, ROUTES[route], cookies if len(cookies) > 1 else cookies[0], seconds, 32, script_dir)
    served = max(1, result["requests"])
    result["server_cpu_us"] = (cpu_seconds(server.process.pid) - server_before) * 1e6 / served
    result["store_cpu_us"] = store_cpu_delta(store_before, store_cpu_seconds()) * 1e6 / served
    acknowledged = len(cookies) + result["requests"] - result["non2xx"] - result["socket_errors"]
    result["lost"] = acknowledged - sum(read_counter(server, cookie) for cookie in cookies)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated subset of " + ",".join(STORES))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 1
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    servers = [Server("Hummingbird", f"sessionkit-{store}", "BenchHummingbird", f"sessionkit-{store}", store,
                      args.bin_dir, os.path.join(args.out, "logs")) for store in STORES if store in args.stores.split(",")]
    samples = {}
    try:
        for server in servers:
            server.wait_ready()
        for server in servers:  # warm-up
            for route in ROUTES:
                measure(server, route, 1, "uncontended", os.path.join(args.out, "logs"))
        for round_index in range(args.rounds):
            order = servers[round_index % len(servers):] + servers[:round_index % len(servers)]
            for server in order:
                for setting in ["uncontended", "contended"]:
                    # Each round starts with another route: the SQLite file and the Redis heap grow
                    # with every run, so a fixed order would bias the routes measured later.
                    routes = list(ROUTES)
                    routes = routes[round_index % len(routes):] + routes[:round_index % len(routes)]
                    for route in routes:
                        result = measure(server, route, args.seconds, setting, os.path.join(args.out, "logs"))
                        samples.setdefault((server.label, setting, route), []).append(result)
                        print(f"round {round_index + 1}/{args.rounds} {server.label:9} {setting:11} {route:9} "
                              f"{result['rps']:9.0f} req/s  cpu {result['server_cpu_us']:6.1f}+{result['store_cpu_us']:5.1f} us/req  "
                              f"non-2xx {result['non2xx']:5}  lost {result['lost']}", flush=True)
    finally:
        for server in servers:
            server.stop()

    rows = []
    for (store, setting, route), runs in samples.items():
        rows.append({"store": store, "setting": setting, "route": route,
                     "rps": statistics.median(r["rps"] for r in runs),
                     "non2xx": sum(r["non2xx"] for r in runs), "socket_errors": sum(r["socket_errors"] for r in runs),
                     "requests": sum(r["requests"] for r in runs), "lost": sum(r["lost"] for r in runs),
                     "rps_runs": [round(r["rps"]) for r in runs],
                     "server_cpu_us": statistics.median(r["server_cpu_us"] for r in runs),
                     "store_cpu_us": statistics.median(r["store_cpu_us"] for r in runs),
                     "cpu_us": statistics.median(r["server_cpu_us"] + r["store_cpu_us"] for r in runs),
                     "cpu_us_runs": [round(r["server_cpu_us"] + r["store_cpu_us"], 1) for r in runs]})
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_description(), "mode": "quick" if args.quick else "full",
            "settings": f"{args.rounds} interleaved round(s) of {args.seconds} s per store, setting and route, "
                        "the order of stores and of routes rotated each round; "
                        "wrk -t1 -c32 over 256 sessions (uncontended) and on one session (contended), fresh sessions for every run; "
                        "medians of requests/s and of CPU time per request (server process + Redis/PostgreSQL processes, "
                        "from /proc utime+stime around each run), sums of errors and lost updates"}
    with open(os.path.join(args.out, "counter.json"), "w") as out:
        json.dump({"meta": meta, "rows": rows}, out, indent=2)
    with open(os.path.join(args.out, "counter.md"), "w") as out:
        out.write(render(rows, meta))
    print(render(rows, meta))
    return 0


def paired(runs, route):
    """The median over rounds of `route`'s CPU per request ÷ get-set's in the same round: the
    two ran minutes apart at most, so a drift of the machine between rounds cancels out."""
    return statistics.median(b / a for a, b in zip(runs["get-set"]["cpu_us_runs"], runs[route]["cpu_us_runs"]) if a > 0)


def render(rows, meta):
    by = {(r["store"], r["setting"], r["route"]): r for r in rows}
    lines = [f"Measured {meta['date']} on {meta['machine']} ({meta['mode']} run): {meta['settings']}.", "",
             "| Store | uncontended CPU µs per request (server + store): get-set / modify / increment "
             "| modify cost ÷ get-set (CPU; paired per round) | increment cost ÷ get-set (CPU; paired per round) "
             "| uncontended (256 sessions) req/s: get-set / modify / increment | modify ÷ get-set | increment ÷ get-set "
             "| contended (32 on one session) req/s: get-set / modify / increment | non-2xx: get-set / modify / increment "
             "| contended updates lost: get-set / modify / increment |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for store in STORES:
        if (store, "uncontended", "get-set") not in by:
            continue
        u = {route: by[(store, "uncontended", route)] for route in ROUTES}
        c = {route: by[(store, "contended", route)] for route in ROUTES}
        lines.append(
            f"| {store} | {u['get-set']['cpu_us']:.1f} / {u['modify']['cpu_us']:.1f} / {u['increment']['cpu_us']:.1f} "
            f"| {u['modify']['cpu_us'] / u['get-set']['cpu_us']:.3f} ({paired(u, 'modify'):.3f}) "
            f"| {u['increment']['cpu_us'] / u['get-set']['cpu_us']:.3f} ({paired(u, 'increment'):.3f}) "
            f"| {u['get-set']['rps']:.0f} / {u['modify']['rps']:.0f} / {u['increment']['rps']:.0f} "
            f"| {u['modify']['rps'] / u['get-set']['rps']:.3f} | {u['increment']['rps'] / u['get-set']['rps']:.3f} "
            f"| {c['get-set']['rps']:.0f} / {c['modify']['rps']:.0f} / {c['increment']['rps']:.0f} "
            f"| {c['get-set']['non2xx']} / {c['modify']['non2xx']} / {c['increment']['non2xx']} "
            f"| {c['get-set']['lost']} of {c['get-set']['requests']} / {c['modify']['lost']} of {c['modify']['requests']} "
            f"/ {c['increment']['lost']} of {c['increment']['requests']} |")
    lines += ["", "The cost columns are CPU time per request: the server's and the store's processes' utime + "
              "stime (10 ms ticks) over each run, divided by the requests served: the median over the rounds, "
              "and in brackets the median of the ratios paired within each round. They are what the issue's "
              "10 % bound is checked on; requests/s on this shared 2-core machine varies by up to 2x between runs.",
              "", "Updates lost = acknowledged requests (2xx) − the counters read back afterwards. A small "
              "negative number is requests that were still in flight when wrk stopped: applied, but never "
              "acknowledged to wrk. A 409 from `modify` is not acknowledged and applied nothing."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
