# Sourced by scripts/test: installs the Debian packages the tests use when
# they are missing.
need_pkgs="dpkg-dev gpg sqlite3 openssh-client"

install_deps() {
	missing=""
	for p in $need_pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "== installing:$missing"
		sudo_cmd=""
		[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
		$sudo_cmd apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
	fi
}
