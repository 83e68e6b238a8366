#!/usr/bin/env python3
"""SEARCH TEXT latency over a large mailbox, with the full-text index
against a full scan ([store] fulltext_index = false), and the index's size
per message: on the Maildir backend (Xapian), then on PostgreSQL (pg_trgm).
Not run by CTest.

usage: bench/fts/fts_bench.py [MESSAGES] [RUNS] [BACKENDS]
       (defaults 100000, 20, "maildir,postgresql")
UMSTORE_BIN names the umstore program (default build/app/umstore).

The messages (tests/e2e/fts_corpus.py: plain, QP, base64, three charsets,
voicemail-like multiparts with a transcript two levels deep) are dropped
into the Maildir's new/ before the server starts, as another delivery agent
would; `umstore index rebuild` then builds the index (timed). For
PostgreSQL, a private cluster (tests/peers/postgres_peer.py, fsync off: the
load is not what is measured) gets the same Maildir by `umstore db copy`
(timed; it stores each body's search text as it goes). Each search is one
UID SEARCH TEXT over Python imaplib on loopback, timed from send to tagged
OK; the figure is the median of RUNS (of 3 for the scan)."""
import imaplib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests" / "peers"))
os.environ.setdefault("UMSTORE_BIN", str(ROOT / "build" / "app" / "umstore"))
from fts_corpus import corpus  # noqa: E402
from umstore_harness import Umstore, private_database, psql  # noqa: E402

USER = "+15550100"
PASSWORD = "bench-secret"
# A needle a few messages contain (the Message-ID of one), and a word in about 2 % of them.
NEEDLES = ("m77777@example.com", "brontosaurus")


def directory_bytes(path):
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed_searches(server, runs):
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    results = {}
    for needle in NEEDLES:
        times, hits = [], None
        for _ in range(runs):
            start = time.perf_counter()
            typ, data = imap.uid("SEARCH", "TEXT", f'"{needle}"')
            times.append(time.perf_counter() - start)
            assert typ == "OK", data
            hits = len(data[0].split())
        results[needle] = (statistics.median(times), hits)
    imap.logout()
    return results


def run_long(server, *args):
    """server.run without its time limit (for tests): over 100,000 messages this takes minutes."""
    subprocess.run([os.environ["UMSTORE_BIN"], "--data-dir", str(server.data_dir),
                    *(["--config", str(server.config)] if server.config else []), *args], check=True, capture_output=True)


def compare(server, runs, scan_config):
    """Times the searches with the index, then with scan_config (the index off)."""
    server.start()
    indexed = timed_searches(server, runs)
    server.stop()
    server.config = server.work / "no-index.conf"
    server.config.write_text(scan_config + "[store]\nfulltext_index = false\n")
    server.start()
    scanned = timed_searches(server, 3)
    server.stop()
    for needle in NEEDLES:
        (t_index, hits_index), (t_scan, hits_scan) = indexed[needle], scanned[needle]
        assert hits_index == hits_scan, f"{needle}: {hits_index} hits with the index, {hits_scan} by scanning"
        print(f"SEARCH TEXT {needle!r} ({hits_index} hits): index {t_index * 1000:.1f} ms, "
              f"scan {t_scan * 1000:.0f} ms, {t_scan / t_index:.0f}x")


def fill_maildir(server, count):
    server.add_mailbox(USER, "Bench", PASSWORD)
    inbox = server.data_dir / "mail" / USER / "INBOX"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)  # a folder another agent made: adopted
    total = 0
    for n, message in enumerate(corpus(count), 1):
        (inbox / "new" / f"1764583200.M{n}P1.bench").write_bytes(message)
        total += len(message)
    print(f"{count} messages, {total / count:.0f} bytes each on average")
    return inbox, total


def maildir(count, runs):
    print("== Maildir, Xapian")
    with Umstore(pg_cluster=None) as server:
        inbox, total = fill_maildir(server, count)
        start = time.perf_counter()
        run_long(server, "index", "rebuild", USER)
        built = time.perf_counter() - start
        index_bytes = directory_bytes(inbox / "umstore-fts")
        print(f"index rebuild: {built:.1f} s ({count / built:.0f} messages/s); "
              f"index {index_bytes / 1e6:.1f} MB, {index_bytes / count:.0f} bytes per message "
              f"({100 * index_bytes / total:.0f} % of the messages)")
        compare(server, runs, "")


def postgresql(count, runs):
    import postgres_peer
    print("== PostgreSQL, pg_trgm")
    with postgres_peer.PostgresPeer(settings={"fsync": "off", "synchronous_commit": "off"}) as pg, \
            Umstore(pg_cluster=None) as server:
        _, total = fill_maildir(server, count)
        dsn = private_database(pg.dsn)
        database = f"[store]\nbackend = postgresql\ndsn = {dsn}\n"
        server.config = server.work / "database.conf"
        server.config.write_text(database)
        server.run("db", "migrate")
        start = time.perf_counter()
        run_long(server, "db", "copy")
        copied = time.perf_counter() - start
        psql(dsn, "VACUUM ANALYZE")
        text_bytes = int(psql(dsn, "SELECT sum(pg_column_size(search_text)) FROM bodies"))
        index_bytes = int(psql(dsn, "SELECT pg_relation_size('bodies_search_text')"))
        print(f"db copy with the search text: {copied:.1f} s ({count / copied:.0f} messages/s); "
              f"text {text_bytes / count:.0f} + trigram index {index_bytes / count:.0f} bytes per message "
              f"({100 * (text_bytes + index_bytes) / total:.0f} % of the messages)")
        compare(server, runs, database)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    backends = (sys.argv[3] if len(sys.argv) > 3 else "maildir,postgresql").split(",")
    for backend in backends:
        {"maildir": maildir, "postgresql": postgresql}[backend](count, runs)


if __name__ == "__main__":
    main()
