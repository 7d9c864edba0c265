"""Redis Sentinel scenarios for topology_test.py: the three demo instances behind nginx share a
primary that three Sentinels watch, with one replica. The operator fails it over with
SENTINEL FAILOVER, then kills it with SIGKILL, while 150 clients keep writing nonces, reading
them back, and signing out and in again. Every loop is bounded in count and time; every
process is addressed by its port or PID."""
import os
import signal
import subprocess
import threading
import time
import uuid

from cluster_checks import cli


class Sentinels:
    """The operator's view: which data node the Sentinels name primary, and its replicas."""

    def __init__(self, sentinel_ports, data_ports, name):
        self.sentinel_ports, self.data_ports, self.name = sentinel_ports, data_ports, name

    def named_primary(self, sentinel_port):
        reply = cli(sentinel_port, "SENTINEL", "get-master-addr-by-name", self.name, check=False).split()
        return int(reply[1]) if len(reply) == 2 else None

    def primary(self):
        return next(port for port in map(self.named_primary, self.sentinel_ports) if port)

    def wait_settled(self, seconds=90):
        """Until every Sentinel names the same primary, that node says `master`, and every
        other data node is its connected replica: the state a failover needs to start from."""
        deadline = time.time() + seconds
        while True:
            named = {self.named_primary(port) for port in self.sentinel_ports}
            if len(named) == 1 and None not in named:
                primary = named.pop()
                role = cli(primary, "ROLE", check=False).splitlines()
                replicas_ok = all(
                    cli(port, "ROLE", check=False).splitlines()[:4] == ["slave", "127.0.0.1", str(primary), "connected"]
                    for port in self.data_ports if port != primary)
                if role[:1] == ["master"] and replicas_ok:
                    return primary
            assert time.time() < deadline, f"the Sentinels did not settle within {seconds}s"
            time.sleep(0.05)

    def pid(self, port):
        return int(next(line.split(":")[1] for line in cli(port, "INFO", "server").splitlines()
                        if line.startswith("process_id:")))


