"""Transcription engines plugged in as commands ([transcription] command),
through the real `umstore serve` and its HTTP API: a working command's text
reaches the message; a hung one (sleep 1000) and a crashing one (exit 3), or
one slower than wait_seconds, leave the voicemail delivered without text,
and the log says why."""
import shutil
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_recognition import PASSWORD, curl, delivered, message, transcript_of  # noqa: E402
from umstore_harness import DOMAIN, SAMPLES, Umstore, wait_for  # noqa: E402

TOKEN = "gw-engines-token-012345"
BOB = "+15550100"
VOICE = SAMPLES / "voicemail.wav"


def served(engine_config):
    server = Umstore(config_text=f"[umstore]\ndomain = {DOMAIN}\n[gateways]\ngw = {TOKEN}\n"
                                 f"[transcription]\n{engine_config}\n")
    server.add_mailbox(BOB, "Bob Example", PASSWORD)
    server.start()
    return server


def voicemail_through(server):
    """Posts the sample voicemail; the message stored and how long delivery took."""
    started = time.monotonic()
    code, body = curl(server.http_port, "/v1/voicemail", TOKEN, "-F", f"file=@{VOICE}", "-F", f"to={BOB}",
                      "-F", "from=+15550123")
    assert code == 202, body
    delivered(server, body["id"], TOKEN)
    return message(server, BOB), time.monotonic() - started


class EngineCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("curl"):
            print("SKIP: curl not installed")
            sys.exit(77)

    def test_a_working_command_gets_the_recording_and_its_output_is_the_transcript(self):
        # The WAV comes on standard input, and its path as %f and $UMSTORE_AUDIO_FILE.
        with served('command = test "$(head -c 4)" = RIFF && test -s "$UMSTORE_AUDIO_FILE" && '
                    'printf "heard %s\\n  words\\n" "$(head -c 4 %f)"') as server:
            msg, _ = voicemail_through(server)
            self.assertEqual(transcript_of(msg), ("heard RIFF words", "heard RIFF words"))

    def test_a_hung_command_is_killed_at_its_time_limit_and_the_voicemail_goes_without_text(self):
        with served("command = sleep 1000\ntimeout = 2\nwait_seconds = 60") as server:
            msg, seconds = voicemail_through(server)
            self.assertEqual(transcript_of(msg), (None, None))
            self.assertLess(seconds, 30)
            wait_for(lambda: "did not finish within 2 s and was killed" in server.log_path.read_text(), "the log")
            self.assertIn("goes without transcript", server.log_path.read_text())

    def test_a_crashing_command_leaves_the_voicemail_without_text_and_says_why(self):
        with served("command = echo model missing >&2; exit 3") as server:
            msg, _ = voicemail_through(server)
            self.assertEqual(transcript_of(msg), (None, None))
            self.assertIn("the transcription command exited with status 3 (model missing)",
                          server.log_path.read_text())

    def test_a_command_slower_than_the_wait_does_not_hold_the_voicemail(self):
        with served("command = sleep 8; echo too late\ntimeout = 20\nwait_seconds = 2") as server:
            msg, seconds = voicemail_through(server)
            self.assertEqual(transcript_of(msg), (None, None))
            self.assertLess(seconds, 8)
            self.assertIn("recognition took longer than the wait", server.log_path.read_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
