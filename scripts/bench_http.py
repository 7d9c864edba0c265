#!/usr/bin/env python3
"""HTTP benchmark driver: SessionKit against the built-in sessions of Hummingbird and Vapor.

Run it through `scripts/bench-http.sh`, which builds the release servers and starts
PostgreSQL and Redis first. For each configuration this starts one server (pinned to core 0),
fetches a session cookie with `GET /counter`, and then runs `wrk` (pinned to core 1) against

  plain    GET /plain with the cookie: the session is never touched
           (servers without sessions get a dummy cookie of the same size on these three)
  read     GET /read with the cookie: reads one value
  counter  GET /counter with the cookie: increments one value (a write every request)
  new      GET /counter without a cookie: a new session every request

after a warm-up, in interleaved rounds (every configuration and route once per round), and
reports the median requests/s and p99 latency over the rounds, the server's RSS, and each
configuration's throughput as a ratio to its bare framework on the same route.

Writes results.csv, results.md and chart.svg into --out; with --readme, also replaces the
page's benchmark table (between the bench markers; Docs/Benchmarks.md) with the new table and chart.
"""
import argparse
import csv
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROUTES = ["plain", "read", "counter", "new"]
ROUTE_PATHS = {"plain": "/plain", "read": "/read", "counter": "/counter", "new": "/counter"}

# (framework, configuration, binary, --config value, label)
CONFIGURATIONS = [
    ("Hummingbird", "bare", "BenchHummingbird", "bare", "bare Hummingbird"),
    ("Hummingbird", "noop-middleware", "BenchHummingbird", "noop-middleware", "a no-op middleware (the floor)"),
    ("Hummingbird", "sessionkit-memory", "BenchHummingbird", "sessionkit-memory", "SessionKit memory"),
    ("Hummingbird", "sessionkit-cookie", "BenchHummingbird", "sessionkit-cookie", "SessionKit sealed cookie"),
    ("Hummingbird", "sessionkit-sqlite", "BenchHummingbird", "sessionkit-sqlite", "SessionKit SQLite"),
    ("Hummingbird", "sessionkit-postgres", "BenchHummingbird", "sessionkit-postgres", "SessionKit PostgreSQL"),
    ("Hummingbird", "sessionkit-redis", "BenchHummingbird", "sessionkit-redis", "SessionKit Redis"),
    ("Hummingbird", "sessionkit-redis-cached", "BenchHummingbird", "sessionkit-redis-cached", "SessionKit Redis, client-side cache"),
    ("Hummingbird", "sessionkit-redis-cluster", "BenchHummingbird", "sessionkit-redis-cluster", "SessionKit Redis Cluster (3 primaries)"),
    ("Hummingbird", "hb-auth-memory", "BenchHummingbird", "hb-auth-memory", "hummingbird-auth SessionMiddleware (memory)"),
    ("Vapor", "bare", "BenchVapor", "bare", "bare Vapor"),
    ("Vapor", "sessionkit-memory", "BenchVapor", "sessionkit-memory", "SessionKit memory"),
    ("Vapor", "sessionkit-postgres", "BenchVapor", "sessionkit-postgres", "SessionKit PostgreSQL"),
    ("Vapor", "sessionkit-redis", "BenchVapor", "sessionkit-redis", "SessionKit Redis"),
    ("Vapor", "vapor-memory", "BenchVapor", "vapor-memory", "Vapor SessionsMiddleware (.memory)"),
    ("Vapor", "vapor-fluent", "BenchVapor", "vapor-fluent", "Vapor SessionsMiddleware (Fluent, PostgreSQL)"),
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pinned(core, command):
    """Prefixes `taskset -c core` when the machine has a second core to keep load apart."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)] + command
    return command


class Server:
    def __init__(self, framework, name, binary, config, label, bin_dir, log_dir):
        self.framework, self.name, self.config, self.label = framework, name, config, label
        self.port = free_port()
        self.log_path = os.path.join(log_dir, f"{framework.lower()}-{name}.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            pinned(0, [os.path.join(bin_dir, binary), "--config", config, "--port", str(self.port)]),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.cookie = None
        self.has_sessions = name not in ("bare", "noop-middleware")
        self.rss_start = self.rss_end = 0
        self.new_session_bytes = []

    @property
    def key(self):
        return (self.framework, self.name)

    def wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.framework} {self.name} exited early; see {self.log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/plain")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.framework} {self.name} did not answer within {timeout}s; see {self.log_path}")

    def fetch_cookie(self):
        """A session cookie from `GET /counter` (no cookie for the bare frameworks)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", "/counter")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.framework} {self.name}: GET /counter answered {response.status}")
        cookies = [value.split(";", 1)[0] for name, value in response.getheaders() if name.lower() == "set-cookie"]
        if self.has_sessions and not cookies:
            raise RuntimeError(f"{self.framework} {self.name}: GET /counter set no cookie")
        # Configurations without sessions get a cookie of the same shape, so every server
        # parses the same request bytes and the ratio is the session library's cost alone.
        self.cookie = "; ".join(cookies) if cookies else "__Host-id=" + "A" * 43
        # Prove the cookie works: /read must now see the counter at 1.
        if self.has_sessions:
            connection.request("GET", "/read", headers={"Cookie": self.cookie})
            body = connection.getresponse().read().decode()
            if body.strip() != "1":
                raise RuntimeError(f"{self.framework} {self.name}: /read with the cookie answered {body!r}, expected 1")
        connection.close()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def run_wrk(server, route, seconds, connections):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if server.cookie and route != "new":
        command += ["-H", f"Cookie: {server.cookie}"]
    command.append(f"http://127.0.0.1:{server.port}{ROUTE_PATHS[route]}")
    output = subprocess.run(pinned(1, command), capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    p99 = parse_latency(re.search(r"99%\s+([\d.]+\w+)", output).group(1))
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(group) for group in match.groups())
    return {"rps": rps, "p99_ms": p99, "requests": requests, "errors": errors}


