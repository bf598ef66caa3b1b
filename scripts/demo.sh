#!/usr/bin/env bash
# Install MUG with its plugins and serve the flagship demo study on http://localhost:8000/:
# Slime Volleyball against an AI, played in the browser.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check \
    -e . -e plugins/mug-storage -e plugins/mug-pyodide -e plugins/mug-onnx \
    -e plugins/mug-server-runtime -e plugins/mug-p2p
mug assets install --quiet
exec mug run examples/slime_volleyball/study.py "$@"
