# Sourced by scripts/test: installs the Debian packages the tests use when
# they are missing, and starts MariaDB for the tests of the MySQL backend.
need_pkgs="dpkg-dev gpg sqlite3 openssh-client mariadb-server apt"

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
}

# start_mariadb starts Debian's MariaDB on 127.0.0.1 unless it answers
# already, creates the test account, and exports REPROLOG_TEST_MYSQL_DSN so
# that the log's tests run on MariaDB too. A DSN set by the caller is kept
# as it is; REPROLOG_TEST_MYSQL_DSN=off skips MariaDB.
start_mariadb() {
	case "${REPROLOG_TEST_MYSQL_DSN:-}" in
	off)
		unset REPROLOG_TEST_MYSQL_DSN
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
