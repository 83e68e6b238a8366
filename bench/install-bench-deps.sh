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
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# Postfix must not configure itself as a system mail server.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
