"""Moving an installation into PostgreSQL with `umstore db copy`: a server
on the embedded store (Maildir + SQLite) takes mail and a reader sets
flags; after `db migrate` and `db copy` a server on the database serves the
same mailbox with the same password, UIDVALIDITY, UIDs and flags, so an IMAP
client's cache stays valid. A second copy finds nothing new."""
import imaplib
import re
import smtplib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import postgres_peer  # noqa: E402
from umstore_harness import DOMAIN, Umstore, private_database  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "copy-password"


def folder_state(port):
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login(NUMBER, PASSWORD)
    typ, _ = conn.select("INBOX", readonly=True)
    assert typ == "OK"
    validity = conn.untagged_responses.get("UIDVALIDITY", [b"?"])[-1].decode()
    typ, data = conn.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    messages = []
    for item in data:
        if isinstance(item, tuple):
            uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
            flags = sorted(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split())
            messages.append((uid, flags, item[1].decode().strip()))
    conn.logout()
    return validity, messages


def main():
    if not postgres_peer.available():
        print("SKIP: PostgreSQL 15 is not installed", file=sys.stderr)
        sys.exit(77)
    with postgres_peer.PostgresPeer() as pg, Umstore(pg_cluster=None) as server:
        server.add_mailbox(NUMBER, "Copy Test", PASSWORD)
        server.start()
        with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
            for n in range(3):
                smtp.sendmail(f"gw@{DOMAIN}", [f"{NUMBER}@{DOMAIN}"],
                              f"From: gw@{DOMAIN}\r\nTo: {NUMBER}@{DOMAIN}\r\nSubject: copy {n}\r\n\r\nbody {n}\r\n")
        conn = imaplib.IMAP4("127.0.0.1", server.imap_port)
        conn.login(NUMBER, PASSWORD)
        conn.select("INBOX")
        conn.store("1", "+FLAGS", "(\\Seen $Important)")
        conn.store("3", "+FLAGS", "(\\Deleted)")
        conn.expunge()
        conn.logout()
        before = folder_state(server.imap_port)
        server.stop()

        config = server.work / "database.conf"
        config.write_text(f"[store]\nbackend = postgresql\ndsn = {private_database(pg.dsn)}\n")
        server.config = config
        server.run("db", "migrate")
        out = server.run("db", "copy").stdout
        assert "copied 2 message(s)" in out, out
        again = server.run("db", "copy").stdout
        assert "copied 0 message(s)" in again and "2 were there already" in again, again

        server.start()  # now on the database
        after = folder_state(server.imap_port)
        assert after == before, f"embedded store {before}\ndatabase {after}"
        print(f"db copy: UIDVALIDITY {after[0]}, messages {after[1]} kept")
        server.stop()


if __name__ == "__main__":
    main()
