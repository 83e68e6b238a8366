"""SIP over TLS with SRTP (RFC 3261 §26, RFC 3711, SDES keys of RFC 4568):
baresip (Debian baresip-core, its srtp module) calls the real `umstore
serve` on its TLS port offering RTP/SAVP with an SDES key and speaks
samples/voicemail.wav; the voicemail appears over IMAP with about the
duration sent and its WAV follows the loudness of the speech sent, syllable
by syllable, so umstore decrypted the caller's SRTP. A fax machine behind a gateway
(sip_fax_sender) sends the 2-page sample over SIP/TLS, verifying umstore's
certificate against a private CA, in G.711 over SRTP; the Internet fax has
both pages. A fax sent by mail is dialled to a receiving terminal
(sip_fax_receiver --tls) at a sips: gateway URI, over TLS verified
against `[sip] tls_ca_file` and in SRTP; with a CA the gateway's
certificate is not from, no call is placed and the log says why. With
`[sip] srtp = required` a call offering plain RTP is
refused with 488 and nothing is stored. With `[sip] tls_client_ca` a
gateway without a certificate from that CA cannot connect, and one with it
can."""
import email
import email.policy
import imaplib
import math
from array import array
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_implicit_tls import make_ca_and_server_certificate  # noqa: E402
from test_ingest_webhooks import TestCertificates  # noqa: E402
from test_sip_baresip import CALLER, MAILBOX, MODULES, PASSWORD, write_baresip_config  # noqa: E402
import test_fax_out as fax_out  # noqa: E402
from test_sip_fax import page_geometry  # noqa: E402
from umstore_harness import SAMPLES, Umstore, wait_for  # noqa: E402

SENDER = os.environ.get("SIP_FAX_SENDER", "sip_fax_sender")


def voicemail_count(server):
    conn = imaplib.IMAP4("127.0.0.1", server.imap_port)
    conn.login(MAILBOX, PASSWORD)
    typ, data = conn.select("INBOX", readonly=True)
    count = int(data[0])
    message = None
    if count:
        raw = conn.fetch(str(count), "(RFC822)")[1][0][1]
        message = email.message_from_bytes(raw, policy=email.policy.default)
    conn.logout()
    return count, message


def loudness(path):
    """The log RMS of each 20 ms of a WAV file (mono)."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        frame = w.getframerate() // 50
        samples = array("h", w.readframes(w.getnframes()))
    return [math.log1p(math.sqrt(sum(x * x for x in samples[i:i + frame]) / frame))
            for i in range(0, len(samples) - frame + 1, frame)]


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va, vb = sum((x - ma) ** 2 for x in a), sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb) if va and vb else 0.0


def loudness_similarity(sent, recorded):
    """The best correlation of the two loudness curves over where the
    recording may start in what was sent (up to 6 s in: greeting, beep)."""
    a, b = loudness(sent), loudness(recorded)
    best = 0.0
    for lag in range(0, min(300, len(a) - 50)):
        n = min(len(a) - lag, len(b))
        best = max(best, pearson(a[lag:lag + n], b[:n]))
    return best


class SipTlsSrtp(unittest.TestCase):
    def scratch(self):
        path = Path(tempfile.mkdtemp(prefix="umstore-sip-tls-"))
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def start_server(self, srtp, extra=""):
        server = Umstore(f"""
