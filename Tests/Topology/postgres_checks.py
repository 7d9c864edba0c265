"""PostgreSQL scenarios for topology_test.py.

Failover: the three demo instances behind nginx use a multi-host URL (the primary and its
streaming standby, target_session_attrs=read-write). While 150 clients keep writing nonces,
reading them back, and signing out and in again, the primary is stopped with
`pg_ctlcluster ... stop -m immediate` (no shutdown checkpoint, like a crash) and the standby is
promoted. No demo instance is restarted. With synchronous replication nothing acknowledged may be
lost; with asynchronous replication the losses are measured and reported.

Touch commits: with the synchronous standby stopped, a touch committed with
touch_commit=asynchronous still answers, while a durable touch and every key write wait.

Every loop is bounded in count and time."""
import os
import subprocess
import time

from sentinel_checks import NonceLoad


def psql(port, sql):
    result = subprocess.run(["su", "postgres", "-c", f"psql -p {port} -Atc \"{sql}\""],
                            capture_output=True, text=True, timeout=30)
    return result.stdout.strip() if result.returncode == 0 else None


def postgres_failover_checks(primary_port, standby_port, make_client, label, report, synchronous=True):
    """(name, function) pairs for topology_test.check. `synchronous`: the primary waits for the
    standby on every commit (synchronous_standby_names), so nothing acknowledged may be lost."""
    replication = "synchronous" if synchronous else "asynchronous"

    def failover():
        assert psql(standby_port, "SELECT pg_is_in_recovery()") == "t", "the standby is not in recovery"
        state = psql(primary_port, "SELECT sync_state FROM pg_stat_replication")
        assert state == ("sync" if synchronous else "async"), f"the standby replicates {state}, expected {replication}"
        load = NonceLoad(make_client, f"pgfailover-{label}")
        load.start()
        load.wait_for(450, "load before the primary stops")
        readiness = make_client()
        started = time.time()
        subprocess.run(os.environ["SESSIONKIT_POSTGRES_KILL_PRIMARY"], shell=True, check=True, timeout=60)
        stopped = time.time() - started
        # /readyz says so while no host takes writes (bounded), then the operator promotes.
        unready, deadline = 0, time.time() + 20
        while unready < 3:
            assert time.time() < deadline, "/readyz never reported the missing primary"
            if readiness.request("GET", "/readyz", timeout=15)[0] == 503:
                unready += 1
            time.sleep(0.02)
        promote_at = time.time()
        subprocess.run(os.environ["SESSIONKIT_POSTGRES_PROMOTE_STANDBY"], shell=True, check=True, timeout=60)
        deadline = time.time() + 60
        while psql(standby_port, "SELECT pg_is_in_recovery()") != "f":
            assert time.time() < deadline, "the standby was not promoted within 60s"
            time.sleep(0.02)
        promoted = time.time()
        deadline = time.time() + 30
        while readiness.request("GET", "/readyz", timeout=15)[0] != 200:
            assert time.time() < deadline, "/readyz did not return to 200 after the promotion"
            time.sleep(0.02)
        ready_after = time.time() - promoted
        load.wait_for(900, "load after the promotion")
        writes_back = load.failure_window(started)
        report(f"{label} ({replication} replication): primary stopped (-m immediate, {stopped:.2f}s) and standby promoted under load (150 clients): "
               f"promotion issued {promote_at - started:.2f}s and confirmed (psql poll) {promoted - started:.2f}s after the stop; "
               f"/readyz 503 on {unready}+ polls before it, 200 again {ready_after:.2f}s after it; "
               + load.outcome(make_client, writes_back, "stop", require_no_loss=synchronous, require_sessions_kept=synchronous))

    return [(f"{label}: primary stopped immediately and {replication} standby promoted under load", failover)]


def touch_commit_checks(failover_url, start_demo, client_for, report):
    """(name, function) pairs: two demo instances that touch on every request (--touch-interval
    0) over the synchronous pair, one with touch_commit=asynchronous. `start_demo(store, args)`
    starts an instance and returns it (with .port and .stop()); `client_for(port)` makes a client."""

    def standby_down():
        separator = "&" if "?" in failover_url else "?"
        relaxed = start_demo(f"{failover_url}{separator}touch_commit=asynchronous", ["--touch-interval", "0"])
        durable = start_demo(failover_url, ["--touch-interval", "0"])
        try:
            readers = {"asynchronous": client_for(relaxed.port), "durable": client_for(durable.port)}
            writer = client_for(relaxed.port)
            for name, client in [*readers.items(), ("writer", writer)]:
                client.login(f"touch-{name}")
            visits_before = writer.me()["visits"]
            subprocess.run(os.environ["SESSIONKIT_POSTGRES_STOP_STANDBY"], shell=True, check=True, timeout=60)
            try:
                # The relaxed touches answer although no standby confirms anything.
                relaxed_statuses = [readers["asynchronous"].request("GET", "/api/me", timeout=15)[0] for _ in range(20)]
                # The durable touch and a key write wait for the missing standby until the
                # store timeout: 503 with Retry-After.
                durable_status, _, durable_headers = readers["durable"].request("GET", "/api/me", timeout=15)
                write_status, _, write_headers = writer.request("POST", "/api/visit", timeout=15)
            finally:
                # Starts it and waits until it is the synchronous standby again.
                subprocess.run(os.environ["SESSIONKIT_POSTGRES_START_STANDBY"], shell=True, check=True, timeout=60,
                               stdout=subprocess.DEVNULL)
            report(f"synchronous standby stopped, every request touching: 20 asynchronous touches answered "
                   f"{sorted(set(relaxed_statuses))}; a durable touch answered {durable_status}, a key write {write_status} "
                   f"(both waited for the standby until the store timeout)")
            assert relaxed_statuses == [200] * 20, relaxed_statuses
            assert durable_status == 503 and "retry-after" in durable_headers, (durable_status, durable_headers)
            assert write_status == 503 and "retry-after" in write_headers, (write_status, write_headers)
            # Once the standby is back nobody is signed out, and the waiting write either
            # committed (PostgreSQL commits it locally before it waits) or not: never more.
            assert readers["durable"].me()["user"] == "touch-durable"
            assert readers["asynchronous"].me()["user"] == "touch-asynchronous"
            assert writer.me()["visits"] in (visits_before, visits_before + 1)
        finally:
            relaxed.stop()
            durable.stop()

    return [("touch_commit=asynchronous: touches answer while the synchronous standby is down, durable writes wait", standby_down)]

