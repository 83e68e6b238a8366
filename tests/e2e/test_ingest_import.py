"""`umstore import` of an Asterisk voicemail spool: every message arrives
once, and SIGKILL in the middle of a 500-file import followed by a re-run
loses nothing and duplicates nothing."""
import array
import imaplib
import signal
import subprocess
import sys
import time
import unittest
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import UMSTORE, Umstore  # noqa: E402

NUMBER = "+4930123150"
PASSWORD = "secret one"
COUNT = 500
CONFIG = """
[routing]
country_code = 49
extensions = 100-199=+4930123
"""


def make_spool(root, count):
    inbox = root / "default" / "150" / "INBOX"
    inbox.mkdir(parents=True)
    samples = array.array("h", [(i * 97) % 2000 - 1000 for i in range(4000)])  # half a second
    for i in range(count):
        with wave.open(str(inbox / f"msg{i:04}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(samples.tobytes())
        (inbox / f"msg{i:04}.txt").write_text(
            ";\n; Message Information file\n;\n[message]\norigmailbox=150\ncontext=default\n"
            f'callerid="Caller {i}" <5550{i:03}>\norigdate=Mon Jan 10 10:10:10 AM UTC 2022\n'
            f"origtime={1641809410 + i}\nduration=1\n")


class ImportTest(unittest.TestCase):
    def test_sigkill_then_rerun_imports_every_message_once(self):
        with Umstore(config_text=CONFIG) as server:
            server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
            archive = server.work / "asterisk"
            make_spool(archive, COUNT)
            cmd = [UMSTORE, "--data-dir", str(server.data_dir), "--config", str(server.config), "import", str(archive)]
            first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(3)
            first.send_signal(signal.SIGKILL)
            first.wait()
            second = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
            self.assertEqual(second.returncode, 0, second.stdout[-2000:] + second.stderr[-2000:])
            self.assertIn(f"{COUNT}/{COUNT}", second.stdout)  # plain progress lines when not a terminal
            third = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            self.assertEqual(third.returncode, 0, third.stderr)
            server.start()
            conn = imaplib.IMAP4("127.0.0.1", server.imap_port)
            conn.login(NUMBER, PASSWORD)
            typ, data = conn.select("INBOX", readonly=True)
            self.assertEqual(int(data[0]), COUNT)
            typ, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (X-UMSTORE-INGEST-ID)])")
            ids = {part[1].decode().strip() for part in data if isinstance(part, tuple)}
            self.assertEqual(len(ids), COUNT)
            conn.logout()


if __name__ == "__main__":
    unittest.main(verbosity=2)
