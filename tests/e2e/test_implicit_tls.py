"""Implicit TLS (RFC 8314): IMAPS and submission over TLS from the first
byte ([listen] imaps and submissions, the roles of ports 993 and 465), with
a certificate from a private CA that the clients verify, name included. A
client that speaks plain text to them gets no greeting, and the server
keeps serving. Needs openssl (to make the CA): exit 77 without it."""
import imaplib
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import unittest
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from umstore_harness import DOMAIN, Umstore, wait_for  # noqa: E402

NUMBER, PASSWORD = "+15550100", "implicit tls password"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca_and_server_certificate(directory):
    """A private CA and a certificate it signs for localhost and 127.0.0.1."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=umstore test CA",
            "-keyout", str(ca_key), "-out", str(ca_cert))
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    extensions = directory / "san.ext"
    extensions.write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", str(extensions), "-out", str(cert))
    return ca_cert, cert, key


class ImplicitTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Umstore()
        cls.ca, cert, key = make_ca_and_server_certificate(cls.server.work)
        config = cls.server.config or (cls.server.work / "umstore.conf")
        text = config.read_text() if config.exists() else ""
        config.write_text(text + f"\n[tls]\ncert = {cert}\nkey = {key}\n"
                          "[listen]\nimaps = 127.0.0.1:0\nsubmissions = 127.0.0.1:0\n")
        cls.server.config = config
        cls.server.add_mailbox(NUMBER, "Alice Example", PASSWORD)
        cls.server.start()
        cls.imaps_port = int(cls.server.info["imaps"].rsplit(":", 1)[1])
        cls.submissions_port = int(cls.server.info["submissions"].rsplit(":", 1)[1])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def verifying_context(self):
        context = ssl.create_default_context(cafile=str(self.ca))  # checks the chain and the host name
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def test_submission_over_tls_from_the_first_byte_delivers_after_auth(self):
        with smtplib.SMTP_SSL("localhost", self.submissions_port, context=self.verifying_context(), timeout=30) as smtp:
            code, features = smtp.ehlo("client.example")
            self.assertEqual(code, 250)
            self.assertIn(b"AUTH", features)
            self.assertNotIn(b"STARTTLS", features)  # TLS is already on
            code, reply = smtp.docmd("MAIL FROM:<someone@example.org>")
            self.assertEqual(code, 530, reply)  # submission: AUTH first (RFC 6409)
            smtp.login(NUMBER, PASSWORD)
            message = EmailMessage()
            message["From"] = f"{NUMBER}@{DOMAIN}"
            message["To"] = f"{NUMBER}@{DOMAIN}"
            message["Subject"] = "sent over implicit TLS"
            message.set_content("hello")
            smtp.send_message(message)

        with imaplib.IMAP4_SSL("localhost", self.imaps_port, ssl_context=self.verifying_context(), timeout=30) as imap:
            self.assertNotIn("STARTTLS", imap.capabilities)
            imap.login(NUMBER, PASSWORD)
            imap.select("INBOX", readonly=True)
            wait_for(lambda: imap.search(None, 'SUBJECT "sent over implicit TLS"')[1][0].split(),
                     "the message sent over implicit TLS in INBOX")

    def test_a_certificate_for_another_name_is_refused_by_the_client(self):
        context = self.verifying_context()
        with socket.create_connection(("127.0.0.1", self.imaps_port), timeout=30) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                context.wrap_socket(raw, server_hostname="vm.example.net")

    def test_plain_text_to_a_tls_port_gets_no_greeting_and_others_are_served(self):
        for port in (self.imaps_port, self.submissions_port):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                raw.sendall(b"a1 CAPABILITY\r\nEHLO client.example\r\n")
                received = b""
                try:
                    while chunk := raw.recv(4096):  # a TLS alert at most, then the close
                        received += chunk
                except ConnectionResetError:
                    pass
                self.assertNotIn(b"OK", received)
                self.assertNotIn(b"220", received)
        with imaplib.IMAP4_SSL("localhost", self.imaps_port, ssl_context=self.verifying_context(), timeout=30) as imap:
            imap.login(NUMBER, PASSWORD)
        self.assertIsNone(self.server.process.poll())


if __name__ == "__main__":
    if not shutil.which("openssl"):
        print("skipped: openssl is needed to make the test CA")
        sys.exit(77)
    unittest.main()
