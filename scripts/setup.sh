#!/usr/bin/env bash
# Set up everything evservice needs on a fresh Debian machine, idempotently:
# system packages (fonts, SoftHSM, poppler-utils, xmlsec1, chromium for the portal's
# browser tests, oathtool to cross-check the TOTP channel), PostgreSQL running
# (when installed), and a virtual environment in .venv with the package and
# its development extras. Safe to run again; it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(fonts-dejavu-core softhsm2 poppler-utils xmlsec1 libpango-1.0-0 libpangoft2-1.0-0 libnss3-tools chromium chromium-driver oathtool)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL: the tests and concurrency checks need it; start it when it is installed but down.
if command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null 2>&1; then
  while read -r ver cluster _port status _rest; do
    if [ "$status" = "down" ]; then
      echo "setup: starting PostgreSQL $ver/$cluster"
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start || true
    fi
  done < <(pg_lsclusters --no-header 2>/dev/null || true)
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.evservice-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
