#!/bin/sh
# Screen tests of the explorer in the manner of tig's: the real program runs
# in tmux at a fixed terminal size, keys are sent with send-keys and the
# screen text is read back with capture-pane. Expected scores come from
# sources independent of the program: the published table of the reference
# checkpoint (published-scores.md), and the statistics and counts that
# PyTorch produced for the bundled default model
# (tests/fixtures/default-model-expected.json, made by
# tests/make-default-model.py).
. "$TESTS_SRCDIR/tap.sh"

if ! command -v tmux >/dev/null 2>&1; then
	echo "1..0 # SKIP tmux not found: install the Debian package tmux" \
	     "(./bootstrap installs it)"
	exit 0
fi
default_model=$MICROSCORE_DATADIR/default.pth
if [ ! -f "$default_model" ]; then
	echo "1..0 # SKIP $default_model not found"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/test-explorer.XXXXXX") || exit 1
socket=$work/tmux.sock
# A private server on its own socket, killed on every way out.
tm() {
	tmux -S "$socket" -f /dev/null "$@"
}
cleanup() {
	tm kill-server 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Quotes $1 for the shell command line tmux runs.
quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# start NAME COLS LINES [VAR=VALUE...] -- ARGS...: runs microscore ARGS in
# the work directory in a new tmux session of COLS x LINES, with the
# environment additions VAR=VALUE. Its exit status goes to NAME.status.
start() {
	name=$1 cols=$2 lines=$3
	shift 3
	envs=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs="$envs $(quote "$1")"
		shift
	done
	shift
	cmd="cd $(quote "$work") && env TERM=screen$envs $(quote "$MICROSCORE")"
	for a in "$@"; do
		cmd="$cmd $(quote "$a")"
	done
	cmd="$cmd; echo \$? > $(quote "$work/$name.status")"
	tm new-session -d -s "$name" -x "$cols" -y "$lines" "$cmd"
}

screen() {
	tm capture-pane -p -t "$1" 2>/dev/null
}

# wait_for NAME REGEX: polls the screen until a line matches the extended
# regular expression, for at most about 20 seconds. Fails otherwise, and
# prints the last screen as TAP comments.
wait_for() {
	tries=0
	while [ $tries -lt 200 ]; do
		if screen "$1" | grep -Eq -- "$2"; then
			return 0
		fi
		if ! tm has-session -t "$1" 2>/dev/null; then
			echo "# session $1 ended before /$2/ appeared"
			return 1
		fi
		sleep 0.1
		tries=$((tries + 1))
	done
	echo "# timed out waiting for /$2/ on screen $1:"
	screen "$1" | sed 's/^/#   /'
	return 1
}

# wait_exit NAME: waits for the program of session NAME to exit and prints
# its exit status, or "timeout".
wait_exit() {
	tries=0
	while [ $tries -lt 200 ]; do
		if [ -s "$work/$1.status" ]; then
			cat "$work/$1.status"
			return
		fi
		sleep 0.1
		tries=$((tries + 1))
	done
	echo timeout
}

# value NAME LABEL: prints the number shown after LABEL on the screen,
# whether the pane is a column ("op score     0.002805") or a flow of
# items ("op score 0.002805  param score ...").
value() {
	screen "$1" |
		sed -n "s/.*$2  *\([0-9][0-9.]*\).*/\1/p" | head -n 1
}

# check_value TEXT NAME LABEL EXPECTED: passes when the number after LABEL
# becomes EXPECTED within about 5 seconds, so that a frame still being
# drawn is not read too early.
check_value() {
	tries=0
	while [ $tries -lt 50 ] && [ "$(value "$2" "$3")" != "$4" ]; do
		sleep 0.1
		tries=$((tries + 1))
	done
	tap_eq "$1" "$(value "$2" "$3")" "$4"
}

keys() {
	name=$1
	shift
	tm send-keys -t "$name" "$@"
}

# ---------------------------------------------------------------------
# The reference checkpoint: each score type shows the published scores.

reference=$REFERENCE_DIR/densenet-100.pth.tar
table=$REFERENCE_DIR/published-scores.md
if [ -f "$reference" ] && [ -f "$table" ]; then
	# Rows "0 | **0.002805** | **0.001365** | **0.004169**" become
	# "0 0.002805 0.001365 0.004169".
	sed -n 's/\*//g; s/^\([0-6]\) *| *\([0-9.]*\) *| *\([0-9.]*\) *| *\([0-9.]*\) *$/\1 \2 \3 \4/p' \
		"$table" > "$work/published"
	tap_eq "published table has seven rows" \
		"$(wc -l < "$work/published" | tr -d ' ')" 7

	start ref 120 40 -- "$reference"
	wait_for ref 'score type 0' >/dev/null
	# Type 0 first, as the program starts, then each key.
	for key in 0 1 2 3 4 5 6; do
		if [ "$key" != 0 ]; then
			keys ref "$key"
		fi
		row=$(grep "^$key " "$work/published")
		set -- $row
		tap_check "key $key shows score type $key" \
			wait_for ref "score type $key( |\$)"
		check_value "type $key op score" ref 'op score' "$2"
		check_value "type $key param score" ref 'param score' "$3"
		check_value "type $key final score" ref 'final score' "$4"
	done

	# Under the challenge rules the pane still shows the published score
	# for comparison; type 6 is still selected.
	keys ref p
	tap_check "p selects the challenge rules" \
		wait_for ref 'rules challenge'
	check_value "published score shown beside challenge rules" \
		ref 'published score' "$4"
	keys ref q
	tap_eq "q on the reference exits with status 0" "$(wait_exit ref)" 0
else
	echo "# SKIP published-score checks: $reference or $table not found"
fi

# ---------------------------------------------------------------------
# The default model at 120x40: overrides, reset, export, help.
#
# From tests/fixtures/default-model-expected.json (PyTorch): type 0 gives
# ops 34015411.7037037, params 50792.75, op score 0.0032426512586943472,
# param score 0.0013915821917808218, score 0.004634233450475169; fc.weight
# has N = 34200 elements of which nz = 17100 are nonzero, 6-bit weights
# and 32-bit input activations.
#
# fc from 6 to 8 weight bits: params = (N + nz * wb) / 32 grows by
# 17100 * 2 / 32 = 1068.75 to 51861.5, so the param score is
# 51861.5 / 36.5e6 = 0.00142086 and the score 0.00324265 + 0.00142086 =
# 0.00466351. Its multiplies are charged at max(wb, 32) = 32 bits and its
# adds in FP32, so the ops stay as they were.

start def 120 40 -- "$default_model"
tap_check "default model opens at type 0" wait_for def 'score type 0'
check_value "default op score" def 'op score' 0.003243
check_value "default param score" def 'param score' 0.001392
check_value "default final score" def 'final score' 0.004634

# The network ends with fc and the scale layer after it (scale3), and
# bit widths apply to conv and linear layers only.
keys def End
keys def w
tap_check "w on the last scale layer is rejected" \
	wait_for def 'scale3: weight bits can be changed on conv and linear'
keys def k
keys def w
tap_check "w raises fc to 8 weight bits" wait_for def 'fc: weight bits 8'
check_value "w adds fc params" def 'params' 51861.5
check_value "w changes the param score" def 'param score' 0.001421
check_value "w changes the final score" def 'final score' 0.004664
check_value "w leaves the ops" def 'ops' 34015411.7
check_value "overrides counts one layer" def 'overrides' 1

keys def r
tap_check "r resets the override" wait_for def 'reset 1 overridden layer'
check_value "r restores the param score" def 'param score' 0.001392
check_value "r restores the final score" def 'final score' 0.004634
check_value "r clears the override count" def 'overrides' 0

# Export: the default name, a new file, then an existing one.
keys def e
tap_check "e prompts with the default name" \
	wait_for def 'Export to .*: default-score\.txt'
keys def Enter
tap_check "Enter writes the report" wait_for def 'wrote the text report'
tap_check "report file exists" test -s "$work/default-score.txt"
tap_check "report has the final score" \
	grep -q '0\.004634' "$work/default-score.txt"

echo marker > "$work/default-score.txt"
keys def e
wait_for def 'Export to' >/dev/null
keys def Enter
tap_check "existing file asks before replacing" \
	wait_for def 'default-score\.txt exists\. Replace it\? \(y/n\)'
keys def n
tap_check "n returns to the file name" wait_for def 'Export to'
tap_eq "n keeps the existing file" "$(cat "$work/default-score.txt")" marker
keys def Enter
wait_for def 'Replace it' >/dev/null
keys def y
tap_check "y replaces the file" wait_for def 'wrote the text report'
tap_check "replaced file has the final score" \
	grep -q '0\.004634' "$work/default-score.txt"

# Help: every key of the manual's list is on the help screen, since both
# come from the key table.
keys def '?'
tap_check "? shows the help" wait_for def 'microscore keys'
man_page=$(dirname "$MICROSCORE")/man/microscore.1
if [ -f "$man_page" ]; then
	missing=
	count=0
	# The generated list: under ".SH KEYS", a ".TP", the keys, the text.
	for text in $(awk '/^\.SH/ { keys = ($0 ~ /^\.SH KEYS/) }
			   keys && /^\.TP/ { getline; getline; print }' \
			  "$man_page" | tr ' ' '_'); do
		text=$(echo "$text" | tr '_' ' ')
		screen def | grep -qF -- "$text" || missing="$missing [$text]"
		count=$((count + 1))
	done
	tap_check "manual lists the keys" test "$count" -ge 10
	tap_eq "help lists every key of the manual" "$missing" ""
else
	echo "# SKIP manual comparison: $man_page not built"
fi
keys def x
tap_check "a key closes the help" wait_for def 'final score'

# ---------------------------------------------------------------------
# Resizing: the pane moves right on a wide terminal, below on a narrow
# one, and a too small terminal gets a message instead of a layout.

tm resize-window -t def -x 160 -y 45
tap_check "160x45 shows the pane beside the table" \
	wait_for def 'op score +0\.003243 *$'
check_value "160x45 keeps the final score" def 'final score' 0.004634

tm resize-window -t def -x 30 -y 8
tap_check "30x8 says the terminal is too small" \
	wait_for def 'terminal too small:'
tap_check "30x8 names the minimum size" wait_for def 'need at least 40x10'

tm resize-window -t def -x 40 -y 10
tap_check "40x10 lays out again" wait_for def 'final score'
check_value "40x10 shows the final score" def 'final score' 0.004634
tap_check "40x10 has no size message" \
	sh -c "! tmux -S '$socket' capture-pane -p -t def | grep -q 'too small'"

keys def q
tap_eq "q exits with status 0" "$(wait_exit def)" 0

# ---------------------------------------------------------------------
# Colours: used by default, and none at all with NO_COLOR set.

esc=$(printf '\033')
colour_sgr="$esc\\[([0-9]+;)*(3[0-7]|4[0-7]|38|48)(;[0-9]+)*m"
start colour 80 24 -- "$default_model"
wait_for colour 'final score' >/dev/null
tap_check "colours are used by default" \
	sh -c "tmux -S '$socket' capture-pane -e -p -t colour | grep -Eq '$colour_sgr'"
keys colour q
wait_exit colour >/dev/null

start mono 80 24 NO_COLOR=1 -- "$default_model"
wait_for mono 'final score' >/dev/null
tap_check "NO_COLOR turns colours off" \
	sh -c "! tmux -S '$socket' capture-pane -e -p -t mono | grep -Eq '$colour_sgr'"
tap_check "NO_COLOR keeps the selection visible" \
	sh -c "tmux -S '$socket' capture-pane -e -p -t mono | grep -q '$esc\\[7m'"
keys mono q
tap_eq "q under NO_COLOR exits with status 0" "$(wait_exit mono)" 0

tap_done
