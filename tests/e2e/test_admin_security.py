"""The admin listener's defences, over real HTTP against `umstore serve`:
every API path without a session answers 401; a state change without the
CSRF token gets 403 and changes nothing; a wrong TOTP code is refused and
counted; a helpdesk account cannot delete or edit; the session cookie is
HttpOnly and SameSite=Strict; every admin action is in the audit log with
who, what, when and from where. A greeting uploaded in any audio the codecs
read is stored where the SIP endpoint looks for it, in the form it loads.
A mailbox's export (a zip of .eml files and a manifest) and the erasure of
a mailbox or a caller are for admins only, audited, and leave exactly what
should stay. Gateway tokens issued and revoked with `umstore gateway` reach
the running server within its refresh (10 s)."""
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import wave
import unittest
import zipfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from admin_client import AdminClient, add_admin, fresh_totp  # noqa: E402
from umstore_harness import SAMPLES, Umstore, wait_for  # noqa: E402

ROOT_PASSWORD = "root password one"
DESK_PASSWORD = "desk password two"
MAILBOX = "+15550142"
GATEWAY_TOKEN = "gateway-token-0123456789"

API_PATHS = [
    ("GET", "/api/session"), ("DELETE", "/api/session"), ("GET", "/api/enrolment"), ("POST", "/api/enrolment"),
    ("GET", "/api/dashboard"), ("GET", "/api/mailboxes"), ("POST", "/api/mailboxes"),
    ("GET", f"/api/mailboxes/{MAILBOX}"), ("PATCH", f"/api/mailboxes/{MAILBOX}"),
    ("DELETE", f"/api/mailboxes/{MAILBOX}"), ("POST", f"/api/mailboxes/{MAILBOX}/password"),
    ("GET", f"/api/mailboxes/{MAILBOX}/messages"), ("GET", f"/api/mailboxes/{MAILBOX}/messages/INBOX/1/audio"),
    ("GET", f"/api/mailboxes/{MAILBOX}/messages/INBOX/1/fax"), ("GET", "/api/queues"),
    ("POST", "/api/queues/smtp/ABC123/retry"), ("DELETE", "/api/queues/smtp/ABC123"), ("GET", "/api/gateways"),
    ("GET", "/api/audit"), ("GET", "/api/no-such-path"),
    ("GET", f"/api/mailboxes/{MAILBOX}/greeting"), ("PUT", f"/api/mailboxes/{MAILBOX}/greeting"),
    ("DELETE", f"/api/mailboxes/{MAILBOX}/greeting"), ("POST", "/api/queues/ingest/0123abcd/retry"),
    ("DELETE", "/api/queues/ingest/0123abcd"), ("POST", "/api/gateways"), ("DELETE", "/api/gateways/gw1"),
    ("GET", f"/api/mailboxes/{MAILBOX}/export"), ("POST", f"/api/mailboxes/{MAILBOX}/erase"),
    ("POST", "/api/privacy/erase-caller"), ("GET", "/api/fax-out/0ABC123"),
]


class AdminSecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.greetings = Path(tempfile.mkdtemp(prefix="umstore-greetings-"))
        cls.server = Umstore(f"[gateways]\ngw1 = {GATEWAY_TOKEN}\n[sip]\ngreeting_dir = {cls.greetings}\n")
        cls.root_secret_printed = add_admin(cls.server, "root", "admin", ROOT_PASSWORD)
        add_admin(cls.server, "desk", "helpdesk", DESK_PASSWORD)
        cls.server.start()
        cls.root = AdminClient(cls.server.admin_port)
        cls.root_secret = cls.root.enrol("root", ROOT_PASSWORD)
        cls.desk_secret = None

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        shutil.rmtree(cls.greetings, ignore_errors=True)

    def audit(self):
        r = self.root.call("GET", "/api/audit?limit=1000")
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def desk(self):
        """The helpdesk account, logged in (enrolled at the first call). Its session is kept while it
        lasts: a login takes a TOTP code of a new 30 s step, and the server may have restarted."""
        kept = getattr(type(self), "desk_client", None)
        if kept and kept.base.endswith(f":{self.server.admin_port}") and kept.call("GET", "/api/session").status_code == 200:
            return kept
        desk = AdminClient(self.server.admin_port)
        if type(self).desk_secret is None:
            type(self).desk_secret = desk.enrol("desk", DESK_PASSWORD)
        else:
            self.assertEqual(desk.login("desk", DESK_PASSWORD, self.desk_secret).status_code, 200)
        type(self).desk_client = desk
        return desk

    def test_enrolment_shows_the_key_the_cli_printed(self):
        self.assertEqual(self.root_secret, self.root_secret_printed)

    def test_every_api_path_needs_a_session(self):
        stranger = AdminClient(self.server.admin_port)
        for method, path in API_PATHS:
            with self.subTest(method=method, path=path):
                r = stranger.call(method, path, json={})
                self.assertEqual(r.status_code, 401, r.text)
                self.assertIn("error", r.json())
        # A forged cookie is no session either.
        stranger.http.cookies.set("umstore_admin", "0" * 64)
        self.assertEqual(stranger.call("GET", "/api/mailboxes").status_code, 401)
        # The console's page itself holds no data: it is the login form.
        page = stranger.http.get(stranger.base + "/", timeout=10)
        self.assertEqual(page.status_code, 200)
        self.assertIn('id="login-form"', page.text)
        self.assertIn("default-src 'self'", page.headers["Content-Security-Policy"])

    def test_session_cookie_attributes(self):
        client = AdminClient(self.server.admin_port)
        r = client.login("root", ROOT_PASSWORD, self.root_secret)
        self.assertEqual(r.status_code, 200, r.text)
        cookie = r.headers["Set-Cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertIn("Max-Age=", cookie)
        self.assertNotIn("Secure", cookie)  # plain HTTP on loopback: a Secure cookie would never come back
        r = client.call("DELETE", "/api/session")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(client.call("GET", "/api/mailboxes").status_code, 401)

    def test_state_change_without_csrf_token_is_forbidden(self):
        number = "+15550143"
        r = self.root.call("POST", "/api/mailboxes", {"number": number, "name": "No Token"}, csrf=False)
        self.assertEqual(r.status_code, 403, r.text)
        self.root.http.headers["X-CSRF-Token"] = "wrong"
        r = self.root.http.post(self.root.base + "/api/mailboxes", json={"number": number, "name": "Bad"}, timeout=10)
        del self.root.http.headers["X-CSRF-Token"]
        self.assertEqual(r.status_code, 403, r.text)
        self.assertEqual(self.root.call("GET", f"/api/mailboxes/{number}").status_code, 422)
        self.assertEqual(self.server.run("mailbox", "show", number, check=False).returncode, 1)
        # Nor can a cross-site form log anyone in: bodies must be JSON, which forms cannot send.
        form = requests.post(self.root.base + "/api/session", data='{"name":"root","password":"x","totp":""}',
                             headers={"Content-Type": "text/plain"}, timeout=10)
        self.assertEqual(form.status_code, 415, form.text)
        r = self.root.call("POST", "/api/mailboxes", {"number": number, "name": "With Token"})
        self.assertEqual(r.status_code, 201, r.text)
        self.assertTrue(any(e["outcome"] == "refused: no CSRF token" and e["actor"] == "root" for e in self.audit()))

    def test_wrong_totp_is_refused_and_counted(self):
        before = self.root.call("GET", "/api/dashboard").json()["failed_admin_logins"]
        client = AdminClient(self.server.admin_port)
        good = fresh_totp(self.root_secret)
        wrong = str((int(good) + 1) % 1000000).zfill(6)
        started = time.monotonic()
        r = client.call("POST", "/api/session", {"name": "root", "password": ROOT_PASSWORD, "totp": wrong}, csrf=False)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertGreaterEqual(time.monotonic() - started, 0.9)  # failures are slowed
        r = client.call("POST", "/api/session", {"name": "root", "password": ROOT_PASSWORD, "totp": ""}, csrf=False)
        self.assertEqual(r.status_code, 401, r.text)
        after = self.root.call("GET", "/api/dashboard").json()["failed_admin_logins"]
        self.assertEqual(after, before + 2)
        refused = [e for e in self.audit() if e["action"] == "login" and e["outcome"] == "refused: wrong TOTP code"]
        self.assertGreaterEqual(len(refused), 2)
        self.assertEqual(refused[0]["actor"], "root")
        self.assertEqual(refused[0]["address"], "127.0.0.1")
        # The right code still works (the owner is slowed, never locked out), once.
        r = client.login("root", ROOT_PASSWORD, self.root_secret)
        self.assertEqual(r.status_code, 200, r.text)

    def test_greeting_is_stored_as_the_sip_endpoint_loads_it(self):
        number = "+15550147"
        path = f"/api/mailboxes/{number}/greeting"
        desk = self.desk()
        self.assertEqual(self.root.call("POST", "/api/mailboxes", {"number": number, "name": "Greeter"}).status_code, 201)
        self.assertEqual(self.root.call("GET", path).status_code, 404)
        # An MP3 at 44.1 kHz stereo, as a phone's recorder might give.
        # (to a file: ffmpeg writes the frame count into the header once it knows it.)
        encoded = self.greetings.parent / f"{self.greetings.name}.mp3"
        subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", str(SAMPLES / "voicemail.wav"), "-ar", "44100", "-ac", "2",
                        str(encoded)], check=True, timeout=60)
        mp3 = encoded.read_bytes()
        encoded.unlink()
        self.assertEqual(self.root.upload("PUT", path, mp3, "audio/mpeg", csrf=False).status_code, 403)
        self.assertEqual(desk.upload("PUT", path, mp3, "audio/mpeg").status_code, 403)
        r = self.root.upload("PUT", path, mp3, "audio/mpeg")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertAlmostEqual(r.json()["seconds"], 17.6, delta=0.2)
        # Where [sip] greeting_dir says (<dir>/<NUMBER>.wav), in the form the endpoint loads: 8 kHz 16-bit mono WAV.
        stored = self.greetings / f"{number}.wav"
        with wave.open(str(stored)) as w:
            self.assertEqual((w.getframerate(), w.getnchannels(), w.getsampwidth()), (8000, 1, 2))
            self.assertAlmostEqual(w.getnframes() / 8000, 17.6, delta=0.2)
        self.assertEqual([p.name for p in self.greetings.iterdir()], [stored.name])  # no temporary file left
        r = desk.call("GET", path)  # helpdesk may listen
        self.assertEqual((r.status_code, r.headers["Content-Type"]), (200, "audio/wav"))
        self.assertEqual(r.content, stored.read_bytes())
        # Not audio: refused with the reason, the greeting kept.
        r = self.root.upload("PUT", path, b"this is not audio at all " * 40, "audio/wav")
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("greeting", r.json()["error"])
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertTrue(stored.exists())
        self.assertTrue(self.root.call("GET", f"/api/mailboxes/{number}").json()["greeting"])
        self.assertEqual(desk.call("DELETE", path).status_code, 403)
        self.assertTrue(stored.exists())
        self.assertEqual(self.root.call("DELETE", path).status_code, 200)
        self.assertFalse(stored.exists())
        self.assertEqual(self.root.call("GET", path).status_code, 404)
        actions = [(e["actor"], e["action"], e["target"], e["outcome"].split(":")[0]) for e in self.audit()]
        for entry in [("root", "greeting.upload", number, "ok"), ("root", "greeting.upload", number, "refused"),
                      ("root", "greeting.delete", number, "ok"), ("desk", f"PUT {path}", "", "refused")]:
            self.assertIn(entry, actions)

    def failed_ingest_job(self, number):
        """The id of a voicemail the codecs cannot read, sent over the gateway API, once it has failed."""
        r = requests.post(f"http://127.0.0.1:{self.server.http_port}/v1/voicemail",
                          headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
                          files={"file": ("corrupt.wav", b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk", "audio/wav")},
                          data={"to": number}, timeout=30)
        self.assertEqual(r.status_code, 202, r.text)
        return r.json()["id"]

    def ingest_job(self, client, job):
        """The job as the queues page lists it, once it is failed; None when it is not listed."""
        for _ in range(100):
            jobs = {j["id"]: j for j in client.call("GET", "/api/queues").json()["ingest_jobs"]}
            if job not in jobs or jobs[job]["state"] == "failed":
                return jobs.get(job)
            time.sleep(0.2)
        self.fail(f"job {job} never failed")

    def test_failed_ingest_jobs_are_listed_retried_and_deleted_by_admins_only(self):
        number = "+15550148"
        self.assertEqual(self.root.call("POST", "/api/mailboxes", {"number": number, "name": "Jobs"}).status_code, 201)
        job = self.failed_ingest_job(number)
        desk = self.desk()
        listed = self.ingest_job(desk, job)  # helpdesk reads
        self.assertEqual((listed["mailbox"], listed["source"], listed["kind"]), (number, "http:gw1", "voice"))
        self.assertTrue(listed["reason"])
        self.assertGreater(listed["finished_ms"], 0)
        kept = self.server.data_dir / "ingest" / "failed" / job
        if not self.server.store_dsn:  # the embedded store keeps the original as a file; PostgreSQL as a row
            self.assertTrue(kept.exists())
        self.assertEqual(desk.call("DELETE", f"/api/queues/ingest/{job}").status_code, 403)
        self.assertEqual(desk.call("POST", f"/api/queues/ingest/{job}/retry").status_code, 403)
        self.assertEqual(self.root.call("DELETE", f"/api/queues/ingest/{job}", csrf=False).status_code, 403)
        # Retry: the running queue takes it up again (and it fails again, later, for the same reason).
        failed_before = self.root.call("GET", "/api/dashboard").json()["failed_jobs"]
        r = self.root.call("POST", f"/api/queues/ingest/{job}/retry")
        self.assertEqual(r.status_code, 200, r.text)
        again = self.ingest_job(self.root, job)
        self.assertGreater(again["finished_ms"], listed["finished_ms"])
        for _ in range(50):  # counted just after the status is recorded
            if self.root.call("GET", "/api/dashboard").json()["failed_jobs"] == failed_before + 1:
                break
            time.sleep(0.1)
        self.assertEqual(self.root.call("GET", "/api/dashboard").json()["failed_jobs"], failed_before + 1)
        r = self.root.call("DELETE", f"/api/queues/ingest/{job}")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIsNone(self.ingest_job(self.root, job))
        self.assertFalse(kept.exists())
        r = requests.get(f"http://127.0.0.1:{self.server.http_port}/v1/messages/{job}",
                         headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"}, timeout=10)
        self.assertEqual(r.status_code, 404, r.text)
        self.assertEqual(self.root.call("DELETE", f"/api/queues/ingest/{job}").status_code, 404)
        actions = [(e["actor"], e["action"], e["target"], e["outcome"].split(":")[0]) for e in self.audit()]
        for entry in [("root", "ingest.retry", job, "ok"), ("root", "ingest.delete", job, "ok"),
                      ("desk", f"DELETE /api/queues/ingest/{job}", "", "refused")]:
            self.assertIn(entry, actions)

    def test_gateway_tokens_are_issued_and_revoked_by_admins_only(self):
        desk = self.desk()
        self.assertEqual(desk.call("POST", "/api/gateways", {"name": "desk-gw"}).status_code, 403)
        self.assertEqual(self.root.call("POST", "/api/gateways", {"name": "gw-x"}, csrf=False).status_code, 403)
        self.assertEqual(self.root.call("POST", "/api/gateways", {"name": "gw1"}).status_code, 409)  # the config's
        self.assertEqual(self.root.call("POST", "/api/gateways", {"name": "no spaces"}).status_code, 422)
        r = self.root.call("POST", "/api/gateways", {"name": "gw-issued"})
        self.assertEqual(r.status_code, 201, r.text)
        token = r.json()["token"]
        self.assertGreaterEqual(len(token), 40)
        self.assertEqual(self.root.call("POST", "/api/gateways", {"name": "gw-issued"}).status_code, 409)
        listed = {g["name"]: g for g in desk.call("GET", "/api/gateways").json()["gateways"]}
        self.assertEqual(listed["gw1"]["source"], "config")
        self.assertEqual((listed["gw-issued"]["source"], listed["gw-issued"]["created_by"]), ("console", "root"))
        self.assertNotIn(token, desk.call("GET", "/api/gateways").text)
        status = f"http://127.0.0.1:{self.server.http_port}/v1/messages/0123456789abcdef01234567"
        self.assertEqual(requests.get(status, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code, 404)
        self.assertEqual(desk.call("DELETE", "/api/gateways/gw-issued").status_code, 403)
        self.assertEqual(self.root.call("DELETE", "/api/gateways/gw1").status_code, 409)
        self.assertEqual(self.root.call("DELETE", "/api/gateways/gw-issued").status_code, 200)
        self.assertEqual(requests.get(status, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code, 401)
        self.assertEqual(self.root.call("DELETE", "/api/gateways/gw-issued").status_code, 404)
        actions = [(e["actor"], e["action"], e["target"]) for e in self.audit()]
        for entry in [("root", "gateway.token_create", "gw-issued"), ("root", "gateway.token_revoke", "gw-issued"),
                      ("desk", "DELETE /api/gateways/gw-issued", "")]:
            self.assertIn(entry, actions)

    def gateway_status(self, token):
        """What the gateway API answers a bearer token (404: known, no such message; 401: unknown)."""
        return requests.get(f"http://127.0.0.1:{self.server.http_port}/v1/messages/0123456789abcdef01234567",
                            headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code

    def test_gateway_tokens_from_the_command_line_reach_the_running_server(self):
        self.assertNotEqual(self.server.run("gateway", "issue", "gw1", check=False).returncode, 0)  # the config's
        self.assertEqual(self.server.run("gateway", "issue", "no spaces", check=False).returncode, 2)
        token = self.server.run("gateway", "issue", "cli-gw").stdout.strip()
        self.assertGreaterEqual(len(token), 40)
        deadline = time.time() + 20
        while self.gateway_status(token) != 404 and time.time() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.gateway_status(token), 404)  # accepted, without a restart
        listed = self.server.run("gateway", "list").stdout
        self.assertIn("gw1  in [gateways] of the config file", listed)
        self.assertIn("cli-gw  issued by cli", listed)
        self.assertNotIn(token, listed)
        console = {g["name"]: g for g in self.root.call("GET", "/api/gateways").json()["gateways"]}
        self.assertEqual(console["cli-gw"]["created_by"], "cli")
        self.assertIn("refuses it within 10 seconds", self.server.run("gateway", "revoke", "cli-gw").stdout)
        time.sleep(12)  # one refresh and some; then asked once (a refused token is slowed like a failed login)
        self.assertEqual(self.gateway_status(token), 401)
        self.assertNotEqual(self.server.run("gateway", "revoke", "cli-gw", check=False).returncode, 0)
        actions = [(e["actor"], e["action"], e["target"]) for e in self.audit()]
        self.assertIn(("cli", "gateway.token_create", "cli-gw"), actions)
        self.assertIn(("cli", "gateway.token_revoke", "cli-gw"), actions)

    def test_export_and_erasure_are_admin_only_audited_and_exact(self):
        number, other = "+15550152", "+15550153"
        for n in (number, other):
            self.assertEqual(self.root.call("POST", "/api/mailboxes", {"number": n, "name": "Private"}).status_code, 201)
        stored_at_start = len(self.server.stored_messages())
        for kind, to, caller in [("voicemail", number, "+15550801"), ("fax", number, "+15550802"),
                                 ("voicemail", other, "+15550801")]:
            sample = SAMPLES / ("voicemail.wav" if kind == "voicemail" else "fax.tif")
            r = requests.post(f"http://127.0.0.1:{self.server.http_port}/v1/{kind}",
                              headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
                              files={"file": (sample.name, sample.read_bytes())}, data={"to": to, "from": caller},
                              timeout=60)
            self.assertEqual(r.status_code, 202, r.text)
        wait_for(lambda: len(self.server.stored_messages()) == stored_at_start + 3, "three messages stored", 60)
        desk = self.desk()
        self.assertEqual(desk.call("GET", f"/api/mailboxes/{number}/export").status_code, 403)
        self.assertEqual(desk.call("POST", f"/api/mailboxes/{number}/erase").status_code, 403)
        self.assertEqual(desk.call("POST", "/api/privacy/erase-caller", {"caller": "+15550801"}).status_code, 403)
        self.assertEqual(self.root.call("GET", f"/api/mailboxes/{number}/export?format=rar").status_code, 400)
        self.assertEqual(self.root.call("GET", "/api/mailboxes/+15550999/export").status_code, 404)

        # The export: every message as .eml, octet for octet, and the manifest.
        r = self.root.call("GET", f"/api/mailboxes/{number}/export?format=zip")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["Content-Type"], "application/zip")
        self.assertIn(f'filename="mailbox-{number}.zip"', r.headers["Content-Disposition"])
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            self.assertEqual(sorted(m["kind"] for m in manifest["messages"]), ["fax", "voice"])
            for m in manifest["messages"]:
                self.assertIn(archive.read(m["file"]), self.server.stored_messages())
        tgz = self.root.call("GET", f"/api/mailboxes/{number}/export?format=tar.gz")
        self.assertEqual((tgz.status_code, tgz.content[:2]), (200, b"\x1f\x8b"))

        # A caller erased: a dry run lists, changes nothing; without the CSRF token, refused.
        stored_before = len(self.server.stored_messages())
        r = self.root.call("POST", "/api/privacy/erase-caller", {"caller": "+15550801", "dry_run": True})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(sorted(m["mailbox"] for m in r.json()["messages"]), [number, other])
        self.assertEqual(len(self.server.stored_messages()), stored_before)
        r = self.root.call("POST", "/api/privacy/erase-caller", {"caller": "+15550801"}, csrf=False)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(self.root.call("POST", "/api/privacy/erase-caller", {}).status_code, 400)
        r = self.root.call("POST", "/api/privacy/erase-caller", {"caller": "+15550801"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(len(r.json()["messages"]), 2)
        self.assertEqual(len(self.server.stored_messages()), stored_before - 2)
        left = self.root.call("GET", f"/api/mailboxes/{number}/messages").json()
        self.assertEqual([(m["kind"], m["caller"]) for m in left], [("fax", "+15550802")])

        # The mailbox erased: its messages, folders and account, for real.
        r = self.root.call("POST", f"/api/mailboxes/{number}/erase")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.json()["account_removed"])
        self.assertEqual(len(r.json()["messages"]), 1)
        self.assertEqual(len(self.server.stored_messages()), stored_before - 3)
        self.assertEqual(self.root.call("GET", f"/api/mailboxes/{number}").status_code, 422)
        self.assertEqual(self.root.call("POST", f"/api/mailboxes/{number}/erase").status_code, 404)
        self.assertEqual(self.root.call("GET", f"/api/mailboxes/{other}").status_code, 200)
        actions = [(e["actor"], e["action"], e["target"]) for e in self.audit()]
        for entry in [("root", "mailbox.export", number), ("root", "privacy.erase_caller_dry_run", "+15550801"),
                      ("root", "privacy.erase_caller", "+15550801"), ("root", "mailbox.erase", number),
                      ("desk", f"GET /api/mailboxes/{number}/export", "")]:
            self.assertIn(entry, actions)

    def test_the_dashboard_shows_what_the_store_uses(self):
        storage = self.desk().call("GET", "/api/dashboard").json()["storage"]
        self.assertGreater(storage["used_bytes"], 0)
        if self.server.store_dsn:
            self.assertEqual((storage["kind"], storage["free_bytes"]), ("database", None))
        else:
            self.assertEqual(storage["kind"], "file system")
            self.assertGreater(storage["size_bytes"], storage["free_bytes"])

    def test_helpdesk_reads_and_resets_but_cannot_delete_or_edit(self):
        number = "+15550144"
        self.assertEqual(self.root.call("POST", "/api/mailboxes", {"number": number, "name": "Desk Case"}).status_code, 201)
        desk = self.desk()
        self.assertEqual(desk.call("GET", f"/api/mailboxes/{number}").status_code, 200)
        r = desk.call("POST", f"/api/mailboxes/{number}/password")
        self.assertEqual(r.status_code, 200, r.text)
        new_password = r.json()["password"]
        self.assertEqual(desk.call("DELETE", f"/api/mailboxes/{number}").status_code, 403)
        self.assertEqual(desk.call("PATCH", f"/api/mailboxes/{number}", {"name": "Changed"}).status_code, 403)
        self.assertEqual(desk.call("POST", "/api/mailboxes", {"number": "+15550145", "name": "X"}).status_code, 403)
        shown = self.root.call("GET", f"/api/mailboxes/{number}").json()
        self.assertEqual(shown["name"], "Desk Case")
        # The reset password is the one that works now (IMAP login through the account store).
        import imaplib
        imap = imaplib.IMAP4("127.0.0.1", self.server.imap_port)
        imap.login(number, new_password)
        imap.logout()
        actions = [(e["actor"], e["action"], e["target"], e["outcome"]) for e in self.audit()]
        self.assertIn(("desk", "mailbox.password_reset", number, "ok"), actions)
        self.assertIn(("desk", f"DELETE /api/mailboxes/{number}", "", "refused: helpdesk role"), actions)

    def test_every_admin_action_is_audited(self):
        number = "+15550146"
        started = int(time.time() * 1000)
        steps = [
            ("POST", "/api/mailboxes", {"number": number, "name": "Audit Me"}, 201, "mailbox.create"),
            ("PATCH", f"/api/mailboxes/{number}", {"name": "Audited", "quota_bytes": 1000000}, 200, "mailbox.edit"),
            ("POST", f"/api/mailboxes/{number}/password", None, 200, "mailbox.password_reset"),
            ("DELETE", f"/api/mailboxes/{number}", None, 200, "mailbox.remove"),
        ]
        for method, path, body, status, _ in steps:
            r = self.root.call(method, path, body)
            self.assertEqual(r.status_code, status, f"{method} {path}: {r.text}")
        entries = self.audit()
        for *_, action in steps:
            with self.subTest(action=action):
                match = [e for e in entries if e["action"] == action and e["target"] == number]
                self.assertEqual(len(match), 1, entries[:10])
                self.assertEqual(match[0]["actor"], "root")
                self.assertEqual(match[0]["address"], "127.0.0.1")
                self.assertGreaterEqual(match[0]["at_ms"], started)
        self.assertTrue(any(e["action"] == "totp.enrol" and e["actor"] == "root" for e in entries))
        self.assertTrue(any(e["action"] == "login" and e["actor"] == "root" and e["outcome"].startswith("ok") for e in entries))
        # Durable: the server restarted keeps it, and a gateway token issued before.
        r = self.root.call("POST", "/api/gateways", {"name": "gw-lasting"})
        self.assertEqual(r.status_code, 201, r.text)
        self.server.stop()
        self.server.start()
        self.root.base = f"http://127.0.0.1:{self.server.admin_port}"
        self.assertEqual(self.root.call("GET", "/api/audit").status_code, 401)  # sessions end with the process
        self.assertEqual(self.root.login("root", ROOT_PASSWORD, self.root_secret).status_code, 200)
        self.assertTrue(any(e["action"] == "mailbox.remove" and e["target"] == number for e in self.audit()))
        status = f"http://127.0.0.1:{self.server.http_port}/v1/messages/0123456789abcdef01234567"
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        self.assertEqual(requests.get(status, headers=auth, timeout=10).status_code, 404)  # a known gateway; no such message
        self.assertEqual(self.root.call("DELETE", "/api/gateways/gw-lasting").status_code, 200)


if __name__ == "__main__":
    unittest.main()
