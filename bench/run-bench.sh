#!/bin/sh
# Benchmark of the checkpoint readers. For each major container format it
# generates a synthetic checkpoint once in DIR (bench-gen, no PyTorch
# needed). It then times ms_checkpoint_open(), which reads and scans every
# tensor, against a plain sequential read() of the same file. The page
# cache is warm for both, because the file is read once before timing.
# Peak RSS comes from the open run.
#
# Usage: run-bench.sh BUILDDIR DIR [MIB]
set -e

builddir=$1
dir=$2
mib=${3:-1024}
gen=$builddir/bench/bench-gen
reader=$builddir/bench/bench-read

mkdir -p "$dir"
printf '%-13s %9s %10s %10s %7s %10s %9s\n' format 'size MiB' 'read MB/s' \
	'open MB/s' ratio 'RSS MiB' 'RSS/size'
for format in torch-zip torch-legacy npz safetensors; do
	file=$dir/$format-$mib
	if [ ! -f "$file" ]; then
		"$gen" "$format" "$file.tmp" "$mib"
		mv "$file.tmp" "$file"
	fi
	cat "$file" >/dev/null  # warm the page cache
	set -- $("$reader" read "$file")
	read_bytes=$2 read_s=$3
	set -- $("$reader" open "$file")
	open_bytes=$2 open_s=$3 rss=$4
	awk -v f="$format" -v rb="$read_bytes" -v rs="$read_s" \
	    -v ob="$open_bytes" -v os="$open_s" -v rss="$rss" 'BEGIN {
		r = rb / rs / 1e6; o = ob / os / 1e6
		printf "%-13s %9.0f %10.0f %10.0f %7.2f %10.0f %9.2f\n",
		       f, ob / 1048576, r, o, o / r, rss / 1024,
		       rss * 1024 / ob
	}'
done
