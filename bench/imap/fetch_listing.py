#!/usr/bin/env python3
"""Listing a folder after a restart (not part of CTest): the time of
FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE), what a mail client
sends when it opens a folder it has not cached, on each backend side by
side: first right after the server started (nothing in its memory: the
store's kept metadata is all it has) and then again (from the fetch cache).

Needs root for the PostgreSQL side (initdb runs as the postgres user).
usage: UMSTORE_BIN=build/app/umstore bench/imap/fetch_listing.py [MESSAGES]
"""
import imaplib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "peers"))
sys.path.insert(0, str(ROOT / "bench" / "smtp"))
import postgres_peer  # noqa: E402
from smtp_intake_bench import send_all  # noqa: E402
from umstore_harness import DOMAIN, Umstore  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "bench-password"
LISTING = "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)"


def timed_listing(port, expected):
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(NUMBER, PASSWORD)
    client.select("INBOX", readonly=True)
    start = time.perf_counter()
    typ, data = client.fetch("1:*", LISTING)
    elapsed = time.perf_counter() - start
    found = sum(1 for d in data if b"ENVELOPE" in (d[0] if isinstance(d, tuple) else d))
    assert typ == "OK" and found == expected, (typ, found)
    client.logout()
    return elapsed


def measure(server, messages):
    server.add_mailbox(NUMBER, "Bench User", PASSWORD)
    server.start()
    send_all(server.smtp_port, 10, messages // 10, f"{NUMBER}@{DOMAIN}")
    server.stop()
    server.start()  # a new process: no fetch cache, no body cache
    cold = timed_listing(server.imap_port, messages)
    warm = timed_listing(server.imap_port, messages)
    return cold, warm


def main():
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rows = []
    maildir = Umstore(pg_cluster=None)
    try:
        rows.append(("Maildir", *measure(maildir, messages)))
    finally:
        maildir.close()
    if postgres_peer.available() and os.geteuid() == 0:
        with postgres_peer.PostgresPeer() as pg:
            server = Umstore(pg_cluster=pg.dsn)
            try:
                rows.append(("PostgreSQL", *measure(server, messages)))
            finally:
                server.close()
    else:
        print("PostgreSQL side skipped: needs root and PostgreSQL 15")
    print(f"\nFETCH 1:* {LISTING} of {messages} messages of 40 KB, one client")
    print(f"{'backend':<12} {'after restart ms':>17} {'again ms':>9} {'vs Maildir':>11}")
    for name, cold, warm in rows:
        print(f"{name:<12} {1000 * cold:>17.0f} {1000 * warm:>9.0f} {cold / rows[0][1]:>11.2f}")


if __name__ == "__main__":
    main()
