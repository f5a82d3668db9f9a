#!/bin/sh
# Installs Debian's redis-server for the distributed dataset-job test (a step of `npm test`, as
# install-browser.sh). Nothing happens when one is already there; without root or apt the test is
# skipped, and says so. The test starts its own server on a free loopback port; none is left running.
if [ -n "$PATHLENS_REDIS_SERVER" ] || command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "install-redis: no apt-get; the Redis test will be skipped" >&2; exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-redis: not root; install redis-server yourself (apt-get install redis-server) for the Redis test" >&2; exit 0
  fi
fi
echo "install-redis: installing Debian's redis-server for the distributed job test" >&2
$SUDO apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1; } || echo "install-redis: could not install redis-server; the Redis test will be skipped" >&2
exit 0
