#!/bin/sh
# Makes the base image the container build test uses, locally: no registry is reachable
# here, so `python:3.11-slim` cannot be pulled. Debian 12 (python3 3.11, venv, passwd for
# useradd) from Debian's package archive with debootstrap, imported into podman as
# localhost/modelloop-base:bookworm. Installs podman and debootstrap (as root) when missing.
# Prints the image name; nothing (exit 0) when it cannot be made here.
set -eu
IMAGE=localhost/modelloop-base:bookworm
have() { command -v "$1" >/dev/null 2>&1; }
if ! have podman || ! have debootstrap; then
    [ "$(id -u)" = 0 ] || exit 0
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap) >&2 || exit 0
fi
if podman image exists "$IMAGE" 2>/dev/null; then echo "$IMAGE"; exit 0; fi
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,passwd,ca-certificates \
    bookworm "$ROOT" http://deb.debian.org/debian >&2 || exit 0
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
ln -sf /usr/bin/python3 "$ROOT"/usr/local/bin/python
# This machine reaches PyPI through a proxy whose certificate authority only its own trust
# store holds: the image trusts what this machine trusts, and pip is told to use it.
cp /etc/ssl/certs/ca-certificates.crt "$ROOT"/etc/ssl/certs/ca-certificates.crt
tar -C "$ROOT" -c . | podman import --change 'CMD ["/bin/bash"]' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' - "$IMAGE" >&2 || exit 0
echo "$IMAGE"