class NonceLoad:
    """Signed-in clients that, until stopped (bounded by `seconds`), write a fresh nonce, read
    it back, and every tenth round sign out and in again. Records what each write's answer
    acknowledged, every 503 (and whether it carried Retry-After), every other failure, and the
    cookies of sessions that were signed out, so losses and resurrections can be counted."""

    def __init__(self, make_client, label, clients=150, seconds=180):
        self.label, self.seconds = label, seconds
        self.clients = [make_client() for _ in range(clients)]
        for index, client in enumerate(self.clients):
            client.login(self.user(index))
        self.lock = threading.Lock()
        self.requests = 0
        self.unavailable = 0
        self.unavailable_without_retry_after = 0
        self.other_errors = []
        self.failure_times = []
        self.stale_reads = 0
        # What a read may return: the last acknowledged nonce, plus any write whose answer
        # was lost (it may or may not have run).
        self.possible = [set() for _ in range(clients)]
        self.dead_cookies = []
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(index,)) for index in range(clients)]

    def user(self, index):
        return f"{self.label}-{index}"

    def call(self, client, method, path, body=None):
        try:
            status, parsed, headers = client.request(method, path, body, timeout=15)
        except OSError as error:
            status, parsed, headers = 0, repr(error), {}
        with self.lock:
            self.requests += 1
            if status == 503:
                self.unavailable += 1
                if "retry-after" not in headers:
                    self.unavailable_without_retry_after += 1
            elif status != 200:
                self.other_errors.append((method, path, status, parsed))
            if status != 200:
                self.failure_times.append(time.time())
        return status, parsed

    def run(self, index):
        client = self.clients[index]
        deadline = time.time() + self.seconds
        round_number = 0
        while not self.stop_event.is_set() and time.time() < deadline:
            round_number += 1
            nonce = uuid.uuid4().hex
            status, _ = self.call(client, "PUT", "/api/notes/nonce", {"value": nonce})
            if status == 200:
                self.possible[index] = {nonce}
            else:
                self.possible[index].add(nonce)
            status, body = self.call(client, "GET", "/api/notes/nonce")
            if status == 200 and body["value"] not in self.possible[index]:
                with self.lock:
                    self.stale_reads += 1
            if round_number % 10 == index % 10:
                self.sign_out_and_in(index, deadline)

    def sign_out_and_in(self, index, deadline):
        client = self.clients[index]
        cookie = client.cookie
        status, _ = self.call(client, "POST", "/api/logout", {})
        if status == 200:
            with self.lock:
                self.dead_cookies.append(cookie)
            kept = set()
        else:
            # Unknown outcome: if the sign-out did not run, signing in again keeps the values.
            kept = set(self.possible[index])
        # Signed in again before anything else, so at the end every client should be.
        while time.time() < deadline:
            status, _ = self.call(client, "POST", "/api/login", {"user": self.user(index), "password": "demo"})
            if status == 200:
                self.possible[index] = {None} | kept
                return
            time.sleep(0.05)

    def start(self):
        for thread in self.threads:
            thread.start()

    def wait_for(self, more, what, seconds=120):
        target = self.requests + more
        deadline = time.time() + seconds
        while self.requests < target:
            assert time.time() < deadline, f"load stalled waiting for {what}: {self.requests} requests"
            time.sleep(0.01)

    def finish(self, make_client):
        """Stops the load and returns (signed out, acknowledged writes lost, sessions back)."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)
        signed_out, lost = 0, 0
        for index, client in enumerate(self.clients):
            status, me, _ = client.request("GET", "/api/me")
            if status != 200 or me["user"] != self.user(index):
                signed_out += 1
                continue
            status, body, _ = client.request("GET", "/api/notes/nonce")
            if status != 200 or body["value"] not in self.possible[index]:
                lost += 1
        back = 0
        for cookie in self.dead_cookies:
            replay = make_client()
            replay.cookie = cookie
            status, me, _ = replay.request("GET", "/api/me")
            if status == 200 and me["user"] is not None:
                back += 1
        return signed_out, lost, back

    def outcome(self, make_client, writes_back, trigger, require_no_loss, require_sessions_kept=True):
        """Stops the load, asserts what every failover must keep (no 503 without Retry-After, no
        other error; with `require_sessions_kept`, nobody signed out and no signed-out session
        back; with `require_no_loss`, no acknowledged write lost) and returns the report's
        counts as text. A store that replicates every write asynchronously keeps none of the
        three by construction: there they are measured, not asserted."""
        signed_out, lost, back = self.finish(make_client)
        text = (f"{self.requests} requests, {self.unavailable} 503s ({self.unavailable_without_retry_after} without "
                f"Retry-After), {len(self.other_errors)} other errors, writes succeed again {writes_back:.2f}s after "
                f"the {trigger}; {signed_out} clients signed out, {lost} acknowledged writes lost ({self.stale_reads} "
                f"stale reads during the load), {back} of {len(self.dead_cookies)} signed-out sessions came back")
        print("   " + text, flush=True)
        assert self.unavailable_without_retry_after == 0, "a 503 without Retry-After"
        assert not self.other_errors, f"errors other than 503: {self.other_errors[:5]}"
        if require_sessions_kept:
            assert signed_out == 0, f"{signed_out} clients were signed out"
            assert back == 0, f"{back} signed-out sessions came back"
        if require_no_loss:
            assert lost == 0, f"{lost} acknowledged writes lost"
        return text

    def failure_window(self, since):
        late = [moment for moment in self.failure_times if moment >= since]
        return (max(late) - since) if late else 0.0


def wait_for_new_primary(sentinels, old, started, seconds=60):
    """Waits until every Sentinel names a primary other than `old` and it answers ROLE as
    master; returns the seconds since `started`."""
    deadline = time.time() + seconds
    while True:
        named = [sentinels.named_primary(port) for port in sentinels.sentinel_ports]
        if named and all(port and port != old for port in named) and cli(named[0], "ROLE", check=False).startswith("master"):
            return time.time() - started
        assert time.time() < deadline, f"no new primary within {seconds}s"
        time.sleep(0.02)


def sentinel_failover(sentinels):
    """SENTINEL FAILOVER from a settled pair; returns (old primary, seconds to the new one)."""
    sentinels.wait_settled()
    old = sentinels.primary()
    started = time.time()
    cli(sentinels.sentinel_ports[0], "SENTINEL", "FAILOVER", sentinels.name)
    return old, wait_for_new_primary(sentinels, old, started)


def sentinel_checks(sentinels, make_client, label, report, durable):
    """The Sentinel scenarios, as (name, function) pairs for topology_test.check. `durable`: the
    demos run with acknowledge=all, so every acknowledged write must survive."""
    mode = "acknowledge=all" if durable else "acknowledge=auto (critical writes wait)"

    def run_scenario(name, slug, trigger):
        sentinels.wait_settled()
        load = NonceLoad(make_client, f"{slug}-{label}")
        load.start()
        load.wait_for(450, f"load before the {name}")
        started = time.time()
        old_primary, promoted_after = trigger()
        load.wait_for(900, f"load after the {name}")
        writes_back = load.failure_window(started)
        report(f"{label} ({mode}): {name} under load (150 clients): new primary {old_primary} -> {sentinels.primary()} "
               f"after {promoted_after:.2f}s; " + load.outcome(make_client, writes_back, "trigger", require_no_loss=durable))
        # Stale reads (an instance still reading the old primary for a moment while another
        # already writes to the new one) are reported, not asserted: reads do not wait.

    def manual_failover():
        old = sentinels.primary()
        started = time.time()
        cli(sentinels.sentinel_ports[0], "SENTINEL", "FAILOVER", sentinels.name)
        return old, wait_for_new_primary(sentinels, old, started)

    def kill_primary():
        old = sentinels.primary()
        pid = sentinels.pid(old)
        readiness = make_client()
        started = time.time()
        os.kill(pid, signal.SIGKILL)
        # /readyz while no primary answers, then after the promotion.
        deadline = time.time() + 60
        unready = 0
        while not any(port and port != old for port in map(sentinels.named_primary, sentinels.sentinel_ports)):
            assert time.time() < deadline, "no new primary within 60s"
            if readiness.request("GET", "/readyz", timeout=5)[0] == 503:
                unready += 1
            time.sleep(0.02)
        promoted = wait_for_new_primary(sentinels, old, started)
        ready_deadline = time.time() + 30
        while readiness.request("GET", "/readyz", timeout=5)[0] != 200:
            assert time.time() < ready_deadline, "/readyz did not return to 200 after the promotion"
            time.sleep(0.02)
        report(f"{label} ({mode}): /readyz after a SIGKILLed primary: 503 on {unready} polls before the promotion, "
               f"200 again {time.time() - started - promoted:.2f}s after it")
        assert unready > 0, "/readyz never reported the missing primary"
        # The killed node comes back empty as a replica of the new primary, as an operator
        # would restart it; the next scenario starts from a settled pair again.
        restart = os.environ["SESSIONKIT_REDIS_SENTINEL_NODE_START"]
        subprocess.run(f"{restart} {old} {sentinels.primary()}", shell=True, check=True, timeout=60)
        return old, promoted

    return [
        (f"{label} ({mode}): SENTINEL FAILOVER under load", lambda: run_scenario("SENTINEL FAILOVER", "failover", manual_failover)),
        (f"{label} ({mode}): SIGKILL of the primary under load", lambda: run_scenario("SIGKILL of the primary", "sigkill", kill_primary)),
    ]
