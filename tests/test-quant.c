/* Tests of quantized torch tensors, objects that are not tensors, the
 * names of applied masks and the messages for truncated containers.
 * Statistics come from torch (tests/make-quant-fixtures.py); the other
 * expected values are derived in the comments. */
#include "tap.h"

#include <stdint.h>
#include <unistd.h>

#include "ckfixture.h"
#include "readers.h"
#include "tensor.h"

static void test_quantized(void)
{
	struct ms_checkpoint ck;
	struct ms_error err;
	const struct ms_tensor *t;
	bool is_signed;

	check_fixture("quant-tensors.pt", "quant-tensors.expected");
	check_fixture("quant-tensors-legacy.pth", "quant-tensors-legacy.expected");
	check_fixture("quant-static.pt", "quant-static.expected");
	check_fixture("quant-dynamic.pt", "quant-dynamic.expected");

	if (!tap_ok(ms_checkpoint_open(fixture("quant-static.pt"), &ck, &err) == 0,
		    "static quantized model opens")) {
		printf("# %s\n", err.msg);
		return;
	}
	/* fbgemm's per-channel qint8 weights span [-128, 127], which needs
	 * 8 signed bits. */
	t = ms_checkpoint_find(&ck, "conv1.weight");
	if (tap_ok(t != NULL, "conv1.weight binds"))
		tap_ok(ms_tensor_infer_bits(t, &is_signed) == 8 && is_signed,
		       "quantized conv weight needs 8 signed bits");
	t = ms_checkpoint_find(&ck, "fc.weight");
	if (tap_ok(t != NULL, "packed Linear weight binds as fc.weight")) {
		tap_str(t->name, "fc._packed_params._packed_params.0",
			"fc.weight keeps its key path as name");
		tap_ok(ms_tensor_infer_bits(t, &is_signed) == 8 && is_signed,
		       "quantized linear weight needs 8 signed bits");
	}
	tap_ok(ms_checkpoint_find(&ck, "fc.bias") != NULL,
	       "packed Linear bias binds as fc.bias");
	tap_ok(ck.skipped_count == 0, "a torch.dtype is not a skipped object");
	ms_checkpoint_close(&ck);
}

/* Opens FILE and expects one skipped object, NAME at binding KEY, a
 * placeholder for GLOBAL, next to TENSORS tensors. */
static void check_skipped(const char *file, size_t tensors, const char *name,
			  const char *key, const char *global)
{
	struct ms_checkpoint ck;
	struct ms_error err;

	if (!tap_ok(ms_checkpoint_open(fixture(file), &ck, &err) == 0,
		    "%s: opens", file)) {
		printf("# %s\n", err.msg);
		return;
	}
	tap_ok(ck.count == tensors, "%s: %zu tensors (got %zu)", file, tensors,
	       ck.count);
	if (tap_ok(ck.skipped_count == 1, "%s: one skipped object (got %zu)",
		   file, ck.skipped_count)) {
		tap_str(ck.skipped[0].name, name, "%s: skipped name", file);
		tap_str(ck.skipped[0].key, key, "%s: skipped key", file);
		tap_str(ck.skipped[0].global, global, "%s: skipped global", file);
	}
	tap_str(ms_checkpoint_placeholder(&ck, key), global,
		"%s: placeholder at %s", file, key);
	tap_ok(ms_checkpoint_placeholder(&ck, ck.tensors[0].key) == NULL,
	       "%s: no placeholder at tensor %s", file, ck.tensors[0].key);
	ms_checkpoint_close(&ck);
}

static void test_not_tensors(void)
{
	check_fixture("namespace-args.pt", "namespace-args.expected");
	check_fixture("namespace-wrapped.pt", "namespace-wrapped.expected");
	check_skipped("namespace-args.pt", 1, "args", "args",
		      "argparse.Namespace");
	check_skipped("namespace-wrapped.pt", 1, "state_dict.module.fc.extra",
		      "fc.extra", "argparse.Namespace");

	/* The hostile files of make-reader-fixtures.py put a placeholder at
	 * fc.weight next to the tensor fc.bias. */
	check_skipped("bad/reduce-system.pth", 1, "fc.weight", "fc.weight",
		      "posix.system");
	check_skipped("bad/stack-global.pth", 1, "fc.weight", "fc.weight",
		      "posix.system");
	check_skipped("bad/newobj.pth", 1, "fc.weight", "fc.weight",
		      "__main__.Thing");
	check_skipped("bad/inst.pth", 1, "fc.weight", "fc.weight",
		      "posix.system");
	check_skipped("bad/obj.pth", 1, "fc.weight", "fc.weight",
		      "posix.system");
	tap_ok(access("microscore-pickle-ran", F_OK) != 0,
	       "no pickle ran os.system (marker file absent)");
}

