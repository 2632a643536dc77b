#!/usr/bin/env bash
# The Debian package, end to end (issue 16 item 4), run by .ci/run as root on the CI machine:
# build it with `cargo deb` (the release profile, as shipped), install it with dpkg, and check what
# docs/operations.md ("Debian package") promises: the binary runs, the config is in
# /etc/scimgate, the scimgate user exists, the unit is installed and NOT enabled, a first
# administrator can be created and `scimgate check` passes on the fresh database, the
# service starts with the packaged configuration (TLS from /etc/scimgate/tls), an upgrade and
# a reinstall keep the configuration edits and the data, `dpkg -r` keeps config and data,
# and `dpkg -P` removes the config but keeps /var/lib/scimgate and the user.
#
# It refuses to run on a machine where scimgate is installed or its user or data exist, and
# removes what it made when it ends (pass or fail).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
PKG=scimgate
CONF=/etc/scimgate/config.toml
STATE=/var/lib/scimgate
UNIT=/lib/systemd/system/scimgate.service
WANTS=/etc/systemd/system/multi-user.target.wants/scimgate.service

step() { echo "== ci-package-test: $*"; }
fail() {
    echo "ci-package-test: FAILED: $*" >&2
    exit 1
}
# Runs a scimgate command as the service user, from / (as an operator would with sudo -u).
# (`serve` below uses setpriv, which execs: its pid is scimgate's, which gets the SIGTERM.)
as_scimgate() { (cd / && runuser -u scimgate -- /usr/bin/scimgate --config "$CONF" "$@"); }

[ "$(id -u)" = 0 ] || fail "run as root (it installs a package and creates a system user)"
if dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null | grep -q installed; then
    fail "the $PKG package is already installed here; this test needs a machine without it"
fi
if getent passwd scimgate >/dev/null || [ -e "$STATE" ] || [ -e /etc/scimgate ]; then
    fail "the scimgate user, $STATE or /etc/scimgate already exists; this test needs a clean machine"
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    local rc=$?
    set +e
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    dpkg -P "$PKG" >/dev/null 2>&1
    rm -rf "$STATE" /etc/scimgate "$WORK"
    getent passwd scimgate >/dev/null && userdel scimgate
    getent group scimgate >/dev/null && groupdel scimgate
    if [ "$rc" = 0 ]; then step "passed; the machine is clean again"; fi
    exit "$rc"
}
trap cleanup EXIT

if ! cargo deb --version >/dev/null 2>&1; then
    step "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
[ -n "$version" ] || fail "no version in Cargo.toml"

step "cargo deb (release profile)"
rm -rf target/debian
cargo deb
built="target/debian/${PKG}_${version}-1_${arch}.deb"
[ -f "$built" ] || fail "cargo deb wrote no $built: $(ls target/debian)"
# Kept aside: the next `cargo deb` empties target/debian.
deb="$WORK/$(basename "$built")"
cp "$built" "$deb"
# The same build packaged as the next revision, for the upgrade.
cargo deb --no-build --deb-revision 2 --output "$WORK/"
deb2="$WORK/${PKG}_${version}-2_${arch}.deb"
[ -f "$deb2" ] || fail "cargo deb --no-build wrote no $deb2"

step "dpkg -i $deb"
dpkg -i "$deb" </dev/null

step "the installed files"
out=$(scimgate --version) || fail "scimgate --version failed"
[ "$out" = "scimgate $version" ] || fail "scimgate --version printed '$out', expected 'scimgate $version'"
[ "$(command -v scimgate)" = /usr/bin/scimgate ] || fail "scimgate is not /usr/bin/scimgate"
[ -f "$CONF" ] || fail "$CONF is missing"
[ "$(stat -c '%U:%G %a' "$CONF")" = "root:scimgate 640" ] ||
    fail "$CONF is $(stat -c '%U:%G %a' "$CONF"), expected root:scimgate 640"
dpkg-query -W -f '${Conffiles}' "$PKG" | grep -q " $CONF " || fail "$CONF is not a conffile"
getent passwd scimgate >/dev/null || fail "no scimgate user"
shell=$(getent passwd scimgate | cut -d: -f7)
[ "$shell" = /usr/sbin/nologin ] || fail "the scimgate user's shell is $shell"
[ "$(stat -c '%U:%G %a' "$STATE")" = "scimgate:scimgate 700" ] ||
    fail "$STATE is $(stat -c '%U:%G %a' "$STATE"), expected scimgate:scimgate 700"
[ -f "$UNIT" ] || fail "$UNIT is missing"
[ ! -e "$WANTS" ] || fail "the unit is enabled ($WANTS exists); the package must install it disabled"
if command -v systemctl >/dev/null; then
    state=$(systemctl is-enabled scimgate.service 2>/dev/null || true)
    [ "$state" = disabled ] || fail "systemctl is-enabled scimgate says '$state', expected 'disabled'"
fi
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$UNIT" || fail "systemd-analyze verify $UNIT"
fi

step "the first administrator and scimgate check on the fresh database"
if as_scimgate check >/dev/null 2>&1; then fail "scimgate check passed without a database"; fi
printf 'ci-password-0123456789\n' | as_scimgate admin create --username ci-admin ||
    fail "admin create (as the scimgate user) failed"
