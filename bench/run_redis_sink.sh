#!/bin/sh
# Redis sink throughput on loopback (bench-redis-sink): starts a redis-server on a free port with
# no persistence, runs the benchmark for f32 and f16 token values, stops the server.
#   bench/run_redis_sink.sh [BUILD_DIR] [PACKETS]       default: build 4000
set -eu
build=${1:-build}
n=${2:-4000}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" --daemonize yes --pidfile "$dir/redis.pid"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; sleep 0.5; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
redis_cpu() {
    redis-cli -p "$port" info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { print s }'
}
for dtype in f32 f16; do
    before=$(redis_cpu)
    OPENBLAS_NUM_THREADS=1 "$build/bench/bench-redis-sink" "redis://127.0.0.1:$port" "$n" "$dtype"
    after=$(redis_cpu)
    # redis-server's own CPU per XADD (the other half of the loopback cost).
    awk -v a="$before" -v b="$after" -v n="$n" -v t="$dtype" 'BEGIN {
        printf "{\"bench\":\"redis_server_cpu\",\"dtype\":\"%s\",\"cpu_us_per_packet\":%.1f}\n", t, (b - a) / n * 1e6 }'
    redis-cli -p "$port" del bench:bench >/dev/null
done
