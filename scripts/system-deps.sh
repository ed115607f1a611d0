#!/usr/bin/env bash
# Debian packages the tests use (ping for fidelity checks, ip for namespaces, gcc for the lab engine,
# nft for the source NAT that the signed challenge-response is tested behind, chromium for the HTML
# report test). Installs them when run as root on a Debian-like machine;
# otherwise says what is missing (the tests that need them then skip, saying why).
set -euo pipefail
need=()
command -v ping >/dev/null || need+=(iputils-ping)
command -v ip >/dev/null || need+=(iproute2)
command -v cc >/dev/null || need+=(gcc)
command -v nft >/dev/null || need+=(nftables)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: not installing ${need[*]} (needs root and apt-get); tests that need them will skip" >&2
fi
