# Scores the bundled default model and compares the totals with the values
# that tests/make-default-model.py computed in Python, from PyTorch's
# statistics of the same weights and the published counting formulas.
. "$TESTS_SRCDIR/tap.sh"

model=$MICROSCORE_DATADIR/default.pth
expected=$TESTS_SRCDIR/fixtures/default-model-expected.json

# Prints "RULES TYPE OPS PARAMS" for each expected total. The JSON is
# written with one key per line.
expected_totals() {
	awk '
		/"totals": \[/ { rules = "published"; next }
		/"challenge_totals": \[/ { rules = "challenge"; next }
		/^ "[a-z_]*":/ { if ($0 !~ /totals/) rules = "" }
		rules != "" && /"type":/ { gsub(/[^0-9]/, "", $2); type = $2 }
		rules != "" && /"ops":/ { sub(/,$/, "", $2); ops = $2 }
		rules != "" && /"params":/ {
			sub(/,$/, "", $2); print rules, type, ops, $2 }
	' "$expected"
}

# Exits 0 when A and B differ by at most a relative 1e-12.
close() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		s = b < 0 ? -b : b; if (s < 1) s = 1
		exit !(a != "" && d <= 1e-12 * s) }'
}

rows=$(expected_totals)
tap_eq "expected file has 14 totals" "$(echo "$rows" | wc -l)" 14

echo "$rows" | {
	while read -r rules type ops params; do
		json=$("$MICROSCORE" --report --format=json --rules="$rules" \
			--score-type="$type" "$model")
		totals=$(echo "$json" | sed -n 's/.*"totals": {\(.*\)}.*/\1/p')
		got_ops=$(echo "$totals" | sed -n 's/.*"ops": \([^,]*\),.*/\1/p')
		got_params=$(echo "$totals" |
			sed -n 's/.*"params": \([^,]*\),.*/\1/p')
		tap_check "$rules type $type: ops $got_ops match $ops" \
			close "$got_ops" "$ops"
		tap_check "$rules type $type: params $got_params match $params" \
			close "$got_params" "$params"
	done
	tap_done
}
