#!/usr/bin/python3
"""scriptd's first start on a machine: GStreamer scans every installed plugin inside the process
(GST_REGISTRY_FORK=no, as in every integration test) into a registry that does not exist yet.
Under the sanitizer build this must end cleanly: third-party plugins that keep memory from their
registration (OpenNI2 drivers, fontconfig through pango) are covered by lsan.supp, nothing else
is. The other integration tests reuse a registry file kept in the build directory, so only their
very first run in a fresh build directory (always, in CI) sees this; here it is every run."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scriptd_harness as H  # noqa: E402


class FirstStart(unittest.TestCase):
    def test_check_with_a_fresh_plugin_registry_is_clean(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "scriptd.yaml")
            with open(config, "w") as f:
                f.write('streams:\n  - id: p\n    pipeline: "videotestsrc ! videoconvert"\n')
            env = H.daemon_env({"GST_REGISTRY_1_0": os.path.join(tmp, "registry.bin")})
            p = subprocess.run([H.BIN, "--check", "-c", config], capture_output=True, text=True,
                               env=env, timeout=H.DEADLINE * 3)
            self.assertTrue(os.path.exists(os.path.join(tmp, "registry.bin")),
                            "no plugin scan happened")
            self.assertNotIn("LeakSanitizer", p.stderr)
            self.assertEqual(p.returncode, 0, p.stderr[-4000:])
            self.assertIn("valid (1 stream)", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
