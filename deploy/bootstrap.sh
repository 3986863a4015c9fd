#!/usr/bin/env bash
# Installs what Loom needs from Debian, only when it is missing. Idempotent: on a ready
# machine it prints nothing and returns at once. Extra package names may be passed as
# arguments (the test and ops scripts add theirs this way).
set -euo pipefail

packages=(libzmq3-dev libopenblas-dev libhdf5-dev hdf5-tools pkg-config zlib1g-dev libturbojpeg0-dev libpng-dev dataset-fashion-mnist "$@")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "bootstrap: installing missing Debian packages: ${missing[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "bootstrap: need root or sudo to install ${missing[*]}; install them and run again" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get update -qq >/dev/null; then
    echo "bootstrap: 'apt-get update' failed; check the network and apt sources" >&2
    exit 1
  fi
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "bootstrap: 'apt-get install ${missing[*]}' failed" >&2
    exit 1
  fi
fi

if ! command -v swift >/dev/null 2>&1; then
  if [[ -x /opt/swift/usr/bin/swift ]]; then
    echo "bootstrap: swift is at /opt/swift/usr/bin but not on PATH; add it: export PATH=/opt/swift/usr/bin:\$PATH" >&2
  else
    echo "bootstrap: no Swift toolchain found; install Swift 6.2 or later (https://www.swift.org/install/linux/) and run again" >&2
  fi
  exit 1
fi
