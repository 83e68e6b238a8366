"""Faxes sent from email and over HTTP on two umstore nodes sharing one
PostgreSQL database: the fax queue is in the database, so faxes node a
accepted and is dialling when it is killed with SIGKILL are dialled by node
b once a's lease runs out; the email's sender hears of it once, and the
application's webhooks (owed in the database) arrive once each. Requests
with one Idempotency-Key sent to both nodes at once make one fax.

Node a's gateway never answers (nothing listens on its port: its INVITE
goes unanswered for 32 s), node b's is a receiving fax terminal
(sip_fax_receiver). Needs PostgreSQL 15 and the terminal: exit 77 without."""
import os
import shutil
import signal
import smtplib
import sys
import tempfile
import threading
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
                # The same request to both nodes at once: one job, the others answered with it.
                answers = []

                def post(node):
                    answers.append(gateway_api(node.http_port, "/v1/fax-out", "-F", f"to={FAX_TO}", "-F",
                                               "text=Order 11", "-H", "Idempotency-Key: order-11", token=APP_TOKEN))
                posts = [threading.Thread(target=post, args=(node,)) for node in (a, b, a, b, a, b)]
                for t in posts:
                    t.start()
                for t in posts:
                    t.join()
                assert sorted(code for code, _ in answers) == [200] * 5 + [202], answers
                assert len({body["id"] for _, body in answers}) == 1, answers
                keyed = answers[0][1]["id"]
                wait_for(lambda: a.log_path.read_text().count("dialling " + FAX_TO) >= 2, "node a dialling", 20)
                a.stop(signal.SIGKILL)
                killed = time.monotonic()
                wait_for(lambda: len(terminal.calls) == 3, "node b's calls to the terminal; node b's log:\n" +
                         b.log_path.read_text()[-3000:], 120)
                took_over = time.monotonic() - killed
                assert all(call["result"] == "OK" and call["pages"] == 2 for call in terminal.calls), terminal.calls
                [report] = inbox(b, PASSWORD, 1, 60)
                fields = recipient_fields(report)
                assert fields["action"] == "delivered", fields
                assert fields["x-fax-pages-sent"] == "2", fields
                wait_for(lambda: len(receiver.received("/fax")) == 2, "the application's webhooks", 30)
                time.sleep(3)  # a second call, report or webhook would have come by now
                assert len(terminal.calls) == 3, terminal.calls
                assert len(inbox(b, PASSWORD, 1, 5)) == 1
                hooks = {hook["id"]: hook for hook in receiver.received("/fax")}
                assert sorted(hooks) == sorted([queued["id"], keyed]), hooks
                assert all(h["status"] == "sent" and h["last_call"]["pages_sent"] == 2 for h in hooks.values()), hooks
                print(f"node a's faxes arrived from node b {took_over:.1f} s after a was killed (the calls included);"
                      " one call each, one report, one webhook each")
        finally:
            terminal.close()
            receiver.close()


if __name__ == "__main__":
    main()
