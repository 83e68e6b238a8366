"""The admin console in a real browser: headless Chromium from Debian driven
by Selenium (chromium-driver, python3-selenium) against `umstore serve`.
Enrols TOTP from the key the page shows (codes computed here with hmac),
logs in with password and TOTP, creates a mailbox, then ingests a voicemail
and a fax over the gateway API and sees them on the dashboard and in the
mailbox's messages without a reload, plays the voicemail (the audio
element reports its duration) and opens the fax as PDF; uploads a
greeting, listens to it (its duration shown) and deletes it; every view of a
message's content is in the audit log; sets the mailbox's message aging
and sees a run (its test clock two days ahead) move the messages out of
INBOX, without a reload; lists a failed ingest job with its reason on the
queues page, retries and deletes it; creates a gateway token that the
gateway API accepts, revokes it and sees it refused; downloads the
mailbox's export (a zip of every message and a manifest), erases one
caller's messages (a dry run first) and then the whole mailbox, and finds
on disk exactly what should be left. Screenshots go to
build/test-artefacts/admin-console/. Exit 77 when Chromium, its driver or
Selenium is missing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import wave
import zipfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from admin_client import add_admin, fresh_totp  # noqa: E402
from umstore_harness import SAMPLES, UMSTORE, Umstore, wait_for  # noqa: E402

try:
    from selenium import webdriver
except ImportError:  # Debian's python3-selenium, when another interpreter runs the tests
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None
if webdriver:
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
TOKEN = "console-gateway-token-0123"
PASSWORD = "console admin password"
NUMBER = "+15550177"
ARTEFACTS = Path(os.environ.get("UMSTORE_ARTEFACT_DIR",
                                Path(shutil.which(UMSTORE) or UMSTORE).resolve().parents[1] / "test-artefacts"))


class AdminConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.greetings = Path(tempfile.mkdtemp(prefix="umstore-greetings-"))
        cls.server = Umstore(f"[gateways]\nconsole-gw = {TOKEN}\n[sip]\ngreeting_dir = {cls.greetings}\n")
        add_admin(cls.server, "root", "admin", PASSWORD)
        cls.server.start()
        cls.base = f"http://127.0.0.1:{cls.server.admin_port}/"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900",
                    "--autoplay-policy=no-user-gesture-required", "--disable-gpu", "--no-first-run"):
            options.add_argument(arg)
        cls.downloads = Path(tempfile.mkdtemp(prefix="umstore-downloads-"))
        options.add_experimental_option("prefs", {"download.default_directory": str(cls.downloads),
                                                  "download.prompt_for_download": False})
        cls.browser = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
        cls.browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(cls.downloads)})
        cls.shots = ARTEFACTS / "admin-console"
        cls.shots.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.server.close()
        shutil.rmtree(cls.greetings, ignore_errors=True)
        shutil.rmtree(cls.downloads, ignore_errors=True)

    def wait(self, condition, timeout=60, message=""):
        return WebDriverWait(self.browser, timeout, poll_frequency=0.2).until(lambda b: condition(), message)

    def el(self, element_id):
        return self.browser.find_element(By.ID, element_id)

    def visible(self, section):
        return self.el(section).is_displayed()

    def shot(self, name):
        self.browser.save_screenshot(str(self.shots / f"{name}.png"))

    def fill(self, element_id, text):
        field = self.el(element_id)
        field.clear()
        field.send_keys(text)

    def submit_login(self, totp=""):
        self.fill("login-name", "root")
        self.fill("login-password", PASSWORD)
        self.fill("login-totp", totp)
        self.el("login-form").submit()

    def submit(self, kind, path, content_type, token=TOKEN, caller="+15550123"):
        with open(path, "rb") as f:
            return requests.post(f"http://127.0.0.1:{self.server.http_port}/v1/{kind}",
                                 headers={"Authorization": f"Bearer {token}"},
                                 files={"file": (path.name, f, content_type)},
                                 data={"to": NUMBER, "from": caller, "caller_name": "Carol Caller"}, timeout=60)

    def ingest(self, kind, path, content_type, caller="+15550123"):
        r = self.submit(kind, path, content_type, caller=caller)
        self.assertEqual(r.status_code, 202, r.text)
        return r.json()["id"]

    def test_console(self):
        b = self.browser
        b.get(self.base)
        self.wait(lambda: self.visible("login-view"), message="the login form")
        self.assertEqual(b.switch_to.active_element.get_attribute("id"), "login-name")  # keyboard starts there
        for field in ("login-name", "login-password", "login-totp"):  # every control has a label
            self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, f"label[for='{field}']")), 1)
        self.shot("01-login")

        # First login: the password, then the key the page shows (also as a QR code).
        self.submit_login()
        self.wait(lambda: self.visible("enrol-view") and self.el("enrol-secret").text, message="the enrolment")
        self.assertTrue(b.find_elements(By.CSS_SELECTOR, "#enrol-qr svg path"))
        secret = self.el("enrol-secret").text
        self.shot("02-enrolment")
        self.fill("enrol-code", fresh_totp(secret))
        self.el("enrol-form").submit()
        self.wait(lambda: self.visible("dashboard-view"), message="the dashboard after enrolment")

        # Log out, and in with password and TOTP.
        self.el("logout").click()
        self.wait(lambda: self.visible("login-view"), message="logged out")
        self.submit_login(fresh_totp(secret))
        self.wait(lambda: self.visible("dashboard-view"), message="the dashboard after login")

        # A mailbox made in the console.
        self.browser.find_element(By.LINK_TEXT, "Mailboxes").click()
        self.wait(lambda: self.visible("mailboxes-view"))
        self.fill("new-number", NUMBER)
        self.fill("new-name", "Console Person")
        self.el("create-form").submit()
        self.wait(lambda: "Created " + NUMBER in self.el("status").text, message="the mailbox created")
        self.assertEqual(self.server.run("mailbox", "show", NUMBER).returncode, 0)

        # The dashboard, live: a voicemail and a fax arrive over the gateway API.
        self.browser.find_element(By.LINK_TEXT, "Dashboard").click()
        self.wait(lambda: self.visible("dashboard-view") and self.el("dash-mailboxes").text == "1")
        b.execute_script("window.notReloaded = true")
        self.ingest("voicemail", SAMPLES / "voicemail.wav", "audio/wav")
        self.ingest("fax", SAMPLES / "fax.tif", "image/tiff")
        self.wait(lambda: self.el("dash-delivered").text == "2", message="two deliveries on the dashboard")
        rows = self.el("dash-hours").text
        self.assertIn("voice", rows)
        self.assertIn("fax", rows)
        self.assertIn("http:console-gw", rows)
        self.wait(lambda: b.find_elements(By.CSS_SELECTOR, "#dash-sources tr[data-source='http:console-gw']"))
        per_gateway = [td.text for td in b.find_elements(By.CSS_SELECTOR, "#dash-sources tr[data-source='http:console-gw'] td")]
        self.assertEqual(per_gateway[1:], ["2", "2", "0"])
        self.assertRegex(self.el("dash-storage").text, r"^\d+%$")
        self.assertIn("File system of ", self.el("dash-storage-detail").text)
        self.shot("03-dashboard")

        # The mailbox's messages, reached by keyboard-free links, no reload.
        self.browser.find_element(By.LINK_TEXT, "Mailboxes").click()
        self.wait(lambda: b.find_elements(By.LINK_TEXT, NUMBER))
        b.find_element(By.LINK_TEXT, NUMBER).click()
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR, "#message-rows tr")) == 2, message="two messages")
        self.assertTrue(b.execute_script("return window.notReloaded === true"))
        voice = b.find_element(By.CSS_SELECTOR, "#message-rows tr[data-kind='voice']")
        self.assertIn("Carol Caller", voice.text)
        fax = b.find_element(By.CSS_SELECTOR, "#message-rows tr[data-kind='fax']")
        self.assertIn("2 page(s)", fax.text)

        # Play it: the audio element loads the WAV and reports its duration.
        voice.find_element(By.TAG_NAME, "button").click()
        self.wait(lambda: self.el("player-duration").text not in ("", "-"), message="the audio's duration")
        duration = b.execute_script("return document.getElementById('player-audio').duration")
        listed = int(voice.text.split(" s")[0].split()[-1])
        self.assertGreater(duration, 1.0)
        self.assertAlmostEqual(duration, listed, delta=1.0)
        self.shot("04-voicemail")

        # The fax as PDF.
        fax.find_element(By.TAG_NAME, "button").click()
        self.wait(lambda: self.visible("fax"))
        pdf = b.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch(document.getElementById('fax-link').href).then(async (r) => {
              const bytes = new Uint8Array(await r.arrayBuffer());
              done({status: r.status, type: r.headers.get('Content-Type'),
                    magic: String.fromCharCode(...bytes.slice(0, 5)), size: bytes.length});
            });""")
        self.assertEqual(pdf["status"], 200)
        self.assertEqual(pdf["type"], "application/pdf")
        self.assertEqual(pdf["magic"], "%PDF-")
        self.shot("05-fax")

        # A greeting: uploaded from a file, heard in the page, deleted; the
        # SIP endpoint's file (<greeting_dir>/<NUMBER>.wav) follows.
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "label[for='greeting-file']")), 1)
        self.assertIn("built-in", self.el("greeting-state").text)
        self.el("greeting-file").send_keys(str(SAMPLES / "voicemail.wav"))
        self.el("greeting-form").submit()
        self.wait(lambda: self.el("greeting-duration").text not in ("", "-"), message="the greeting's duration")
        self.assertAlmostEqual(float(self.el("greeting-duration").text), 17.6, delta=0.2)
        self.assertTrue(self.el("greeting-audio").is_displayed())
        stored = self.greetings / f"{NUMBER}.wav"
        with wave.open(str(stored)) as w:
            self.assertEqual((w.getframerate(), w.getnchannels()), (8000, 1))
        self.shot("09-greeting")
        self.el("greeting-delete").click()
        self.wait(lambda: self.el("status").text == "Greeting deleted.", message="the greeting deleted")
        self.assertFalse(stored.exists())
        self.assertFalse(self.el("greeting-audio").is_displayed())

        # Every view of content is in the audit log.
        self.browser.find_element(By.LINK_TEXT, "Audit log").click()
        self.wait(lambda: "message.view_fax" in self.el("audit-rows").text, message="the audit entries")
        audit = self.el("audit-rows").text
        self.assertIn("message.play", audit)
        self.assertIn(f"{NUMBER}/INBOX/", audit)
        self.assertIn("mailbox.create", audit)
        self.assertIn("greeting.upload", audit)
        self.assertIn("greeting.delete", audit)
        self.shot("06-audit")

        # Message aging, set in the console and applied by a run whose test
        # clock is two days ahead: the page shows the messages gone from
        # INBOX and what the run did, without a reload.
        b.find_element(By.LINK_TEXT, "Mailboxes").click()
        self.wait(lambda: b.find_elements(By.LINK_TEXT, NUMBER))
        b.find_element(By.LINK_TEXT, NUMBER).click()
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR, "#message-rows tr")) == 2, message="the messages")
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "label[for='mb-age-days']")), 1)
        self.fill("mb-age-days", "1")
        self.el("aging-form").submit()
        self.wait(lambda: self.el("status").text == "Aging saved.", message="aging saved")
        self.assertIn("now: 1 day", self.el("mb-age-effective").text)
        self.assertIn("age-days:     1 day", self.server.run("mailbox", "show", NUMBER).stdout)
        subprocess.run([UMSTORE, "--data-dir", str(self.server.data_dir), "--config", str(self.server.config),
                        "aging", "run"], check=True, capture_output=True, timeout=120,
                       env=dict(os.environ, UMSTORE_TEST_CLOCK_OFFSET_DAYS="2"))
        self.wait(lambda: not b.find_elements(By.CSS_SELECTOR, "#message-rows tr"), message="the messages aged out")
        self.wait(lambda: "moved 2 to Trash" in self.el("mb-last-aging").text, message="the run on the page")
        self.assertTrue(b.execute_script("return window.notReloaded === true"))
        self.shot("07-aging")

        # Ingest jobs on the queues page: a recording the codecs cannot read
        # fails with its reason; Retry runs it again in the running queue
        # (it fails again, later); Delete removes it and the original kept.
        corrupt = self.server.work / "corrupt.wav"
        corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk")
        job = self.ingest("voicemail", corrupt, "audio/wav")
        row = f"#ingest-rows tr[data-id='{job}'][data-state='failed']"
        b.find_element(By.LINK_TEXT, "Queues").click()
        self.wait(lambda: b.find_elements(By.CSS_SELECTOR, row), message="the failed job listed")
        cells = [td.text for td in b.find_elements(By.CSS_SELECTOR, row + " td")]
        self.assertEqual(cells[1:5], ["failed", "voice", NUMBER, "http:console-gw"])
        self.assertTrue(cells[5], "the reason")
        kept = self.server.data_dir / "ingest" / "failed" / job
        self.assertTrue(kept.exists())
        self.shot("10-queues")
        finished = b.find_element(By.CSS_SELECTOR, row).get_attribute("data-finished")
        b.execute_script(f'document.querySelector("{row} button[data-action=retry]").focus()')
        b.switch_to.active_element.send_keys(Keys.ENTER)  # by keyboard
        # (read in the page: the list is redrawn every few seconds, elements go stale)
        self.wait(lambda: b.execute_script(f'const r = document.querySelector("{row}"); return r && r.dataset.finished')
                  not in (None, finished), message="the job run again")
        self.assertTrue(kept.exists())
        b.execute_script(f'document.querySelector("{row} button[data-action=delete]").click()')
        self.wait(lambda: not b.find_elements(By.CSS_SELECTOR, f"#ingest-rows tr[data-id='{job}']"), message="the job gone")
        self.assertFalse(kept.exists())
        b.find_element(By.LINK_TEXT, "Audit log").click()
        self.wait(lambda: "ingest.delete" in self.el("audit-rows").text, message="the job's audit entries")
        self.assertIn("ingest.retry", self.el("audit-rows").text)

        # Gateways: a token created in the console (shown once, stored only
        # hashed) authenticates the gateway API; revoked, it gets 401.
        b.find_element(By.LINK_TEXT, "Gateways").click()
        self.wait(lambda: b.find_elements(By.CSS_SELECTOR, "#gateway-rows tr[data-name='console-gw']"), message="the gateways")
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "label[for='gateway-name']")), 1)
        self.fill("gateway-name", "branch-office")
        self.el("gateway-form").submit()
        self.wait(lambda: self.el("gateway-token").get_attribute("value"), message="the new token")
        token = self.el("gateway-token").get_attribute("value")
        self.assertEqual(b.switch_to.active_element.get_attribute("id"), "gateway-token")
        self.wait(lambda: b.find_elements(By.CSS_SELECTOR, "#gateway-rows tr[data-name='branch-office']"))
        self.shot("11-gateways")
        for stored in self.server.data_dir.rglob("*"):
            if stored.is_file():
                self.assertNotIn(token.encode(), stored.read_bytes(), stored)
        r = self.submit("voicemail", SAMPLES / "voicemail.wav", "audio/wav", token=token)
        self.assertEqual(r.status_code, 202, r.text)
        b.execute_script("document.querySelector(\"#gateway-rows tr[data-name='branch-office'] button\").click()")
        self.wait(lambda: self.browser.switch_to.alert, message="the confirmation").accept()
        self.wait(lambda: not b.find_elements(By.CSS_SELECTOR, "#gateway-rows tr[data-name='branch-office']"),
                  message="the token revoked")
        r = self.submit("voicemail", SAMPLES / "voicemail.wav", "audio/wav", token=token)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(self.submit("voicemail", SAMPLES / "voicemail.wav", "audio/wav").status_code, 202)

        # Export: the browser downloads a zip of every message (Trash too),
        # octet for octet as stored, with its manifest.
        self.ingest("voicemail", SAMPLES / "voicemail.wav", "audio/wav", caller="+15550987")
        wait_for(lambda: len(self.server.stored_messages()) == 5, "five messages stored", 60)
        stored = self.server.stored_messages()
        b.find_element(By.LINK_TEXT, "Mailboxes").click()
        self.wait(lambda: b.find_elements(By.LINK_TEXT, NUMBER))
        b.find_element(By.LINK_TEXT, NUMBER).click()
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR, "#message-rows tr")) == 3, message="the new messages")
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "label[for='export-format']")), 1)
        self.el("export-link").click()
        self.wait(lambda: list(self.downloads.glob("mailbox-*.zip")) and not list(self.downloads.glob("*.crdownload")),
                  message="the export downloaded")
        with zipfile.ZipFile(next(self.downloads.glob("mailbox-*.zip"))) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            self.assertEqual(len(manifest["messages"]), 5)
            self.assertEqual(sorted(archive.read(m["file"]) for m in manifest["messages"]), sorted(stored))
        self.assertEqual(sum(m["folder"] == "Trash" for m in manifest["messages"]), 2)
        self.shot("12-export")

        # A caller erased from the privacy page: a dry run lists, then the
        # erasure removes theirs only.
        b.find_element(By.LINK_TEXT, "Privacy").click()
        self.wait(lambda: self.visible("privacy-view"))
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "label[for='erase-caller']")), 1)
        self.fill("erase-caller", "+15550123")
        self.el("erase-caller-form").submit()
        self.wait(lambda: "would be erased" in self.el("erase-summary").text, message="the dry run")
        self.assertEqual(len(b.find_elements(By.CSS_SELECTOR, "#erase-rows tr")), 4)
        self.assertEqual(len(self.server.stored_messages()), 5)
        self.el("erase-dry-run").click()
        self.el("erase-caller-form").submit()
        self.wait(lambda: self.browser.switch_to.alert, message="the confirmation").accept()
        self.wait(lambda: " erased." in self.el("erase-summary").text, message="the erasure")
        self.assertIn("4 message(s)", self.el("erase-summary").text)
        left = self.server.stored_messages()
        self.assertEqual(len(left), 1)
        self.assertIn(b"+15550987", left[0])
        self.shot("13-privacy")

        # The mailbox erased from its page: nothing of it is left.
        b.find_element(By.LINK_TEXT, "Mailboxes").click()
        self.wait(lambda: b.find_elements(By.LINK_TEXT, NUMBER))
        b.find_element(By.LINK_TEXT, NUMBER).click()
        self.wait(lambda: len(b.find_elements(By.CSS_SELECTOR, "#message-rows tr")) == 1, message="the one left")
        self.el("mb-erase").click()
        self.wait(lambda: self.browser.switch_to.alert, message="the confirmation").accept()
        self.wait(lambda: f"{NUMBER} erased: 1 message(s)." == self.el("status").text, message="the mailbox erased")
        self.wait(lambda: self.visible("mailboxes-view"))
        self.assertEqual(self.server.stored_messages(), [])
        self.assertNotEqual(self.server.run("mailbox", "show", NUMBER, check=False).returncode, 0)
        b.find_element(By.LINK_TEXT, "Audit log").click()
        self.wait(lambda: "mailbox.erase" in self.el("audit-rows").text, message="the erasure audited")
        for action in ("mailbox.export", "privacy.erase_caller_dry_run", "privacy.erase_caller"):
            self.assertIn(action, self.el("audit-rows").text)
        self.shot("14-erased")

        # A phone-sized screen: the table rows stack, nothing needs sideways scrolling.
        b.set_window_size(390, 844)
        self.browser.find_element(By.LINK_TEXT, "Dashboard").click()
        self.wait(lambda: self.visible("dashboard-view"))
        width = b.execute_script("return document.documentElement.scrollWidth")
        self.assertLessEqual(width, b.execute_script("return window.innerWidth"))
        self.assertIn("moved 2 to Trash", self.el("dash-aging").text)
        self.shot("08-phone-dashboard")


if __name__ == "__main__":
    if not (webdriver and CHROMIUM and DRIVER):
        print("skipped: needs chromium, chromium-driver and python3-selenium (scripts/install-deps.sh)")
        sys.exit(77)
    unittest.main()
