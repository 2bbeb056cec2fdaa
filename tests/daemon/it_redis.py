#!/usr/bin/python3
"""Integration: the redis sink and `scriptprune follow` against a real redis-server (started here
on a free loopback port, never a mock).

- every packet of a file stream arrives once, in order, and decodes to the same tokens as the
  safetensors_dir sink of the same stream;
- Redis stopped for 5 s mid-run and started again: the pipeline keeps running, the sink's drop
  counter equals the gap the consumer sees, and delivery resumes;
- two consumers in one group: entries a dead consumer read but never acknowledged are claimed by
  the other, and a consumer killed mid-run loses nothing.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_harness as R  # noqa: E402
import scriptd_harness as H  # noqa: E402

FILE_CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
streams:
  - id: clip
    file: "{sample}"
    fps: 4
    pruning:
      window: 4
      hop: 2
      window_budget: 32
    sinks:
      - safetensors_dir: "{dir}/tokens"
      - redis: "{url}"
        maxlen: 0
"""

LIVE_CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
streams:
  - id: live
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=10/1"
    fps: 5
    encoder:
      image_size: 112
    pruning:
      window: 2
      hop: 1
      window_budget: 16
    sinks:
      - redis: "{url}"
        key: "test:{{stream}}"
        maxlen: 0
        queue_bytes: 64KiB
