#!/usr/bin/python3
"""Integration: three scriptd nodes share six cameras through a real redis-server (started here
on a free loopback port): node keys with a lease, a rendezvous hash over the live nodes, and a
per-camera lease taken with SET NX PX before a camera starts.

Kill one node (SIGKILL): its cameras run elsewhere within two leases, and at no moment does a
camera run on two nodes for longer than one lease. Restart it: the assignment settles back to the
one before the kill (the rendezvous hash gives every camera the same node again).
"""
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_harness as R  # noqa: E402
import scriptd_harness as H  # noqa: E402

LEASE_MS = 3000
CAMERAS = [f"cam{i}" for i in range(6)]

CAMERA = """  - id: {id}
    pipeline: "videotestsrc is-live=true pattern=ball ! video/x-raw,width=64,height=48,framerate=2/1"
    fps: 1
    encoder:
      image_size: 28
    pruning:
      emit: frame
      frame_budget: 2
      history_bytes: 1MiB
"""

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
cluster:
  redis: "{url}"
  node: "{node}"
  lease_ms: {lease}
streams:
""" + "".join(CAMERA.format(id=c) for c in CAMERAS)


class Monitor(threading.Thread):
    """Polls every node's /v1/streams and records, per camera, the longest time it was listed
    by two nodes at once."""

    def __init__(self):
        super().__init__(daemon=True)
        self.nodes = {}  # name -> Daemon (None while dead)
        self.lock = threading.Lock()
        self.where = {}  # camera -> set of nodes listing it
        self.double_since = {}
        self.max_double = {c: 0.0 for c in CAMERAS}
        self.stopping = False

    def set_node(self, name, d):
        with self.lock:
            self.nodes[name] = d

    def run(self):
        while not self.stopping:
            seen = {c: set() for c in CAMERAS}
            with self.lock:
                nodes = dict(self.nodes)
            for name, d in nodes.items():
                if d is None:
                    continue
                try:
                    status, doc = d.json("GET", "/v1/streams")
                except OSError:
                    continue
                if status != 200:
                    continue
                for s in doc["streams"]:
                    seen[s["id"]].add(name)
            now = time.monotonic()
            with self.lock:
                self.where = seen
                for c, ns in seen.items():
                    if len(ns) > 1:
                        since = self.double_since.setdefault(c, now)
                        self.max_double[c] = max(self.max_double[c], now - since)
                    else:
                        self.double_since.pop(c, None)
            time.sleep(0.2)

    def assignment(self):
        with self.lock:
            return {c: set(ns) for c, ns in self.where.items()}


def rendezvous(nodes, camera):
    """The node daemon/cluster.c picks: highest splitmix64(FNV-1a(node, 0xff, camera))."""
    m64 = (1 << 64) - 1

    def score(n):
        h = 0xcbf29ce484222325
        for b in n.encode() + b"\xff" + camera.encode():
            h = ((h ^ b) * 0x100000001b3) & m64
        h ^= h >> 30
        h = (h * 0xbf58476d1ce4e5b9) & m64
        h ^= h >> 27
        h = (h * 0x94d049bb133111eb) & m64
        return h ^ (h >> 31)
    return max(sorted(nodes), key=score)


def settled(m):
    a = m.assignment()
    if all(len(ns) == 1 for ns in a.values()):
        return {c: next(iter(ns)) for c, ns in a.items()}
    return None


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.redis = R.Redis().start()
        self.daemons = []
        self.monitor = Monitor()

    def tearDown(self):
        self.monitor.stopping = True
        for d in self.daemons:
            d.kill()
        self.redis.cleanup()

    def node(self, name):
        d = H.Daemon(CONFIG.format(url=self.redis.url, node=name, lease=LEASE_MS))
        self.daemons.append(d)
        d.start()
        self.monitor.set_node(name, d)
        return d

    def test_three_nodes_share_six_cameras_and_survive_a_dead_node(self):
        nodes = {n: self.node(n) for n in ("a", "b", "c")}
        self.monitor.start()
        before = {c: rendezvous(nodes, c) for c in CAMERAS}
        # These names spread the six cameras over the three nodes.
        self.assertEqual(len(set(before.values())), 3)
        H.wait_for(lambda: settled(self.monitor) == before,
                   "every camera on the node the rendezvous hash picks")
        victim = max(nodes, key=lambda n: sum(1 for v in before.values() if v == n))
        moved = [c for c, n in before.items() if n == victim]
        survivors = [n for n in nodes if n != victim]

        self.monitor.set_node(victim, None)
        t_kill = time.monotonic()
        nodes[victim].kill()

        # Handed over when another node holds the camera's lease and starts it. (Building a
        # pipeline takes seconds under the sanitizers, on the main thread, one after the other:
        # the stream listing follows later and is waited for below without a bound.)
        def leased_elsewhere():
            owners = self.redis.cli("MGET", *[f"scriptd:lease:{c}" for c in moved]).split("\n")
            return all(o not in ("", victim) for o in owners[:len(moved)])
        H.wait_for(leased_elsewhere, "the dead node's cameras to be leased elsewhere", step=0.05)
        took = time.monotonic() - t_kill
        self.assertLessEqual(took, 2 * LEASE_MS / 1000.0,
                             f"cameras moved after {took:.1f} s, more than two leases")

        def moved_elsewhere():
            a = self.monitor.assignment()
            return all(a[c] and victim not in a[c] for c in moved)
        H.wait_for(moved_elsewhere, "the dead node's cameras to run elsewhere")
        after = H.wait_for(lambda: settled(self.monitor), "a settled assignment without it")
        self.assertEqual(after, {c: rendezvous(survivors, c) for c in CAMERAS})
        for c, n in before.items():
            if n != victim:
                self.assertEqual(after[c], n, f"{c} moved although its node lives")
        for d in nodes.values():
            if d is not nodes[victim]:
                self.assertNotIn("stopping this node", d.log_text())

        # It comes back: its cameras return to it and nothing else moves.
        nodes[victim] = self.node(victim)
        H.wait_for(lambda: settled(self.monitor) == before, "the assignment before the kill")
        time.sleep(1)
        self.assertEqual(settled(self.monitor), before)
        for c, longest in self.monitor.max_double.items():
            self.assertLess(longest, LEASE_MS / 1000.0, f"{c} ran on two nodes for {longest:.1f} s")
        self.assertIn("lease released", "".join(d.log_text() for d in nodes.values()))
        for d in nodes.values():
            self.assertEqual(d.stop()[0], 0)
        # Stopped nodes hand everything over: no lease or node key stays behind.
        self.assertEqual(self.redis.cli("KEYS", "scriptd:*").split(), [])


REDIS_CAMERAS_CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
cluster:
  redis: "{url}"
  node: solo
  lease_ms: {lease}
  cameras: redis
defaults:
  encoder:
    image_size: 28
"""

