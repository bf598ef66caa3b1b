#!/usr/bin/env bash
# Install MUG with every plugin and serve the flagship demo study on http://localhost:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check \
    -e . -e plugins/mug-storage -e plugins/mug-p2p
mug assets install --quiet
exec mug run examples/survey_study/study.py "$@"
