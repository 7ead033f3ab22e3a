# Sourced by scripts/test: installs the Debian packages the tests use when
# they are missing, starts MariaDB for the tests of the MySQL backend, and
# builds and starts Versity's S3 gateway (an S3-compatible object store on
# a local directory) for the tests of Tessera's AWS storage.
need_pkgs="dpkg-dev gpg sqlite3 openssh-client mariadb-server apt curl"

# The S3-compatible object store the tests use, from the Go module proxy.
versitygw_module=github.com/versity/versitygw/cmd/versitygw@v1.8.0
s3_test_port=${REPROLOG_TEST_S3_PORT:-7479}
s3_test_access=reprolog-test
s3_test_secret=reprolog-test-only

# The MariaDB account the tests use. It may only create and drop databases
# named reprolog_test_*; the server listens on 127.0.0.1 only.
mariadb_test_user=reprolog_test
mariadb_test_password=reprolog-test-only

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

install_deps() {
	missing=""
	for p in $need_pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "== installing:$missing"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	fi
	start_mariadb
	start_s3
}

# start_mariadb starts Debian's MariaDB on 127.0.0.1 unless it answers
# already, creates the test account, and exports REPROLOG_TEST_MYSQL_DSN so
# that the log's tests run on MariaDB too. A DSN set by the caller is kept
# as it is; REPROLOG_TEST_MYSQL_DSN=off skips MariaDB.
start_mariadb() {
	case "${REPROLOG_TEST_MYSQL_DSN:-}" in
	off)
		# The tests that need MariaDB skip instead of failing.
		unset REPROLOG_TEST_MYSQL_DSN
		REPROLOG_STRICT=0
		return 0
		;;
	?*) return 0 ;;
	esac
	if ! as_root mariadb-admin --silent ping >/dev/null 2>&1; then
		echo "== starting MariaDB"
		# No init system is needed: the Debian service script runs
		# mysqld_safe, and mysqld_safe alone does when there is no script.
		if ! as_root service mariadb start >/dev/null 2>&1; then
			as_root install -d -o mysql -g mysql /run/mysqld
			as_root sh -c 'nohup mysqld_safe --bind-address=127.0.0.1 >/dev/null 2>&1 &'
		fi
		tries=0
		until as_root mariadb-admin --silent ping >/dev/null 2>&1; do
			tries=$((tries + 1))
			if [ "$tries" -gt 60 ]; then
				echo "MariaDB did not start within 60s" >&2
				return 1
			fi
			sleep 1
		done
	fi
	as_root mariadb --protocol=socket -u root <<-EOF
		CREATE USER IF NOT EXISTS '$mariadb_test_user'@'localhost' IDENTIFIED BY '$mariadb_test_password';
		CREATE USER IF NOT EXISTS '$mariadb_test_user'@'127.0.0.1' IDENTIFIED BY '$mariadb_test_password';
		GRANT ALL PRIVILEGES ON \`reprolog\\_test\\_%\`.* TO '$mariadb_test_user'@'localhost';
		GRANT ALL PRIVILEGES ON \`reprolog\\_test\\_%\`.* TO '$mariadb_test_user'@'127.0.0.1';
	EOF
	REPROLOG_TEST_MYSQL_DSN="$mariadb_test_user:$mariadb_test_password@tcp(127.0.0.1:3306)/"
	export REPROLOG_TEST_MYSQL_DSN
	echo "== MariaDB on 127.0.0.1:3306 for the MySQL backend's tests"
}

# start_s3 builds Versity's S3 gateway once (into ~/.cache/reprolog-test),
# starts it on 127.0.0.1 over a fresh directory, stops it and removes the
# directory when the calling script exits, and exports REPROLOG_TEST_S3 so
# that the log's tests run on Tessera's AWS storage too (with MariaDB). A
# REPROLOG_TEST_S3 set by the caller is kept; REPROLOG_TEST_S3=off skips it.
start_s3() {
	case "${REPROLOG_TEST_S3:-}" in
	off)
		unset REPROLOG_TEST_S3
		REPROLOG_STRICT=0
		return 0
		;;
	?*) return 0 ;;
	esac
	if [ -z "${REPROLOG_TEST_MYSQL_DSN:-}" ]; then
		return 0
	fi
	bindir="${XDG_CACHE_HOME:-$HOME/.cache}/reprolog-test/bin"
	if [ ! -x "$bindir/versitygw" ]; then
		echo "== building Versity's S3 gateway ($versitygw_module)"
		GOBIN="$bindir" go install "$versitygw_module"
	fi
	s3_root=$(mktemp -d "${TMPDIR:-/tmp}/reprolog-s3.XXXXXX")
	"$bindir/versitygw" --access "$s3_test_access" --secret "$s3_test_secret" \
		--port "127.0.0.1:$s3_test_port" posix "$s3_root" >"$s3_root.log" 2>&1 &
	s3_pid=$!
	trap stop_s3 EXIT
	trap 'exit 130' INT TERM
	tries=0
	until curl -s -o /dev/null "http://127.0.0.1:$s3_test_port/"; do
		tries=$((tries + 1))
		if [ "$tries" -gt 30 ] || ! kill -0 "$s3_pid" 2>/dev/null; then
			echo "the S3 gateway did not start on 127.0.0.1:$s3_test_port:" >&2
			cat "$s3_root.log" >&2
			return 1
		fi
		sleep 1
	done
	REPROLOG_TEST_S3="http://$s3_test_access:$s3_test_secret@127.0.0.1:$s3_test_port"
	export REPROLOG_TEST_S3
	echo "== S3 gateway on 127.0.0.1:$s3_test_port for the AWS storage's tests"
}

stop_s3() {
	kill "$s3_pid" 2>/dev/null || true
	wait "$s3_pid" 2>/dev/null || true
	rm -rf "$s3_root" "$s3_root.log"
}
