"""Faxes sent from email and over HTTP on two umstore nodes sharing one
PostgreSQL database: the fax queue is in the database, so faxes node a
accepted and is dialling when it is killed with SIGKILL are dialled by node
b once a's lease runs out; the email's sender hears of it once, and the
application's webhook (owed in the database) arrives once, from node b.

Node a's gateway never answers (nothing listens on its port: its INVITE
goes unanswered for 32 s), node b's is a receiving fax terminal
(sip_fax_receiver). Needs PostgreSQL 15 and the terminal: exit 77 without."""
import os
import shutil
import signal
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "peers"))
import postgres_peer  # noqa: E402
from test_fax_out import RECEIVER, Terminal, free_udp_port, inbox, recipient_fields  # noqa: E402
from test_ingest_webhooks import Receiver  # noqa: E402
from umstore_harness import DOMAIN, Umstore, gateway_api, private_database, wait_for  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "fax-cluster-secret"
FAX_TO = "+15550199"
APP_TOKEN = "fax-cluster-app-token-0123456789"


def config(node, gateway_port, webhook_url):
    return f"""
[sip]
listen = 127.0.0.1:0
gateways = 127.0.0.1

[smtp]
auth_requires_tls = false

[routing]
country_code = 1

[fax_out]
gateway = sip:127.0.0.1:{gateway_port}
allowed_prefixes = +1555
retry_intervals = 1

[cluster]
node_id = {node}
lease_seconds = 2

[gateways]
app = {APP_TOKEN}

[webhooks]
app = {webhook_url}
"""


def main():
    missing = [what for what, ok in [("PostgreSQL 15", postgres_peer.available()),
                                     ("sip_fax_receiver", shutil.which(RECEIVER) or os.path.exists(RECEIVER))]
               if not ok]
    if missing:
        print("SKIP: needs " + ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="fax-cluster-") as work, postgres_peer.PostgresPeer() as pg:
        terminal = Terminal(Path(work) / "terminal")
        receiver = Receiver()
        try:
            dsn = private_database(pg.dsn)
            silent_gateway = free_udp_port()  # nothing answers there
            url = receiver.url("/fax")
            with Umstore(config("a", silent_gateway, url), store_dsn=dsn) as a, \
                    Umstore(config("b", terminal.port, url), store_dsn=dsn) as b:
                a.add_mailbox(NUMBER, "Alice Example", PASSWORD)
                a.start()
                b.start()
                message = EmailMessage()
                message["From"] = f"{NUMBER}@{DOMAIN}"
                message["To"] = f"FAX={FAX_TO}@{DOMAIN}"
                message["Subject"] = "taken over"
                message.set_content("Node a accepted this fax; node b sends it.")
                with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=60) as s:
                    s.login(NUMBER, PASSWORD)
                    s.send_message(message, to_addrs=[f"FAX={FAX_TO}@{DOMAIN}"])
                code, queued = gateway_api(a.http_port, "/v1/fax-out", "-F", f"to={FAX_TO}", "-F", "text=Invoice 9",
                                           token=APP_TOKEN)
                assert code == 202, queued
                wait_for(lambda: a.log_path.read_text().count("dialling " + FAX_TO) >= 2, "node a dialling both", 20)
                a.stop(signal.SIGKILL)
                killed = time.monotonic()
                wait_for(lambda: len(terminal.calls) == 2, "node b's calls to the terminal; node b's log:\n" +
                         b.log_path.read_text()[-3000:], 120)
                took_over = time.monotonic() - killed
                assert all(call["result"] == "OK" and call["pages"] == 2 for call in terminal.calls), terminal.calls
                [report] = inbox(b, PASSWORD, 1, 60)
                fields = recipient_fields(report)
                assert fields["action"] == "delivered", fields
                assert fields["x-fax-pages-sent"] == "2", fields
                wait_for(lambda: receiver.received("/fax"), "the application's webhook", 30)
                time.sleep(3)  # a second call, report or webhook would have come by now
                assert len(terminal.calls) == 2, terminal.calls
                assert len(inbox(b, PASSWORD, 1, 5)) == 1
                [hook] = receiver.received("/fax")
                assert (hook["id"], hook["status"], hook["last_call"]["pages_sent"]) == (queued["id"], "sent", 2), hook
                print(f"node a's faxes arrived from node b {took_over:.1f} s after a was killed (the calls included);"
                      " one call each, one report, one webhook")
        finally:
            terminal.close()
            receiver.close()


if __name__ == "__main__":
    main()
