#!/usr/bin/python3
"""Integration: jobs (POST /v1/jobs) on a real scriptd.

A 10 s counter video sampled at 1 fps gives exactly one frame per second of video, the result is
a safetensors file with the exact budget, and bad jobs (paths outside the media root, symlink
escapes, missing files, corrupt videos, malformed bodies) get clear errors while the daemon keeps
serving.
"""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402

CONFIG = """
server:
  listen: "127.0.0.1:0"
  log_format: plain
  media_root: "{media}"
  max_jobs: 64
  max_running_jobs: 2
defaults:
  pruning:
    window: 4
    hop: 4
    window_budget: 32
streams: []
"""


class Jobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon("")
        media = os.path.join(cls.d.dir, "media")
        os.makedirs(os.path.join(media, "sub"))
        for name in ("counter.mp4", "garbage.mp4", "not-video.txt", "truncated-tail-index.mp4"):
            shutil.copy(os.path.join(H.VIDEOS, name), os.path.join(media, name))
        shutil.copy(os.path.join(H.VIDEOS, "counter.avi"), os.path.join(media, "sub", "c.avi"))
        outside = os.path.join(cls.d.dir, "outside.mp4")
        shutil.copy(os.path.join(H.VIDEOS, "counter.mp4"), outside)
        os.symlink(outside, os.path.join(media, "escape.mp4"))
        os.symlink(os.path.join(media, "counter.mp4"), os.path.join(media, "inside-link.mp4"))
        with open(os.path.join(media, "noise.mp4"), "wb") as f:
            f.write(bytes((i * 7919 + 13) % 251 for i in range(65536)))
        with open(os.path.join(media, "red.png"), "wb") as f:
            f.write(H.png_solid(32, 32, (255, 0, 0)))
        cls.media = media
        with open(cls.d.config, "w") as f:
            f.write(CONFIG.format(media=media))
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc, took = cls.d.stop()
        if rc != 0:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"

    def submit(self, body):
        status, doc = self.d.json("POST", "/v1/jobs", body)
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["state"] in ("queued", "running"), True, doc)
        return doc["id"]

    def wait_job(self, job_id):
        def finished():
            status, doc = self.d.json("GET", f"/v1/jobs/{job_id}")
            self.assertEqual(status, 200, doc)
            return doc if doc["state"] in ("done", "failed", "cancelled") else None
        return H.wait_for(finished, f"job {job_id} to finish")

    def assert_error(self, status, doc, want_status, want_code):
        self.assertEqual(status, want_status, doc)
        self.assertEqual(doc["error"]["code"], want_code, doc)
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)

    def test_one_frame_per_second(self):
        job = self.submit({"path": "counter.mp4", "fps": 1, "budget": 24})
        doc = self.wait_job(job)
        self.assertEqual(doc["state"], "done", doc)
        self.assertEqual(doc["progress"], 1.0)
        r = doc["result"]
        self.assertEqual(r["frames"], 10)  # 10 s of video at 1 fps
        self.assertEqual([round(t, 6) for t in r["frame_times"]], [float(k) for k in range(10)])
        self.assertEqual(r["tokens"], 24)
        status, hdrs, data = self.d.request("GET", r["tokens_url"])
        self.assertEqual(status, 200)
        meta, t = H.read_safetensors(data)
        self.assertEqual(t["tokens"][1][0], 24)
        self.assertEqual(t["yx"][1], [24, 2])
        frames = set(t["frame"][2])
        self.assertTrue(frames <= set(range(10)), frames)

    def test_other_rates_and_containers(self):
        job = self.submit({"path": "sub/c.avi", "fps": 2, "budget": 5})  # 5 s at 25 fps
        doc = self.wait_job(job)
        self.assertEqual(doc["state"], "done", doc)
        self.assertEqual(doc["result"]["frames"], 10)
        job = self.submit({"path": "inside-link.mp4", "fps": 0.5})
        doc = self.wait_job(job)
        self.assertEqual(doc["state"], "done", doc)
        self.assertEqual(doc["result"]["frames"], 5)
        self.assertEqual(doc["result"]["tokens"], 32)  # defaults.pruning.window_budget

    def test_queries(self):
        job = self.submit({"path": "counter.mp4", "fps": 1, "budget": 8,
                           "query": {"embedding": [[0.1] * 256]}})
        doc = self.wait_job(job)
        self.assertEqual(doc["state"], "done", doc)
        self.assertIn("embedding", doc["query"])
        job = self.submit({"path": "counter.mp4", "fps": 1, "budget": 8,
                           "query": {"image": "red.png"}, "mode": "mean"})
        doc = self.wait_job(job)
        self.assertEqual(doc["state"], "done", doc)
        self.assertIn("red.png", doc["query"])
        # The exemplar is encoded at the scale it has in the file's 128x72 frames.
        self.assertIn("at 128x72 frame scale", doc["query"])
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "counter.mp4",
                                                       "query": {"image": "../outside.mp4"}})
        self.assert_error(status, doc, 403, "forbidden")
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "counter.mp4",
                                                       "query": {"text": "a red frame"}})
        self.assert_error(status, doc, 400, "unsupported_query")

    def test_corrupt_videos_fail_cleanly(self):
        # Damaged in the middle: the sampler skips the bad stretch, the job still succeeds.
        doc = self.wait_job(self.submit({"path": "garbage.mp4", "fps": 1}))
        self.assertEqual(doc["state"], "done", doc)
        self.assertGreater(doc["result"]["frames"], 0)
        # Not a video at all, or no readable header: refused at the POST with the reason (no
        # job is created).
        for name in ("noise.mp4", "not-video.txt", "truncated-tail-index.mp4"):
            status, doc = self.d.json("POST", "/v1/jobs", {"path": name, "fps": 1})
            self.assert_error(status, doc, 415, "unsupported_media")
            self.assertIn(name, doc["error"]["message"])

    def test_paths_are_confined_to_the_media_root(self):
        for path in ("../outside.mp4", "/etc/passwd", "sub/../../outside.mp4", "escape.mp4",
                     "/" + os.path.join(self.d.dir, "outside.mp4").lstrip("/")):
            status, doc = self.d.json("POST", "/v1/jobs", {"path": path})
            self.assert_error(status, doc, 403, "forbidden")
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "missing.mp4"})
        self.assert_error(status, doc, 404, "not_found")
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "sub"})
        self.assert_error(status, doc, 400, "invalid_job")

    def test_malformed_jobs(self):
        cases = [({"fps": 1}, "invalid_job"),
                 ({"path": "counter.mp4", "fps": 0}, "invalid_job"),
                 ({"path": "counter.mp4", "fps": "fast"}, "invalid_job"),
                 ({"path": "counter.mp4", "budget": 0}, "invalid_job"),
                 ({"path": "counter.mp4", "budget": 2.5}, "invalid_job"),
                 ({"path": "counter.mp4", "speed": 2}, "invalid_job"),
                 ({"path": "counter.mp4", "query": "red"}, "invalid_job"),
                 ({"path": "counter.mp4", "mode": "median"}, "invalid_job")]
        for body, code in cases:
            status, doc = self.d.json("POST", "/v1/jobs", body)
            self.assert_error(status, doc, 400, code)
        status, doc = self.d.json("POST", "/v1/jobs", raw=b"{\"path\": ",
                                  headers={"Content-Type": "application/json"})
        self.assert_error(status, doc, 400, "invalid_json")
        status, doc = self.d.json("POST", "/v1/jobs", raw=b"[1, 2]",
                                  headers={"Content-Type": "application/json"})
        self.assert_error(status, doc, 400, "invalid_json")
        status, doc = self.d.json("GET", "/v1/jobs/job-nope")
        self.assert_error(status, doc, 404, "not_found")

    def test_listing_and_removal(self):
        job = self.submit({"path": "counter.mp4", "fps": 1, "budget": 4})
        self.wait_job(job)
        status, doc = self.d.json("GET", "/v1/jobs")
        self.assertEqual(status, 200)
        self.assertIn(job, [j["id"] for j in doc["jobs"]])
        status, doc = self.d.json("DELETE", f"/v1/jobs/{job}")
        self.assertEqual(status, 200, doc)
        self.assertTrue(doc["removed"])
        status, doc = self.d.json("GET", f"/v1/jobs/{job}")
        self.assert_error(status, doc, 404, "not_found")
        m = self.d.metrics()
        self.assertGreater(m['scriptd_jobs_finished_total{result="done"}'], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
