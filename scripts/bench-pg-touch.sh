#!/usr/bin/env bash
# What `touch_commit=asynchronous` buys (PostgresTouchCommit): pgbench runs the exact touch
# statement of PostgresSessionStore against the primary of scripts/services.sh, whose commits wait
# for its synchronous standby, once as the store sends it by default and once with the store's
# `set_config('synchronous_commit', 'off', true)`, at 1, 8 and 32 clients, in interleaved rounds,
# and prints the median transactions per second and latency of each.
#
#   eval "$(scripts/services.sh start)"   # with the standby (the default)
#   bash scripts/bench-pg-touch.sh [SECONDS_PER_ROUND] [ROUNDS]   # default 5 s x 5 rounds, ~3 min
#
# The table is a scratch copy with PostgresSchema's columns and indexes, in its own schema,
# dropped afterwards. Never part of `swift test` or `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"
rounds="${2:-5}"
port="${SESSIONKIT_PG_PORT:-55432}"
version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
pgbench="/usr/lib/postgresql/$version/bin/pgbench"
work="$(mktemp -d)"
chmod 755 "$work"
as_postgres() { su postgres -c "$*"; }
sql() { as_postgres "PGOPTIONS='-c client_min_messages=warning' psql -q -p $port -d sessionkit -v ON_ERROR_STOP=1 -c \"$1\"" >/dev/null; }

state="$(as_postgres "psql -p $port -Atc \"SELECT sync_state FROM pg_stat_replication\"" || true)"
if [ "$state" != sync ]; then
    echo "the primary on $port has no synchronous standby (sync_state: '${state:-none}'): start scripts/services.sh with the standby" >&2
    exit 1
fi
cleanup() { sql "DROP SCHEMA IF EXISTS bench_touch CASCADE" || true; rm -rf "$work"; }
trap cleanup EXIT
sql "DROP SCHEMA IF EXISTS bench_touch CASCADE"
sql "CREATE SCHEMA bench_touch"
sql "CREATE TABLE bench_touch.sessions (id text PRIMARY KEY, data jsonb NOT NULL DEFAULT '{}'::jsonb, user_id text, created_at timestamptz NOT NULL, last_seen_at timestamptz NOT NULL, idle_expires_at timestamptz NOT NULL, absolute_expires_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, user_agent text, version bigint NOT NULL DEFAULT 1)"
sql "CREATE INDEX ON bench_touch.sessions (expires_at)"
sql "CREATE INDEX ON bench_touch.sessions (user_id, created_at) WHERE user_id IS NOT NULL"
sql "INSERT INTO bench_touch.sessions (id, data, created_at, last_seen_at, idle_expires_at, absolute_expires_at, expires_at) SELECT 's' || n, '{\\\"n\\\": 1}', now(), now(), now() + interval '1 hour', now() + interval '1 day', now() + interval '1 hour' FROM generate_series(1, 10000) AS n"

# The statement PostgresSessionStore.update sends for a touch (no keys set or removed).
touch() {
    cat <<SQL
\set n random(1, 10000)
UPDATE bench_touch.sessions SET
    data = (data - '{}'::text[]) || '{}'::jsonb,
    idle_expires_at = now() + interval '1 hour',
    expires_at = LEAST(now() + interval '1 hour', absolute_expires_at),
    last_seen_at = now(),
    version = version + 1
$1WHERE id = 's' || :n AND expires_at > now() AND (NULL::bigint IS NULL OR version = NULL::bigint)
RETURNING 1;
SQL
}
touch "" > "$work/durable.sql"
touch "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS touch_commit " > "$work/asynchronous.sql"

run() {  # mode clients -> "tps latency_ms"
    as_postgres "$pgbench -n -M extended -p $port -c $2 -j $(( $2 < 2 ? 1 : 2 )) -T $seconds -f $work/$1.sql sessionkit" 2>/dev/null |
        awk '/^latency average/ { latency = $4 } /^tps/ { tps = $3 } END { print tps, latency }'
}
median() { sort -n | awk '{ value[NR] = $1 } END { print value[int((NR + 1) / 2)] }'; }

printf "%-8s %-13s %12s %14s\n" clients touch_commit "median tx/s" "median latency"
for clients in 1 8 32; do
    : > "$work/results"
    for _ in $(seq 1 "$rounds"); do
        for mode in durable asynchronous; do
            echo "$mode $(run "$mode" "$clients")" >> "$work/results"
        done
    done
    for mode in durable asynchronous; do
        tps="$(awk -v m="$mode" '$1 == m { print $2 }' "$work/results" | median)"
        latency="$(awk -v m="$mode" '$1 == m { print $3 }' "$work/results" | median)"
        printf "%-8s %-13s %12.0f %11.3f ms\n" "$clients" "$mode" "$tps" "$latency"
    done
done