def parse_latency(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def machine_description():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(info.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="1 s warm-up, 2 s runs, 1 round: proves it works end to end")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", help="comma-separated framework/configuration keys, e.g. Vapor/bare,Vapor/vapor-memory")
    parser.add_argument("--readme", help="README to update between the bench markers")
    parser.add_argument("--render-only", action="store_true",
                        help="redraw results.md, chart.svg (and the README) from --out's results.csv and meta.json")
    args = parser.parse_args()
    if args.render_only:
        rows, meta = load_results(args.out)
        return publish(rows, meta, args)
    if args.quick:
        args.rounds, args.seconds, args.warmup = 1, 2, 1

    os.makedirs(args.out, exist_ok=True)
    log_dir = os.path.join(args.out, "logs")
    os.makedirs(log_dir, exist_ok=True)
    chosen = CONFIGURATIONS
    if args.only:
        wanted = set(args.only.split(","))
        # Each chosen framework's bare server comes along: ratios are against it.
        frameworks = {key.split("/")[0] for key in wanted}
        chosen = [c for c in CONFIGURATIONS if f"{c[0]}/{c[1]}" in wanted or (c[1] == "bare" and c[0] in frameworks)]

    servers = []
    try:
        for framework, name, binary, config, label in chosen:
            server = Server(framework, name, binary, config, label, args.bin_dir, log_dir)
            servers.append(server)
        for server in servers:
            server.wait_ready()
            server.fetch_cookie()
            server.rss_start = rss_kib(server.process.pid)
        print(f"{len(servers)} servers up; warm-up {args.warmup}s per route", flush=True)
        for server in servers:
            for route in ROUTES:
                run_wrk(server, route, args.warmup, args.connections)

        samples = {}
        for round_index in range(args.rounds):
            # Rotate the order each round so no configuration always runs first or last.
            order = servers[round_index % len(servers):] + servers[:round_index % len(servers)]
            for server in order:
                for route in ROUTES:
                    before = rss_kib(server.process.pid)
                    result = run_wrk(server, route, args.seconds, args.connections)
                    after = rss_kib(server.process.pid)
                    if route == "new" and result["requests"]:
                        server.new_session_bytes.append((after - before) * 1024 / result["requests"])
                    samples.setdefault((server.key, route), []).append(result)
                    print(f"round {round_index + 1}/{args.rounds} {server.framework:11} {server.name:20} {route:8} "
                          f"{result['rps']:10.0f} req/s  p99 {result['p99_ms']:8.2f} ms  errors {result['errors']}", flush=True)
        for server in servers:
            server.rss_end = rss_kib(server.process.pid)
    finally:
        for server in servers:
            server.stop()

    rows = summarize(servers, samples)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "mode": "quick" if args.quick else "full",
        "settings": f"wrk -t1 -c{args.connections}, {args.warmup} s warm-up per route, {args.rounds} interleaved "
                    f"round(s) of {args.seconds} s per route; medians over the rounds",
    }
    write_csv(rows, os.path.join(args.out, "results.csv"))
    with open(os.path.join(args.out, "meta.json"), "w") as out:
        json.dump(meta, out, indent=2)
    return publish(rows, meta, args)


