"""A real redis-server for the Redis integration tests: started on a free loopback port with no
persistence of its own (--save '' --appendonly no), in a directory of the test, and stopped."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, port=None, extra=()):
        self.port = port or free_tcp_port()
        self.extra = list(extra)  # more redis-server options, e.g. ["--requirepass", "pw"]
        self.dir = tempfile.mkdtemp(prefix="scriptd-redis-")
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self, deadline=30.0):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--dbfilename", "dump.rdb", *self.extra],
            stdout=self.log, stderr=self.log)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode}")
            try:
                if self.cli("PING").strip() in ("PONG", "NOAUTH Authentication required."):
                    return self
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.1)
        raise AssertionError("redis-server did not answer PING")

    def cli(self, *args, password=None):
        auth = ["--no-auth-warning", "-a", password] if password else []
        out = subprocess.run([REDIS_CLI, "-p", str(self.port), *auth, *args], check=True,
                             capture_output=True, timeout=60).stdout
        return out.decode("utf-8", "replace")  # entries hold binary packets

    def shutdown_keeping_data(self):
        """SHUTDOWN SAVE: the data (entries, groups) survive into the next start, as with a
        persistent production Redis; stopping without it would lose them by design."""
        try:
            self.cli("SHUTDOWN", "SAVE")
        except subprocess.CalledProcessError:
            pass
        self.proc.wait(60)
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
