#!/usr/bin/env bash
# Make the wrk HTTP load generator available for bench/serving.py; print its path on stdout.
#
# Installs Debian's wrk package (4.1.0) when it is missing (as root, or through passwordless
# sudo when not root). Prints nothing when wrk cannot be had on this machine: the bench then
# falls back to its asyncio httpx client and says so in its table.
set -u
log() { echo "wrk-up: $*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "wrk is not installed and apt-get is missing: cannot install it here"
    exit 0
  fi
  if [ "$(id -u)" = "0" ]; then
    as_root=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
  else
    log "wrk is not installed and cannot be installed here (not root, no passwordless sudo);"
    log "bench/serving.py will use its asyncio httpx client instead"
    exit 0
  fi
  log "installing Debian's wrk package"
  $as_root apt-get update -qq >&2 \
    && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq wrk >&2 \
    || { log "could not install wrk"; exit 0; }
fi

command -v taskset >/dev/null 2>&1 || log "taskset (util-linux) is missing: the bench cannot pin CPUs"
command -v wrk || { log "no wrk binary found after installing"; exit 0; }