"""


def follow(url, key, *args, timeout=300):
    """Runs scriptprune follow to completion: (stdout lines, summary dict, stderr)."""
    p = subprocess.run([H.CLI, "follow", "--redis", url, "--key", key, *args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, (p.returncode, p.stderr)
    return p.stdout.splitlines(), summary_of(p.stderr), p.stderr


def summary_of(stderr):
    for line in reversed(stderr.splitlines()):
        if line.startswith('{"follow"'):
            return json.loads(line)["follow"]
    raise AssertionError("no follow summary in:\n" + stderr)


def redis_sink(daemon, sid):
    for k in daemon.stream(sid)["sinks"]:
        if k["kind"] == "redis":
            return k
    raise AssertionError("no redis sink")


def token_tensor(path):
    with open(path, "rb") as f:
        meta, t = H.read_safetensors(f.read())
    return t["tokens"], t["packets"], t["last_pts"], t["seen"], meta.get("mode")


class RedisSinkTest(unittest.TestCase):
    def setUp(self):
        self.redis = R.Redis().start()
        self.tmp = tempfile.mkdtemp(prefix="scriptd-redis-it-")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.kill()
        self.redis.cleanup()

    def daemon(self, text):
        d = H.Daemon(text)
        self.daemons.append(d)
        return d.start()

    def test_every_packet_once_in_order_same_tokens_as_safetensors(self):
        d = self.daemon(FILE_CONFIG.format(sample=H.SAMPLE, dir=self.tmp, url=self.redis.url))
        s = d.wait_stream("clip", lambda s: s["state"] == "done", "the file to end")
        n = s["packets"]
        self.assertGreater(n, 3)
        H.wait_for(lambda: redis_sink(d, "clip")["sent"] == n, "every packet sent")
        sink = redis_sink(d, "clip")
        self.assertEqual((sink["dropped"], sink["next_seq"], sink["queued"]), (0, n, 0))
        self.assertEqual(int(self.redis.cli("XLEN", "scriptd:clip:packets")), n)
        out = os.path.join(self.tmp, "follow")
        os.mkdir(out)
        lines, summary, _ = follow(self.redis.url, "scriptd:clip:packets", "--from", "0",
                                   "--out", out, "--exit-when-idle", "3")
        self.assertEqual((summary["written"], summary["missing"], summary["duplicates"]),
                         (n, 0, 0))
        got = sorted(glob.glob(os.path.join(out, "clip-*.safetensors")))
        want = sorted(glob.glob(os.path.join(self.tmp, "tokens", "clip-*.safetensors")))
        self.assertEqual(len(got), n)
        self.assertEqual(len(want), n)
        seqs = [int(p.rsplit("-s", 1)[1].split(".")[0]) for p in got]
        self.assertEqual(seqs, list(range(n)))
        for g, w in zip(got, want):
            self.assertEqual(token_tensor(g), token_tensor(w), (g, w))
        # JSON lines in entry order, windows increasing, with every token's time span.
        lines, summary, _ = follow(self.redis.url, "scriptd:clip:packets", "--from", "0",
                                   "--exit-when-idle", "3", "--positions")
        docs = [json.loads(x) for x in lines]
        self.assertEqual([x["seq"] for x in docs], list(range(n)))
        for x in docs:
            self.assertEqual(x["mode"], "snapshot")
            self.assertEqual(len(x["positions"]), x["tokens"])
            # snapshot: every token was seen in the packet's window
            self.assertEqual(x["current"], x["tokens"])
            for pts, last_pts, seen, frame, y, xx in x["positions"]:
                self.assertTrue(x["pts_first"] <= last_pts <= x["pts_last"] and pts <= last_pts
                                and seen >= 1 and frame <= x["frame_last"], x)
        entry = self.redis.cli("XRANGE", "scriptd:clip:packets", "-", "+", "COUNT", "1")
        fields = entry.splitlines()
        self.assertIn("mode", fields)
        self.assertEqual(fields[fields.index("mode") + 1], "snapshot")
        self.assertEqual(fields[fields.index("format_version") + 1], "2")
        windows = [x["window"] for x in docs]
        self.assertEqual(windows, sorted(windows))
        m = d.metrics()
        self.assertEqual(m['scriptd_sink_packets_written_total{stream="clip",sink="redis0"}'], n)
        self.assertEqual(m['scriptd_sink_packets_dropped_total{stream="clip",sink="redis0"}'], 0)
        self.assertEqual(m['scriptd_sink_queue_bytes{stream="clip",sink="redis0"}'], 0)
        # The node's own history still answers reselections, Redis sink or not.
        status, headers, body = d.request("GET", "/v1/streams/clip/tokens?budget=16")
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(headers.get("x-scriptd-tokens"), "16")
        _, t = H.read_safetensors(body)
        self.assertEqual(t["pts"][1], [16])
        self.assertEqual(d.stop()[0], 0)

    def test_redis_down_5s_pipeline_runs_drops_equal_gap_then_resumes(self):
        d = self.daemon(LIVE_CONFIG.format(url=self.redis.url))
        key = "test:live"
        H.wait_for(lambda: redis_sink(d, "live")["sent"] >= 5, "first packets in Redis")
        reader = subprocess.Popen(
            [H.CLI, "follow", "--redis", self.redis.url, "--key", key, "--from", "0",
             "--exit-when-idle", "15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1)
            self.redis.shutdown_keeping_data()
            frames0 = d.stream("live")["frames"]
            time.sleep(5)
            live = d.stream("live")
            # The pipeline never waited for Redis: frames kept coming, the sink dropped.
            self.assertGreater(live["frames"], frames0 + 5)
            self.assertEqual(live["state"], "playing")
            down = redis_sink(d, "live")
            self.assertFalse(down["connected"])
            self.assertGreater(down["dropped"], 0)
            self.assertRegex(down["last_error"], "^(refused|io)")
            self.redis.start()
            sent_before = down["sent"]
            H.wait_for(lambda: redis_sink(d, "live")["sent"] >= sent_before + 5,
                       "delivery to resume")
            self.assertIn("cannot connect (refused)", d.log_text())
            self.assertEqual(d.stop()[0], 0)
            out, err = reader.communicate(timeout=120)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.communicate()
        summary = summary_of(err)
        seqs = [json.loads(x)["seq"] for x in out.splitlines()]
        self.assertEqual(seqs, sorted(set(seqs)), "in order, each once")
        missing = seqs[-1] + 1 - len(seqs)
        self.assertEqual(summary["missing"], missing)
        # The daemon's own count: everything it numbered and did not send was dropped.
        log = d.log_text()
        self.assertGreater(missing, 0)
        m_dropped = [int(x.split("dropped=")[1].split()[0]) for x in log.splitlines()
                     if "redis0 final:" in x]
        self.assertEqual(len(m_dropped), 1, log[-2000:])
        self.assertEqual(m_dropped[0], missing)

    def test_group_claims_entries_of_dead_consumers(self):
        d = self.daemon(FILE_CONFIG.format(sample=H.SAMPLE, dir=self.tmp, url=self.redis.url))
        key = "scriptd:clip:packets"
        s = d.wait_stream("clip", lambda s: s["state"] == "done", "the file to end")
        n = s["packets"]
        H.wait_for(lambda: redis_sink(d, "clip")["sent"] == n, "every packet sent")
        self.redis.cli("XGROUP", "CREATE", key, "mllm", "0")
        # A consumer that read three entries and died before acknowledging them.
        self.redis.cli("XREADGROUP", "GROUP", "mllm", "ghost", "COUNT", "3", "STREAMS", key, ">")
        outs = {c: os.path.join(self.tmp, c) for c in ("a", "b")}
        for o in outs.values():
            os.mkdir(o)
        common = ["--group", "mllm", "--claim-idle-ms", "500", "--exit-when-idle", "6"]
        a = subprocess.Popen([H.CLI, "follow", "--redis", self.redis.url, "--key", key,
                              "--consumer", "a", "--out", outs["a"], *common],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # a dies mid-run: killed as soon as it has written something.
        H.wait_for(lambda: glob.glob(os.path.join(outs["a"], "*.safetensors")), "a to write")
        a.send_signal(signal.SIGKILL)
        a.communicate()
        lines, summary, _ = follow(self.redis.url, key, "--consumer", "b", "--out", outs["b"],
                                   *common)
        self.assertGreaterEqual(summary["claimed"], 3)
        seqs = set()
        for o in outs.values():
            for p in glob.glob(os.path.join(o, "*.safetensors")):
                seqs.add(int(p.rsplit("-s", 1)[1].split(".")[0]))
        self.assertEqual(seqs, set(range(n)), "nothing lost")
        pending = self.redis.cli("XPENDING", key, "mllm").split()
        self.assertEqual(pending[0], "0", "everything acknowledged")
        self.assertEqual(d.stop()[0], 0)


class RedisFailuresTest(unittest.TestCase):
    """The sink says why Redis does not take its packets, and accounts for every packet."""

    def setUp(self):
        self.servers = []
        self.tmp = tempfile.mkdtemp(prefix="scriptd-redis-it-")
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.kill()
        for r in self.servers:
            r.cleanup()

    def server(self, *extra):
        r = R.Redis(extra=extra).start()
        self.servers.append(r)
        return r

    def test_wrong_password_is_an_auth_failure_and_oom_replies_drop_and_count(self):
        locked = self.server("--requirepass", "right")
        full = self.server("--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("wrong\n")
        config = FILE_CONFIG.format(sample=H.SAMPLE, dir=self.tmp, url=locked.url) + f"""
        password_file: "{pw}"
      - redis: "{full.url}"
        maxlen: 0
