#!/usr/bin/env python3
"""The classic gateway script's MIME step: a VPIM-style voice message from a
32KADPCM file and a playable WAV, written to stdout for `sendmail -t`.

usage: classic_mime.py TO CALLER ADPCM_FILE WAV_FILE DURATION_SECONDS"""
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def main():
    to, caller, adpcm, wav, seconds = sys.argv[1:6]
    msg = EmailMessage()
    msg["From"] = f'"{caller}" <non-mail-user@gateway.test>'
    msg["To"] = to
    msg["Subject"] = f"Voice message from {caller}"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="gateway.test")
    msg["Caller-ID"] = caller
    msg["Message-Context"] = "voice-message"
    msg.set_content(f"Voice message from {caller}, {seconds} s.\n")
    with open(adpcm, "rb") as f:
        msg.add_attachment(f.read(), maintype="audio", subtype="32KADPCM", filename="message.726",
                           headers=[f"Content-Duration: {seconds}"])
    with open(wav, "rb") as f:
        msg.add_attachment(f.read(), maintype="audio", subtype="wav", filename="message.wav")
    sys.stdout.buffer.write(msg.as_bytes())


if __name__ == "__main__":
    main()
