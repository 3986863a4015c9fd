#!/usr/bin/env bash
# Installs what is missing and runs Loom's whole test suite (release build: the numeric
# tests and the multi-process integration tests run at the speed users see).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

# chromium: the browser tests open the HTML reports headless (BrowserReportTests).
# bubblewrap and python3-seccomp: deploy/tests/systemd.sh runs the units' sandbox with them.
deploy/bootstrap.sh chromium bubblewrap python3-seccomp
python3 -c 'import h5py' 2>/dev/null || python3 -m pip install -q h5py >/dev/null 2>&1 \
  || python3 -m pip install -q --break-system-packages h5py >/dev/null 2>&1 \
  || echo "test.sh: could not install h5py; the h5py interoperability test will be skipped" >&2
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q pillow >/dev/null 2>&1 \
  || python3 -m pip install -q --break-system-packages pillow >/dev/null 2>&1 \
  || echo "test.sh: could not install Pillow; the Pillow pixel comparison will be skipped" >&2

swift build -c release --product loom
swift test -c release "$@"

# Operations: Slurm, SSH, Kubernetes, systemd/Docker lint, metrics, logs, the namespaced
# multi-host test bed (deploy/tests/, ~2-4 min).
if [[ $# -eq 0 ]]; then deploy/tests/all.sh; fi
