#!/usr/bin/env python3
"""Prints what Python's email package sees in a message, one line per item.

Used by test_mime as an independent parser: H = top-level header (decoded),
P = part (path, type, params, disposition, filename, Content-Duration,
decoded payload as hex or '-' for multiparts), D = a defect Python found.
"""
import email
import email.policy
import sys


def walk(part, path):
    for defect in part.defects:
        print(f"D\t{path}\t{type(defect).__name__}")
    params = ";".join(f"{k}={v}" for k, v in part.get_params(failobj=[], header="content-type")[1:])
    disposition = part.get_content_disposition() or "-"
    filename = part.get_filename() or "-"
    duration = part.get("Content-Duration", "-")
    if part.is_multipart():
        payload = "-"
    else:
        payload = (part.get_payload(decode=True) or b"").hex() or "-"
    voice = part.get_param("voice", header="content-disposition") or "-"
    print(f"P\t{path}\t{part.get_content_type()}\t{params}\t{disposition}\t{filename}\t{duration}\t{voice}\t{payload}")
    if part.is_multipart():
        for index, child in enumerate(part.get_payload(), start=1):
            walk(child, f"{path}.{index}" if path != "0" else str(index))


def main():
    with open(sys.argv[1], "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    for name in ("From", "To", "Subject", "MIME-Version", "Message-Context", "Caller-ID", "Caller-Name",
                 "Message-ID", "Date", "Sensitivity", "Importance", "Disposition-Notification-To"):
        if name in message:
            print(f"H\t{name}\t{message[name]}")
    walk(message, "0")


main()
