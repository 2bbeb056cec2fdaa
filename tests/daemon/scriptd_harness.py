"""Runs the real scriptd for the integration tests and talks to it over HTTP (stdlib only).

The meson test definitions pass, through the environment:
  SCRIPTD_BIN          the scriptd executable of this build
  SCRIPTD_PLUGIN_DIR   the build's gst-plugin directory (the scriptprune plugin)
  SCRIPTD_CLI          the scriptprune CLI (its `inspect` runs core's wire reader)
  SCRIPTD_TEST_VIDEOS  directory of the sampler tests' generated videos (counter.mp4, ...)
  SCRIPTD_SAMPLE_VIDEO the demo clip made by tools/gen-sample-video.sh
  SCRIPTD_REGISTRY     a GStreamer registry file for this test (first scan is slow)
Every wait has a generous deadline; nothing asserts on timing except the SIGTERM bound.
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import zlib

BIN = os.environ.get("SCRIPTD_BIN", "scriptd")
PLUGIN_DIR = os.environ.get("SCRIPTD_PLUGIN_DIR", "")
CLI = os.environ.get("SCRIPTD_CLI", "scriptprune")
VIDEOS = os.environ.get("SCRIPTD_TEST_VIDEOS", "")
SAMPLE = os.environ.get("SCRIPTD_SAMPLE_VIDEO", "")
REGISTRY = os.environ.get("SCRIPTD_REGISTRY", "")

# Under the sanitizers everything is several times slower: deadlines are generous.
DEADLINE = 90.0

# Working directories of the daemons started here; removed at exit unless
# SCRIPTD_KEEP_TEST_DIRS=1 (then the daemon logs stay for a look).
_dirs = []


@atexit.register
def _remove_dirs():
    if os.environ.get("SCRIPTD_KEEP_TEST_DIRS") == "1":
        for d in _dirs:
            print(f"kept {d}")
        return
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


def daemon_env(extra=None):
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = PLUGIN_DIR
    # Scan plugins in this process: an instrumented plugin cannot be loaded by the
    # uninstrumented gst-plugin-scanner helper.
    env["GST_REGISTRY_FORK"] = "no"
    if REGISTRY:
        env["GST_REGISTRY_1_0"] = REGISTRY
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.pop("NOTIFY_SOCKET", None)
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    if extra:
        env.update(extra)
    return env


def wait_for(pred, what, deadline=DEADLINE, step=0.1):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}")


class Daemon:
    """One scriptd process with a config written from text."""

    def __init__(self, config_text, workdir=None, env=None, args=()):
        self.dir = workdir or tempfile.mkdtemp(prefix="scriptd-it-")
        _dirs.append(self.dir)
        self.config = os.path.join(self.dir, "scriptd.yaml")
        self.ready = os.path.join(self.dir, "ready.json")
        self.logpath = os.path.join(self.dir, "scriptd.log")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.env = daemon_env(env)
        self.args = list(args)
        self.proc = None
        self.port = None

    def start(self):
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [BIN, "-c", self.config, "--ready-file", self.ready] + self.args,
            stdout=subprocess.PIPE, stderr=self.log, env=self.env)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"scriptd exited with {self.proc.returncode} before it was ready:\n"
                    + self.log_text())
            if not os.path.exists(self.ready):
                return None
            with open(self.ready) as f:
                return json.load(f)
        info = wait_for(ready, "the ready file")
        self.port = info["port"]
        return self

    def log_text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        """Sends sig and waits; returns (exit code, seconds taken)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else 0), 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("scriptd did not exit after the signal:\n" + self.log_text())
        took = time.monotonic() - t0
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        return rc, took

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    # ---- HTTP ----------------------------------------------------------------------------

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def json(self, method, path, obj=None, headers=None, raw=None):
        h = dict(headers or {})
        body = raw
        if obj is not None:
            body = json.dumps(obj).encode()
            h.setdefault("Content-Type", "application/json")
        status, hdrs, data = self.request(method, path, body, h)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            raise AssertionError(f"{method} {path}: not JSON ({status}): {data[:200]!r}")
        return status, doc

    def metrics(self):
        status, hdrs, data = self.request("GET", "/metrics")
        assert status == 200, status
        return parse_metrics(data.decode())

    def stream(self, sid):
        status, doc = self.json("GET", f"/v1/streams/{sid}")
        assert status == 200, (status, doc)
        return doc

    def wait_stream(self, sid, pred, what):
        return wait_for(lambda: (lambda s: s if pred(s) else None)(self.stream(sid)),
                        f"stream {sid}: {what}")


def parse_metrics(text):
    """{'name{labels}': value} of the exposition's samples."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


# ---- safetensors and the wire format -------------------------------------------------------

_DTYPES = {"F32": ("f", 4), "F16": ("e", 2), "I64": ("q", 8), "I32": ("i", 4), "I16": ("h", 2),
           "U8": ("B", 1)}


def read_safetensors(data):
    """(metadata, {name: (dtype, shape, values list)}) with every check a reader should make."""
    assert len(data) >= 8, "safetensors: shorter than its header length"
    (hlen,) = struct.unpack_from("<Q", data, 0)
    assert 8 + hlen <= len(data), "safetensors: header runs past the end"
    header = json.loads(data[8:8 + hlen])
    meta = header.pop("__metadata__", {})
    body = data[8 + hlen:]
    tensors = {}
    for name, t in header.items():
        fmt, size = _DTYPES[t["dtype"]]
        begin, end = t["data_offsets"]
        n = 1
        for d in t["shape"]:
            n *= d
        assert end - begin == n * size, f"{name}: {end - begin} bytes for shape {t['shape']}"
        assert end <= len(body), f"{name}: data past the end"
        values = list(struct.unpack_from(f"<{n}{fmt}", body, begin)) if n else []
        tensors[name] = (t["dtype"], t["shape"], values)
    return meta, tensors


def complete_wire_prefix(data):
    """The longest prefix of a token stream made of the header and whole packets."""
    if len(data) < 8 or data[:4] != b"SPTS":
        return b""
    (hlen,) = struct.unpack_from("<H", data, 6)
    pos = hlen
    while pos + 8 <= len(data):
        assert data[pos:pos + 4] == b"SPPK", f"no packet magic at {pos}"
        (plen,) = struct.unpack_from("<I", data, pos + 4)
        if pos + plen > len(data):
            break
        pos += plen
    return data[:pos]


def inspect_with_core(path):
    """Runs core's reader (scriptprune inspect) on a token-stream file: (rc, stdout lines)."""
    p = subprocess.run([CLI, "inspect", path], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout.splitlines(), p.stderr


# ---- small inputs ------------------------------------------------------------------------

def png_solid(width, height, rgb):
    """A PNG of one colour, written with zlib (no image library needed)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, payload):
        c = struct.pack(">I", len(payload)) + kind + payload
        return c + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, {key: value})
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def all(self):
        with self.lock:
            return list(self.messages)

    def since(self, t):
        return [m for (ts, m) in self.all() if ts >= t]

    def wait(self, pred, what, after=0.0, deadline=DEADLINE):
        return wait_for(lambda: next((m for m in self.since(after) if pred(m)), None),
                        f"sd_notify message: {what}", deadline)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