"""
        self.d = H.Daemon(config).start()
        s = self.d.wait_stream("clip", lambda s: s["state"] == "done", "the file to end")
        n = s["packets"]
        sinks = [k for k in s["sinks"] if k["kind"] == "redis"]
        self.assertEqual(len(sinks), 2)
        H.wait_for(lambda: [k for k in self.d.stream("clip")["sinks"] if k["kind"] == "redis"][1]
                   ["queued"] == 0, "the second sink to settle")
        auth, oom = [k for k in self.d.stream("clip")["sinks"] if k["kind"] == "redis"]
        self.assertFalse(auth["connected"])
        self.assertRegex(auth["last_error"], "^auth: AUTH: WRONGPASS")
        self.assertNotIn("right", auth["location"] + auth["last_error"])
        self.assertRegex(oom["last_error"], "^oom: XADD scriptd:clip:packets: OOM")
        self.assertGreater(oom["dropped"], 0)
        self.assertGreater(oom["sent"], 0)
        self.assertEqual(oom["sent"] + oom["dropped"], n, "every packet sent or counted")
        self.assertEqual(int(full.cli("XLEN", "scriptd:clip:packets")), oom["sent"])
        m = self.d.metrics()
        self.assertGreaterEqual(
            m['scriptd_sink_failures_total{stream="clip",sink="redis0",reason="auth"}'], 1)
        self.assertGreaterEqual(
            m['scriptd_sink_failures_total{stream="clip",sink="redis1",reason="oom"}'], 1)
        log = self.d.log_text()
        self.assertIn("cannot connect (auth)", log)
        self.assertIn("(the refused packets are dropped and counted)", log)
        self.assertEqual(self.d.stop()[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
