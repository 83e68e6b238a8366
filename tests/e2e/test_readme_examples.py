"""The README as a new user meets it: scripts/demo.sh (on the build CTest
made, in a fresh data directory) must print its banner only once the server
is ready, and then every fenced `sh` example in README.md, run verbatim
after the banner's `export` line, must succeed. Kept in CTest so the README
cannot drift from what works. The demo listens on the README's fixed ports
(2525, 1143, 8025, 8026); when one is taken the test is skipped (exit 77) saying
which."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SOURCE_DIR, UMSTORE  # noqa: E402

README = SOURCE_DIR / "README.md"
DEMO_PORTS = (2525, 1143, 8025, 8026)
# Blocks that install or build (the demo is what this test runs).
NOT_RUN = ("scripts/demo.sh", "scripts/test.sh")


def sh_blocks(text):
    """(heading, code) of every ```sh block, in order."""
    blocks, heading = [], ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("# ")
        if lines[i].strip() == "```sh":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            blocks.append((heading, "\n".join(lines[i + 1:j])))
            i = j
        i += 1
    return blocks


def port_taken(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class ReadmeExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="umstore-readme-")
        env = dict(os.environ, UMSTORE_DEMO_DIR=str(Path(cls.tmp.name) / "demo-data"), UMSTORE_DEMO_PREBUILT="1",
                   UMSTORE_BUILD_DIR=str(Path(UMSTORE).resolve().parents[1]))
        cls.demo = subprocess.Popen([str(SOURCE_DIR / "scripts" / "demo.sh")], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
        cls.banner = []
        deadline = time.time() + 120
        for line in cls.demo.stdout:
            cls.banner.append(line)
            if "Ctrl-C stops the server" in line or time.time() > deadline:
                break
        cls.banner_text = "".join(cls.banner)

    @classmethod
    def tearDownClass(cls):
        if cls.demo.poll() is None:
            os.killpg(cls.demo.pid, signal.SIGTERM)
            try:
                cls.demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(cls.demo.pid, signal.SIGKILL)
                cls.demo.wait()
        cls.demo.stdout.close()
        cls.tmp.cleanup()

    def export_line(self):
        exports = [line.strip() for line in self.banner if line.strip().startswith("export ")]
        self.assertEqual(len(exports), 1, "the demo banner has no export line:\n" + self.banner_text)
        return exports[0]

    def run_example(self, code):
        script = "set -euo pipefail\n" + self.export_line() + "\n" + code
        return subprocess.run(["bash", "-c", script], cwd=SOURCE_DIR, capture_output=True, text=True, timeout=120)

    def test_banner_comes_when_the_server_is_ready(self):
        self.assertIn("Ctrl-C stops the server", self.banner_text)
        self.assertIsNone(self.demo.poll(), "the demo's server is gone:\n" + self.banner_text)
        # Ready means ready: the HTTP API answers the moment the banner shows.
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:8025/readyz", timeout=5) as resp:
            self.assertEqual(resp.status, 200)
        self.assertIn("delivered", self.banner_text)  # the sample voicemail and fax went in

    def test_every_sh_example_in_the_readme_runs_as_written(self):
        blocks = [(h, code) for h, code in sh_blocks(README.read_text()) if not any(n in code for n in NOT_RUN)]
        self.assertGreaterEqual(len(blocks), 2, "the README lost its examples")
        outputs = []
        for heading, code in blocks:
            with self.subTest(section=heading, example=code.splitlines()[0]):
                result = self.run_example(code)
                self.assertEqual(result.returncode, 0,
                                 f"README example under '{heading}' failed:\n{code}\n--- stdout\n{result.stdout}\n"
                                 f"--- stderr\n{result.stderr}")
                outputs.append(result.stdout)
        text = "\n".join(outputs)
        # What the examples are there to show, seen in their output.
        self.assertIn("BODYSTRUCTURE", text)                         # IMAP over curl
        self.assertRegex(text, r"250 2\.0\.0 OK")                    # swaks delivered
        self.assertIn("+15550100", text)                             # umstore mailbox list
        self.assertRegex(text, r"delivered .* \(via SMTP")           # umstore ingest through the server
        self.assertEqual(len(re.findall(r'"status":\s*"queued"', text)), 2)  # both HTTP POSTs
        self.assertIn("umstore_ingest_accepted_total 2", text)        # /metrics


if __name__ == "__main__":
    taken = [p for p in DEMO_PORTS if port_taken(p)]
    if taken:
        print(f"skipped: the demo's port(s) {taken} are in use on 127.0.0.1 (a demo already running?)")
        sys.exit(77)
    unittest.main()
