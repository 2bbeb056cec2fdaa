#!/usr/bin/python3
"""Integration: bad input everywhere, and the daemon keeps serving.

Configs: malformed YAML, unknown keys, wrong types, a missing file, a per-frame method, a
pipeline that does not parse -> `scriptd --check` exits 2 with FILE:LINE:COL and the key.
Sources: a missing file and a file that is not a video end failed (never retried); an RTSP
server that is not there and a pipeline with an unknown element are restarted with backoff and
counted, while a good stream keeps playing. HTTP: bearer-token authentication, the UNIX socket listener, a chunked body over
the size limit.
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

SOURCE_ROOT = os.environ.get("SCRIPTD_SOURCE_ROOT", "")
CHECK_DIR = tempfile.mkdtemp(prefix="scriptd-check-")
H._dirs.append(CHECK_DIR)


def check(text_or_path, extra_args=()):
    """Runs scriptd --check on a config text (written to a file) or a path."""
    if os.path.exists(text_or_path):
        path = text_or_path
    else:
        fd, path = tempfile.mkstemp(suffix=".yaml", dir=CHECK_DIR)
        with os.fdopen(fd, "w") as f:
            f.write(text_or_path)
    p = subprocess.run([H.BIN, "--check", "-c", path] + list(extra_args), capture_output=True,
                       text=True, env=H.daemon_env(), timeout=120)
    return p.returncode, p.stdout, p.stderr, path


class ConfigErrors(unittest.TestCase):
    def expect_invalid(self, text, line, col, key, needle):
        rc, out, err, path = check(text)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn(f"{path}:{line}:{col}:", err)
        if key:
            self.assertIn(f"key '{key}'", err)
        self.assertIn(needle, err)

    def test_malformed_yaml(self):
        self.expect_invalid("streams:\n  - id: a\n    file: x.mp4\n   fps: 2\n", 4, 4, None,
                            "YAML")

    def test_unknown_key(self):
        self.expect_invalid("server:\n  lisen: \"127.0.0.1:1\"\n", 2, 3, "server.lisen",
                            "unknown key")

    def test_wrong_types(self):
        self.expect_invalid("server:\n  max_body_bytes: lots\n", 2, 19, "server.max_body_bytes",
                            "size")
        self.expect_invalid("streams:\n  - id: a\n    file: a.mp4\n    fps: fast\n", 4, 10,
                            "streams[0].fps", "number")

    def test_per_frame_method(self):
        self.expect_invalid("defaults:\n  pruning:\n    method: tome\n", 3, 5,
                            "defaults.pruning.method", "'script' or 'qcsp'")

    def test_missing_file(self):
        rc, out, err, _ = check("/nonexistent/scriptd.yaml")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/scriptd.yaml", err)

    def test_pipeline_that_does_not_parse(self):
        rc, out, err, path = check(
            "streams:\n  - id: p\n    pipeline: \"videotestsrc ! nosuchelement\"\n")
        self.assertEqual(rc, 2, out)
        self.assertIn("streams[0] 'p': pipeline does not parse", err)
        self.assertIn("nosuchelement", err)

    def assert_valid_but_for_absent_files(self, rc, out, err):
        """The example configs name files of a deployed machine (/var/lib/scriptd/..., the
        demo's generated clip): --check reports those that are not here, and nothing else."""
        if rc == 0:
            self.assertIn("valid", out)
            return
        self.assertEqual(rc, 2, err)
        problems = [l for l in err.splitlines() if re.match(r"\S+:\d+:\d+: key ", l)]
        self.assertTrue(problems, err)
        for line in problems:
            self.assertRegex(line, r"key '[^']+': (video file|query image|query embedding|"
                                   r"encoder model|token file) .*: No such file or directory$")

    def test_shipped_configs_are_valid(self):
        for name in ("scriptd.yaml", "demo.yaml"):
            path = os.path.join(SOURCE_ROOT, "configs", name)
            rc, out, err, _ = check(path)
            self.assert_valid_but_for_absent_files(rc, out, err)

    def test_print_config_reads_back(self):
        path = os.path.join(SOURCE_ROOT, "configs", "scriptd.yaml")
        p = subprocess.run([H.BIN, "--print-config", "-c", path], capture_output=True,
                           text=True, env=H.daemon_env(), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        rc, out, err, printed = check(p.stdout)
        self.assert_valid_but_for_absent_files(rc, out, err)

    def test_command_line(self):
        env = H.daemon_env()
        for args, want in ((["--version"], 0), (["--help"], 0), (["--config-reference"], 0),
                           (["--no-such-option"], 2), (["extra-argument"], 2)):
            p = subprocess.run([H.BIN] + args, capture_output=True, text=True, env=env,
                               timeout=60)
            self.assertEqual(p.returncode, want, (args, p.stderr))
        # Starting on a broken config fails at once with the positioned error.
        fd, path = tempfile.mkstemp(suffix=".yaml", dir=CHECK_DIR)
        with os.fdopen(fd, "w") as f:
            f.write("server:\n  listen: [1, 2]\n")
        p = subprocess.run([H.BIN, "-c", path], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{path}:2:11:", p.stderr)


CONFIG = """
server:
  listen: "127.0.0.1:0"
  unix_socket: "{dir}/api.sock"
  token_file: "{dir}/token"
  max_body_bytes: 4KiB
  restart_min_s: 0.05
  restart_max_s: 0.4
  follow_queue_bytes: 64KiB
  log_format: plain
streams:
  - id: good
    pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=10/1"
    fps: 5
    encoder: {{image_size: 56}}
  - id: missing
    file: "{dir}/no-such-video.mp4"
  - id: notvideo
    file: "{dir}/token"
  - id: nocamera
    uri: "rtsp://127.0.0.1:{port}/stream"
  - id: badpipe
    pipeline: "videotestsrc ! nosuchelement"
  # Noise: every frame is new, so each frame's packet is large (a client that does not read
  # falls behind fast).
  - id: flood
    pipeline: "videotestsrc is-live=true pattern=snow ! video/x-raw,width=160,height=120,framerate=15/1"
    fps: 15
    encoder: {{image_size: 224}}
    pruning: {{emit: frame, frame_budget: 256, temporal_tau: 0.99}}
    sinks:
      - follow: true
"""

TOKEN = "s3cret-token-for-tests"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


class FailingSources(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon("")
        # A TCP port nobody listens on: the RTSP connection is refused at once.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with open(os.path.join(cls.d.dir, "token"), "w") as f:
            f.write(TOKEN + "\n")
        with open(cls.d.config, "w") as f:
            f.write(CONFIG.format(dir=cls.d.dir, port=port))
        cls.d.start()
        cls.auth = {"Authorization": f"Bearer {TOKEN}"}

    @classmethod
    def tearDownClass(cls):
        rc, took = cls.d.stop(signal.SIGTERM)
        if rc != 0 or took >= 5:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"
        assert took < 5.0, f"SIGTERM took {took:.2f} s with failing sources"

    def get(self, path, headers=None):
        return self.d.json("GET", path, headers=self.auth if headers is None else headers)

    def test_authentication(self):
        status, doc = self.d.json("GET", "/healthz")
        self.assertEqual(status, 200)  # exempt: for load balancers and systemd checks
        status, hdrs, data = self.d.request("GET", "/v1/streams")
        self.assertEqual(status, 401)
        self.assertIn("Bearer", hdrs.get("www-authenticate", ""))
        for bad in ("Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer "):
            status, doc = self.d.json("GET", "/metrics", headers={"Authorization": bad})
            self.assertEqual(status, 401, bad)
            self.assertEqual(doc["error"]["code"], "unauthorized")
        status, doc = self.get("/v1/streams")
        self.assertEqual(status, 200)
        # A refused request never reaches the handler: no body is read for it either.
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "x"})
        self.assertEqual(status, 401)

    def test_unix_socket(self):
        c = UnixHTTPConnection(os.path.join(self.d.dir, "api.sock"))
        c.request("GET", "/v1/streams/good", headers=self.auth)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b'"id" : "good"', r.read())
        c.close()

    def test_failing_sources_are_retried_and_counted(self):
        def all_retried():
            status, doc = self.get("/v1/streams")
            by_id = {s["id"]: s for s in doc["streams"]}
            bad = [by_id[i] for i in ("nocamera", "badpipe")]
            once = [by_id[i] for i in ("missing", "notvideo")]
            if all(s["restarts"] >= 2 and s["error"] for s in bad) and \
                    all(s["state"] == "failed" for s in once):
                return by_id
            return None
        by_id = H.wait_for(all_retried, "live sources restarted twice, files failed")
        self.assertIn("no-such-video.mp4", by_id["missing"]["error"])
        self.assertIn("nosuchelement", by_id["badpipe"]["error"])
        # A file that cannot be read is not retried: it ends failed with the reason.
        for sid in ("missing", "notvideo"):
            self.assertEqual(by_id[sid]["restarts"], 0, by_id[sid])
            self.assertTrue(by_id[sid]["error"], by_id[sid])
        # The good stream is untouched by its neighbours' failures.
        first = self.get("/v1/streams/good")[1]["frames"]
        H.wait_for(lambda: self.get("/v1/streams/good")[1]["frames"] > first, "good frames")
        self.assertEqual(self.get("/v1/streams/good")[1]["restarts"], 0)
        self.assertEqual(self.get("/v1/streams/good")[1]["state"], "playing")
        status, hdrs, data = self.d.request("GET", "/metrics", headers=self.auth)
        m = H.parse_metrics(data.decode())
        self.assertGreaterEqual(m['scriptd_source_restarts_total{stream="nocamera"}'], 2)
        self.assertEqual(m['scriptd_source_errors_total{stream="missing"}'], 1)
        self.assertEqual(m['scriptd_source_restarts_total{stream="missing"}'], 0)
        self.assertEqual(m['scriptd_stream_up{stream="good"}'], 1)
        # The refused RTSP connection is logged with its cause, not only GStreamer's text.
        H.wait_for(lambda: "refused" in self.d.log_text(), "the cause in the log")
        self.assertRegex(self.d.log_text(), r"nocamera: cause: connection to 127\.0\.0\.1:\d+ refused")

    def test_bodies_over_the_limit(self):
        c = self.d.conn()
        chunks = (b"{" + b" " * 1024 for _ in range(16))  # 16 KiB, chunked, no length
        c.request("POST", "/v1/streams/good/query", body=chunks, encode_chunked=True,
                  headers=dict(self.auth, **{"Content-Type": "application/json"}))
        r = c.getresponse()
        self.assertEqual(r.status, 413)
        r.read()
        c.close()
        status, doc = self.d.json("POST", "/v1/streams/good/query", raw=b"x" * 5000,
                                  headers=dict(self.auth, **{"Content-Type": "image/png"}))
        self.assertEqual(status, 413)
        self.assertEqual(doc["error"]["code"], "payload_too_large")
        status, doc = self.get("/healthz")
        self.assertEqual(status, 200)

    def test_a_client_that_does_not_read_is_dropped(self):
        s = socket.socket()
        # A tiny receive window, and nothing read: the daemon's queue for it must fill.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.d.port))
        s.sendall(f"GET /v1/streams/flood/follow HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
        key = 'scriptd_follow_dropped_clients_total{stream="flood"}'

        def dropped():
            status, hdrs, data = self.d.request("GET", "/metrics", headers=self.auth)
            return H.parse_metrics(data.decode()).get(key, 0) >= 1
        H.wait_for(dropped, "the slow follow client to be dropped")
        s.close()
        # The pipeline never waited for it.
        first = self.get("/v1/streams/flood")[1]["frames"]
        H.wait_for(lambda: self.get("/v1/streams/flood")[1]["frames"] > first + 5,
                   "flood frames after the drop")

    def test_connections_are_released(self):
        # libsoup 3.2 leaks connections its own listener accepts and kept-alive connections the
        # client closes: scriptd accepts them itself and closes each after its response.
        fd_dir = f"/proc/{self.d.proc.pid}/fd"
        before = len(os.listdir(fd_dir))
        for _ in range(200):
            status, hdrs, data = self.d.request("GET", "/healthz")
            self.assertEqual(status, 200)
            self.assertEqual(hdrs.get("connection"), "close")
        H.wait_for(lambda: len(os.listdir(fd_dir)) < before + 10, "descriptors to be released")

    def test_follow_needs_a_follow_sink(self):
        status, doc = self.get("/v1/streams/good/follow")
        self.assertEqual(status, 409, doc)
        self.assertEqual(doc["error"]["code"], "follow_disabled")

    def test_odd_paths(self):
        for path in ("/v1/streams/a%2Fb", "/v1/streams/" + "x" * 80, "/v1/streams/good/tokens/x",
                     "/v1/streams/good/"):
            status, hdrs, data = self.d.request("GET", path, headers=self.auth)
            self.assertIn(status, (400, 404) if not path.endswith("/") else (200,), path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
