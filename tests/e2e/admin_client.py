"""A client of umstore's admin API for the end-to-end tests: TOTP codes
computed here with hmac (RFC 6238), so the server's liboath is checked
against an independent implementation, and sessions kept the way a browser
keeps them (cookie jar, CSRF header)."""
import base64
import hashlib
import hmac
import struct
import time

import requests


def totp(secret_b32, at=None, step=30, digits=6):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10 ** digits).zfill(digits)


# The time steps whose code each key has used: the server takes a code once.
_USED_STEPS = {}


def fresh_totp(secret_b32):
    """A code of a time step not used yet with this key, waiting for the next step if needed."""
    used = _USED_STEPS.setdefault(secret_b32, set())
    while int(time.time() // 30) in used:
        time.sleep(0.5)
    used.add(int(time.time() // 30))
    return totp(secret_b32)


def add_admin(server, name, role, password):
    """Adds an admin with the CLI; returns the base32 TOTP key it printed."""
    out = server.run("admin", "add", name, "--role", role, stdin=password + "\n").stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("TOTP key: "))


class AdminClient:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.csrf = ""

    def call(self, method, path, json=None, csrf=True):
        headers = {"X-CSRF-Token": self.csrf} if csrf and method != "GET" else {}
        return self.http.request(method, self.base + path, json=json, headers=headers, timeout=30)

    def upload(self, method, path, data, content_type="application/octet-stream", csrf=True):
        """A request whose body is a file's bytes (a greeting), not JSON."""
        headers = {"Content-Type": content_type, **({"X-CSRF-Token": self.csrf} if csrf else {})}
        return self.http.request(method, self.base + path, data=data, headers=headers, timeout=30)

    def login(self, name, password, secret=None):
        code = fresh_totp(secret) if secret else ""
        r = self.call("POST", "/api/session", {"name": name, "password": password, "totp": code}, csrf=False)
        if r.status_code == 200:
            self.csrf = r.json()["csrf"]
        return r

    def enrol(self, name, password):
        """First login: the password, then one code from the key the console shows. Returns the key."""
        r = self.login(name, password)
        assert r.status_code == 200 and r.json()["enrolling"], r.text
        secret = self.call("GET", "/api/enrolment").json()["secret"]
        r = self.call("POST", "/api/enrolment", {"code": fresh_totp(secret)})
        assert r.status_code == 200, r.text
        return secret
