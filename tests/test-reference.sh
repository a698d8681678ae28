# Reproduces the published score table of the reference DenseNet-100
# MicroNet entry. The expected values are read from the reference material
# itself: the six-decimal scores from published-scores.md (the authors'
# page) and the exact ops and params from SCORING.md (a re-count of the
# authors' scorer).
. "$TESTS_SRCDIR/tap.sh"

ckpt=$REFERENCE_DIR/densenet-100.pth.tar
published=$REFERENCE_DIR/published-scores.md
exact=$REFERENCE_DIR/SCORING.md
if [ ! -f "$ckpt" ] || [ ! -f "$published" ] || [ ! -f "$exact" ]; then
	echo "1..0 # SKIP reference material not found in $REFERENCE_DIR" \
	     "(needs densenet-100.pth.tar, published-scores.md, SCORING.md)"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Published rows look like "0 | **0.002805** | **0.001365** | **0.004169**".
published_row() {
	sed -n "s/^$1 | \(.*\)$/\1/p" "$published" | tr -d '*' |
		awk -F' *[|] *' '{ print $1, $2, $3 }'
}

# Exact rows look like "| 0 | 29420863.632553607 | 0.002805 | ...".
exact_ops() {
	sed -n "s/^| $1 | \([0-9.]*\) |.*/\1/p" "$exact"
}
# The params follow "(params are the same for all types:" as "49805.5625):".
exact_params=$(sed -n 's/^\([0-9.]*\)):$/\1/p' "$exact" | head -1)

# Prints 0 when A and B differ by at most a relative 1e-9.
close() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		s = b < 0 ? -b : b; if (s < 1) s = 1
		exit !(a != "" && d <= 1e-9 * s) }'
}

for t in 0 1 2 3 4 5 6; do
	want=$(published_row "$t")
	"$MICROSCORE" --report --score-type="$t" "$ckpt" >"$tmp/r$t.txt" \
		2>"$tmp/e$t.txt"
	tap_eq "score type $t: exit status" "$?" 0
	got=$(awk '/^  op score/ { o = $3 } /^  param score/ { p = $3 }
		   /^  score/ { s = $2 } END { print o, p, s }' "$tmp/r$t.txt")
	tap_eq "score type $t: published op, param and final score" \
		"$got" "$want"

	"$MICROSCORE" --report --format=json --score-type="$t" "$ckpt" \
		>"$tmp/r$t.json"
	totals=$(sed -n 's/.*"totals": {\(.*\)}.*/\1/p' "$tmp/r$t.json")
	ops=$(echo "$totals" | sed -n 's/.*"ops": \([^,]*\),.*/\1/p')
	params=$(echo "$totals" | sed -n 's/.*"params": \([^,]*\),.*/\1/p')
	tap_check "score type $t: JSON ops $ops match $(exact_ops "$t")" \
		close "$ops" "$(exact_ops "$t")"
	tap_check "score type $t: JSON params $params match $exact_params" \
		close "$params" "$exact_params"
done

# The bit widths inferred from the weights (integers in [-8, 7] in every
# conv, [-32, 31] in fc) are those the published scorer set by hand.
"$MICROSCORE" --report --weight-bits=auto --score-type=0 "$ckpt" >"$tmp/auto.txt"
got=$(awk '/^  op score/ { o = $3 } /^  param score/ { p = $3 }
	   /^  score/ { s = $2 } END { print o, p, s }' "$tmp/auto.txt")
tap_eq "inferred bit widths give the published type 0 row" \
	"$got" "$(published_row 0)"

# The layers own the checkpoint's tensors under their own names.
tap_check "JSON names layers as in the checkpoint" \
	grep -q '"name": "dense1.0.conv1"' "$tmp/r0.json"
tap_check "no unused tensors" grep -q '"unused": \[\]' "$tmp/r0.json"
tap_check "no missing tensors" grep -q '"missing": \[\]' "$tmp/r0.json"
tap_done
