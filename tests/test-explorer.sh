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
		check_value "type $key final score" ref \
			'score (published rules)' "$4"
	done

	# Under the challenge rules the pane still shows the published score
	# for comparison; type 6 is still selected.
	keys ref p
	tap_check "p selects the challenge rules" \
		wait_for ref 'rules challenge'
	check_value "published score shown beside challenge rules" \
		ref 'score (published rules)' "$4"
	# The pane below the table flows its items: the score in force
	# follows the param score.
	tap_check "the score in force is labelled with its rules" \
		wait_for ref 'param score [0-9.]+  score \(challenge rules\) '
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
check_value "default final score" def 'score (published rules)' 0.004634

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
check_value "w changes the final score" def 'score (published rules)' 0.004664
check_value "w leaves the ops" def 'ops' 34015411.7
check_value "overrides counts one layer" def 'overrides' 1

keys def r
tap_check "r resets the override" wait_for def 'reset 1 overridden layer'
check_value "r restores the param score" def 'param score' 0.001392
check_value "r restores the final score" def 'score (published rules)' 0.004634
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

# The default name is a selected suggestion: typing replaces it.
keys def e
wait_for def 'Export to' >/dev/null
keys def "$work/typed.txt" Enter
tap_check "typing replaces the default name" \
	wait_for def "wrote the text report to $work/typed\\.txt\$"
tap_check "the typed name is written" test -s "$work/typed.txt"

# A failed export keeps the typed name and shows why at once: a
# directory is rejected before the replace question.
clear_prompt() {
	i=0
	while [ $i -lt 40 ]; do
		keys "$1" BSpace
		i=$((i + 1))
	done
}
keys def e
wait_for def 'Export to' >/dev/null
clear_prompt def
keys def "$work" Enter
tap_check "a directory name is rejected at once" \
	wait_for def "^$work: is a directory; choose a file name"
tap_check "the directory name stays in the prompt" \
	wait_for def "Export to .*: $work\$"
if [ -f /proc/version ]; then
	clear_prompt def
	keys def /proc/version Enter
	tap_check "/proc/version names the real cause" \
		wait_for def '^/proc/version: /proc does not accept new files'
	tap_check "/proc/version stays in the prompt" \
		wait_for def 'Export to .*: /proc/version$'
fi
clear_prompt def
keys def "$work/after-error.txt" Enter
tap_check "a good name after an error writes" \
	wait_for def 'wrote the text report'
tap_check "the report after an error exists" \
	test -s "$work/after-error.txt"

# b sets bits that w does not reach. fc from 6 to 7 weight bits: params
# grow by nz * 1 / 32 = 17100 / 32 = 534.375 to 51327.125, so the param
# score is 51327.125 / 36.5e6 = 0.00140622 and the score 0.00324265 +
# 0.00140622 = 0.00464887; ops stay, as for w above.
keys def End
keys def k
keys def b
tap_check "b asks for weight bits" \
	wait_for def '^fc: weight bits \(1-32\): 6$'
keys def 4 0 Enter
tap_check "40 weight bits are rejected" \
	wait_for def 'fc: weight bits must be a whole number from 1 to 32'
tap_check "the rejected answer stays in the prompt" \
	wait_for def 'weight bits \(1-32\): 40$'
keys def BSpace
# Wait for the redraw of the edited field before looking for the error.
tap_check "backspace edits the answer" \
	wait_for def 'weight bits \(1-32\): 4$'
tap_check "editing clears the error line" \
	sh -c "! tmux -S '$socket' capture-pane -p -t def | grep -q 'must be a whole number'"
keys def BSpace 7 Enter
tap_check "b then asks for activation bits" \
	wait_for def '^fc: activation bits \(1-32\): 32$'
keys def Enter
tap_check "b reports both widths" \
	wait_for def 'fc: weight bits 7, activation bits 32'
check_value "b changes the params" def 'params' 51327.1
check_value "b changes the param score" def 'param score' 0.001406
check_value "b changes the final score" def 'score (published rules)' \
	0.004649
keys def r
tap_check "r resets the bits from b" \
	wait_for def 'reset 1 overridden layer'

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
tap_check "a key closes the help" wait_for def 'score \(published rules\)'

# ---------------------------------------------------------------------
# Resizing: the pane moves right on a wide terminal, below on a narrow
# one, and a too small terminal gets a message instead of a layout.

tm resize-window -t def -x 160 -y 45
tap_check "160x45 shows the pane beside the table" \
	wait_for def 'op score +0\.003243 *$'
check_value "160x45 keeps the final score" def 'score (published rules)' 0.004634

tm resize-window -t def -x 30 -y 8
tap_check "30x8 says the terminal is too small" \
	wait_for def 'terminal too small:'
tap_check "30x8 names the minimum size" wait_for def 'need at least 40x10'
# Keys sent unseen must not change a layer: fc stays selected from above.
keys def b 5 Enter 5 Enter
sleep 0.3