static void test_mask_names(void)
{
	struct ms_checkpoint ck;
	struct ms_error err;
	const struct ms_tensor *t;

	if (!tap_ok(ms_checkpoint_open(fixture("legacy-pruned.pth"), &ck,
					&err) == 0, "pruned checkpoint opens"))
		return;
	/* make-reader-fixtures.py prunes conv with torch.nn.utils.prune and
	 * adds fc.mask next to fc.weight. */
	t = ms_checkpoint_find(&ck, "conv.weight");
	if (tap_ok(t != NULL, "conv.weight present"))
		tap_str(t->mask, "conv.weight_mask", "conv.weight mask name");
	t = ms_checkpoint_find(&ck, "fc.weight");
	if (tap_ok(t != NULL, "fc.weight present"))
		tap_str(t->mask, "fc.mask", "fc.weight mask name");
	t = ms_checkpoint_find(&ck, "conv.bias");
	if (tap_ok(t != NULL, "conv.bias present"))
		tap_ok(t->mask == NULL, "conv.bias has no mask");
	ms_checkpoint_close(&ck);
}

/* Writes the first N bytes of fixture SRC to PATH. Returns the whole
 * fixture's size, or 0 when it cannot be read. */
static size_t write_prefix(const char *src, const char *path, size_t n,
			   unsigned char *first8)
{
	FILE *in = fopen(src, "rb"), *out = fopen(path, "wb");
	unsigned char buf[1 << 16];
	size_t got = in ? fread(buf, 1, sizeof buf, in) : 0;

	if (out != NULL && got >= 8) {
		fwrite(buf, 1, n < got ? n : got, out);
		memcpy(first8, buf, 8);
	}
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	return out != NULL && got >= 8 ? got : 0;
}

/* A header length of 2^62 (little endian: seven zero bytes, then 0x40)
 * followed by "{}" is still safetensors, and a file of 10 bytes. */
static void test_huge_header_length(const char *tmp)
{
	static const unsigned char bytes[] = { 0, 0, 0, 0, 0, 0, 0, 0x40,
					       '{', '}' };
	const char *want = "safetensors header length 4611686018427387904 is "
			   "larger than the file (10 bytes)";
	struct ms_checkpoint ck;
	struct ms_error err;
	FILE *f = fopen(tmp, "wb");

	if (f != NULL) {
		fwrite(bytes, 1, sizeof bytes, f);
		fclose(f);
	}
	tap_ok(ms_checkpoint_open(tmp, &ck, &err) < 0,
	       "huge safetensors header length rejected");
	if (!tap_ok(strstr(err.msg, want) != NULL,
		    "huge safetensors header length: message gives both sizes"))
		printf("# %s\n# want: %s\n", err.msg, want);
	unlink(tmp);
}

static void test_truncated_messages(void)
{
	const char *tmp = "test-quant-prefix.tmp";
	char src[8192], want[256];
	unsigned char first8[8];
	uint64_t declared = 0;
	struct ms_checkpoint ck;
	struct ms_error err;
	size_t size, cut;

	size = write_prefix(fixture("quant-static.pt"), tmp, 1000, first8);
	tap_ok(size > 1000, "zip fixture is over 1000 bytes");
	tap_ok(ms_checkpoint_open(tmp, &ck, &err) < 0, "truncated zip rejected");
	if (!tap_ok(strstr(err.msg, "truncated or damaged zip archive") != NULL,
		    "truncated zip: message says truncated or damaged"))
		printf("# %s\n", err.msg);
	tap_ok(strstr(err.msg, "no end of central directory record") != NULL,
	       "truncated zip: message names the missing record");
	tap_ok(strstr(err.msg, "Not a zip archive") == NULL,
	       "truncated zip: no libzip text");

	/* Cut inside the header: the first 8 bytes are its length N, little
	 * endian, so a file of 8 + N / 2 bytes has N / 2 of them. */
	snprintf(src, sizeof src, "%s/../formats/safetensors-all.safetensors",
		 fixture_dir);
	size = write_prefix(src, tmp, 9, first8);
	for (int i = 7; i >= 0; i--)
		declared = declared << 8 | first8[i];
	cut = 8 + (size_t)declared / 2;
	write_prefix(src, tmp, cut, first8);
	tap_ok(size > cut, "safetensors fixture read");
	tap_ok(ms_checkpoint_open(tmp, &ck, &err) < 0,
	       "truncated safetensors rejected");
	snprintf(want, sizeof want, "header runs past the end of the file "
		 "(%llu bytes declared, %zu present)",
		 (unsigned long long)declared, cut - 8);
	if (!tap_ok(strstr(err.msg, want) != NULL,
		    "truncated safetensors: message gives both sizes"))
		printf("# %s\n# want: %s\n", err.msg, want);
	tap_ok(strstr(err.msg, "unknown format") == NULL,
	       "truncated safetensors: format recognized");
	unlink(tmp);
	test_huge_header_length(tmp);
}

int main(void)
{
	const char *src = getenv("TESTS_SRCDIR");

	snprintf(fixture_dir, sizeof fixture_dir, "%s/fixtures/readers",
		 src ? src : "tests");
	test_quantized();
	test_not_tensors();
	test_mask_names();
	test_truncated_messages();
	return tap_done();
}