def publish(rows, meta, args):
    """Writes results.md and chart.svg, prints the table, updates the README if asked."""
    markdown = render_markdown(rows, meta)
    with open(os.path.join(args.out, "results.md"), "w") as out:
        out.write(markdown)
    with open(os.path.join(args.out, "chart.svg"), "w") as out:
        out.write(render_svg(rows, meta))
    print()
    print(markdown)
    if args.readme:
        update_readme(args.readme, markdown, os.path.relpath(os.path.join(args.out, "chart.svg"), os.path.dirname(os.path.abspath(args.readme))))
    failed = [row for row in rows if row["errors"]]
    return 1 if failed else 0


def load_results(directory):
    """Reads back what a run wrote: rows from results.csv, the run's description from meta.json."""
    labels = {(framework, name): label for framework, name, _, _, label in CONFIGURATIONS}
    with open(os.path.join(directory, "meta.json")) as meta_file:
        meta = json.load(meta_file)
    rows = []
    with open(os.path.join(directory, "results.csv")) as results:
        for record in csv.DictReader(results):
            row = {key: (None if value == "" else value) for key, value in record.items()}
            for key in ("rps", "ratio", "p99_ms", "rss_start_mib", "rss_end_mib", "bytes_per_new_session"):
                row[key] = None if row[key] is None else float(row[key])
            row["errors"] = int(row["errors"])
            row["label"] = labels[(row["framework"], row["configuration"])]
            rows.append(row)
    return rows, meta


def summarize(servers, samples):
    rows = []
    bare = {}
    for server in servers:
        for route in ROUTES:
            runs = samples[(server.key, route)]
            row = {
                "framework": server.framework,
                "configuration": server.name,
                "label": server.label,
                "route": route,
                "rps": statistics.median(r["rps"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                "rss_start_mib": server.rss_start / 1024,
                "rss_end_mib": server.rss_end / 1024,
                "bytes_per_new_session": statistics.median(server.new_session_bytes) if route == "new" and server.new_session_bytes else None,
            }
            if server.name == "bare":
                bare[(server.framework, route)] = row["rps"]
            rows.append(row)
    for row in rows:
        base = bare.get((row["framework"], row["route"]))
        row["ratio"] = row["rps"] / base if base else None
    return rows


def write_csv(rows, path):
    columns = ["framework", "configuration", "route", "rps", "ratio", "p99_ms", "errors", "rss_start_mib", "rss_end_mib", "bytes_per_new_session"]
    with open(path, "w") as out:
        out.write(",".join(columns) + "\n")
        for row in rows:
            out.write(",".join("" if row[c] is None else (f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c])) for c in columns) + "\n")


