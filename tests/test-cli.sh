# Tests the command line as a user meets it. Covers help and version,
# usage errors and their exit status, and errors on unreadable inputs. Also
# checks that report files are never overwritten without --force, that
# real PyTorch checkpoints find their built-in network, and that --describe
# drafts score.
. "$TESTS_SRCDIR/tap.sh"

fixtures=$TESTS_SRCDIR/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run ARGS...: runs microscore, keeping stdout, stderr and the status.
run() {
	"$MICROSCORE" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
}

# --- help, version and usage errors (GNU conventions) ---
run --help
tap_eq "--help exits 0" "$status" 0
tap_check "--help documents --report" grep -q -- '--report' "$tmp/out"
run --version
tap_eq "--version exits 0" "$status" 0
tap_check "--version names the program" grep -q '^microscore [0-9]' "$tmp/out"

for args in "--bogus" "--score-type=7" "--score-type=x" "--format=xml" \
	    "--list" "a.pth b.pth" "--rules=strict" "--weight-bits=fc" \
	    "--param=classes" "--nets extra"; do
	# shellcheck disable=SC2086
	run $args
	tap_eq "usage error '$args' exits 2" "$status" 2
	tap_check "usage error '$args' starts with microscore:" \
		grep -q '^microscore: ' "$tmp/err"
done

# --- unreadable inputs: one line naming the file, exit status 1 ---
run --report "$tmp/missing.pth"
tap_eq "missing file exits 1" "$status" 1
tap_eq "missing file: one line naming it" \
	"$(cat "$tmp/err")" "microscore: $tmp/missing.pth: cannot open: No such file or directory"
: >"$tmp/empty.pth"
run --report "$tmp/empty.pth"
tap_eq "empty file exits 1" "$status" 1
tap_eq "empty file: one line" "$(wc -l <"$tmp/err")" 1
printf 'hello\n' >"$tmp/text.pth"
run --list "$tmp/text.pth"
tap_eq "text file exits 1" "$status" 1
tap_check "text file: unknown format" grep -q 'unknown format' "$tmp/err"

# A FIFO is refused at once instead of waiting for a writer.
mkfifo "$tmp/in.fifo"
timeout 10 "$MICROSCORE" --report "$tmp/in.fifo" >/dev/null 2>"$tmp/err"
tap_eq "FIFO as checkpoint: exit 1 at once" "$?" 1
timeout 10 "$MICROSCORE" --report --net="$tmp/in.fifo" >/dev/null 2>&1
tap_eq "FIFO as description: exit 1 at once" "$?" 1
run --report "$tmp"
tap_eq "directory as checkpoint: exit 1" "$status" 1

# A pickle that requests os.system gets a placeholder, never a call.
cmd="touch $tmp/marker"
printf '\200\002cos\nsystem\nU%b%s\205R.' \
	"\\$(printf %03o ${#cmd})" "$cmd" >"$tmp/evil.pth"
run --report "$tmp/evil.pth"
tap_eq "pickle calling os.system exits 1" "$status" 1
tap_check "pickle calling os.system runs nothing" test ! -e "$tmp/marker"

# --- report files: written atomically, never replaced without --force ---
model=$MICROSCORE_DATADIR/default.pth
run --report="$tmp/r.txt" "$model"
tap_eq "report to a file exits 0" "$status" 0
tap_check "report file holds the totals" grep -q '^  score ' "$tmp/r.txt"
echo keep >"$tmp/r2.txt"
run --report="$tmp/r2.txt" "$model"
tap_eq "existing report file: exit 1" "$status" 1
tap_eq "existing report file is kept" "$(cat "$tmp/r2.txt")" keep
run --report="$tmp/r2.txt" --force --format=json "$model"
tap_eq "--force replaces the file" "$status" 0
tap_check "replaced file is the JSON report" grep -q '"totals"' "$tmp/r2.txt"
tap_eq "no temporary files are left" \
	"$(find "$tmp" -name '.r*' | wc -l)" 0
run --report="$tmp/r3.JSON" "$model"
tap_check "report format follows the .JSON extension" \
	grep -q '"totals"' "$tmp/r3.JSON"
run --report=- --format=csv "$model"
tap_check "--report=- writes to standard output" \
	grep -q '^total,' "$tmp/out"

# Only regular files are ever replaced, even with --force.
mkfifo "$tmp/fifo"
ln -s "$tmp/r.txt" "$tmp/link"
mkdir "$tmp/dir"
for target in fifo link dir; do
	run --report="$tmp/$target" --force "$model"
	tap_eq "--force on a $target: exit 1" "$status" 1
done
tap_check "the FIFO is still a FIFO" test -p "$tmp/fifo"
tap_check "the link is still a link" test -L "$tmp/link"
tap_check "the directory is still a directory" test -d "$tmp/dir"

# A failed write to standard output is an error, not a silent success.
if [ -w /dev/full ]; then
	"$MICROSCORE" --list "$model" >/dev/full 2>"$tmp/err"
	tap_eq "--list to a full device: exit 1" "$?" 1
	tap_check "--list to a full device: message" \
		grep -q 'write failed' "$tmp/err"
fi