[sip]
listen = 127.0.0.1:0
tls_listen = 127.0.0.1:0
gateways = 127.0.0.1
srtp = {srtp}
{extra}
""")
        self.addCleanup(server.close)
        server.add_mailbox(MAILBOX, "Alice Example", PASSWORD)
        server.start()
        return server, int(server.info["sip_tls"].rsplit(":", 1)[1])

    def speech(self, server):
        """The sample at 8 kHz after 3 s of silence, so the greeting and the beep miss none of it."""
        wav = server.work / "speech-8k.wav"
        subprocess.run(["sox", str(SAMPLES / "voicemail.wav"), "-r", "8000", "-c", "1", "-b", "16", str(wav),
                        "pad", "3", "0"], check=True, timeout=60)
        with wave.open(str(wav)) as w:
            return wav, w.getnframes() / w.getframerate()

    def call(self, server, tls_port, mediaenc, seconds, certificate=None):
        home = server.work / f"baresip-{mediaenc or 'plain'}-{'cert' if certificate else 'nocert'}"
        wav, _ = self.speech(server)
        write_baresip_config(home, tls_port, wav)
        config = (home / "config").read_text() + f"module\t\t\tsrtp.so\nsip_cafile\t\t{server.data_dir / 'tls' / 'cert.pem'}\n"
        if certificate:  # baresip reads its certificate and key from one PEM file
            (home / "client.pem").write_text(Path(certificate[0]).read_text() + Path(certificate[1]).read_text())
            config += f"sip_certificate\t\t{home / 'client.pem'}\n"
        (home / "config").write_text(config)
        params = ";audio_codecs=PCMU" + (f";mediaenc={mediaenc}" if mediaenc else "")
        (home / "accounts").write_text(f"<sip:{CALLER}@127.0.0.1;transport=tls>;regint=0{params}\n")
        run = subprocess.run(["baresip", "-f", str(home), "-t", str(int(seconds)),
                              "-e", f"/dial sip:{MAILBOX}@127.0.0.1:{tls_port};transport=tls"],
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        return run.stdout + run.stderr

    def test_voicemail_over_tls_and_srtp(self):
        server, tls_port = self.start_server("required")
        wav_path, sent_seconds = self.speech(server)
        output = self.call(server, tls_port, "srtp-mand", sent_seconds + 6)
        self.assertIn("Call established", output, output[-3000:])
        deadline = time.time() + 30
        count, message = 0, None
        while time.time() < deadline and not count:
            count, message = voicemail_count(server)
            time.sleep(0.5)
        log = server.log_path.read_text()
        self.assertEqual(count, 1, log[-3000:])
        self.assertRegex(log, r"SIP over TLS, SRTP AES_CM_128_HMAC_SHA1_(80|32)")
        duration = re.search(r"Content-Duration: (\d+)", message.as_string())
        self.assertIsNotNone(duration, message.as_string()[:2000])
        self.assertGreater(int(duration.group(1)), sent_seconds - 7)
        # Decrypted right, the recording is the speech sent (SRTP taken as
        # RTP, or keys that do not match, would be noise with no such shape).
        wavs = [p.get_content() for p in message.walk() if p.get_content_type() in ("audio/wav", "audio/x-wav")]
        self.assertEqual(len(wavs), 1, [p.get_content_type() for p in message.walk()])
        recorded = server.work / "recorded.wav"
        recorded.write_bytes(wavs[0])
        similarity = loudness_similarity(wav_path, recorded)
        print(f"loudness of the recording against the speech sent: correlation {similarity:.3f}")
        self.assertGreater(similarity, 0.9)  # other speech: about 0.6, noise about 0.1

    def test_fax_over_tls_and_srtp(self):
        ca, cert, key = make_ca_and_server_certificate(self.scratch())
        server, tls_port = self.start_server("required", f"\n[tls]\ncert = {cert}\nkey = {key}\n")
        run = subprocess.run([SENDER, "--port", str(tls_port), "--tiff", str(SAMPLES / "fax.tif"),
                              "--tls-ca", str(ca), "--srtp"], capture_output=True, text=True, timeout=150)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr + server.log_path.read_text()[-3000:])
        self.assertIn('"answered": true', run.stdout)
        deadline = time.time() + 30
        count, message = 0, None
        while time.time() < deadline and not count:
            count, message = voicemail_count(server)
            time.sleep(0.5)
        self.assertEqual(count, 1, server.log_path.read_text()[-3000:])
        self.assertIn("2 pages", str(message["Subject"]))
        tiffs = [p for p in message.walk() if p.get_content_type() == "image/tiff"]
        received = server.work / "received.tif"
        received.write_bytes(tiffs[0].get_content())
        self.assertEqual(len(page_geometry(received)), 2)
        self.assertRegex(server.log_path.read_text(), r"SIP over TLS, SRTP AES_CM_128_HMAC_SHA1_80")
        # An unknown CA: the sender refuses umstore's certificate and calls no one.
        other_ca, _, _ = make_ca_and_server_certificate(self.scratch())
        run = subprocess.run([SENDER, "--port", str(tls_port), "--tiff", str(SAMPLES / "fax.tif"),
                              "--tls-ca", str(other_ca), "--srtp"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("certificate verify failed", run.stdout)

    def dial_over_tls(self, certificate, trusted_ca, *terminal_flags, srtp="optional", sip="", tls=None):
        """A fax by mail to a terminal behind a sips: gateway URI; (server, terminal).
        `sip`: more [sip] lines; `tls`: umstore's (certificate, key)."""
        terminal = fax_out.Terminal(self.scratch() / "received", "--tls", *certificate, *terminal_flags)
        self.addCleanup(terminal.close)
        config = (fax_out.config(terminal.port).replace("gateway = sip:", "gateway = sips:")
                  .replace("[sip]\n", f"[sip]\ntls_ca_file = {trusted_ca}\nsrtp = {srtp}\n{sip}"))
        if tls:
            config += f"\n[tls]\ncert = {tls[0]}\nkey = {tls[1]}\n"
        server = Umstore(config)
        self.addCleanup(server.close)
        server.add_mailbox(fax_out.NUMBER, "Alice Example", fax_out.PASSWORD)
        server.start()
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as s:
            s.login(fax_out.NUMBER, fax_out.PASSWORD)
            s.send_message(fax_out.fax_message("Sent over TLS and SRTP."),
                           from_addr=f"{fax_out.NUMBER}@{fax_out.DOMAIN}", to_addrs=[f"FAX={fax_out.FAX_TO}@{fax_out.DOMAIN}"])
        return server, terminal

    def test_fax_dialled_over_tls_and_srtp(self):
        ca, cert, key = make_ca_and_server_certificate(self.scratch())
        server, terminal = self.dial_over_tls((cert, key), ca)
        wait_for(lambda: terminal.calls, "the fax call", seconds=240)
        call = terminal.calls[0]
        self.assertEqual(call["result"], "OK", call)
        self.assertTrue(call["tls"] and call["srtp"], call)  # every SIP message over TLS, the audio in SRTP
        self.assertEqual(call["pages"], 2 + len(page_geometry(SAMPLES / "fax.tif")), call)
        [report] = fax_out.inbox(server, fax_out.PASSWORD, 1)
        self.assertEqual(fax_out.recipient_fields(report)["action"], "delivered")

    def test_fax_dialled_to_a_gateway_without_srtp_goes_in_plain_rtp_when_optional(self):
        ca, cert, key = make_ca_and_server_certificate(self.scratch())
        server, terminal = self.dial_over_tls((cert, key), ca, "--refuse-srtp")
        wait_for(lambda: len(terminal.calls) >= 2, "the refused offer and the call after it", seconds=240)
        refused, call = terminal.calls[:2]
        self.assertEqual(refused["result"], "SRTP refused", refused)
        self.assertEqual(call["result"], "OK", call)
        self.assertTrue(call["tls"] and not call["srtp"], call)  # the signalling still over TLS
        self.assertEqual(call["pages"], 2 + len(page_geometry(SAMPLES / "fax.tif")), call)
        self.assertRegex(server.log_path.read_text(), r"refused SRTP \(488 Not Acceptable Here\): offering plain RTP")
        [report] = fax_out.inbox(server, fax_out.PASSWORD, 1)
        self.assertEqual(fax_out.recipient_fields(report)["action"], "delivered")

    def test_fax_dialled_to_a_gateway_without_srtp_is_not_sent_when_required(self):
        ca, cert, key = make_ca_and_server_certificate(self.scratch())
        server, terminal = self.dial_over_tls((cert, key), ca, "--refuse-srtp", srtp="required")
        wait_for(lambda: terminal.calls, "the refused offer", seconds=240)
        time.sleep(3)  # time enough for a second INVITE, which must not come
        self.assertEqual([c["result"] for c in terminal.calls], ["SRTP refused"])
        self.assertNotIn("offering plain RTP", server.log_path.read_text())

    def test_dialled_gateway_asking_for_a_client_certificate_gets_ours_when_configured(self):
        certs = TestCertificates(self.scratch())
        certs.authority("nodes")  # signs umstore's certificate; the gateway trusts it for callers
        ours = certs.server("umstore", "nodes", "DNS:vm.example.net", "serverAuth,clientAuth")
        ca, cert, key = make_ca_and_server_certificate(self.scratch())
        ask = ("--tls-client-ca", str(certs.dir / "nodes.pem"))
        # Not configured: no certificate sent, the gateway ends the handshake, no call.
        server, terminal = self.dial_over_tls((cert, key), ca, *ask, tls=ours)
        wait_for(lambda: any("tls handshake failed" in line for line in terminal.lines), "the refused handshake")
        self.assertTrue(any("tls handshake failed: peer did not return a certificate" in line
                            for line in terminal.lines), terminal.lines)
        self.assertEqual(terminal.calls, [])
        server.close()
        terminal.close()
        # [sip] tls_present_certificate = yes: the [tls] certificate goes with the handshake.
        server, terminal = self.dial_over_tls((cert, key), ca, *ask, sip="tls_present_certificate = yes\n", tls=ours)
        wait_for(lambda: terminal.calls, "the fax call", seconds=240)
        call = terminal.calls[0]
        self.assertEqual(call["result"], "OK", call)
        self.assertTrue(call["tls"] and call["srtp"], call)
        self.assertFalse(any("tls handshake failed" in line for line in terminal.lines), terminal.lines)

    def test_dialled_gateway_with_a_certificate_from_another_ca_is_not_called(self):
        ca, cert, key = make_ca_and_server_certificate(self.scratch())
        other_ca, _, _ = make_ca_and_server_certificate(self.scratch())
        server, terminal = self.dial_over_tls((cert, key), other_ca)
        wait_for(lambda: "tls connection to 127.0.0.1" in server.log_path.read_text(), "the refused connection")
        self.assertRegex(server.log_path.read_text(),
                         r"tls connection to 127\.0\.0\.1:\d+ refused: .*\(unable to get local issuer certificate\)")
        self.assertEqual(terminal.calls, [])

    def test_plain_rtp_refused_when_srtp_required(self):
        server, tls_port = self.start_server("required")
        output = self.call(server, tls_port, None, 4)
        self.assertNotIn("Call established", output)
        self.assertRegex(output, r"488 Not Acceptable Here")
        self.assertIn("SRTP required and not offered", server.log_path.read_text())
        self.assertEqual(voicemail_count(server)[0], 0)

    def test_gateway_certificate_required(self):
        certs = TestCertificates(self.scratch())
        ca = certs.authority("gateways")
        server, tls_port = self.start_server("optional", f"tls_client_ca = {ca}")
        # Without a certificate the TLS handshake fails, and the log says why.
        output = self.call(server, tls_port, "srtp-mand", 3)
        self.assertNotIn("Call established", output)
        self.assertRegex(server.log_path.read_text(), r"tls handshake with 127\.0\.0\.1:\d+ failed: .*certificate")
        # With one from the gateways' CA the call goes through.
        output = self.call(server, tls_port, "srtp-mand", 6, certs.server("gw1", "gateways", "DNS:gw1.test", "clientAuth"))
        self.assertIn("Call established", output, server.log_path.read_text()[-3000:])
        self.assertIn("client certificate /CN=gw1", server.log_path.read_text())

    def test_stalled_handshake_is_closed(self):
        server, tls_port = self.start_server("optional")
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", tls_port), timeout=30) as raw:
            raw.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and no more
            self.assertEqual(raw.recv(100), b"")  # closed by the server
        self.assertLess(time.monotonic() - began, 15)  # the handshake budget, not tcp_idle_timeout (300 s)


if __name__ == "__main__":
    if not shutil.which("baresip") or not (MODULES / "srtp.so").exists() or not shutil.which("text2wave"):
        print("baresip-core (with its srtp module) or festival is not installed: skipped")
        sys.exit(77)
    unittest.main()