def render_markdown(rows, meta):
    lines = [
        f"Measured {meta['date']} on {meta['machine']} ({meta['mode']} run). {meta['settings']}. "
        "Server on core 0, wrk on core 1, PostgreSQL and Redis unpinned on the same machine. "
        "Ratio = requests/s relative to the bare framework on the same route (the `new` route is compared with bare `/counter`).",
        "",
        "| Framework | Configuration | plain (ratio) | read (ratio) | counter (ratio) | new session (ratio) | p99 read / counter | RSS start → end | RSS per new session |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_config = {}
    for row in rows:
        by_config.setdefault((row["framework"], row["configuration"]), {})[row["route"]] = row
    for (framework, _), routes in by_config.items():
        first = routes["plain"]

        def cell(route):
            row = routes[route]
            ratio = f" ({row['ratio']:.2f})" if row["ratio"] is not None else ""
            errors = f" ⚠ {row['errors']} errors" if row["errors"] else ""
            return f"{row['rps']:,.0f}{ratio}{errors}"

        per_session = routes["new"]["bytes_per_new_session"]
        per_session_text = f"{per_session:,.0f} B" if per_session is not None else ""
        lines.append(
            f"| {framework} | {first['label']} | {cell('plain')} | {cell('read')} | {cell('counter')} | {cell('new')} | "
            f"{routes['read']['p99_ms']:.2f} / {routes['counter']['p99_ms']:.2f} ms | "
            f"{first['rss_start_mib']:.0f} → {first['rss_end_mib']:.0f} MiB | {per_session_text} |"
        )
    return "\n".join(lines) + "\n"


def render_svg(rows, meta):
    """A horizontal bar chart: one group per configuration, one bar per route, ratio to bare."""
    configs = []
    for row in rows:
        if row["configuration"] == "bare":
            continue
        key = (row["framework"], row["label"])
        if key not in configs:
            configs.append(key)
    colors = {"plain": "#8da0cb", "read": "#66c2a5", "counter": "#fc8d62", "new": "#a6a6a6"}
    longest = max(len(f"{framework}: {label}") for framework, label in configs)
    bar, gap, left, width = 9, 14, 20 + int(longest * 6.8), 420
    maximum = max([1.0] + [row["ratio"] for row in rows if row["ratio"] is not None])
    scale = width / (maximum * 1.05)
    height = 70 + len(configs) * (bar * len(ROUTES) + gap) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">Requests/s relative to the bare framework (1.0 = no session cost)</text>',
        f'<text x="10" y="38" fill="#555">{escape(meta["date"])}, {escape(meta["machine"])}</text>',
    ]
    for index, route in enumerate(ROUTES):
        parts.append(f'<rect x="{left + index * 90}" y="48" width="10" height="10" fill="{colors[route]}"/>'
                     f'<text x="{left + index * 90 + 14}" y="57">{route}</text>')
    y = 70
    lookup = {(row["framework"], row["label"], row["route"]): row for row in rows}
    for framework, label in configs:
        group_height = bar * len(ROUTES)
        parts.append(f'<text x="{left - 8}" y="{y + group_height / 2 + 4}" text-anchor="end">{escape(framework)}: {escape(label)}</text>')
        for index, route in enumerate(ROUTES):
            row = lookup[(framework, label, route)]
            ratio = row["ratio"] or 0
            parts.append(f'<rect x="{left}" y="{y + index * bar}" width="{ratio * scale:.1f}" height="{bar - 1}" fill="{colors[route]}"/>'
                         f'<text x="{left + ratio * scale + 4:.1f}" y="{y + index * bar + bar - 1}" font-size="9">{ratio:.2f}</text>')
        y += group_height + gap
    one = left + scale
    parts.append(f'<line x1="{one:.1f}" y1="64" x2="{one:.1f}" y2="{y}" stroke="#333" stroke-dasharray="3,3"/>')
    parts.append(f'<text x="{one:.1f}" y="{y + 14}" text-anchor="middle">1.0</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def update_readme(path, markdown, chart):
    with open(path) as readme:
        text = readme.read()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} … {end} section")
    section = f"{start}\n![HTTP benchmark: ratio to the bare framework]({chart})\n\n{markdown}{end}"
    text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    with open(path, "w") as readme:
        readme.write(text)


if __name__ == "__main__":
    sys.exit(main())
