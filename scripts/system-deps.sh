#!/usr/bin/env bash
# Install the Debian packages xner's offline translators and dictionaries use, and the Chromium the JupyterLab
# browser test drives (tests/test_lab_browser.py), when missing.
# As root (CI, containers) it installs them; otherwise it prints the command and, outside CI, goes on
# (tests that need them then skip and say why). In CI (CI=true) a missing package is an error.
set -euo pipefail
PKGS=(apertium apertium-eng-spa apertium-ind-zlm apertium-afr-nld apertium-urd-hin apertium-es-pt dict-freedict-eng-spa dict-freedict-spa-eng dict-freedict-por-spa dict-freedict-spa-por dict-freedict-swh-eng dict-freedict-eng-swh dict-freedict-afr-eng chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "xner: Debian packages missing: ${missing[*]}" >&2
echo "      install them with: sudo apt-get install ${missing[*]}" >&2
[ "${CI:-}" = true ] && exit 1
exit 0
