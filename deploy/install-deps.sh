#!/usr/bin/env bash
# Installs every Debian package Vigil needs to build, run and test. Idempotent.
# Usage: deploy/install-deps.sh [--runtime-only]
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

build_pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libboost1.81-all-dev libssl-dev libpqxx-dev libpq-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev
  libargon2-dev liboath-dev libldap-dev libre2-dev libzstd-dev
  libssh-dev libvterm-dev zlib1g-dev
  freerdp2-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libjpeg62-turbo-dev libfreetype-dev libxkbcommon-dev
  libx11-dev
  catch2
)
runtime_pkgs=(postgresql openssl libfreerdp2-2 libfreerdp-server2-2 libavcodec59 libavformat59 libswscale6 libjpeg62-turbo libfreetype6 fonts-dejavu-core libxkbcommon0 xkb-data)
test_pkgs=(
  slapd ldap-utils chromium wrk curl procps iproute2
  openssh-server openssh-client sshpass
  clang libclang-rt-14-dev python3
  rsyslog rsyslog-gnutls zstd
  freetds-bin
  freerdp2-x11 freerdp2-shadow-x11 winpr-utils xvfb xauth xdotool xterm x11-utils ffmpeg
  xrdp tigervnc-standalone-server tigervnc-tools xclip
)

pkgs=("${runtime_pkgs[@]}" "${build_pkgs[@]}")
if [ "${1:-}" != "--runtime-only" ]; then
  pkgs+=("${test_pkgs[@]}")
fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

# Debian starts a system-wide slapd and PostgreSQL on install; Vigil and its tests run their own.
# Leave the system services as the administrator configured them — except xrdp, installed here
# only as a test target: its package would leave an RDP server listening on every interface, so
# the one this script just installed is stopped and disabled (the tests start their own, on
# 127.0.0.1, in the foreground).
if printf '%s\n' "${missing[@]}" | grep -qx xrdp; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now xrdp.service xrdp-sesman.service >/dev/null 2>&1 || true
  else
    invoke-rc.d xrdp stop >/dev/null 2>&1 || true
    update-rc.d xrdp disable >/dev/null 2>&1 || true
  fi
fi
echo "install-deps: done"
