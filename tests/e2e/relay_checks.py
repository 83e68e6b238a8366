"""What the relay TLS tests (smarthost `verify`, MTA-STS, DANE) share: a
umstore (`self.server`) relaying to alice@PEER at a Postfix peer
(`self.postfix`), messages told apart by their ENVID, and the delayed DSN
that says why a message waits."""
import email
import email.policy
import smtplib
import socket
import uuid

from umstore_harness import DOMAIN, wait_for

USER = "+15550100"
SENDER = f"{USER}@{DOMAIN}"


def postfix_certificate(pair):
    """main.cf parameters that make Postfix present `pair` (certificate, key)."""
    cert, key = pair
    return {"smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key}


def port_free(port):
    """Whether 127.0.0.1:port can be bound as the peers bind it (TIME_WAIT holds nothing)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RelayChecks:
    PEER = "peer.test"  # the Postfix peer's domain; each test sets its own

    def send(self, envid=None):
        """Submits a message for alice@PEER asking for delay DSNs; returns its ENVID."""
        envid = envid or "relay-" + uuid.uuid4().hex[:12]
        message = (f"From: <{SENDER}>\r\nTo: <alice@{self.PEER}>\r\nSubject: {envid}\r\n"
                   f"Message-ID: <{envid}@test>\r\n\r\nconfidential\r\n")
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as smtp:
            smtp.sendmail(SENDER, [f"alice@{self.PEER}"], message.encode(), mail_options=[f"ENVID={envid}"],
                          rcpt_options=["NOTIFY=DELAY,FAILURE"])
        return envid

    def at_postfix(self, envid):
        return [m for m in self.postfix.messages("alice") if envid.encode() in m]

    def wait_at_postfix(self, envid, what, seconds=40):
        try:
            wait_for(lambda: self.at_postfix(envid), what, seconds)
        except AssertionError as e:
            raise AssertionError(f"{e}; umstore log:\n{self.server.log_path.read_text()[-3000:]}") from None

    def delayed_diagnostic(self, envid):
        """The Diagnostic-Code of the delayed DSN umstore sent the sender for envid."""
        reports = lambda: [m for m in self.server.stored_messages()  # noqa: E731
                           if b"report-type=delivery-status" in m and envid.encode() in m]
        try:
            wait_for(reports, f"a delayed DSN for {envid}", 40)
        except AssertionError as e:
            raise AssertionError(f"{e}; umstore log:\n{self.server.log_path.read_text()[-3000:]}") from None
        report = email.message_from_bytes(reports()[0], policy=email.policy.compat32)
        for part in report.walk():
            if part.get_content_type() == "message/delivery-status":
                recipient = part.get_payload()[1]
                self.assertEqual(recipient.get("Action"), "delayed")
                self.assertTrue(recipient.get("Status").startswith("4."), recipient.get("Status"))
                return " ".join(recipient.get("Diagnostic-Code").split())
        raise AssertionError("no message/delivery-status part")

    def refused_until_certificate(self, presented, restored, *reasons):
        """With Postfix presenting `presented` a message waits: a delayed DSN
        whose diagnostic names every one of `reasons`, nothing at Postfix.
        Once `restored` is back it is delivered. Returns the diagnostic."""
        self.postfix.reconfigure(main_cf=postfix_certificate(presented))
        try:
            envid = self.send()
            diagnostic = self.delayed_diagnostic(envid)
            for reason in reasons:
                self.assertIn(reason, diagnostic)
            self.assertEqual(self.at_postfix(envid), [], "delivered over a connection that should be refused")
        finally:
            self.postfix.reconfigure(main_cf=postfix_certificate(restored))
        self.wait_at_postfix(envid, f"{envid} delivered once the right certificate is back")
        return diagnostic
