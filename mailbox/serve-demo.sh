#!/bin/sh
# Serves the demo mailbox on pops://localhost:9950 (or the port given as $1):
# installs what is missing, builds pop3s, makes a self-signed ECDSA P-256
# certificate and a users file, starts pop3s-logger, then accepts
# connections through systemd-socket-activate --accept (as pop3s.socket does)
# until Ctrl-C. The mailbox is a copy: deleting demo mail is harmless.
set -eu
port=${1:-9950}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
packaging/build-deps.sh
if [ ! -x build/src/session/pop3s-session ] || [ ! -x build/src/logger/pop3s-logger ]; then
	autoreconf -fi >/dev/null 2>&1
	mkdir -p build && cd build
	../configure -q
	cd "$top"
fi
make -s -C build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

demo=$(mktemp -d /tmp/pop3s-demo.XXXXXX)
cleanup() {
	set +e  # a killed child's status must not stop the cleanup
	for pid in ${activator_pid:-} ${logger_pid:-}; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$demo"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

cp -R mailbox "$demo/mail"
rm -f "$demo/mail/README" "$demo/mail/serve-demo.sh" "$demo/mail/make-attachment.py"
find "$demo/mail" -name .gitkeep -delete

cat >"$demo/cert.tmpl" <<TMPL
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
expiration_days = 30
tls_www_server
signing_key
TMPL
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$demo/key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$demo/key.pem" --template "$demo/cert.tmpl" \
	--outfile "$demo/cert.pem" 2>/dev/null

alice_pw=alice-demo-password
bob_pw=bob-demo-password
{
	echo "# demo users: user:crypt(3) hash"
	echo "alice:$(printf '%s' "$alice_pw" | mkpasswd -m yescrypt --stdin)"
	echo "bob:$(printf '%s' "$bob_pw" | mkpasswd -m yescrypt --stdin)"
} >"$demo/users"

cat >"$demo/pop3s.conf" <<CONF
# demo configuration, see pop3s.conf(5)
HOME=$demo/mail
USERS=$demo/users
LOGS=$demo/pop3s.log
CERT=$demo/cert.pem
KEY=$demo/key.pem
QUEUE=/pop3s-demo-$$
AUTH_PENALTY_FILE=$demo/auth-penalty
CONF

build/src/logger/pop3s-logger -c "$demo/pop3s.conf" &
logger_pid=$!

cat <<MSG

pop3s demo: serving $top/mailbox (a copy in $demo/mail)
  on pops://localhost:$port with a self-signed certificate ($demo/cert.pem)

  users:     alice / $alice_pw   (Maildir)
             bob   / $bob_pw     (one file per message)
  try:       curl --cacert $demo/cert.pem pop3s://localhost:$port/ --user alice:$alice_pw
             curl --cacert $demo/cert.pem pop3s://localhost:$port/1 --user alice:$alice_pw
  log file:  tail -f $demo/pop3s.log

Ctrl-C stops the demo.
MSG
# Loopback only: the demo passwords are printed above. In the background,
# so that a signal to this script runs the cleanup at once.
systemd-socket-activate --accept -l "127.0.0.1:$port" -l "[::1]:$port" \
	build/src/session/pop3s-session -c "$demo/pop3s.conf" &
activator_pid=$!
wait "$activator_pid"
