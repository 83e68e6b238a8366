"""Faxes from email through the real `umstore serve`: an authenticated user
mails FAX=+number@domain with a text and the 2-page sample TIFF; umstore
renders a cover page and the text, dials the fax gateway over SIP and sends
the pages with T.30, and a receiving fax terminal (sip_fax_receiver,
spandsp's answering terminal behind a SIP endpoint) gets every page; the
sender's mailbox gets a success DSN with the fax's details. A busy line, a
call nobody answers and an answer without a fax machine are tried again and
end in a failure DSN; strangers, refused prefixes and
messages with nothing to fax are refused at once with the rule that refused
them."""
import email
import email.policy
import imaplib
import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from email.message import EmailMessage
from pathlib import Path

from admin_client import AdminClient, add_admin
from test_ingest_webhooks import Receiver
from umstore_harness import DOMAIN, SAMPLES, Umstore, gateway_api, wait_for

NUMBER = "+15550100"
PASSWORD = "fax-out-e2e-secret"
FAX_TO = "+15550199"
RECEIVER = os.environ.get("SIP_FAX_RECEIVER", "sip_fax_receiver")
APP_TOKEN = "fax-out-app-token-0123456789"
OTHER_TOKEN = "fax-out-other-token-0123456789"
ADMIN_PASSWORD = "fax-out-admin-password"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_geometry(tiff_path):
    info = subprocess.run(["tiffinfo", str(tiff_path)], capture_output=True, text=True, check=True).stdout
    return [(int(w), int(h)) for w, h in re.findall(r"Image Width: (\d+) Image Length: (\d+)", info)]


