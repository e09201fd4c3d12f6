#!/usr/bin/env bash
# Set up everything room-recorder needs on a fresh Debian 12 machine (as root), then run
#   demo  -> `recorder demo` on built-in test sources
#   test  -> the whole test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  python3-venv             # venv + ensurepip for Debian's own python3.11 (no-op for other builds)
  libportaudio2            # PortAudio, loaded by sounddevice
  ffmpeg                   # ffprobe and the HTTP MJPEG camera used in tests
  age                      # the stock age tool: tests prove incidents decrypt with it
  pulseaudio pulseaudio-utils  # a real audio input (sine source) for the microphone tests
  xvfb xdotool imagemagick x11-utils  # the Tk desk and indicator windows, driven and screenshotted in tests
  strace                   # the "nothing touches disk while idle" test
  libfaketime              # one process's wall clock stepped forward: the retention clock-step test
  systemd                  # systemd-analyze verify/security for the unit test (systemd need not run)
  mmdebstrap systemd-container  # a Debian 12 root booted under a real systemd: the deployment test
  python3-tk tk            # Tk for the desk/indicator front ends
  fonts-dejavu-core        # the front ends' font: Latin, Turkish, Polish and Arabic letters
  zbar-tools               # zbarimg: the test that the indicator's QR code decodes to the privacy URL
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly  # a real RTSP camera on 127.0.0.1 for the RTSP test
  chromium                 # headless: renders the auditor's HTML report in its test
)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  [[ $package == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
echo "==> installing room-recorder into .venv"
.venv/bin/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'

case "${1:-}" in
  demo) shift; exec .venv/bin/recorder demo "$@" ;;
  test)
    shift
    echo "==> ruff and mypy --strict"
    .venv/bin/ruff check .
    .venv/bin/mypy
    # Two workers (pytest-xdist), one test file per worker at a time: most tests wait on real
    # daemons, sockets and disks, so two files side by side halve the wall time on 2 cores.
    exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile --durations=15 "$@" ;;
  *) echo "usage: $0 demo|test [args...]" >&2; exit 2 ;;
esac
