#!/usr/bin/env python3
"""SEARCH TEXT latency over a large mailbox, with the full-text index
against a full scan ([store] fulltext_index = false), and the index's size
per message. Not run by CTest.

usage: bench/fts/fts_bench.py [MESSAGES] [RUNS]     (defaults 100000, 20)
UMSTORE_BIN names the umstore program (default build/app/umstore).

The messages (tests/e2e/fts_corpus.py: plain, QP, base64, three charsets,
voicemail-like multiparts with a transcript two levels deep) are dropped
into the Maildir's new/ before the server starts, as another delivery agent
would; `umstore index rebuild` then builds the index (timed). Each search
is one UID SEARCH TEXT over Python imaplib on loopback, timed from send to
tagged OK; the figure is the median of RUNS (of 3 for the scan)."""
import imaplib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("UMSTORE_BIN", str(ROOT / "build" / "app" / "umstore"))
from fts_corpus import corpus  # noqa: E402
from umstore_harness import Umstore  # noqa: E402

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


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with Umstore() as server:
        server.add_mailbox(USER, "Bench", PASSWORD)
        inbox = server.data_dir / "mail" / USER / "INBOX"
        for sub in ("new", "cur", "tmp"):
            (inbox / sub).mkdir(parents=True, exist_ok=True)  # a folder another agent made: adopted
        total = 0
        for n, message in enumerate(corpus(count), 1):
            (inbox / "new" / f"1764583200.M{n}P1.bench").write_bytes(message)
            total += len(message)
        print(f"{count} messages, {total / count:.0f} bytes each on average")
        start = time.perf_counter()
        server.run("index", "rebuild", USER)
        built = time.perf_counter() - start
        index_bytes = directory_bytes(inbox / "umstore-fts")
        print(f"index rebuild: {built:.1f} s ({count / built:.0f} messages/s); "
              f"index {index_bytes / 1e6:.1f} MB, {index_bytes / count:.0f} bytes per message "
              f"({100 * index_bytes / total:.0f} % of the messages)")

        server.start()
        indexed = timed_searches(server, runs)
        server.stop()
        server.config = server.work / "no-index.conf"
        server.config.write_text("[store]\nfulltext_index = false\n")
        server.start()
        scanned = timed_searches(server, 3)
        for needle in NEEDLES:
            (t_index, hits_index), (t_scan, hits_scan) = indexed[needle], scanned[needle]
            assert hits_index == hits_scan, f"{needle}: {hits_index} hits with the index, {hits_scan} by scanning"
            print(f"SEARCH TEXT {needle!r} ({hits_index} hits): index {t_index * 1000:.1f} ms, "
                  f"scan {t_scan * 1000:.0f} ms, {t_scan / t_index:.0f}x")


if __name__ == "__main__":
    main()
