"""PostgreSQL failover scenario for topology_test.py: the three demo instances behind nginx use
a multi-host URL (the primary and its synchronous streaming standby, target_session_attrs=read-write).
While 150 clients keep writing nonces, reading them back, and signing out and in again, the
primary is stopped with `pg_ctlcluster ... stop -m immediate` (no shutdown checkpoint, like a
crash) and the standby is promoted. No demo instance is restarted. Every loop is bounded in
count and time."""
import os
import subprocess
import time

from sentinel_checks import NonceLoad


def psql(port, sql):
    result = subprocess.run(["su", "postgres", "-c", f"psql -p {port} -Atc \"{sql}\""],
                            capture_output=True, text=True, timeout=30)
    return result.stdout.strip() if result.returncode == 0 else None


def postgres_failover_checks(standby_port, make_client, label, report):
    """(name, function) pairs for topology_test.check."""

    def failover():
        assert psql(standby_port, "SELECT pg_is_in_recovery()") == "t", "the standby is not in recovery"
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
            if readiness.request("GET", "/readyz", timeout=5)[0] == 503:
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
        while readiness.request("GET", "/readyz", timeout=5)[0] != 200:
            assert time.time() < deadline, "/readyz did not return to 200 after the promotion"
            time.sleep(0.02)
        ready_after = time.time() - promoted
        load.wait_for(900, "load after the promotion")
        writes_back = load.failure_window(started)
        report(f"{label}: primary stopped (-m immediate, {stopped:.2f}s) and standby promoted under load (150 clients): "
               f"promotion issued {promote_at - started:.2f}s and confirmed (psql poll) {promoted - started:.2f}s after the stop; "
               f"/readyz 503 on {unready}+ polls before it, 200 again {ready_after:.2f}s after it; "
               + load.outcome(make_client, writes_back, "stop", require_no_loss=True))

    return [(f"{label}: primary stopped immediately and standby promoted under load", failover)]
