"""`umstore validate` on good and bad messages: exit code by severity (0 clean,
1 warnings, 2 errors) and the findings it prints (rule, RFC section, place)."""
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import SOURCE_DIR, UMSTORE  # noqa: E402

FOREIGN = SOURCE_DIR / "tests" / "data" / "mime" / "foreign"


def validate(*paths):
    return subprocess.run([UMSTORE, "validate", *map(str, paths)], capture_output=True, text=True, timeout=120)


class ValidateTest(unittest.TestCase):
    def test_conforming_messages_exit_0(self):
        for name in ("vpim_other_vendor.eml", "vpim_no_duration.eml", "ifax_profile_s.eml", "gateway_asterisk.eml"):
            with self.subTest(name=name):
                result = validate(FOREIGN / name)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                self.assertIn("conforms", result.stdout)

    def test_crlf_file_is_checked_the_same(self):
        with tempfile.TemporaryDirectory() as tmp:
            crlf = Path(tmp) / "vpim.eml"
            crlf.write_bytes((FOREIGN / "vpim_other_vendor.eml").read_bytes().replace(b"\n", b"\r\n"))
            result = validate(crlf)
            self.assertEqual(result.returncode, 0, result.stdout)
            self.assertIn("VPIM v2 voice message", result.stdout)

    def test_profile_f_fax_exits_1_with_a_warning(self):
        result = validate(FOREIGN / "ifax_profile_f.eml")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("Internet fax message", result.stdout)
        self.assertRegex(result.stdout, r"warning: RFC 3965 .*\[part 2\] TIFF is not profile S \(T\.6 MMR")

    def test_wrong_types_exit_2_and_name_the_rules(self):
        result = validate(FOREIGN / "wrong_types.eml")
        self.assertEqual(result.returncode, 2, result.stdout)
        for expected in ("error: RFC 3801 §4.3 (Content-Disposition) [part 1 header]",
                         "error: RFC 3801 §4.4 (multipart/voice-message) [part 2]",
                         "error: RFC 3801 §4.4 (image/tiff) [part 3 header]",
                         "error: RFC 3801 §4.2 (Message-ID) [header]",
                         "warning: RFC 3801 §4.4 (multipart/voice-message) [header]"):
            self.assertIn(expected, result.stdout)

    def test_broken_mime_exits_2(self):
        result = validate(FOREIGN / "broken_mime.eml")
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn("error: RFC 2046 §5.1.1 [body]", result.stdout)
        self.assertIn("error: RFC 5322 §3.6 [header] the message has no Date field", result.stdout)

    def test_worst_file_decides_and_quiet_prints_summaries(self):
        result = subprocess.run([UMSTORE, "validate", "--quiet", str(FOREIGN / "ifax_profile_s.eml"),
                                 str(FOREIGN / "ifax_profile_f.eml")], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertEqual(len(result.stdout.splitlines()), 2, result.stdout)

    def test_missing_file_and_help(self):
        result = validate("/nonexistent/message.eml")
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot read", result.stdout)
        help_text = subprocess.run([UMSTORE, "validate", "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(help_text.returncode, 0)
        self.assertIn("Exit status: 0 no findings, 1 warnings only, 2 errors", help_text.stdout)


if __name__ == "__main__":
    unittest.main()
