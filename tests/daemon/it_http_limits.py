#!/usr/bin/python3
"""Integration: the HTTP server under slow, idle and malformed clients.

A daemon with short timeouts (header_timeout_s 2, body_timeout_s 2) and a small connection cap
(max_connections 8) and a live stream with a follow sink. Checks, over raw sockets: idle and
half-sent connections are closed after the header timeout; a body shorter than its
Content-Length gets 400 after the body timeout, and one sent after its head is answered; a negative or unparsable Content-Length gets 400;
a request line or head over the limits gets 414 / 431 with a JSON error (not a reset); connections
beyond the cap get 503 while earlier ones are served; a follow session the client ends is not
counted as 500; counters print as integers; the listen queue holds a burst of connections.
"""
import json
import os
import select
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  log_level: info
  header_timeout_s: 2
  body_timeout_s: 2
  max_connections: 8
streams:
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1"
    fps: 5
    encoder:
      image_size: 112
    pruning:
      window: 4
      hop: 2
      window_budget: 16
    sinks:
      - follow: true
"""

# Far longer than the configured timeouts: what the checks wait at most for the daemon to act.
WAIT = 30.0


def read_response(sock, deadline=WAIT):
    """Reads until the server closes; returns (status, headers dict, body bytes) or raises."""
    sock.settimeout(deadline)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def closed_within(sock, seconds):
    """Seconds until the server closed sock (EOF or reset), or None if it stayed open."""
    sock.settimeout(seconds)
    t0 = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


class HttpLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon(CONFIG).start()
        cls.d.wait_stream("live", lambda s: s["state"] == "playing", "state playing")

    @classmethod
    def tearDownClass(cls):
        rc, _ = cls.d.stop()
        if rc != 0:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=WAIT)
        self.addCleanup(s.close)
        return s

    def wait_served(self):
        """Waits until a request is served again (connections a test held are gone)."""
        def healthy():
            try:
                status, _ = self.d.json("GET", "/healthz")
                return status == 200
            except OSError:
                return False
        H.wait_for(healthy, "a request to be served once the test's connections are closed")

    def expect_json_error(self, sock, status, code):
        got, headers, body = read_response(sock)
        self.assertEqual(got, status, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(body)["error"]["code"], code)

    # ---- timeouts ---------------------------------------------------------------------------

    def test_idle_connection_is_closed_after_the_header_timeout(self):
        s = self.connect()
        took = closed_within(s, WAIT)
        self.assertIsNotNone(took, "an idle connection stayed open")

    def test_half_sent_head_is_closed_after_the_header_timeout(self):
        s = self.connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        took = closed_within(s, WAIT)
        self.assertIsNotNone(took, "a connection with half a head stayed open")

    def test_short_body_gets_400_after_the_body_timeout(self):
        s = self.connect()
        s.sendall(b"POST /v1/streams/live/query HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\":")
        self.expect_json_error(s, 400, "body_timeout")
        # The daemon still answers.
        status, _ = self.d.json("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_body_sent_after_the_head_is_read(self):
        # The head arrives alone; the body follows once the daemon has read the head and handed
        # the request over. Every such request is answered at once, not with body_timeout.
        row = [0.0] * 256
        row[3] = 1.0
        body = json.dumps({"embedding": [row]}).encode()
        for _ in range(5):
            s = self.connect()
            s.sendall(b"POST /v1/streams/live/query HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nConnection: close\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            time.sleep(0.2)
            s.sendall(body)
            status, _, data = read_response(s)
            self.assertEqual(status, 200, data)
            s.close()

    def test_many_idle_connections_are_all_closed(self):
        socks = [self.connect() for _ in range(6)]
        for i, s in enumerate(socks):
            if i % 2:
                s.sendall(b"GET /v1/streams HTTP/1.1\r\n")
        for s in socks:
            self.assertIsNotNone(closed_within(s, WAIT), "an idle connection stayed open")

    # ---- malformed heads --------------------------------------------------------------------

    def test_negative_content_length_gets_400(self):
        s = self.connect()
        s.sendall(b"POST /v1/streams/live/query HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: -5\r\n\r\n")
        self.expect_json_error(s, 400, "bad_content_length")

    def test_unparsable_content_length_gets_400(self):
        s = self.connect()
        s.sendall(b"POST /v1/streams/live/query HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 12abc\r\n\r\n{}")
        self.expect_json_error(s, 400, "bad_content_length")

    def test_long_url_gets_414(self):
        s = self.connect()
        s.sendall(b"GET /v1/streams?x=" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.expect_json_error(s, 414, "uri_too_long")

    def test_large_head_gets_431(self):
        s = self.connect()
        s.sendall(b"GET /v1/streams HTTP/1.1\r\nHost: x\r\n"
                  + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"b" * 1000) for i in range(100))
                  + b"\r\n")
        self.expect_json_error(s, 431, "headers_too_large")

    # ---- the connection cap -----------------------------------------------------------------

    def test_connections_beyond_the_cap_get_503(self):
        # Wait for the other tests' connections to be gone, then fill the cap with half-sent
        # heads (each held open until the header timeout).
        held = []
        for _ in range(8):
            s = self.connect()
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            held.append(s)
        extra = self.connect()
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        got, _, body = read_response(extra)
        # Other tests' connections may still count: 503 is what the cap answers either way.
        self.assertEqual(got, 503, body)
        self.assertEqual(json.loads(body)["error"]["code"], "too_many_connections")
        for s in held:
            s.close()
        self.wait_served()

    # ---- metrics ----------------------------------------------------------------------------

    def test_follow_session_ended_by_the_client_is_not_a_500(self):
        key500 = 'scriptd_http_requests_total{route="/v1/streams/{id}/follow",status="500"}'
        key200 = 'scriptd_http_requests_total{route="/v1/streams/{id}/follow",status="200"}'
        before = self.d.metrics().get(key200, 0)
        s = self.connect()
        s.sendall(b"GET /v1/streams/live/follow HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(WAIT)
        got = b""
        while b"SPPK" not in got:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "the follow session ended early")
            got += chunk
        s.close()
        H.wait_for(lambda: self.d.metrics().get(key200, 0) > before,
                   "the ended follow session to be counted")
        self.assertEqual(self.d.metrics().get(key500, 0), 0)

    def test_counters_print_as_integers(self):
        # Bring the /healthz counter to a multiple of 10, the values "%g" prints as "2e+01".
        key = 'scriptd_http_requests_total{route="/healthz",status="200"}'
        n = int(self.d.metrics().get(key, 0))
        target = (n // 10 + 1) * 10
        for _ in range(target - n):
            self.d.json("GET", "/healthz")
        status, _, data = self.d.request("GET", "/metrics")
        self.assertEqual(status, 200)
        lines = [line for line in data.decode().splitlines() if line.startswith(key + " ")]
        self.assertEqual(lines, [f"{key} {target}"])
        for line in data.decode().splitlines():
            if line.startswith("scriptd_http_requests_total"):
                self.assertRegex(line.rsplit(" ", 1)[1], r"^[0-9]+$", line)

    # ---- the backlog ------------------------------------------------------------------------

    def test_listen_backlog_holds_a_burst_of_connections(self):
        # With the daemon stopped nothing is accepted: the kernel completes handshakes only into
        # the listen queue (backlog + 1 entries) and drops the SYNs of the others.
        n = 200
        socks = []
        self.d.send_signal(signal.SIGSTOP)
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.addCleanup(s.close)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.d.port))
                socks.append(s)
            # Handshakes on loopback complete at once; a dropped SYN is retried after 1 s.
            time.sleep(0.5)
            _, writable, _ = select.select([], socks, [], 0)
            connected = sum(1 for s in writable
                            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        finally:
            self.d.send_signal(signal.SIGCONT)
        self.assertGreaterEqual(connected, 129, "the listen queue holds fewer than 128")
        for s in socks:
            s.close()
        self.wait_served()


if __name__ == "__main__":
    unittest.main(verbosity=2)
