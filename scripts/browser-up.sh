#!/usr/bin/env bash
# Make Debian's Chromium and its chromedriver available for the browser tests; print the
# chromium path on stdout.
#
# Installs the Debian packages chromium and chromium-driver when they are missing (as root,
# or through passwordless sudo when not root). Prints nothing (and the browser tests skip,
# saying why) when Chromium cannot be had on this machine.
# Set MODELLOOP_NO_BROWSER=1 to skip it on purpose.
set -u
log() { echo "browser-up: $*" >&2; }

[ "${MODELLOOP_NO_BROWSER:-}" = "1" ] && { log "skipped (MODELLOOP_NO_BROWSER=1)"; exit 0; }

find_chromium() { command -v chromium || command -v chromium-browser || true; }

if [ -z "$(find_chromium)" ] || ! command -v chromedriver >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "Chromium is not installed and apt-get is missing: cannot install it here"
    exit 0
  fi
  if [ "$(id -u)" = "0" ]; then
    as_root=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
  else
    log "Chromium is not installed and cannot be installed here (not root, no passwordless sudo)"
    exit 0
  fi
  log "installing Debian's chromium and chromium-driver packages"
  $as_root apt-get update -qq >&2 \
    && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium chromium-driver >&2 \
    || { log "could not install chromium"; exit 0; }
fi

path=$(find_chromium)
[ -n "$path" ] || { log "no chromium binary found after installing"; exit 0; }
command -v chromedriver >/dev/null 2>&1 || { log "chromium found, but no chromedriver"; exit 0; }
echo "$path"
