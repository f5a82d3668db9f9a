#!/bin/sh
# Installs Debian's chromium for the report tests (the first step of `npm test`; npm's ignore-scripts
# setting would skip a pretest script).
# Nothing happens when a Chromium is already there; without root or apt the tests that need a
# browser are skipped, and say so.
if [ -n "$PATHLENS_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "install-browser: no apt-get; browser tests will be skipped" >&2; exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-browser: not root; install chromium yourself (apt-get install chromium) for the browser tests" >&2; exit 0
  fi
fi
echo "install-browser: installing Debian's chromium for the report tests" >&2
$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } || echo "install-browser: could not install chromium; browser tests will be skipped" >&2
exit 0
