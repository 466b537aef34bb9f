#!/usr/bin/env bash
# `make lab`: JupyterLab on this checkout, listening on 127.0.0.1 only, with the notebooks opening as notebooks.
#
# 1. The folder settings (XNER_DATA_DIR, XNER_RESULTS_DIR, …) are made absolute here: a kernel starts in the
#    notebook's folder, where a relative path such as ../shared/data names another folder (or none).
# 2. scripts/lab-overrides.json is merged into the venv's JupyterLab settings overrides
#    (<venv>/share/jupyter/lab/settings/overrides.json): Python files open with the Jupytext Notebook viewer by
#    default, so notebooks/NN_name.py opens as a notebook on a double click or by its URL.
# 3. JupyterLab starts in the repository root (exec: this script's PID is the server's).
# Environment: BIN (the venv's bin folder, default .venv/bin), LAB_PORT (default 8888), LAB_ARGS (more options,
# e.g. "--no-browser --IdentityProvider.token=…").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$(cd "${BIN:-$ROOT/.venv/bin}" && pwd)"
PORT="${LAB_PORT:-8888}"

# relative settings are read from the folder this script was started in, before moving to the repository root
if [ -n "${XNER_DATA_DIR:-}" ] && [ ! -d "$XNER_DATA_DIR" ]; then
  echo "xner: XNER_DATA_DIR=$XNER_DATA_DIR is not a folder (seen from $PWD); point it at the data folder" >&2
  exit 1
fi
for var in XNER_DATA_DIR XNER_CACHE_DIR XNER_RESULTS_DIR XNER_FIGURES_DIR XNER_CONFIG_DIR; do
  if [ -n "${!var:-}" ]; then
    export "$var=$("$BIN/python" -c 'import os, sys; print(os.path.abspath(os.path.expanduser(sys.argv[1])))' "${!var}")"
    echo "$var=${!var}"
  fi
done
[ -n "${XNER_DATA_DIR:-}" ] || echo "note: XNER_DATA_DIR is not set: the notebooks will load their data from the Hugging Face hub"
cd "$ROOT"

"$BIN/python" - scripts/lab-overrides.json <<'PY'
# Merge our defaults into the venv's overrides.json, keeping any other setting already there (hand-written: a
# two-level dict merge is all it takes).
import json
import sys
from pathlib import Path

ours = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
target = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
merged = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {}
for plugin, settings in ours.items():
    current = merged.setdefault(plugin, {})
    for key, value in settings.items():
        current[key] = {**current.get(key, {}), **value} if isinstance(value, dict) else value
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
print(f"JupyterLab settings: {target}")
PY

# as root (containers, CI) JupyterLab refuses to start unless told
as_root=""
[ "$(id -u)" = 0 ] && as_root="--allow-root"
# shellcheck disable=SC2086  # LAB_ARGS is a list of options
exec "$BIN/jupyter-lab" --ServerApp.ip=127.0.0.1 --ServerApp.port="$PORT" --ServerApp.port_retries=0 \
  --ServerApp.root_dir="$PWD" $as_root ${LAB_ARGS:-}
