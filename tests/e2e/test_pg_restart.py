"""The PostgreSQL backend through a database restart: while SMTP clients
submit and IMAP clients read, the database is stopped and started again.
umstore must answer the outage with temporary failures (SMTP 451 4.3.0,
IMAP NO [UNAVAILABLE], also for a LOGIN), never crash, reconnect by itself, and afterwards
every message that got 250 is in the mailbox exactly once."""
import imaplib
import re
import smtplib
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import postgres_peer  # noqa: E402
from umstore_harness import DOMAIN, Umstore  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "restart-password"
SMTP_CLIENTS = 3
IMAP_CLIENTS = 2


def submit_stream(port, client, results, stop):
    n = 0
    while not stop.is_set():
        token = f"c{client}-m{n}"
        n += 1
        message = (f"From: gw{client}@{DOMAIN}\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: restart {token}\r\n"
                   f"X-Token: {token}\r\n\r\n" + ("body line\r\n" * 50))
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                refused = smtp.sendmail(f"{NUMBER}@{DOMAIN}", [f"{NUMBER}@{DOMAIN}"], message)
                results[token] = "refused" if refused else "ok"
        except smtplib.SMTPResponseException as e:
            results[token] = f"{e.smtp_code} {e.smtp_error.decode(errors='replace')}"
            time.sleep(0.1)
        except smtplib.SMTPRecipientsRefused as e:  # RCPT: the account lookup met the outage
            code, text = next(iter(e.recipients.values()))
            results[token] = f"{code} {text.decode(errors='replace')}"
            time.sleep(0.1)
        except (OSError, smtplib.SMTPException) as e:
            results[token] = f"error {e!r}"
            time.sleep(0.1)


def read_stream(port, answers, stop):
    while not stop.is_set():
        try:
            conn = imaplib.IMAP4("127.0.0.1", port, timeout=30)
            try:
                conn.login(NUMBER, PASSWORD)
                conn.select("INBOX")
                while not stop.is_set():
                    typ, data = conn.fetch("1:*", "(FLAGS)")
                    answers.append(typ if typ == "OK" else f"{typ} {data[0].decode(errors='replace')}")
                    time.sleep(0.05)
            finally:
                conn.shutdown()
        except imaplib.IMAP4.error as e:  # a tagged NO: what an outage must look like
            answers.append(str(e))
            time.sleep(0.1)
        except OSError as e:
            answers.append(f"connection {e!r}")
            time.sleep(0.1)


def main():
    if not postgres_peer.available():
        print("SKIP: PostgreSQL 15 is not installed", file=sys.stderr)
        sys.exit(77)
    with postgres_peer.PostgresPeer() as pg, Umstore(pg_cluster=pg.dsn) as server:
        server.add_mailbox(NUMBER, "Restart Test", PASSWORD)
        server.start()
        results, answers, stop = {}, [], threading.Event()
        threads = [threading.Thread(target=submit_stream, args=(server.smtp_port, i, results, stop))
                   for i in range(SMTP_CLIENTS)]
        threads += [threading.Thread(target=read_stream, args=(server.imap_port, answers, stop))
                    for _ in range(IMAP_CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(2)
        acked_before = sum(1 for r in results.values() if r == "ok")
        pg.stop(mode="fast")
        time.sleep(0.5)
        # A login the account store cannot answer is a temporary failure, never
        # a wrong password (which the throttle would count against the user).
        outage_login = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
        try:
            outage_login.login(NUMBER, PASSWORD)
            login_answer = "OK"
        except imaplib.IMAP4.error as e:
            login_answer = str(e)
        outage_login.shutdown()
        time.sleep(1.5)  # an outage long enough for every client to meet it
        pg.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()

        assert server.process.poll() is None, "umstore serve died with the database:\n" + server.log_path.read_text()
        acked = [t for t, r in results.items() if r == "ok"]
        temporary = [r for r in results.values() if r.startswith("451")]
        other = [r for r in results.values() if r != "ok" and not r.startswith("451")]
        assert acked_before > 5, f"too few messages before the restart to mean anything: {acked_before}"
        assert len(acked) > acked_before, "no message was accepted after the database came back"
        assert temporary, "the outage never showed as 451: " + repr(other[:5])
        assert all("4.3.0" in r for r in temporary), repr(temporary[:5])
        unavailable = [a for a in answers if "UNAVAILABLE" in a]
        refused = [a for a in answers if a != "OK" and "UNAVAILABLE" not in a and not a.startswith("connection")]
        assert not refused, f"IMAP answered the outage otherwise than NO [UNAVAILABLE]: {refused[:3]}"
        assert unavailable, "no IMAP command met the outage"
        assert "UNAVAILABLE" in login_answer, f"LOGIN during the outage answered: {login_answer}"

        counts = {}
        for message in server.stored_messages():
            for token in re.findall(r"^X-Token: (\S+)", message.decode("utf-8", "replace"), re.M):
                counts[token] = counts.get(token, 0) + 1
        missing = [t for t in acked if counts.get(t, 0) == 0]
        duplicated = [t for t, c in counts.items() if c > 1]
        assert not missing, f"acknowledged but lost: {missing}"
        assert not duplicated, f"stored more than once: {duplicated}"
        in_doubt = [t for t in counts if results.get(t) != "ok"]

        # Reconnected by itself: a new session works end to end.
        conn = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30)
        conn.login(NUMBER, PASSWORD)
        typ, data = conn.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == sum(counts.values()), (typ, data, sum(counts.values()))
        conn.logout()
        print(f"database restart: {len(acked)} acknowledged ({acked_before} before the outage), all stored once; "
              f"{len(temporary)} answered 451 4.3.0, {len(other)} other; IMAP: {len(unavailable)} NO [UNAVAILABLE]; "
              f"{len(in_doubt)} stored though the answer was lost")
        server.stop()


if __name__ == "__main__":
    main()
