"""Faxes sent from email on two umstore nodes sharing one PostgreSQL
database: the fax queue is in the database, so a fax node a accepted and is
dialling when it is killed with SIGKILL is dialled by node b once a's lease
runs out, and the sender hears of it once.

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
from umstore_harness import DOMAIN, Umstore, private_database, wait_for  # noqa: E402

NUMBER = "+15550100"
PASSWORD = "fax-cluster-secret"
FAX_TO = "+15550199"


def config(node, gateway_port):
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
        try:
            dsn = private_database(pg.dsn)
            silent_gateway = free_udp_port()  # nothing answers there
            with Umstore(config("a", silent_gateway), store_dsn=dsn) as a, \
                    Umstore(config("b", terminal.port), store_dsn=dsn) as b:
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
                wait_for(lambda: "dialling " + FAX_TO in a.log_path.read_text(), "node a dialling", 20)
                a.stop(signal.SIGKILL)
                killed = time.monotonic()
                wait_for(lambda: terminal.calls, "node b's call to the terminal; node b's log:\n" +
                         b.log_path.read_text()[-3000:], 120)
                took_over = time.monotonic() - killed
                [call] = terminal.calls
                assert call["result"] == "OK" and call["pages"] == 2, call
                [report] = inbox(b, PASSWORD, 1, 60)
                fields = recipient_fields(report)
                assert fields["action"] == "delivered", fields
                assert fields["x-fax-pages-sent"] == "2", fields
                time.sleep(3)  # a second call or report would have come by now
                assert len(terminal.calls) == 1, terminal.calls
                assert len(inbox(b, PASSWORD, 1, 5)) == 1
                print(f"node a's fax arrived from node b {took_over:.1f} s after a was killed (the call included);"
                      " one call, one report")
        finally:
            terminal.close()


if __name__ == "__main__":
    main()
