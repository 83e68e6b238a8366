#!/usr/bin/env bash
# Packages only the benchmarks need (not installed for the tests).
set -euo pipefail
packages=(
  # bench/codecs: the peers (ffmpeg, tiffcp, tiff2pdf) and input preparation (sox)
  ffmpeg sox libtiff-tools
  # bench/imap: the peer IMAP server
  dovecot-imapd
  # bench/sip: sipp places the calls
  sip-tester
  # bench/smtp: the Postfix -> Dovecot LMTP peer (postfix also brings smtp-source)
  postfix dovecot-lmtpd
  # bench/ingest: the classic pipeline uses ffmpeg, sendmail (postfix), dovecot-lmtpd and dovecot-imapd from above
)
exec "$(dirname "$0")/../scripts/apt-install-missing.sh" "${packages[@]}"