REDIS_CAMERA = """pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=2/1"
fps: 1
pruning:
  emit: frame
  frame_budget: 2
"""


class RedisCamerasTest(unittest.TestCase):
    def setUp(self):
        self.redis = R.Redis().start()
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.kill()
        self.redis.cleanup()

    def ids(self):
        status, doc = self.d.json("GET", "/v1/streams")
        self.assertEqual(status, 200)
        return sorted(s["id"] for s in doc["streams"])

    def test_cameras_come_and_go_with_the_redis_hash(self):
        self.redis.cli("HSET", "scriptd:cameras", "door", REDIS_CAMERA, "yard", REDIS_CAMERA)
        self.d = H.Daemon(REDIS_CAMERAS_CONFIG.format(url=self.redis.url, lease=LEASE_MS)).start()
        H.wait_for(lambda: self.ids() == ["door", "yard"], "both cameras from the hash")
        door = self.d.stream("door")
        self.assertEqual(door["encoder"]["image_size"], 28)  # the node's defaults apply
        self.redis.cli("HDEL", "scriptd:cameras", "yard")
        H.wait_for(lambda: self.ids() == ["door"], "the removed camera to stop")
        H.wait_for(lambda: self.redis.cli("GET", "scriptd:lease:yard").strip() == "",
                   "its lease to be released")
        self.assertEqual(self.redis.cli("GET", "scriptd:lease:door").strip(), "solo")
        # A camera whose YAML is not a valid stream is left out with the config reader's message;
        # the others keep running, and a camera added after it still starts.
        self.redis.cli("HSET", "scriptd:cameras", "bad", "fps: -3\n")
        H.wait_for(lambda: "camera bad: its YAML in scriptd:cameras is not a valid stream"
                   in self.d.log_text(), "the error")
        self.assertEqual(self.ids(), ["door"])
        self.redis.cli("HSET", "scriptd:cameras", "gate", REDIS_CAMERA)
        H.wait_for(lambda: self.ids() == ["door", "gate"], "the camera added after the bad one")
        self.assertEqual(self.d.stop()[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