tm resize-window -t def -x 40 -y 10
tap_check "40x10 lays out again" wait_for def 'score \(published rules\)'
check_value "40x10 shows the final score" def 'score (published rules)' 0.004634
tap_check "40x10 has no size message" \
	sh -c "! tmux -S '$socket' capture-pane -p -t def | grep -q 'too small'"
tap_check "keys while too small open no prompt" \
	sh -c "! tmux -S '$socket' capture-pane -p -t def | grep -q 'bits (1-32)'"
tm resize-window -t def -x 80 -y 24
check_value "keys while too small set no override" def 'overrides' 0

keys def q
tap_eq "q exits with status 0" "$(wait_exit def)" 0

# ---------------------------------------------------------------------
# Layer names on narrow terminals: cut from the left with a marker, so
# that rows stay distinct. In densenet-bc-100 the last block's layers
# differ only at the end (dense3.15.conv1, dense3.15.conv2,
# dense3.15.concat), as do mobilenet-v2-1.4's features.16.conv.0.0 (conv)
# and features.16.conv.0.1 (bn).

# names_distinct NAME: passes when the first words of the table rows
# (lines 3 to 17, the rows that every layout here shows) are all
# different.
names_distinct() {
	rows=$(screen "$1" | sed -n '3,17p' | awk '{ print $1 }')
	test "$(printf '%s\n' "$rows" | sort | uniq -d)" = "" &&
		test "$(printf '%s\n' "$rows" | wc -l)" -eq 15
}

start names 80 24 LANG=C.UTF-8 LC_ALL= -- --net=densenet-bc-100
wait_for names 'score type 0' >/dev/null
keys names End
tap_check "80 columns cut names with an ellipsis" \
	wait_for names '^ *…[^ ]*conv1 +conv '
tap_check "80 columns keep the names distinct" names_distinct names
# The name column keeps at least 12 columns, so depth 2 indents at most
# 2 of them (a quarter) and never pushes the name out of sight.
tap_check "80 columns indent little" \
	sh -c "! tmux -S '$socket' capture-pane -p -t names | sed -n '3,17p' | grep -q '^   '"

# At 80 columns the optional difference columns are dropped before any
# standard column: the ten standard ones minus weight take 77.
keys names d
tap_check "d says the difference columns are on" \
	wait_for names 'challenge-minus-published columns on'
tap_check "80 columns with d keep the sparsity column" \
	wait_for names '^layer .* sparse .* ops%'
tap_check "80 columns with d drop the difference columns" \
	sh -c "! tmux -S '$socket' capture-pane -p -t names | grep -q 'ops diff'"

# The difference columns print exact zeros as 0, never -0.0. All eleven
# standard columns and both difference columns take 111 columns.
tm resize-window -t names -x 120 -y 24
tap_check "d shows the difference columns" wait_for names 'ops diff +par diff'
tap_check "a zero difference prints 0" \
	wait_for names 'quant +[0-9x]+ +0 +0 +0\.0 +0 +0 *$'
tap_check "no difference prints -0.0" \
	sh -c "! tmux -S '$socket' capture-pane -p -t names | grep -q -- '-0\.0'"
keys names q
wait_exit names >/dev/null

start mobile 100 24 LANG=C.UTF-8 LC_ALL= -- --net=mobilenet-v2-1.4
wait_for mobile 'score type 0' >/dev/null
keys mobile PPage PPage PPage PPage
keys mobile End
tap_check "100 columns keep the names distinct" \
	wait_for mobile 'features\.17\.conv\.0\.1 +bn '
tap_check "100 columns rows are distinct" names_distinct mobile

keys mobile q
wait_exit mobile >/dev/null

# Outside UTF-8 the marker is '~'.
start ascii 80 24 LANG=C LC_ALL=C -- --net=densenet-bc-100
wait_for ascii 'score type 0' >/dev/null
keys ascii End
tap_check "the C locale cuts names with ~" \
	wait_for ascii '^ *~[^ ]*conv1 +conv '
tap_check "the C locale keeps the names distinct" names_distinct ascii
keys ascii q
wait_exit ascii >/dev/null

# ---------------------------------------------------------------------
# Colours: used by default, and none at all with NO_COLOR set.

esc=$(printf '\033')
colour_sgr="$esc\\[([0-9]+;)*(3[0-7]|4[0-7]|38|48)(;[0-9]+)*m"
start colour 80 24 -- "$default_model"
wait_for colour 'score \(published rules\)' >/dev/null
tap_check "colours are used by default" \
	sh -c "tmux -S '$socket' capture-pane -e -p -t colour | grep -Eq '$colour_sgr'"
keys colour q
wait_exit colour >/dev/null

start mono 80 24 NO_COLOR=1 -- "$default_model"
wait_for mono 'score \(published rules\)' >/dev/null
tap_check "NO_COLOR turns colours off" \
	sh -c "! tmux -S '$socket' capture-pane -e -p -t mono | grep -Eq '$colour_sgr'"
tap_check "NO_COLOR keeps the selection visible" \
	sh -c "tmux -S '$socket' capture-pane -e -p -t mono | grep -q '$esc\\[7m'"
keys mono q
tap_eq "q under NO_COLOR exits with status 0" "$(wait_exit mono)" 0

tap_done
