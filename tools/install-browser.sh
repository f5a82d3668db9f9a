#!/bin/sh
# Installs Debian's chromium (report and browser tests) and the Vulkan loader libvulkan1 (WebGPU
# tests: onnxruntime-node's WebGPU provider runs on Vulkan; without a GPU the tests point it at
# the SwiftShader driver that chromium ships). The first step of `npm test` (npm's ignore-scripts
# setting would skip a pretest script). Nothing happens when both are there; without root or apt
# the tests that need them are skipped, and say so.
have_browser() { [ -n "$PATHLENS_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; }
have_vulkan() {
  for f in /usr/lib/x86_64-linux-gnu/libvulkan.so.1 /usr/lib/aarch64-linux-gnu/libvulkan.so.1 /usr/lib/libvulkan.so.1; do
    [ -e "$f" ] && return 0
  done
  return 1
}
MISSING=""
have_browser || MISSING="chromium"
have_vulkan || MISSING="$MISSING libvulkan1"
[ -z "$MISSING" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then echo "install-browser: no apt-get; tests needing $MISSING will be skipped" >&2; exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-browser: not root; install $MISSING yourself (apt-get install $MISSING) for the browser and WebGPU tests" >&2; exit 0
  fi
fi
echo "install-browser: installing Debian's $MISSING for the browser and WebGPU tests" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $MISSING >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends $MISSING >/dev/null 2>&1; } || echo "install-browser: could not install $MISSING; those tests will be skipped" >&2
exit 0
