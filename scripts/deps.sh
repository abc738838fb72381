#!/bin/sh
# Installs the Debian 12 packages needed to build, test and run the demo.
# Run as root.  Does nothing when everything is already installed.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libexpat1-dev libssl-dev libsqlite3-dev sqlite3 libinih-dev libicu-dev libstrophe-dev check
prosody prosody-modules lua-unbound ejabberd python3-slixmpp openssl procps iproute2 clang-format
clang libclang-rt-14-dev systemd man-db"
missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing; run as root to install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Services must not start on their own (and PID 1 may not be systemd).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
