"""SIGHUP rereads the limits: a smaller [smtp] max_message_bytes is
advertised (EHLO SIZE) and enforced (552) on the running server, a smaller
max_recipients refuses the next RCPT over it (452 4.5.3), a shorter
max_queue_age makes the queue give up on a deferred message (4.4.7), the log
says what changed and what waits for a restart, and after the switch to
JSON the session's lines carry its connection id as a field."""
import socket
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


def reload_with(server, config_text):
    """Writes the config, sends SIGHUP, waits for the reload's log line; returns the log."""
    server.config.write_text(config_text)
    server.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: reloaded" in server.log_path.read_text(), "the reload's log line")
    return server.log_path.read_text()


def recipient_replies(port, count):
    """RCPT replies for `count` different addresses (relayed: the client is trusted)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("gw.example.org")
        smtp.mail("gw@example.org")
        return [smtp.rcpt(f"user{i}@example.com") for i in range(count)]


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReloadLimitsTest(unittest.TestCase):
    def test_sighup_changes_recipients_and_the_retry_schedule(self):
        relay = f"[smtp]\nsmarthost = 127.0.0.1:{closed_port()}\ntrusted_networks = 127.0.0.1/32\n"
        with Umstore(relay + "max_recipients = 5\n") as server:
            server.add_mailbox(NUMBER, "Alice Example", "pw-alice")
            server.start()
            self.assertTrue(all(code == 250 for code, _ in recipient_replies(server.smtp_port, 3)))
            # A message for elsewhere waits: nobody listens on the smarthost's port.
            with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
                smtp.sendmail("<>", ["someone@example.com"], "Subject: away\r\n\r\nbody\r\n")
            wait_for(lambda: "pending=1/1" in server.run("queue", "list").stdout, "the deferred message")
            wait_for(lambda: "deferred (attempt 1)" in server.log_path.read_text(), "the first attempt")

            log = reload_with(server, relay + "max_recipients = 2\nmax_queue_age = 1\n"
                                      "[imap]\nlogin_requires_tls = true\n")
            self.assertIn("[smtp] max_recipients 5 -> 2", log)
            self.assertIn("[smtp] max_queue_age 432000 -> 1", log)
            self.assertIn("changed but kept until the next restart: [imap] login_requires_tls", log)

            codes = [(code, text.decode()) for code, text in recipient_replies(server.smtp_port, 3)]
            self.assertEqual([c for c, _ in codes], [250, 250, 452], codes)
            self.assertTrue(codes[2][1].startswith("4.5.3"), codes)

            queued = server.run("queue", "list").stdout.split()[0]
            server.run("queue", "retry", queued)
            wait_for(lambda: "0 message(s) queued" in server.run("queue", "list").stdout,
                     "the queue to give up under the new max_queue_age")
            self.assertIn("to=someone@example.com failed", server.log_path.read_text())
            self.assertIsNone(server.process.poll(), "SIGHUP ended the server")

    def test_sighup_changes_the_message_size_limit(self):
        with Umstore("[smtp]\nmax_message_bytes = 100000\n") as server:
            server.add_mailbox(NUMBER, "Alice Example", "pw-alice")
            server.start()
            self.assertEqual(advertised_size(server.smtp_port), 100000)
            self.assertEqual(send(server.smtp_port, 50000), 250)
            # Both sessions ended (and logged so) before the switch to JSON below.
            wait_for(lambda: server.log_path.read_text().count(" session peer=") >= 2, "the sessions' end lines")

            log = reload_with(server, "[log]\nformat = json\n[smtp]\nmax_message_bytes = 20000\n"
                                      "retry_base = 30\n[enum]\ndomains = e164.arpa\n")
            self.assertIn("limits changed: [smtp] max_message_bytes 100000 -> 20000", log)
            self.assertIn("[smtp] retry_base 60 -> 30", log)
            self.assertIn("changed but kept until the next restart: [enum] domains", log)

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
