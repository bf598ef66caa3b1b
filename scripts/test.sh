#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what it needs, then runs tox
# (lint, the core alone, each plugin with the core, everything together with browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/lib/chromium/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing Chromium for the browser tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "Chromium is needed for the browser tests: sudo apt-get install chromium" >&2
        exit 1
    fi
fi
command -v npm >/dev/null 2>&1 || { echo "npm (Node.js) is needed to fetch browser packages" >&2; exit 1; }

python3 -m pip install --quiet --disable-pip-version-check "tox>=4.11"
python3 -m tox run -e lint,core,storage,p2p,server-runtime,pyodide,onnx,all "$@"
