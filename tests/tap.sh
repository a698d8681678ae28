# TAP helpers for the shell tests; source this file.
# Each check prints "ok N - text" or "not ok N - text"; tap_done prints the
# plan and sets the exit status.

tap_n=0
tap_bad=0

# tap_check TEXT COMMAND...: passes when COMMAND exits 0.
tap_check() {
	text=$1
	shift
	tap_n=$((tap_n + 1))
	if "$@"; then
		echo "ok $tap_n - $text"
	else
		echo "not ok $tap_n - $text"
		tap_bad=$((tap_bad + 1))
	fi
}

# tap_eq TEXT GOT EXPECTED: passes when the two strings are equal.
tap_eq() {
	tap_n=$((tap_n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $tap_n - $1"
	else
		echo "not ok $tap_n - $1"
		printf '# got:      %s\n# expected: %s\n' "$2" "$3"
		tap_bad=$((tap_bad + 1))
	fi
}

tap_done() {
	echo "1..$tap_n"
	[ "$tap_bad" -eq 0 ]
}
