#!/usr/bin/env python3
"""SMTP intake benchmark (not part of CTest): N parallel SMTP clients send
40 KB messages to a local mailbox, durable on every side, in one run:

  1. umstore: SMTP -> Maildir; every message is fsync'ed in the Maildir
     before its 250.
  2. the peer: Postfix smtpd -> queue (fsync'ed before 250) -> lmtp ->
     Dovecot LMTP -> Maildir (Dovecot's default mail_fsync = optimized), a
     private instance of each (tests/peers/postfix_peer.py). Its rate counts
     until the last message is in Dovecot's Maildir, the point at which
     umstore already answered 250; the rate of the 250s alone is printed too.
  3. the disk's durable small-file ceiling (write, fsync, rename, fsync dir,
     one thread), which one fsync per message cannot beat.

The peer needs root and postfix + dovecot-lmtpd (bench/install-bench-deps.sh);
without them the line says so and no ratio is printed.

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
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "peers"))
from umstore_harness import DOMAIN, Umstore  # noqa: E402

NUMBER = "+15550100"
BODY = ("x" * 76 + "\r\n") * 525  # about 40 KB


def client(port, count, index, recipient=f"{NUMBER}@{DOMAIN}"):
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
        for n in range(count):
            message = f"From: bench@example.org\r\nSubject: bench {index}-{n}\r\n\r\n{BODY}"
            smtp.sendmail("bench@example.org", [recipient], message)
    return count


def send_all(port, clients, per_client, recipient):
    """Seconds until every client has its 250s."""
    start = time.time()
    with multiprocessing.Pool(clients) as pool:
        sent = sum(pool.starmap(client, [(port, per_client, i, recipient) for i in range(clients)]))
    assert sent == clients * per_client
    return start, time.time() - start


def postfix_dovecot(clients, per_client):
    """(seconds to all 250s, seconds until all are in Dovecot's Maildir), or a reason string."""
    if os.geteuid() != 0:
        return "needs root"
    if not (shutil.which("postfix") or os.path.exists("/usr/sbin/postfix")) or not shutil.which("dovecot"):
        return "not installed here (bench/install-bench-deps.sh)"
    from postfix_peer import PostfixPeer
    total = clients * per_client
    with PostfixPeer(domain="peer.test", mailboxes=["bench"], delivery="lmtp", fast_retry=False) as peer:
        os.sync()
        time.sleep(0.5)
        start, accepted = send_all(peer.port, clients, per_client, "bench@peer.test")
        new = peer.maildir("bench") / "new"
        deadline = time.time() + 600
        while time.time() < deadline:
            if new.is_dir() and sum(1 for _ in os.scandir(new)) >= total:
                break
            time.sleep(0.02)
        else:
            return f"only {sum(1 for _ in os.scandir(new))} of {total} messages delivered after 600 s"
        return accepted, time.time() - start


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
        _, elapsed = send_all(server.smtp_port, clients, per_client, f"{NUMBER}@{DOMAIN}")
        sent = clients * per_client
        ceiling = fsync_ceiling(str(server.work / "fsync-probe"))
        server.stop()
    rate = sent / elapsed
    print(f"umstore SMTP -> Maildir, {clients} clients, 40 KB, durable: {sent} messages in {elapsed:.2f} s = {rate:.0f} messages/s")
    peer = postfix_dovecot(clients, per_client)
    if isinstance(peer, str):
        print(f"Postfix -> Dovecot LMTP -> Maildir: {peer}; no ratio")
    else:
        accepted, delivered = peer
        peer_rate = sent / delivered
        print(f"Postfix -> Dovecot LMTP -> Maildir, same load: all 250s after {accepted:.2f} s ({sent / accepted:.0f}/s),"
              f" all in the Maildir after {delivered:.2f} s = {peer_rate:.0f} messages/s")
        print(f"ratio umstore / (Postfix -> Dovecot): {rate / peer_rate:.2f} (goal >= 2)")
    print(f"disk ceiling, one durable 40 KB file create (write+fsync+rename+fsync dir), 1 thread: {ceiling:.0f} /s")


if __name__ == "__main__":
    main()
