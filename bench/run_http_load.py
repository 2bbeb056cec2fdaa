#!/usr/bin/python3
"""HTTP load benchmark: C concurrent clients for D seconds against scriptd on loopback.

Starts scriptd (this build's binary and plugin) with a live test-pattern stream that has a follow
sink and one follow client reading it, unless --port names a daemon already running on
127.0.0.1. Each client sends one request at a time (scriptd closes every connection after its
response), cycling through GET /healthz, /v1/streams, /v1/streams/live and /metrics. A request
fails when it errors, gets no complete response within --timeout seconds, or gets a status other
than 200. Prints one JSON line: requests/s, latency p50/p99/max (ms) over all requests and over
/healthz alone, failures by kind. Stdlib only; bounded by --duration (default 30 s).

usage: bench/run_http_load.py [--build build] [--clients 50] [--duration 30] [--port P]
"""
import argparse
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = ["/healthz", "/v1/streams", "/v1/streams/live", "/metrics"]

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: warning
streams:
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1"
    fps: 5
    encoder:
      image_size: 224
    pruning:
      window: 4
      hop: 2
      window_budget: 64
    sinks:
      - follow: true
"""


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def start_daemon(build, workdir):
    cfg = os.path.join(workdir, "scriptd.yaml")
    ready = os.path.join(workdir, "ready.json")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = os.path.join(build, "gst-plugin")
    env["GST_REGISTRY_1_0"] = os.path.join(workdir, "registry.bin")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.pop("NOTIFY_SOCKET", None)
    log = open(os.path.join(workdir, "scriptd.log"), "wb")
    proc = subprocess.Popen([os.path.join(build, "daemon", "scriptd"), "-c", cfg, "--ready-file",
                             ready], stdout=subprocess.DEVNULL, stderr=log, env=env)
    end = time.monotonic() + 120
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            sys.exit("scriptd did not start; see " + log.name)
        time.sleep(0.1)
    with open(ready) as f:
        port = json.load(f)["port"]
    return proc, port


class Conn:
    """One request in flight on a non-blocking socket."""
    __slots__ = ("client", "path", "sock", "t0", "data", "sent")


def parse_status(data):
    """The status of a complete response, or raises."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ConnectionError("incomplete response")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:") and int(line.split(b":", 1)[1]) != len(body):
            raise ConnectionError("short body")
    return int(head.split(b" ", 2)[1])


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(p / 100 * len(v)))], 2)


def run(port, clients, duration, timeout, paths):
    """Closed loop: each client starts its next request when the previous one ends. One thread
    and epoll (selectors), so the client's own cost per request stays small next to the
    daemon's."""
    sel = selectors.DefaultSelector()
    lat, hz, failures = [], [], {}
    followed = 0
    inflight = set()
    counters = [0] * clients

    def fail(kind):
        failures[kind] = failures.get(kind, 0) + 1

    def start(client):
        c = Conn()
        c.client = client
        c.path = paths[counters[client] % len(paths)]
        counters[client] += 1
        c.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.sock.setblocking(False)
        c.t0 = time.monotonic()
        c.data = b""
        c.sent = False
        c.sock.connect_ex(("127.0.0.1", port))
        sel.register(c.sock, selectors.EVENT_WRITE, c)
        inflight.add(c)

    def finish(c, kind=None):
        sel.unregister(c.sock)
        c.sock.close()
        inflight.discard(c)
        if kind is None:
            try:
                status = parse_status(c.data)
            except (ConnectionError, ValueError, IndexError):
                kind = "bad response"
            else:
                if status != 200:
                    kind = f"status {status}"
        if kind:
            fail(kind)
        else:
            ms = (time.monotonic() - c.t0) * 1000
            lat.append(ms)
            if c.path == "/healthz":
                hz.append(ms)
        if time.monotonic() < deadline:
            start(c.client)

    fsock = socket.create_connection(("127.0.0.1", port))
    fsock.sendall(b"GET /v1/streams/live/follow HTTP/1.1\r\nHost: bench\r\n\r\n")
    fsock.setblocking(False)
    sel.register(fsock, selectors.EVENT_READ, None)
    t0 = time.monotonic()
    deadline = t0 + duration
    for i in range(clients):
        start(i)
    while inflight:
        now = time.monotonic()
        for key, _ in sel.select(0.05):
            c = key.data
            if c is None:  # the follow client
                try:
                    chunk = fsock.recv(262144)
                except BlockingIOError:
                    continue
                followed += len(chunk)
                if not chunk:
                    sel.unregister(fsock)
                continue
            if not c.sent:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    finish(c, os.strerror(err))
                    continue
                c.sock.send(f"GET {c.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
                c.sent = True
                sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                chunk = c.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError as e:
                finish(c, type(e).__name__)
                continue
            if chunk:
                c.data += chunk
            else:  # scriptd closes after the response
                finish(c)
        for c in [c for c in inflight if now - c.t0 > timeout]:
            finish(c, "timeout")
    took = time.monotonic() - t0
    fsock.close()
    n_fail = sum(failures.values())
    return {
        "bench": "http_load", "clients": clients, "duration_s": round(took, 2),
        "requests": len(lat) + n_fail, "requests_per_s": round((len(lat) + n_fail) / took, 1),
        "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
        "max_ms": round(max(lat), 2) if lat else None,
        "healthz_requests": len(hz), "healthz_p50_ms": pct(hz, 50), "healthz_p99_ms": pct(hz, 99),
        "healthz_max_ms": round(max(hz), 2) if hz else None,
        "failures": n_fail, "failure_kinds": failures, "follow_bytes": followed,
        "client_cpu_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds (bounded run)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    ap.add_argument("--paths", default=",".join(PATHS),
                    help="comma-separated paths the clients cycle through")
    ap.add_argument("--port", type=int, help="use a scriptd already listening on 127.0.0.1:PORT "
                    "(it needs a stream 'live' with a follow sink)")
    args = ap.parse_args()
    proc, workdir = None, None
    port = args.port
    if port is None:
        workdir = tempfile.mkdtemp(prefix="scriptd-http-load-")
        proc, port = start_daemon(os.path.abspath(args.build), workdir)
        time.sleep(2.0)  # let the stream reach PLAYING and emit packets
    cpu0 = cpu_seconds(proc.pid) if proc else None
    try:
        result = run(port, args.clients, args.duration, args.timeout, args.paths.split(","))
        cpu1 = cpu_seconds(proc.pid) if proc else None
        if cpu0 is not None and cpu1 is not None and result["requests"]:
            # The daemon's CPU per request (the live stream's share included): with the
            # latencies it tells a slow server from a busy machine.
            result["daemon_cpu_s"] = round(cpu1 - cpu0, 2)
            result["daemon_cpu_us_per_request"] = round((cpu1 - cpu0) / result["requests"] * 1e6)
        result["loadavg_1min"] = os.getloadavg()[0]
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
