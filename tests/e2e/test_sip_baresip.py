"""baresip (Debian baresip-core), a real SIP user agent, calls the real
`umstore serve` over SIP/UDP and speaks samples/voicemail.wav through its
aufile module; the voicemail then appears in the mailbox over IMAP with the
caller baresip presented and about the duration of the audio sent."""
import imaplib
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SAMPLES, Umstore  # noqa: E402

MAILBOX = "+15550100"
CALLER = "+15550123"
PASSWORD = "secret one"
MODULES = Path("/usr/lib/baresip/modules")


def free_sip_port():
    """A port free for UDP and TCP alike: baresip listens on both, and gives up at once when either is taken
    (other tests running beside this one hold TCP ports a free UDP port may share)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def write_baresip_config(home, sip_port, wav):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config").write_text(f"""poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{free_sip_port()}
audio_player\t\taufile,{home / 'heard.wav'}
audio_source\t\taufile,{wav}
audio_alert\t\taufile,{home / 'alert.wav'}
audio_srate\t\t8000
audio_channels\t\t1
rtp_ports\t\t{40000 + sip_port % 20000}-{40100 + sip_port % 20000}
module_path\t\t{MODULES}
module\t\t\tg711.so
module\t\t\taufile.so
module_app\t\taccount.so
module_app\t\tmenu.so
""")
    (home / "accounts").write_text(f"<sip:{CALLER}@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    (home / "contacts").write_text("")


class BaresipCall(unittest.TestCase):
    def setUp(self):
        self.server = Umstore("""
[sip]
listen = 127.0.0.1:0
gateways = 127.0.0.1
""")  # port 0: the server picks one free for UDP and TCP alike (a port free for UDP here may not be for TCP)
        self.server.add_mailbox(MAILBOX, "Alice Example", PASSWORD)
        self.server.start()
        self.sip_port = int(self.server.info["sip"].rsplit(":", 1)[1])

    def tearDown(self):
        self.server.close()

    def test_voicemail_from_baresip_appears_over_imap(self):
        # aufile plays 16-bit PCM WAVs at the configured rate.
        wav = self.server.work / "speech-8k.wav"
        subprocess.run(["sox", str(SAMPLES / "voicemail.wav"), "-r", "8000", "-c", "1", "-b", "16", str(wav)],
                       check=True, timeout=60)
        with wave.open(str(wav)) as w:
            sent_seconds = w.getnframes() / w.getframerate()
        home = self.server.work / "baresip"
        write_baresip_config(home, self.sip_port, wav)
        # baresip quits after -t seconds (sending BYE); the audio ends before that.
        run = subprocess.run(["baresip", "-f", str(home), "-t", str(int(sent_seconds) + 6),
                              "-e", f"/dial sip:{MAILBOX}@127.0.0.1:{self.sip_port}"],
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        output = run.stdout + run.stderr
        self.assertIn("Call established", output, output[-3000:])

        deadline = time.time() + 30
        message = None
        while time.time() < deadline and message is None:
            conn = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
            conn.login(MAILBOX, PASSWORD)
            typ, data = conn.select("INBOX", readonly=True)
            if int(data[0]) >= 1:
                typ, fetched = conn.fetch("1", "(RFC822)")
                message = fetched[0][1].decode("utf-8", "replace")
            conn.logout()
            if message is None:
                time.sleep(0.5)
        self.assertIsNotNone(message, self.server.log_path.read_text()[-3000:])
        self.assertIn("audio/32KADPCM", message)
        self.assertIn("Caller-ID: 15550123", message)
        duration = re.search(r"Content-Duration: (\d+)", message)
        self.assertIsNotNone(duration, message[:2000])
        # The recording starts after the greeting and the beep, so it misses
        # the first second or two of what baresip sent.
        self.assertGreater(int(duration.group(1)), sent_seconds - 4)
        self.assertLessEqual(int(duration.group(1)), sent_seconds + 7)


if __name__ == "__main__":
    if not shutil.which("baresip") or not (MODULES / "aufile.so").exists():
        print("baresip-core is not installed: skipped")
        sys.exit(77)  # CTest reports it as skipped, never as passed
    unittest.main()