class Terminal:
    """sip_fax_receiver on a free port; its JSON lines, one per call."""

    def __init__(self, out_dir, *flags):
        self.port = free_udp_port()
        out_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([RECEIVER, "--port", str(self.port), "--out", str(out_dir), *flags],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.calls, self.lines = [], []
        ready = threading.Event()

        def read():
            for line in self.process.stdout:
                self.lines.append(line)
                if line.strip() == "ready":
                    ready.set()
                elif line.startswith("{"):
                    self.calls.append(json.loads(line))
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(10):
            raise AssertionError("sip_fax_receiver did not start: " + "".join(self.lines))

    def close(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def config(gateway_port, extra=""):
    return (f"[sip]\nlisten = 127.0.0.1:0\ngateways = 127.0.0.1\n"
            f"[smtp]\nauth_requires_tls = false\n"
            f"[routing]\ncountry_code = 1\n"
            f"[ingest]\nwebhook_retry_base = 1\n"
            f"[fax_out]\ngateway = sip:127.0.0.1:{gateway_port}\nallowed_prefixes = +1555\n"
            f"page_header = umstore e2e\nretry_intervals = 1\nring_timeout = 5\n{extra}"
            f"[gateways]\napp = {APP_TOKEN}\nother = {OTHER_TOKEN}\n")


def fax_message(text, attach_sample=True):
    m = EmailMessage()
    m["From"] = f"Alice Example <{NUMBER}@{DOMAIN}>"
    m["To"] = f"FAX={FAX_TO}@{DOMAIN}"
    m["Subject"] = "Order 42"
    m.set_content(text)
    if attach_sample:
        m.add_attachment((SAMPLES / "fax.tif").read_bytes(), maintype="image", subtype="tiff", filename="scan.tif")
    return m


def inbox(server, password, count, seconds=120):
    """Every message in the sender's INBOX once there are `count`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        conn = imaplib.IMAP4("127.0.0.1", server.imap_port)
        try:
            conn.login(NUMBER, password)
            typ, data = conn.select("INBOX", readonly=True)
            if int(data[0]) >= count:
                out = []
                for i in range(1, int(data[0]) + 1):
                    typ, data = conn.fetch(str(i).encode(), "(BODY.PEEK[])")
                    out.append(email.message_from_bytes(data[0][1], policy=email.policy.default))
                return out
        finally:
            conn.logout()
        time.sleep(0.5)
    raise AssertionError("no report in the sender's mailbox; server log:\n" + server.log_path.read_text()[-3000:])


def recipient_fields(report):
    """The per-recipient fields of a DSN (RFC 3464), names lower-cased."""
    assert report.get_content_type() == "multipart/report", report.get_content_type()
    part = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    return {k.lower(): str(v) for k, v in part.get_payload()[1].items()}


class FaxOutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which(RECEIVER) is None and not os.path.exists(RECEIVER):
            print(f"SKIP: {RECEIVER} (the receiving fax terminal) is not built", file=sys.stderr)
            sys.exit(77)

    def start(self, terminal, extra="", admin=False):
        server = Umstore(config(terminal.port, extra))
        server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
        if admin:
            add_admin(server, "root", "helpdesk", ADMIN_PASSWORD)
        server.start()
        self.addCleanup(server.close)
        if admin:
            server.admin = AdminClient(server.admin_port)
            server.admin.enrol("root", ADMIN_PASSWORD)
        return server

    def terminal(self, name, *flags):
        t = Terminal(self.work / name, *flags)
        self.addCleanup(t.close)
        return t

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fax-out-e2e-")
        self.addCleanup(self.tmp.cleanup)
        self.work = Path(self.tmp.name)

    def submit(self, server, message, to=None, login=True):
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as s:
            if login:
                s.login(NUMBER, PASSWORD)
            return s.send_message(message, from_addr=f"{NUMBER}@{DOMAIN}", to_addrs=[to or f"FAX={FAX_TO}@{DOMAIN}"])

    def test_a_text_and_a_tiff_arrive_page_for_page_and_the_sender_hears_of_it(self):
        terminal = self.terminal("ok")
        server = self.start(terminal, admin=True)
        self.submit(server, fax_message("Please deliver 3 boxes of paper.\nThank you."))
        # Admins see it in the queue while it is dialled (a real-time fax takes half a minute).
        [queued] = server.admin.call("GET", "/api/queues").json()["fax_out"]
        self.assertEqual((queued["number"], queued["user"], queued["source"]), (FAX_TO, NUMBER, "smtp"))
        wait_for(lambda: terminal.calls, "the fax call", seconds=240)
        call = terminal.calls[0]
        self.assertEqual(call["result"], "OK", call)
        sample = page_geometry(SAMPLES / "fax.tif")
        self.assertEqual(call["pages"], 2 + len(sample), call)  # cover page, the text, the sample's pages
        self.assertEqual(call["to"], FAX_TO)
        self.assertEqual(call["remote_station"].strip(), NUMBER)  # the sender's number as TSI
        received = page_geometry(call["tiff"])
        self.assertEqual(len(received), call["pages"])
        for (w, h), (sw, sh) in zip(received[2:], sample):
            self.assertEqual(w, sw)
            # spandsp puts the page header line (page_header, the time, page n/m) above each page.
            self.assertTrue(0 < h - sh <= 64, (h, sh))
        [report] = inbox(server, PASSWORD, 1)
        self.assertIn("sent", report["Subject"])
        fields = recipient_fields(report)
        self.assertEqual(fields["action"], "delivered")
        self.assertEqual(fields["status"], "2.0.0")
        self.assertEqual(fields["x-fax-pages-sent"], str(call["pages"]))
        self.assertEqual(fields["x-fax-attempts"], "1")
        self.assertIn("OK", fields["diagnostic-code"])
        # The report's job id finds the fax's record in the admin API, as JSON.
        self.assertEqual(fields["x-fax-job-id"], queued["id"])
        ended = server.admin.call("GET", f"/api/fax-out/{queued['id']}").json()
        self.assertEqual((ended["status"], ended["last_call"]["pages_sent"]), ("sent", call["pages"]))
        self.assertEqual(server.admin.call("GET", "/api/queues").json()["fax_out"], [])
        self.assertEqual(server.admin.call("GET", "/api/fax-out/0NOSUCHID").status_code, 404)

    def test_a_busy_line_is_tried_again_and_ends_in_a_failure_report(self):
        terminal = self.terminal("busy", "--busy")
        server = self.start(terminal, "max_attempts = 2\n")
        self.submit(server, fax_message("Nobody will read this.", attach_sample=False))
        [report] = inbox(server, PASSWORD, 1, seconds=60)
        fields = recipient_fields(report)
        self.assertEqual(fields["action"], "failed")
        self.assertEqual(fields["status"], "4.4.7")
        self.assertEqual(fields["x-fax-attempts"], "2")
        self.assertIn("busy", fields["diagnostic-code"])
        self.assertIn("486", fields["diagnostic-code"])

    def test_no_answer_and_no_fax_machine_are_tried_again_and_end_in_a_failure_report(self):
        for flag, words in (("--no-answer", "nobody answered"), ("--no-fax", "did not complete the transfer")):
            with self.subTest(flag):
                terminal = self.terminal(flag.strip("-"), flag)
                server = self.start(terminal, "max_attempts = 2\n")
                self.submit(server, fax_message("Nobody will read this.", attach_sample=False))
                [report] = inbox(server, PASSWORD, 1, seconds=120)
                fields = recipient_fields(report)
                self.assertEqual((fields["action"], fields["status"]), ("failed", "4.4.7"), fields)
                self.assertEqual(fields["x-fax-attempts"], "2")
                self.assertIn(words, fields["diagnostic-code"])
                wait_for(lambda: len(terminal.calls) == 2, "both attempts at the terminal", seconds=20)

    def test_an_application_sends_a_fax_over_http_and_follows_its_status(self):
        terminal = self.terminal("http")
        server = self.start(terminal)
        receiver = Receiver()  # its first answer is a 500: the webhook is tried again
        self.addCleanup(receiver.close)
        form = ["-F", f"to={FAX_TO}", "-F", "text=Invoice 7 attached.", "-F", "subject=Invoice 7",
                "-F", f"file=@{SAMPLES / 'fax.tif'};type=image/tiff", "-H", "Idempotency-Key: invoice-7",
                "-F", f"callback_url={receiver.url('/flaky')}"]
        code, body = gateway_api(server.http_port, "/v1/fax-out", *form, token=APP_TOKEN)
        self.assertEqual(code, 202, body)
        self.assertEqual(body["status"], "queued")
        self.assertEqual(body["pages"], 2 + len(page_geometry(SAMPLES / "fax.tif")))
        fax_id = body["id"]
        code, again = gateway_api(server.http_port, "/v1/fax-out", *form, token=APP_TOKEN)
        self.assertEqual((code, again["id"], again.get("duplicate")), (200, fax_id, True))
        # Another application cannot see it.
        self.assertEqual(gateway_api(server.http_port, f"/v1/fax-out/{fax_id}", token=OTHER_TOKEN)[0], 404)
        wait_for(lambda: terminal.calls, "the fax call", seconds=240)
        self.assertEqual(len(terminal.calls), 1)  # the repeated request placed no second call

        def ended():
            return gateway_api(server.http_port, f"/v1/fax-out/{fax_id}", token=APP_TOKEN)[1]["status"] == "sent"
        wait_for(ended, "the fax's status to say sent", seconds=30)
        code, status = gateway_api(server.http_port, f"/v1/fax-out/{fax_id}", token=APP_TOKEN)
        self.assertEqual(status["last_call"]["pages_sent"], body["pages"])
        self.assertEqual(status["last_call"]["t30_result"], "OK")
        self.assertEqual(status["attempts"], 1)
        self.assertEqual(terminal.calls[0]["pages"], body["pages"])
        # The webhook: the same status, POSTed once the fax ended, again after the receiver's 500.
        wait_for(lambda: receiver.received("/flaky"), "the webhook", seconds=30)
        self.assertEqual(receiver.received("/flaky"), [status])
        self.assertEqual(len(receiver.received("/flaky", 500)), 1)
        # Refusals are JSON with the reason.
        code, refused = gateway_api(server.http_port, "/v1/fax-out", "-F", "to=+442079460000", "-F", "text=hi",
                                    token=APP_TOKEN)
        self.assertEqual(code, 403)
        self.assertIn("allowed_prefixes", refused["error"])
        code, refused = gateway_api(server.http_port, "/v1/fax-out", "-F", "text=hi", token=APP_TOKEN)
        self.assertEqual(code, 400)
        code, refused = gateway_api(server.http_port, "/v1/fax-out", "-F", f"to={FAX_TO}", "-F", "text=hi",
                                    "-F", "callback_url=ftp://127.0.0.1/", token=APP_TOKEN)
        self.assertEqual(code, 400)
        self.assertIn("callback_url", refused["error"])
        code, refused = gateway_api(server.http_port, "/v1/fax-out", "-F", f"to={FAX_TO}", token=APP_TOKEN)
        self.assertEqual(code, 422)
        self.assertIn("nothing to fax", refused["error"])
        self.assertEqual(gateway_api(server.http_port, "/v1/fax-out", "-F", f"to={FAX_TO}", token=None)[0], 401)

    def test_refusals_name_the_rule(self):
        terminal = self.terminal("refusals")
        server = self.start(terminal, "pages_per_day = 3\n")
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as stranger:
            self.submit(server, fax_message("hi"), login=False)
        code, text = stranger.exception.recipients[f"FAX={FAX_TO}@{DOMAIN}"]
        self.assertEqual(code, 550)
        self.assertIn(b"5.7.1", text)
        abroad = f"FAX=+442079460000@{DOMAIN}"
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as refused:
            self.submit(server, fax_message("hi"), to=abroad)
        code, text = refused.exception.recipients[abroad]
        self.assertEqual((code, text[:5]), (550, b"5.7.1"))
        self.assertIn(b"allowed_prefixes", text)
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as bad:
            self.submit(server, fax_message("hi"), to=f"FAX=call-me@{DOMAIN}")
        self.assertIn(b"5.1.3", bad.exception.recipients[f"FAX=call-me@{DOMAIN}"][1])
        with self.assertRaises(smtplib.SMTPDataError) as nothing:
            self.submit(server, fax_message("   ", attach_sample=False))
        self.assertEqual(nothing.exception.smtp_code, 550)
        self.assertIn(b"5.6.0", nothing.exception.smtp_error)
        # Cover page, text and the two sample pages pass the day's 3 pages.
        with self.assertRaises(smtplib.SMTPDataError) as budget:
            self.submit(server, fax_message("hi"))
        self.assertIn(b"5.7.1", budget.exception.smtp_error)
        self.assertIn(b"pages_per_day", budget.exception.smtp_error)
        self.assertEqual(terminal.calls, [])


if __name__ == "__main__":
    unittest.main()