[ -f "$STATE/scimgate.db" ] || fail "admin create made no $STATE/scimgate.db"
[ -f "$STATE/scimgate.key" ] || fail "no secrets key file $STATE/scimgate.key"
[ "$(stat -c '%U %a' "$STATE/scimgate.key")" = "scimgate 600" ] ||
    fail "the secrets key is $(stat -c '%U %a' "$STATE/scimgate.key")"
as_scimgate integration create --name ci-okta --json >/dev/null || fail "integration create failed"
report=$(as_scimgate check --json) || fail "scimgate check failed: $report"
echo "$report" | grep -q '"ok":true' || fail "scimgate check: $report"
echo "$report" | grep -q '"integrations":1' || fail "scimgate check counts: $report"

step "serve with the packaged configuration (TLS from /etc/scimgate/tls)"
scimgate --config "$CONF" tls self-signed --host localhost >/dev/null
chgrp scimgate /etc/scimgate/tls/fullchain.pem /etc/scimgate/tls/privkey.pem
chmod 0640 /etc/scimgate/tls/fullchain.pem /etc/scimgate/tls/privkey.pem
(cd / && SCIMGATE_LISTEN=127.0.0.1:0 SCIMGATE_TLS_REDIRECT_LISTEN=127.0.0.1:0 \
    SCIMGATE_PUBLIC_URL=https://localhost \
    exec setpriv --reuid=scimgate --regid=scimgate --init-groups -- \
    /usr/bin/scimgate --config "$CONF" serve) 2>"$WORK/serve.log" &
SERVER_PID=$!
addr=
for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*listening on https:\/\/\([0-9.:]*\).*/\1/p' "$WORK/serve.log" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "serve exited: $(cat "$WORK/serve.log")"
    sleep 0.2
done
[ -n "$addr" ] || fail "serve did not say where it listens: $(cat "$WORK/serve.log")"
command -v curl >/dev/null || fail "curl is missing (.ci/run installs it)"
ready=$(curl -sfk "https://$addr/readyz") || fail "GET https://$addr/readyz failed: $(cat "$WORK/serve.log")"
[ "$ready" = ok ] || fail "/readyz answered: $ready"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not stop cleanly on SIGTERM: $(cat "$WORK/serve.log")"
SERVER_PID=

step "upgrade to ${version}-2 keeps the configuration edits and the data"
sed -i 's/^level = "info"$/level = "info,scimgate=debug"/' "$CONF"
grep -q '^level = "info,scimgate=debug"$' "$CONF" || fail "could not edit $CONF"
db_before=$(stat -c '%i %s' "$STATE/scimgate.db")
dpkg -i "$deb2" </dev/null
[ "$(dpkg-query -W -f '${Version}' "$PKG")" = "${version}-2" ] || fail "the upgrade did not install ${version}-2"
grep -q '^level = "info,scimgate=debug"$' "$CONF" || fail "the upgrade lost the edit of $CONF"
[ "$(stat -c '%U:%G %a' "$CONF")" = "root:scimgate 640" ] || fail "the upgrade changed the mode of $CONF"
[ "$(stat -c '%i %s' "$STATE/scimgate.db")" = "$db_before" ] || fail "the upgrade touched the database"
[ ! -e "$WANTS" ] || fail "the upgrade enabled the unit"
as_scimgate integration list --json | grep -q '"ci-okta"' || fail "the integration is gone after the upgrade"
if printf 'ci-password-0123456789\n' | as_scimgate admin create --username ci-admin 2>"$WORK/dup"; then
    fail "the administrator is gone after the upgrade"
fi
grep -q "already exists" "$WORK/dup" || fail "admin create: $(cat "$WORK/dup")"
as_scimgate check >/dev/null || fail "scimgate check failed after the upgrade"

step "reinstalling the same version keeps them too"
dpkg -i "$deb2" </dev/null
grep -q '^level = "info,scimgate=debug"$' "$CONF" || fail "the reinstall lost the edit of $CONF"
as_scimgate integration list --json | grep -q '"ci-okta"' || fail "the integration is gone after the reinstall"

step "dpkg -r keeps the configuration and the data"
dpkg -r "$PKG" </dev/null
[ ! -e /usr/bin/scimgate ] || fail "dpkg -r left /usr/bin/scimgate"
[ ! -e "$UNIT" ] || fail "dpkg -r left $UNIT"
[ -f "$CONF" ] || fail "dpkg -r removed $CONF"
[ -f "$STATE/scimgate.db" ] || fail "dpkg -r removed the database"

step "dpkg -P removes the configuration, keeps the data and the user"
# The certificate made above is the operator's own file, which purge leaves alone.
rm -f /etc/scimgate/tls/fullchain.pem /etc/scimgate/tls/privkey.pem
dpkg -P "$PKG" </dev/null
[ ! -e "$CONF" ] || fail "dpkg -P left $CONF"
[ ! -e /etc/scimgate ] || fail "dpkg -P left /etc/scimgate: $(ls -la /etc/scimgate)"
if dpkg-statoverride --list | grep -q /etc/scimgate; then fail "dpkg -P left a statoverride"; fi
[ -f "$STATE/scimgate.db" ] || fail "dpkg -P removed the database (docs/operations.md says it is kept)"
getent passwd scimgate >/dev/null || fail "dpkg -P removed the scimgate user (documented as kept)"
