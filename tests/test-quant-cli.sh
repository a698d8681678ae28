# Tests quantized checkpoints and objects that are not tensors as a user
# meets them. --list marks masks, renamed keys and skipped objects. A
# network binds quantized conv and linear weights. A layer whose tensor is
# a skipped object is an error that names the object.
. "$TESTS_SRCDIR/tap.sh"

readers=$TESTS_SRCDIR/fixtures/readers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {
	"$MICROSCORE" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
}

# --- --list ---
run --list "$readers/namespace-args.pt"
tap_eq "--list with an argparse.Namespace exits 0" "$status" 0
tap_eq "--list names the skipped object last" "$(tail -n 1 "$tmp/out")" \
	"not tensors: args (argparse.Namespace)"
run --list --format=json "$readers/namespace-args.pt"
tap_check "JSON lists the skipped object" grep -q \
	'{"name": "args", "key": "args", "global": "argparse.Namespace"}' \
	"$tmp/out"
run --list "$readers/legacy-pruned.pth"
tap_check "--list marks the masked weight" grep -q \
	'^conv.weight_orig .* masked by conv.weight_mask  binds as conv.weight$' \
	"$tmp/out"
run --list --format=json "$readers/legacy-pruned.pth"
tap_check "JSON gives the mask's name" grep -q \
	'"name": "fc.weight".*"mask": "fc.mask"}' "$tmp/out"
tap_check "JSON gives null for no mask" grep -q \
	'"name": "fc.bias".*"mask": null}' "$tmp/out"
run --list "$readers/quant-static.pt"
tap_check "--list shows the packed weight's binding" grep -q \
	'^fc._packed_params._packed_params.0 .*int8 .*binds as fc.weight$' \
	"$tmp/out"

# --- binding ---
# Conv 3->4 k=3 on 6x6 gives 4x4x4 = 64 inputs for fc, as in
# make-quant-fixtures.py. torch counts 318 nonzero int8 values of 320 in
# fc's weight (quant-static.expected), and int8 needs 8 bits.
cat >"$tmp/small.net" <<'NET'
net small
input 3 6 6
conv conv1 out=4 k=3 bias wbits=auto
relu
flatten
linear fc out=5 bias wbits=auto
NET
run --net="$tmp/small.net" --report --format=json "$readers/quant-static.pt"
tap_eq "quantized model scores" "$status" 0
tap_check "no tensors missing" grep -q '"missing": \[\]' "$tmp/out"
tap_check "activation scales and zero points are not unused" \
	grep -q '"unused": \[\]' "$tmp/out"
tap_check "fc binds the packed weight: 8 bits, 318 of 320 nonzero" grep -q \
	'"name": "fc".*"weight_bits": 8,.*"nonzero": 318, "elements": 320' \
	"$tmp/out"
tap_check "conv1 weight needs 8 bits" grep -q \
	'"name": "conv1".*"weight_bits": 8,' "$tmp/out"

cat >"$tmp/fc.net" <<'NET'
net fc
input 3 1 1
linear fc out=2 bias
NET
run --net="$tmp/fc.net" --report "$readers/bad/reduce-system.pth"
tap_eq "placeholder weight exits 1" "$status" 1
tap_check "placeholder weight: the error names layer, tensor and object" \
	grep -q "layer 'fc' needs tensor 'fc.weight', but the checkpoint has a posix.system object there, which microscore does not run" \
	"$tmp/err"
tap_eq "placeholder weight: one line" "$(wc -l <"$tmp/err")" 1

tap_done
