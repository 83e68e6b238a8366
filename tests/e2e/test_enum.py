"""ENUM routes (RFC 6116) end to end: a private Knot (tests/peers/dns_peer.py)
serves a test ENUM tree, umstore relays to a private Postfix
(tests/peers/postfix_peer.py) as its smarthost.

Checks:
- a voicemail for a number of our domain without a mailbox here leaves for
  the E2U+vpim:mailto address its ENUM record names, as pure VPIM v2
  (RFC 4238: a VPIM system takes it), and the sender's success DSN names
  the number the sender wrote (ORCPT); a PBX's voicemail email
  ([gateway_email]) for such a number leaves as VPIM too;
- a number without a record fails with a DSN (5.1.1, "no VPIM route");
- while the DNS server is down the message waits (4.4.3) and leaves once
  it is back: a DNS failure is temporary, never a bounce;
- a client that may not relay gets 550 5.1.1 at RCPT: ENUM opens no relay;
- a gateway's voicemail (HTTP API) for a number without a mailbox leaves
  for its ENUM address as VPIM and the job says where it went; for a number
  without a record the job ends failed with the 5.1.1 DSN; a fax for such a
  number leaves for its E2U+ifax:mailto address as simple-mode Internet fax
  (RFC 3965: the TIFF-F image, no PDF), or fails without a record;
- a call from baresip (a real SIP user agent) to such a number is
  answered, and the voicemail it leaves goes the same way;
- a fax sent from email (FAX=+number@domain) to a number with an
  E2U+ifax:mailto record leaves for that address as an Internet fax
  instead of being dialled; one to a number without a record is dialled
  (sip_fax_receiver, a spandsp answering terminal, gets the call);
- `umstore enum lookup` prints the records and both routes.

Needs root, Postfix, Knot and baresip: exit 77 (a visible skip) without them."""
import email
import email.policy
import os
import shutil
import smtplib
import subprocess
import sys
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import dns_peer  # noqa: E402
from test_sip_baresip import MODULES as BARESIP_MODULES, write_baresip_config  # noqa: E402
from postfix_peer import PostfixPeer, free_port  # noqa: E402
from test_fax_out import RECEIVER, Terminal  # noqa: E402
from umstore_harness import DOMAIN, SAMPLES, SOURCE_DIR, Umstore, gateway_api, job_outcome, wait_for  # noqa: E402

PEER = "peer.test"
USER = "+15550100"           # a mailbox here: sends, and gets the DSNs
ROUTED = "+15557770001"      # ENUM: E2U+vpim:mailto -> vm15557770001@peer.test
UNLISTED = "+15557770002"    # no record
WAITING = "+15557770003"     # routed, sent while the DNS server is down
GATEWAY_ROUTED = "+15557770004"    # routed, posted by a gateway over HTTP
GATEWAY_UNLISTED = "+15557770005"  # no record, posted by a gateway
CALLED = "+15557770006"            # routed, called over SIP
FAXED = "+15557770007"             # E2U+ifax:mailto -> fax15557770007@peer.test
FAX_DIALLED = "+15557770008"       # no record: a fax sent from email to it is dialled
TREE = "e164.test"
PASSWORD = "enum-password"
TOKEN = "enum-gateway-token-0123456789"


def types_of(raw):
    return [p.get_content_type() for p in email.message_from_bytes(raw, policy=email.policy.default).walk()]


class EnumRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = dns_peer.DnsPeer().start()
        cls.addClassCleanup(cls.dns.cleanup)
        cls.dns.publish(TREE, r"""
1.0.0.0.7.7.7.5.5.5.1 NAPTR 10 10 "u" "E2U+sip" "!^.*$!sip:+15557770001@sip.peer.test!" .
1.0.0.0.7.7.7.5.5.5.1 NAPTR 20 10 "u" "E2U+vpim:mailto" "!^\\+(.*)$!mailto:vm\\1@peer.test!" .
3.0.0.0.7.7.7.5.5.5.1 NAPTR 10 10 "u" "E2U+vpim:mailto" "!^\\+(.*)$!mailto:vm\\1@peer.test!" .
4.0.0.0.7.7.7.5.5.5.1 NAPTR 10 10 "u" "E2U+vpim:mailto" "!^\\+(.*)$!mailto:vm\\1@peer.test!" .
6.0.0.0.7.7.7.5.5.5.1 NAPTR 10 10 "u" "E2U+vpim:mailto" "!^\\+(.*)$!mailto:vm\\1@peer.test!" .
7.0.0.0.7.7.7.5.5.5.1 NAPTR 10 10 "u" "E2U+vpim:mailto" "!^\\+(.*)$!mailto:vm\\1@peer.test!" .
7.0.0.0.7.7.7.5.5.5.1 NAPTR 20 10 "u" "E2U+ifax:mailto" "!^\\+(.*)$!mailto:fax\\1@peer.test!" .
""")
        cls.postfix_port = free_port()
        cls.terminal = Terminal(cls.dns.work / "fax-terminal")
        cls.addClassCleanup(cls.terminal.close)
        # The fax gateway is a SIP trunk found by its SRV records (RFC 3263): the terminal's port, on a
        # host of its own; the second record (lower priority) is never used.
        cls.dns.publish("trunk.test", f"""
_sip._udp.gw SRV 10 10 {cls.terminal.port} fax-host
_sip._udp.gw SRV 20 10 9 spare-host
fax-host A 127.0.0.1
spare-host A 127.0.0.1
""")
        cls.server = Umstore(config_text=f"""
[smtp]
smarthost = 127.0.0.1:{cls.postfix_port}
trusted_networks = 127.0.0.1/32
retry_base = 1
retry_max = 2

[dns]
resolver = 127.0.0.1:{cls.dns.port}
timeout = 1

[enum]
domains = {TREE}

[gateways]
pbx = {TOKEN}

[sip]
listen = 127.0.0.1:0
gateways = 127.0.0.1

[gateway_email.asterisk]
senders = @pbx.example.org
recipients = @{DOMAIN}

[routing]
country_code = 1

[fax_out]
gateway = sip:gw.trunk.test
trusted_networks = true
allowed_prefixes = +1555
""")
        cls.addClassCleanup(cls.server.close)
        cls.server.add_mailbox(USER, "Enum User", PASSWORD)
        cls.server.start()
        # Postfix's own DSNs for our domain come back to umstore.
        cls.postfix = PostfixPeer(port=cls.postfix_port, domain=PEER,
                                  mailboxes=["vm15557770001", "vm15557770003", "vm15557770004",
                                             "vm15557770006", "fax15557770007"],
                                  transports={DOMAIN: f"smtp:[127.0.0.1]:{cls.server.smtp_port}"})
        cls.postfix.start()
        cls.addClassCleanup(cls.postfix.stop)
        # A voicemail in the desktop form (text, VPIM, WAV), as a user would forward it.
        cls.server.ingest("voice", USER, "+15550123", SAMPLES / "voicemail.wav")
        [cls.voicemail] = cls.server.stored_messages()

    def send(self, rcpt, subject, notify=None):
        raw = self.voicemail.replace(b"\r\nSubject: ", f"\r\nSubject: {subject} ".encode(), 1)
        self.assertIn(subject.encode(), raw)
        rcpts = rcpt if isinstance(rcpt, list) else [rcpt]
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as smtp:
            smtp.ehlo()
            smtp.sendmail(f"{USER}@{DOMAIN}", rcpts, raw, rcpt_options=[f"NOTIFY={notify}"] if notify else [])

    def at_postfix(self, user, marker, timeout=30):
        arrived = lambda: [m for m in self.postfix.messages(user) if marker.encode() in m]  # noqa: E731
        wait_for(arrived, f"{marker} at {user}@{PEER}; umstore log:\n{self.server.log_path.read_text()[-3000:]}",
                 timeout)
        return arrived()[0]

    def dsn_to_user(self, marker, timeout=30):
        """The DSN in the sender's mailbox that reports on the message carrying marker."""
        def found():
            return [m for m in self.server.stored_messages()
                    if b"report-type=delivery-status" in m and marker.encode() in m]
        wait_for(found, f"a DSN about {marker}; umstore log:\n{self.server.log_path.read_text()[-3000:]}", timeout)
        return found()[0].decode(errors="replace")

    def test_number_with_a_vpim_record_leaves_as_pure_vpim(self):
        subject = "routed-" + uuid.uuid4().hex
        self.send(f"{ROUTED}@{DOMAIN}", subject, notify="SUCCESS")
        raw = self.at_postfix("vm15557770001", subject)
        types = types_of(raw)
        self.assertEqual(types[0], "multipart/voice-message")
        self.assertEqual(types.count("audio/32kadpcm"), 1)
        self.assertNotIn("audio/wav", types)
        self.assertNotIn("text/plain", types)
        # Postfix reports the delivery itself (DSN-capable next hop), naming
        # the number the sender wrote: umstore passed it on as ORCPT.
        report = self.dsn_to_user(subject)
        self.assertIn("Action: delivered", report)
        self.assertIn(f"Original-Recipient: rfc822;{ROUTED}@{DOMAIN}", report)
        self.assertIn(f"Final-Recipient: rfc822; vm15557770001@{PEER}", report)
        log = self.server.log_path.read_text()
        self.assertIn(f"ENUM 1.0.0.0.7.7.7.5.5.5.1.{TREE} names vm15557770001@{PEER}", log)

    def test_a_pbx_voicemail_email_leaves_as_vpim(self):
        raw = (SOURCE_DIR / "tests" / "data" / "mime" / "foreign" / "gateway_asterisk.eml").read_bytes()
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"Caller-ID-Num: 15550123", b"Caller-ID-Num: 15550177")
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as smtp:
            smtp.sendmail("asterisk@pbx.example.org", [f"{ROUTED}@{DOMAIN}"], raw)
        relayed = self.at_postfix("vm15557770001", "Caller-ID: 15550177")
        types = types_of(relayed)
        self.assertEqual(types[0], "multipart/voice-message")
        self.assertEqual(types.count("audio/32kadpcm"), 1)
        self.assertNotIn("audio/x-wav", types)

    def test_number_without_a_record_bounces_with_5_1_1(self):
        subject = "unlisted-" + uuid.uuid4().hex
        self.send(f"{UNLISTED}@{DOMAIN}", subject)
        report = self.dsn_to_user(subject)
        self.assertIn("Action: failed", report)
        self.assertIn("Status: 5.1.1", report)
        self.assertIn(f"no VPIM route for {UNLISTED}", report)
        self.assertIn(f"Final-Recipient: rfc822;{UNLISTED}@{DOMAIN}", report)

    def test_dns_outage_defers_and_the_message_leaves_later(self):
        subject = "waiting-" + uuid.uuid4().hex
        self.dns.stop()
        try:
            # Two numbers: the second is not looked up again in the same pass,
            # so a dead DNS server costs one timeout per pass, not one per number.
            self.send([f"{WAITING}@{DOMAIN}", f"{ROUTED}@{DOMAIN}"], subject)
            deferred = lambda: self.server.run("queue", "list").stdout.count("4.4.3") == 2  # noqa: E731
            wait_for(deferred, f"two deferrals with 4.4.3 in the queue; log:\n{self.server.log_path.read_text()[-3000:]}",
                     30)
            self.assertIn("not asked again until the next pass", self.server.run("queue", "list").stdout)
        finally:
            self.dns.start()
        raw = self.at_postfix("vm15557770003", subject, timeout=60)
        self.assertEqual(types_of(raw)[0], "multipart/voice-message")
        self.at_postfix("vm15557770001", subject, timeout=60)
        self.assertFalse([m for m in self.server.stored_messages() if b"delivery-status" in m and subject.encode() in m],
                         "a DNS outage bounced the message")

    def test_enum_is_no_open_relay(self):
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port, source_address=("127.0.0.2", 0)) as smtp:
            smtp.ehlo()
            smtp.mail("someone@elsewhere.test")
            code, text = smtp.rcpt(f"{ROUTED}@{DOMAIN}")
        self.assertEqual(code, 550)
        self.assertIn(b"5.1.1", text)

    def post_voicemail(self, number, kind="voicemail", sample="voicemail.wav"):
        code, body = gateway_api(self.server.http_port, f"/v1/{kind}", "-F", f"file=@{SAMPLES / sample}",
                                 "-F", f"to={number}", "-F", "from=+15550188", token=TOKEN)
        return code, body

    def job(self, job_id):
        code, body = gateway_api(self.server.http_port, f"/v1/messages/{job_id}", token=TOKEN)
        self.assertEqual(code, 200, body)
        return body

    def test_gateway_voicemail_for_a_routed_number_leaves_as_vpim(self):
        code, body = self.post_voicemail(GATEWAY_ROUTED)
        self.assertEqual(code, 202, body)
        final = job_outcome(self.server.http_port, body["id"], TOKEN)
        self.assertEqual(final["status"], "delivered", final)
        self.assertEqual(final["forwarded_to"], f"{GATEWAY_ROUTED}@{DOMAIN}", final)
        self.assertNotIn("imap_uid", final)
        raw = self.at_postfix("vm15557770004", f"X-Umstore-Ingest-Id: {body['id']}")
        types = types_of(raw)
        self.assertEqual(types[0], "multipart/voice-message")
        self.assertEqual(types.count("audio/32kadpcm"), 1)
        self.assertIn(b"15550188", raw)
        # No mailbox was made for the number on the way.
        self.assertNotIn(GATEWAY_ROUTED, self.server.run("mailbox", "list").stdout)

    def test_gateway_voicemail_for_an_unlisted_number_fails_with_the_dsn(self):
        code, body = self.post_voicemail(GATEWAY_UNLISTED)
        self.assertEqual(code, 202, body)
        failed = lambda: self.job(body["id"])["status"] == "failed"  # noqa: E731
        wait_for(failed, f"job {body['id']} failed; umstore log:\n{self.server.log_path.read_text()[-3000:]}", 60)
        final = self.job(body["id"])
        self.assertEqual(final["dsn"]["status"], "5.1.1", final)
        self.assertIn(f"no VPIM route for {GATEWAY_UNLISTED}", final["reason"])

    def test_gateway_fax_for_a_routed_number_leaves_as_internet_fax(self):
        code, body = self.post_voicemail(FAXED, kind="fax", sample="fax.tif")
        self.assertEqual(code, 202, body)
        final = job_outcome(self.server.http_port, body["id"], TOKEN)
        self.assertEqual(final["status"], "delivered", final)
        raw = self.at_postfix("fax15557770007", f"X-Umstore-Ingest-Id: {body['id']}")
        types = types_of(raw)
        self.assertIn("image/tiff", types)
        self.assertNotIn("application/pdf", types)
        self.assertNotIn("multipart/voice-message", types)
        self.assertIn(b"application=faxbw", raw)
        self.assertIn(b"Message-Context: fax-message", raw)
        self.assertIn(f"ENUM 7.0.0.0.7.7.7.5.5.5.1.{TREE} names fax15557770007@{PEER} (IFAX)",
                      self.server.log_path.read_text())

    def test_gateway_fax_for_a_number_without_a_record_fails(self):
        code, body = self.post_voicemail(GATEWAY_UNLISTED, kind="fax", sample="fax.tif")
        self.assertEqual(code, 202, body)
        failed = lambda: self.job(body["id"])["status"] == "failed"  # noqa: E731
        wait_for(failed, f"job {body['id']} failed; umstore log:\n{self.server.log_path.read_text()[-3000:]}", 60)
        self.assertIn(f"no IFAX route for {GATEWAY_UNLISTED}", self.job(body["id"])["reason"])

    def test_a_call_to_a_routed_number_leaves_its_voicemail_as_vpim(self):
        wav = self.server.work / "speech-8k.wav"
        subprocess.run(["sox", str(SAMPLES / "voicemail.wav"), "-r", "8000", "-c", "1", "-b", "16", str(wav)],
                       check=True, timeout=60)
        home = self.server.work / "baresip"
        sip_port = int(self.server.info["sip"].rsplit(":", 1)[1])
        write_baresip_config(home, sip_port, wav)
        run = subprocess.run(["baresip", "-f", str(home), "-t", "12", "-e", f"/dial sip:{CALLED}@127.0.0.1:{sip_port}"],
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertIn("Call established", run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:])
        raw = self.at_postfix("vm15557770006", "Caller-ID: 15550123", timeout=60)
        types = types_of(raw)
        self.assertEqual(types[0], "multipart/voice-message")
        self.assertEqual(types.count("audio/32kadpcm"), 1)
        self.assertNotIn(CALLED, self.server.run("mailbox", "list").stdout)

    def send_fax(self, number, text):
        message = (f"From: {USER}@{DOMAIN}\r\nTo: FAX={number}@{DOMAIN}\r\nSubject: {text}\r\n"
                   f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{text}\r\n")
        with smtplib.SMTP("127.0.0.1", self.server.smtp_port) as smtp:
            smtp.sendmail(f"{USER}@{DOMAIN}", [f"FAX={number}@{DOMAIN}"], message)

    def test_a_fax_from_email_to_an_ifax_number_leaves_by_mail_not_by_phone(self):
        self.send_fax(FAXED, "by-enum-" + uuid.uuid4().hex)
        raw = self.at_postfix("fax15557770007", "Message-Context: fax-message", timeout=60)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        tiffs = [p for p in message.walk() if p.get_content_type() == "image/tiff"]
        self.assertEqual(len(tiffs), 1)
        self.assertEqual(tiffs[0].get_param("application"), "faxbw")
        self.assertIn(f"names fax15557770007@{PEER}: sent as an Internet fax", self.server.log_path.read_text())
        self.assertFalse([c for c in self.terminal.calls if c["to"] == FAXED])

    def test_a_fax_from_email_to_a_number_without_a_record_is_dialled(self):
        self.send_fax(FAX_DIALLED, "dialled")
        wait_for(lambda: [c for c in self.terminal.calls if c["to"] == FAX_DIALLED],
                 f"the call to {FAX_DIALLED}; umstore log:\n{self.server.log_path.read_text()[-3000:]}", 120)
        [call] = [c for c in self.terminal.calls if c["to"] == FAX_DIALLED]
        self.assertEqual(call["result"], "OK")
        self.assertEqual(call["pages"], 2)  # the cover page and the text
        self.assertIn(f"via sip:gw.trunk.test at 127.0.0.1:{self.terminal.port} (SRV)", self.server.log_path.read_text())

    def test_enum_lookup_command(self):
        out = self.server.run("enum", "lookup", ROUTED)
        self.assertIn('"E2U+sip"', out.stdout)
        self.assertIn("-> sip:+15557770001@sip.peer.test", out.stdout)
        self.assertRegex(out.stdout, r"voice \(VPIM\)\s+vm15557770001@peer.test \(from 1\.0\.0\.0\.7\.7\.7\.5\.5\.5\.1\.e164\.test")
        self.assertRegex(out.stdout, r"fax \(IFAX\)\s+none \(no E2U\+ifax:mailto record")
        self.assertIn("no NAPTR records", self.server.run("enum", "lookup", UNLISTED).stdout)
        bad = self.server.run("enum", "lookup", "5557770001", check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("not an E.164 number", bad.stderr)


if __name__ == "__main__":
    missing = [what for what, ok in [("Knot DNS (knot)", dns_peer.available()),
                                     ("postfix", shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")),
                                     ("baresip-core", shutil.which("baresip") and
                                      (BARESIP_MODULES / "aufile.so").exists()),
                                     ("sip_fax_receiver", shutil.which(RECEIVER) or os.path.exists(RECEIVER)),
                                     ("root", os.geteuid() == 0)] if not ok]
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    unittest.main()
