"""[codecs] limits from the config file reach `umstore convert` and
`umstore ingest`: a file over a limit is refused with an error naming the
file, the format found and the limit, and nothing is written or delivered."""
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SAMPLES, UMSTORE, Umstore  # noqa: E402

VOICE = SAMPLES / "voicemail.wav"  # 17.6 s, 8 kHz
FAX = SAMPLES / "fax.tif"          # 2 pages, 1728 x 2287 lines


class CodecLimitsTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="umstore-limits-")
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def convert(self, limits, source, output):
        config = self.dir / "limits.conf"
        config.write_text("[codecs]\n" + limits + "\n")
        out = self.dir / output
        result = subprocess.run([UMSTORE, "convert", "--config", str(config), "--data-dir", str(self.dir / "data"),
                                 str(source), str(out)], capture_output=True, text=True, timeout=120)
        return result, out

    def assert_refused(self, limits, source, output, message):
        result, out = self.convert(limits, source, output)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"{source}: {message}", result.stderr)
        self.assertFalse(out.exists(), "nothing is written for a refused input")

    def test_each_limit_refuses_the_file_naming_format_and_limit(self):
        self.assert_refused("max_voice_seconds = 5", VOICE, "v.726", "WAV (Microsoft) (Signed 16 bit PCM): too long: 17 s, limit 5 s")
        self.assert_refused("max_input_bytes = 1000", VOICE, "v.wav",
                            f"WAV: input is {VOICE.stat().st_size} bytes, limit 1000")
        self.assert_refused("max_fax_pages = 1", FAX, "f.tif", "TIFF: more than 1 pages")
        self.assert_refused("max_fax_width = 1000", FAX, "f.pdf", "TIFF: page 1: width 1728 exceeds the limit 1000")
        self.assert_refused("max_fax_length = 2000", FAX, "f.tif", "TIFF: page 1: length 2287 lines exceeds the limit 2000")
        self.assert_refused("max_input_bytes = 1000", FAX, "f.tif",
                            f"TIFF: input is {FAX.stat().st_size} bytes, limit 1000")

    def test_files_within_the_limits_convert(self):
        limits = "max_voice_seconds = 18\nmax_fax_pages = 2\nmax_fax_width = 1728\nmax_fax_length = 2287\nmax_input_bytes = 10000000"
        for source, output in ((VOICE, "v.726"), (FAX, "f.tif")):
            result, out = self.convert(limits, source, output)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertGreater(out.stat().st_size, 1000)

    def test_zero_or_text_is_a_config_error(self):
        for limits in ("max_fax_pages = 0", "max_voice_seconds = long"):
            result, _ = self.convert(limits, VOICE, "v.726")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("[codecs] max_", result.stderr)

    def test_ingest_applies_the_limits(self):
        with Umstore("[codecs]\nmax_voice_seconds = 5\nmax_fax_pages = 1\n") as u:
            u.add_mailbox("+15550100", "Alice", "pw-alice-1")
            for kind, source, message in (("voice", VOICE, "too long: 17 s, limit 5 s"), ("fax", FAX, "more than 1 pages")):
                result = u.run("--config", str(u.config), "ingest", kind, "--to", "+15550100", "--from", "+15550123",
                               str(source), check=False)
                self.assertEqual(result.returncode, 1, result.stdout)
                self.assertIn(str(source), result.stderr)
                self.assertIn(message, result.stderr)
            mail = u.data_dir / "mail"
            self.assertEqual([p for p in mail.rglob("new/*") if p.is_file()], [], "nothing delivered")


if __name__ == "__main__":
    unittest.main()
