# Scores checkpoints of each format plain and gzip-wrapped with the
# program, and checks that the reports and tensor listings are the same
# apart from the checkpoint's name. Bombs, caps and truncation are tested
# in test-gzip.c.
. "$TESTS_SRCDIR/tap.sh"

fixtures=$TESTS_SRCDIR/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A description of the one conv layer of safetensors-all.safetensors
# (conv1.weight is 4x3x3x3, with conv1.bias); its other tensors are
# reported as unused.
cat > "$tmp/conv1.net" <<'NET'
input 3 32 32
conv conv1 out=4 k=3 pad=1 bias
NET

# Runs a command without its standard output.
quiet() {
	"$@" > /dev/null
}

# Writes the report of checkpoint $1 with network description $2 ("-" for
# the built-in one that matches), without the line that names the file.
report() {
	if [ "$2" = - ]; then
		"$MICROSCORE" --report --format=json "$1"
	else
		"$MICROSCORE" --report --format=json --net="$2" "$1"
	fi | grep -v '^  "checkpoint": '
}

# compare LABEL PLAIN NET: gzips PLAIN under its own name and compares the
# listings and, unless NET is "none", the reports of both files.
compare() {
	label=$1
	plain=$tmp/$(basename "$2")
	net=$3
	cp "$2" "$plain"
	gzip -9 -c "$plain" > "$plain.gz"
	tap_check "$label: plain file lists" quiet "$MICROSCORE" --list "$plain"
	tap_eq "$label: same listing gzip-wrapped" \
		"$("$MICROSCORE" --list "$plain.gz" 2>&1)" \
		"$("$MICROSCORE" --list "$plain" 2>&1)"
	[ "$net" = none ] && return
	if [ "$net" = describe ]; then
		net=$tmp/$(basename "$2").net
		"$MICROSCORE" --describe "$plain" > "$net"
	fi
	tap_check "$label: plain file scores" quiet report "$plain" "$net"
	tap_eq "$label: same report gzip-wrapped" \
		"$(report "$plain.gz" "$net" 2>/dev/null)" \
		"$(report "$plain" "$net" 2>/dev/null)"
}

compare "legacy" "$fixtures/describe-tiny-cnn-wrapped.pth.tar" describe
compare "torch zip" "$fixtures/describe-tiny-cnn.pth" describe
compare "safetensors" "$fixtures/formats/safetensors-all.safetensors" \
	"$tmp/conv1.net"
# A lone npy is one tensor named after the file, which no layer binds.
compare "npy" "$fixtures/formats/npy-c.npy" none

# resnet20 as committed (gzip-wrapped, larger than the first 64 KiB that
# are inflated before the size bound applies) and inflated by gzip(1).
gzip -dc "$fixtures/arch-resnet20.pth.gz" > "$tmp/resnet20.pth"
tap_check "resnet20: plain file scores" quiet report "$tmp/resnet20.pth" -
tap_eq "resnet20: same report gzip-wrapped" \
	"$(report "$fixtures/arch-resnet20.pth.gz" - 2>/dev/null)" \
	"$(report "$tmp/resnet20.pth" - 2>/dev/null)"
tap_eq "resnet20: same listing gzip-wrapped" \
	"$("$MICROSCORE" --list "$fixtures/arch-resnet20.pth.gz" 2>&1)" \
	"$("$MICROSCORE" --list "$tmp/resnet20.pth" 2>&1)"
tap_done
