#!/usr/bin/env bash
# CI: Debian's PostgreSQL server binaries for the scale-out tests (tests/postgres), which start a throwaway
# cluster of their own in a temp folder (no service, no systemd). The Python driver (psycopg 3) comes with
# the dev extras. Idempotent and quiet: does nothing when initdb is present; needs root (or sudo) otherwise.
set -euo pipefail

compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-postgres: need root or sudo to install postgresql" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq postgresql >/dev/null
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { echo "install-postgres: initdb still missing" >&2; exit 1; }
