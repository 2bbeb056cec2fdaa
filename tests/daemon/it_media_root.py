#!/usr/bin/python3
"""Integration: server.media_root holds for every byte FFmpeg opens.

An HLS playlist inside the media root that names a video outside it must not be decoded, whichever
way it arrives: as a job's path, as an exemplar image by path ({"image": ...}, also when named
.png), or uploaded as the body of POST /v1/streams/{id}/query. Paths are opened once, under the
root, and the job reads that descriptor: swapping the file for a symlink after the POST changes
nothing. Refusals say the same whether a path outside the root exists or not. NUL characters and
a trailing '/' in a path are refused. A configured file: source that is a playlist is refused too.
"""
import os
import shutil
import subprocess
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
  max_running_jobs: 1
  restart_min_s: 0.05
  restart_max_s: 0.4
defaults:
  pruning:
    window: 4
    hop: 4
    window_budget: 16
streams:
  - id: live
    pipeline: "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=10/1"
    fps: 5
    encoder: {{image_size: 56}}
  - id: playlist
    file: "{media}/escape.m3u8"
"""


def playlist(segment):
    """An HLS playlist whose one segment is `segment` (an absolute path)."""
    return ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:5\n#EXT-X-MEDIA-SEQUENCE:0\n"
            f"#EXTINF:5.0,\n{segment}\n#EXT-X-ENDLIST\n").encode()


class MediaRoot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Daemon("")
        media = os.path.join(cls.d.dir, "media")
        outside = os.path.join(cls.d.dir, "outside")
        os.makedirs(media)
        os.makedirs(outside)
        cls.secret = os.path.join(outside, "secret.ts")
        shutil.copy(os.path.join(H.VIDEOS, "counter.ts"), cls.secret)
        shutil.copy(os.path.join(H.VIDEOS, "counter.avi"), os.path.join(outside, "other.avi"))
        cls.missing = os.path.join(outside, "no-such-secret.ts")
        for name in ("counter.mp4", "slow.mp4", "swap.mp4"):
            shutil.copy(os.path.join(H.VIDEOS, "counter.mp4"), os.path.join(media, name))
        for name, segment in (("escape.m3u8", cls.secret), ("escape.png", cls.secret),
                              ("dangling.m3u8", cls.missing)):
            with open(os.path.join(media, name), "wb") as f:
                f.write(playlist(segment))
        with open(os.path.join(media, "red.png"), "wb") as f:
            f.write(H.png_solid(32, 32, (255, 0, 0)))
        os.symlink(cls.secret, os.path.join(media, "link-out.ts"))
        os.symlink(cls.missing, os.path.join(media, "link-dangling.ts"))
        cls.media = media
        cls.outside = outside
        with open(cls.d.config, "w") as f:
            f.write(CONFIG.format(media=media))
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc, took = cls.d.stop()
        if rc != 0:
            print(cls.d.log_text())
        assert rc == 0, f"scriptd exited with {rc}"

    def assert_error(self, status, doc, want_status, want_code):
        self.assertEqual(status, want_status, doc)
        self.assertEqual(doc["error"]["code"], want_code, doc)
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)

    def wait_job(self, job_id, deadline=H.DEADLINE):
        def finished():
            status, doc = self.d.json("GET", f"/v1/jobs/{job_id}")
            self.assertEqual(status, 200, doc)
            return doc if doc["state"] in ("done", "failed", "cancelled") else None
        return H.wait_for(finished, f"job {job_id} to finish", deadline=deadline)

    def job_outcome(self, body):
        status, doc = self.d.json("POST", "/v1/jobs", body)
        if status != 202:
            return status, doc
        return status, self.wait_job(doc["id"])

    def test_playlist_as_a_job_path_is_refused(self):
        # Refused at the POST (no job is created, nothing is decoded), whatever its name.
        for name in ("escape.m3u8", "escape.png", "dangling.m3u8"):
            status, doc = self.d.json("POST", "/v1/jobs", {"path": name, "fps": 1})
            self.assert_error(status, doc, 415, "unsupported_media")
            self.assertIn("'hls' format is refused", doc["error"]["message"])
            self.assertNotIn(self.outside, doc["error"]["message"])
        # Whether the file the playlist names exists or not, the error is the same.
        _, a = self.d.json("POST", "/v1/jobs", {"path": "escape.m3u8", "fps": 1})
        _, b = self.d.json("POST", "/v1/jobs", {"path": "dangling.m3u8", "fps": 1})
        self.assertEqual(a["error"]["message"].replace("escape.m3u8", "NAME"),
                         b["error"]["message"].replace("dangling.m3u8", "NAME"))
        # A file that is no media at all is refused the same way.
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "red.png", "fps": 1})
        self.assertEqual(status, 415, doc)

    def test_playlist_as_an_image_path_is_refused(self):
        for name in ("escape.png", "escape.m3u8"):
            status, doc = self.d.json("POST", "/v1/streams/live/query", {"image": name})
            self.assert_error(status, doc, 415, "unsupported_image")
            status, doc = self.d.json("POST", "/v1/jobs", {"path": "counter.mp4",
                                                           "query": {"image": name}})
            self.assert_error(status, doc, 415, "unsupported_image")
        status, doc = self.d.json("POST", "/v1/streams/live/query", {"image": "red.png"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["query"]["kind"], "image")

    def test_playlist_uploaded_as_the_query_image_is_refused(self):
        for ct in ("image/png", "image/jpeg", "application/vnd.apple.mpegurl"):
            status, doc = self.d.json("POST", "/v1/streams/live/query", raw=playlist(self.secret),
                                      headers={"Content-Type": ct})
            self.assertEqual(status, 415, doc)
            self.assertIn(doc["error"]["code"], ("unsupported_image", "unsupported_media_type"))
        # A real PNG and a real JPEG still work, in every exemplar mode.
        for mode in ("pooled", "mean", "all"):
            status, doc = self.d.json("POST", f"/v1/streams/live/query?mode={mode}",
                                      raw=H.png_solid(40, 40, (0, 255, 0)),
                                      headers={"Content-Type": "image/png"})
            self.assertEqual(status, 200, doc)
            self.assertIn(mode, doc["query"]["description"])
        jpeg = os.path.join(self.d.dir, "frame.jpg")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                          "color=c=blue:s=48x32:d=0.1", "-frames:v", "1", jpeg], check=True)
        with open(jpeg, "rb") as f:
            status, doc = self.d.json("POST", "/v1/streams/live/query", raw=f.read(),
                                      headers={"Content-Type": "image/jpeg"})
        self.assertEqual(status, 200, doc)
        self.assertIn("48x32", doc["query"]["description"])

    def test_configured_playlist_source_is_refused(self):
        def failing():
            s = self.d.stream("playlist")
            return s if s["state"] == "failed" else None
        s = H.wait_for(failing, "the playlist stream to fail")
        self.assertIn("'hls' format is refused", s["error"])
        self.assertEqual(s["restarts"], 0, s)  # a file that cannot be opened is not retried

    def test_swapping_the_file_after_the_post_changes_nothing(self):
        # One job at a time: the second waits behind the first (whose pipeline alone takes far
        # longer to start than the swap below), so it opens nothing after its POST.
        status, first = self.d.json("POST", "/v1/jobs", {"path": "slow.mp4", "fps": 5})
        self.assertEqual(status, 202, first)
        status, doc = self.d.json("POST", "/v1/jobs", {"path": "swap.mp4", "fps": 1})
        self.assertEqual(status, 202, doc)
        link = os.path.join(self.media, "swap.tmp")
        os.symlink(os.path.join(self.outside, "other.avi"), link)
        os.replace(link, os.path.join(self.media, "swap.mp4"))
        # Two jobs in a row on a busy machine: a generous deadline.
        doc = self.wait_job(doc["id"], deadline=3 * H.DEADLINE)
        self.assertEqual(doc["state"], "done", doc)
        # counter.mp4 (10 s) was read, not the 5 s other.avi the symlink now names.
        self.assertEqual(doc["result"]["frames"], 10, doc)
        self.wait_job(first["id"], deadline=3 * H.DEADLINE)

    def test_refusals_say_nothing_about_files_outside(self):
        pairs = [("../outside/secret.ts", "../outside/no-such-secret.ts"),
                 (self.secret, self.missing),
                 ("link-out.ts", "link-dangling.ts"),
                 ("sub/../../outside/secret.ts", "sub/../../outside/no-such-secret.ts")]
        for exists, missing in pairs:
            s1, d1 = self.d.json("POST", "/v1/jobs", {"path": exists})
            s2, d2 = self.d.json("POST", "/v1/jobs", {"path": missing})
            self.assert_error(s1, d1, 403, "forbidden")
            self.assert_error(s2, d2, 403, "forbidden")
            self.assertEqual(d1["error"]["message"].replace(exists, "P"),
                             d2["error"]["message"].replace(missing, "P"))
            s1, d1 = self.d.json("POST", "/v1/streams/live/query", {"image": exists})
            s2, d2 = self.d.json("POST", "/v1/streams/live/query", {"image": missing})
            self.assert_error(s1, d1, 403, "forbidden")
            self.assertEqual((s1, d1["error"]["message"].replace(exists, "P")),
                             (s2, d2["error"]["message"].replace(missing, "P")))

    def test_nul_in_a_json_path_is_refused(self):
        for body in (b'{"path": "counter.mp4\\u0000/../x"}', b'{"path": "counter.mp4\\u0000"}',
                     b'{"path": "counter.mp4", "query": {"image": "red.png\\u0000.txt"}}'):
            status, doc = self.d.json("POST", "/v1/jobs", raw=body,
                                      headers={"Content-Type": "application/json"})
            self.assert_error(status, doc, 400, "invalid_json")
            self.assertIn("NUL", doc["error"]["message"])
        status, doc = self.d.json("POST", "/v1/streams/live/query", raw=b'{"image": "red.png\\u0000"}',
                                  headers={"Content-Type": "application/json"})
        self.assert_error(status, doc, 400, "invalid_json")
        # An escaped backslash followed by "u0000" is an ordinary string (here: a missing file).
        status, doc = self.d.json("POST", "/v1/jobs", raw=b'{"path": "a\\\\u0000.mp4"}',
                                  headers={"Content-Type": "application/json"})
        self.assert_error(status, doc, 404, "not_found")

    def test_trailing_slash_is_refused(self):
        for path in ("counter.mp4/", "counter.mp4//", os.path.join(self.media, "counter.mp4/")):
            status, doc = self.d.json("POST", "/v1/jobs", {"path": path})
            self.assert_error(status, doc, 400, "invalid_job")
            self.assertIn("ends with '/'", doc["error"]["message"])
        status, doc = self.d.json("POST", "/v1/streams/live/query", {"image": "red.png/"})
        self.assert_error(status, doc, 400, "invalid_query")


if __name__ == "__main__":
    unittest.main(verbosity=2)