# --- real PyTorch checkpoints bind to their built-in description ---
for pair in resnet18:resnet-18 resnet20:resnet-20 resnet32:resnet-32 \
	    resnet50:resnet-50 wrn28_10:wrn-28-10 \
	    mobilenet_v2_1.4:mobilenet-v2-1.4 efficientnet_b0:efficientnet-b0; do
	arch=${pair%%:*}
	net=${pair#*:}
	run --report --format=json "$fixtures/arch-$arch.pth.gz"
	tap_eq "$arch: exit 0" "$status" 0
	tap_check "$arch: network $net chosen" \
		grep -q "\"network\": \"$net\"" "$tmp/out"
	tap_check "$arch: no missing tensors" grep -q '"missing": \[\]' "$tmp/out"
	tap_check "$arch: no unused tensors" grep -q '"unused": \[\]' "$tmp/out"
done

# --- --list: one row per tensor, as many as PyTorch saved ---
want=$(sed -n 's/^ "tensor_count": \([0-9]*\),/\1/p' \
	"$fixtures/describe-tiny-cnn.json")
run --list --format=json "$fixtures/describe-tiny-cnn.pth"
tap_eq "--list JSON: exit 0" "$status" 0
tap_eq "--list JSON: $want tensors" "$(grep -c '"dtype"' "$tmp/out")" "$want"
run --list "$fixtures/describe-tiny-cnn-wrapped.pth.tar"
tap_check "--list names wrapped tensors by their key path" \
	grep -q '^state_dict.module.conv1.weight ' "$tmp/out"

# --- --describe drafts a description that scores its checkpoint ---
for name in tiny-cnn tiny-mobile; do
	ck=$fixtures/describe-$name.pth
	run --describe "$ck"
	tap_eq "describe $name: exit 0" "$status" 0
	cp "$tmp/out" "$tmp/$name.net"
	run --report --format=json --net="$tmp/$name.net" "$ck"
	tap_eq "describe $name: draft scores" "$status" 0
	tap_check "describe $name: draft uses every tensor" \
		grep -q '"unused": \[\]' "$tmp/out"
done

# A training checkpoint: optimizer state beside the weights is neither a
# layer of the draft nor an unused tensor.
ck=$fixtures/readers/legacy-training.pth
run --describe "$ck"
tap_check "training checkpoint: draft has no optimizer layers" \
	test "$(grep -c optimizer "$tmp/out")" -eq 0
cp "$tmp/out" "$tmp/training.net"
run --report --format=json --net="$tmp/training.net" "$ck"
tap_eq "training checkpoint: draft scores" "$status" 0
tap_check "training checkpoint: optimizer state is not unused" \
	grep -q '"unused": \[\]' "$tmp/out"

# --- a description alone: the CIFAR-100 baseline scores 2.0 ---
run --report --net=wrn-28-10 --rules=challenge --score-type=2
tap_eq "wrn-28-10 alone: exit 0" "$status" 0
tap_eq "wrn-28-10 alone: score 2.00 (10.49e9 ops, 36.5e6 params)" \
	"$(awk '/^  score/ { printf "%.2f", $2 }' "$tmp/out")" 2.00
run --nets
tap_check "--nets lists densenet-bc-100" grep -q '^densenet-bc-100' "$tmp/out"
MICROSCORE_DATADIR=$tmp/nowhere "$MICROSCORE" --nets >/dev/null 2>&1
tap_eq "--nets without a data directory: exit 1" "$?" 1

# Parameters of a description from the command line: ResNet-20 for 100
# classes has a 100x64 linear layer, 64 x 90 = 5760 more params than the
# 10-class default (weights only, at 32 bits: the bias adds 90 more).
run --report --format=json --net=resnet-20 --rules=challenge --score-type=2
p10=$(sed -n 's/.*"totals": {"ops": [^,]*, "params": \([^,]*\),.*/\1/p' "$tmp/out")
run --report --format=json --net=resnet-20 --param=classes=100 \
	--rules=challenge --score-type=2
p100=$(sed -n 's/.*"totals": {"ops": [^,]*, "params": \([^,]*\),.*/\1/p' "$tmp/out")
tap_eq "--param=classes=100 adds 64 x 90 + 90 params" \
	"$(awk -v a="$p10" -v b="$p100" 'BEGIN { print b - a }')" 5850
# A 10-class ResNet-18 matches resnet-18 by name but not in size: the
# error names the mismatch and the way out, and --param makes it bind.
run --report "$fixtures/resnet18-10class.pth.gz"
tap_eq "10-class resnet18: exit 1" "$status" 1
tap_check "10-class resnet18: the fc size mismatch is named" \
	grep -q "layer 'fc' expects weight 1000x512 but tensor 'fc.weight' is 10x512" "$tmp/err"
tap_check "10-class resnet18: --param is suggested" \
	grep -q -- "--param=NAME=VALUE" "$tmp/err"
run --report --format=json --param=classes=10 \
	"$fixtures/resnet18-10class.pth.gz"
tap_eq "10-class resnet18 with classes=10: exit 0" "$status" 0
tap_check "10-class resnet18 with classes=10: all tensors used" \
	grep -q '"unused": \[\]' "$tmp/out"
run --report --net=resnet-20 --param=nosuch=1
tap_eq "--param with an unknown name: exit 1" "$status" 1
tap_done
