"""SIGHUP rereads the limits: a smaller [smtp] max_message_bytes is
advertised (EHLO SIZE) and enforced (552) on the running server, the log
says what changed and what waits for a restart, and after the switch to
JSON the session's lines carry its connection id as a field."""
import json
import re
import signal
import smtplib
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, Umstore, wait_for  # noqa: E402

NUMBER = "+15550100"


def advertised_size(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("gw.example.org")
        return int(smtp.esmtp_features["size"])


def send(port, body_bytes):
    message = f"From: gw@example.org\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: size\r\n\r\n" + "x" * 70 + "\r\n"
    message += ("y" * 998 + "\r\n") * (body_bytes // 1000)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        try:
            smtp.sendmail("gw@example.org", [f"{NUMBER}@{DOMAIN}"], message)
            return 250
        except smtplib.SMTPSenderRefused as e:  # MAIL FROM ... SIZE= refused
            return e.smtp_code
        except smtplib.SMTPDataError as e:
            return e.smtp_code


class ReloadLimitsTest(unittest.TestCase):
    def test_sighup_changes_the_message_size_limit(self):
        with Umstore("[smtp]\nmax_message_bytes = 100000\n") as server:
            server.add_mailbox(NUMBER, "Alice Example", "pw-alice")
            server.start()
            self.assertEqual(advertised_size(server.smtp_port), 100000)
            self.assertEqual(send(server.smtp_port, 50000), 250)

            server.config.write_text("[log]\nformat = json\n[smtp]\nmax_message_bytes = 20000\n"
                                     "retry_base = 30\n")
            server.process.send_signal(signal.SIGHUP)
            wait_for(lambda: "SIGHUP: reloaded" in server.log_path.read_text(), "the reload's log line")
            log = server.log_path.read_text()
            self.assertIn("limits changed: [smtp] max_message_bytes 100000 -> 20000", log)
            self.assertIn("changed but kept until the next restart: [smtp] retry_base", log)

            self.assertEqual(advertised_size(server.smtp_port), 20000)
            self.assertEqual(send(server.smtp_port, 50000), 552)
            self.assertEqual(send(server.smtp_port, 10000), 250)
            self.assertIsNone(server.process.poll(), "SIGHUP ended the server")

            wait_for(lambda: server.log_path.read_text().count('"message":"conn=s') >= 3, "JSON session lines")
            lines = [json.loads(line) for line in server.log_path.read_text().splitlines()
                     if line.startswith("{") and '"component":"smtp"' in line]
            ids = {line["conn"] for line in lines}
            self.assertEqual(len(ids), 3, lines)  # EHLO only, the refused message, the accepted one
            self.assertTrue(all(re.fullmatch(r"s[0-9a-f]{5}", i) for i in ids), ids)

            # Back up again: the next restart is not needed for that either.
            server.config.write_text("[smtp]\nmax_message_bytes = 100000\n")
            server.process.send_signal(signal.SIGHUP)
            wait_for(lambda: "max_message_bytes 20000 -> 100000" in server.log_path.read_text(), "the second reload")
            self.assertEqual(send(server.smtp_port, 50000), 250)


if __name__ == "__main__":
    unittest.main()
