/* Tests of the checkpoint core: legacy torch checkpoints compared with the
 * statistics torch computed (tests/make-reader-fixtures.py), hostile and
 * truncated files, ms_ck_add checks, element conversion and bit-width
 * inference. Gzip bombs are tested in test-gzip.c. */
#include "tap.h"
#include "testfile.h"

#include <stdint.h>
#include <unistd.h>

#include "readers.h"
#include "tensor.h"

#include "ckfixture.h"

static void test_hostile(void)
{
	/* A placeholder outside tensor data is skipped and recorded (see
	 * test-quant.c); one that stands for a tensor's data is an error. */
	REJECTS("parameter data placeholder", "bad/parameter.pth", "'w'",
		"posix.system", "not allowed");
	REJECTS("storage placeholder", "bad/storage-system.pth",
		"'fc.weight'", "storage built by posix.system");
	REJECTS("unknown rebuild function", "bad/rebuild-unknown.pth",
		"'fc.weight'", "_rebuild_device_tensor_from_numpy");
	REJECTS("quantizer scales placeholder",
		"bad/qtensor-scales-system.pth", "'fc.weight'", "posix.system");
	tap_ok(access("microscore-pickle-ran", F_OK) != 0,
	       "no pickle ran os.system (marker file absent)");

	REJECTS("stack underflow", "bad/stack-underflow.pth", "byte 2",
		"stack underflow");
	REJECTS("mark underflow", "bad/mark-underflow.pth", "byte 5", "MARK");
	REJECTS("memo out of range", "bad/memo-range.pth", "byte 5",
		"memo index 5");
	REJECTS("SETITEM on a list", "bad/setitem-list.pth", "byte 7",
		"SETITEM on a list");
	REJECTS("unknown opcode", "bad/unknown-opcode.pth", "byte 2",
		"unknown opcode 0xff");
	REJECTS("wrong magic number", "bad/wrong-magic.pth", "magic number");
	REJECTS("100000 nested lists", "bad/deep.pth", "nested more than 1000");
	REJECTS("storage past end of file", "bad/storage-eof.pth", "storage '0'",
		"past the end of the file");
	REJECTS("tensor larger than storage", "bad/tensor-past-storage.pth",
		"tensor 'w'", "past its storage");
	REJECTS("element count overflow", "bad/element-overflow.pth",
		"tensor 'w'", "overflows");
}

static int write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(data, 1, size, f) == size;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Every proper prefix of FILE must be rejected (and none may crash). */
static void test_truncation(const char *file)
{
	const char *tmp = "test-readers-prefix.tmp";
	size_t size = 0, rejected = 0;
	unsigned char *data = read_whole_file(fixture(file), &size);

	if (!tap_ok(data != NULL, "%s: read for truncation", file))
		return;
	for (size_t n = 0; n < size; n++) {
		struct ms_checkpoint ck;
		struct ms_error err;

		if (write_file(tmp, data, n) < 0)
			break;
		if (ms_checkpoint_open(tmp, &ck, &err) < 0)
			rejected++;
		else
			ms_checkpoint_close(&ck);
	}
	tap_ok(rejected == size, "%s: all %zu truncated prefixes rejected (%zu)",
	       file, size, rejected);
	unlink(tmp);
	free(data);
}

static void test_small_files(void)
{
	const char *tmp = "test-readers-small.tmp";
	struct ms_checkpoint ck;
	struct ms_error err;

	write_file(tmp, "", 0);
	tap_ok(ms_checkpoint_open(tmp, &ck, &err) < 0 &&
	       strstr(err.msg, "empty") != NULL, "empty file rejected: %s",
	       err.msg);
	write_file(tmp, "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x11\x22", 10);
	tap_ok(ms_checkpoint_open(tmp, &ck, &err) < 0, "unknown format rejected");
	tap_ok(strstr(err.msg, "not a checkpoint: unknown format (first bytes "
		      "12 34 56 78 9a bc de f0)") != NULL,
	       "unknown format message shows the first bytes: %s", err.msg);
	write_file(tmp, "\x1f\x8b\x08\x00", 4);
	tap_ok(ms_checkpoint_open(tmp, &ck, &err) < 0 &&
	       strstr(err.msg, "gzip") != NULL, "truncated gzip rejected: %s",
	       err.msg);
	tap_ok(ms_checkpoint_open("no/such/file.pth", &ck, &err) < 0 &&
	       strstr(err.msg, "no/such/file.pth: cannot open") == err.msg,
	       "missing file rejected: %s", err.msg);
	unlink(tmp);
}

/* A float32 tensor over BUF, added to CK and scanned. */
static struct ms_tensor *add_f32(struct ms_checkpoint *ck, const char *name,
				 float *buf, int64_t n, struct ms_error *err)
{
	int64_t stride = 1;

	if (ms_ck_add(ck, name, MS_DTYPE_F32, 1, &n, &stride, 0,
		      (unsigned char *)buf, (size_t)n * 4, false, err) < 0)
		return NULL;
	if (ms_tensor_scan(&ck->tensors[ck->count - 1], NULL, err) < 0)
		return NULL;
	return &ck->tensors[ck->count - 1];
}

static void test_ck_add(void)
{
	struct ms_checkpoint ck = { .path = strdup("unit") };
	struct ms_error err;
	float *buf = calloc(16, sizeof *buf);
	float outside[4] = { 0 };
	int64_t shape[MS_MAX_DIMS + 1] = { 16 }, stride[MS_MAX_DIMS + 1] = { 1 };
	int64_t big[3] = { (int64_t)1 << 22, (int64_t)1 << 22, (int64_t)1 << 22 };
	int64_t zero[3] = { 0, 0, 0 };
	const unsigned char *b = (const unsigned char *)buf;

	if (!tap_ok(buf != NULL && ms_ck_keep(&ck, buf, &err) == 0, "buffer kept"))
		return;
	tap_ok(ms_ck_add(&ck, "whole", MS_DTYPE_F32, 1, shape, stride, 0, b, 64,
			 false, &err) == 0, "tensor filling its storage added");
	shape[0] = 17;
	tap_ok(ms_ck_add(&ck, "long", MS_DTYPE_F32, 1, shape, stride, 0, b, 64,
			 false, &err) < 0 && strstr(err.msg, "unit: tensor 'long': ")
	       == err.msg, "tensor past its storage rejected: %s", err.msg);
	shape[0] = 4;
	tap_ok(ms_ck_add(&ck, "tail", MS_DTYPE_F32, 1, shape, stride, 13, b, 64,
			 false, &err) < 0, "offset pushing past the end rejected");
	tap_ok(ms_ck_add(&ck, "neg-offset", MS_DTYPE_F32, 1, shape, stride, -1, b,
			 64, false, &err) < 0, "negative offset rejected");
	stride[0] = -1;
	tap_ok(ms_ck_add(&ck, "neg-stride", MS_DTYPE_F32, 1, shape, stride, 0, b,
			 64, false, &err) < 0, "negative stride below 0 rejected");
	stride[0] = 1;
	shape[0] = -2;
	tap_ok(ms_ck_add(&ck, "neg-dim", MS_DTYPE_F32, 1, shape, stride, 0, b, 64,
			 false, &err) < 0 && strstr(err.msg, "negative"),
	       "negative dimension rejected: %s", err.msg);
	shape[0] = 1;
	tap_ok(ms_ck_add(&ck, "dims", MS_DTYPE_F32, MS_MAX_DIMS + 1, shape, stride,
			 0, b, 64, false, &err) < 0, "too many dimensions rejected");
	tap_ok(ms_ck_add(&ck, "overflow", MS_DTYPE_F32, 3, big, zero, 0, b, 64,
			 false, &err) < 0 && strstr(err.msg, "overflows"),
	       "element count overflow rejected: %s", err.msg);
	shape[0] = 4;
	tap_ok(ms_ck_add(&ck, "outside", MS_DTYPE_F32, 1, shape, stride, 0,
			 (unsigned char *)outside, 16, false, &err) < 0 &&
	       strstr(err.msg, "outside"), "storage outside known buffers "
	       "rejected: %s", err.msg);
	tap_ok(ck.count == 1, "only the valid tensor was added");
	ms_checkpoint_close(&ck);
}

static void test_conversion(void)
{
	/* float16 bit patterns and their values, derived by hand from
	 * sign * 2^(exponent - 15) * (1 + mantissa / 1024). */
	static const uint16_t half[] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555 };
	static const double half_value[] = { 1.0, -2.0, 65504.0,
					     5.9604644775390625e-08,
					     0.333251953125 };
	/* bfloat16 is the top half of a float32: 0x3f80 is 1.0f and 0xc0a0
	 * is -5.0f. */
	static const uint16_t bf16[] = { 0x3f80, 0xc0a0 };
	static const unsigned char be_f32[] = { 0x3f, 0x80, 0, 0, 0xc1, 0x20, 0, 0 };
	static const unsigned char be_i16[] = { 0xff, 0xfe };
	static const float grid[6] = { 0, 1, 2, 3, 4, 5 };
	struct ms_tensor t = { .ndim = 1, .shape = { 5 }, .stride = { 1 } };

	t.dtype = MS_DTYPE_F16;
	t.data = (const unsigned char *)half;
	for (int i = 0; i < 5; i++)
		tap_close(ms_tensor_get(&t, i), half_value[i], 0,
			  "float16 0x%04x", half[i]);
	t.dtype = MS_DTYPE_BF16;
	t.data = (const unsigned char *)bf16;
	tap_close(ms_tensor_get(&t, 0), 1.0, 0, "bfloat16 0x3f80");
	tap_close(ms_tensor_get(&t, 1), -5.0, 0, "bfloat16 0xc0a0");
	t.dtype = MS_DTYPE_F32;
	t.big_endian = true;
	t.data = be_f32;
	tap_close(ms_tensor_get(&t, 0), 1.0, 0, "big-endian float32 1.0");
	tap_close(ms_tensor_get(&t, 1), -10.0, 0, "big-endian float32 -10.0");
	t.dtype = MS_DTYPE_I16;
	t.data = be_i16;
	tap_close(ms_tensor_get(&t, 0), -2.0, 0, "big-endian int16 -2");

	/* A 2x3 view with strides (1, 2): element (r, c) is grid[r + 2c]. */
	t.dtype = MS_DTYPE_F32;
	t.big_endian = false;
	t.data = (const unsigned char *)grid;
	t.ndim = 2;
	t.shape[0] = 2;
	t.shape[1] = 3;
	t.stride[0] = 1;
	t.stride[1] = 2;
	tap_close(ms_tensor_get(&t, 1), 2.0, 0, "strided element (0, 1)");
	tap_close(ms_tensor_get(&t, 3), 1.0, 0, "strided element (1, 0)");
	tap_close(ms_tensor_get(&t, 5), 5.0, 0, "strided element (1, 2)");
	tap_str(ms_dtype_name(MS_DTYPE_BF16), "bfloat16", "dtype name");
	tap_ok(ms_dtype_size(MS_DTYPE_I64) == 8 && ms_dtype_size(MS_DTYPE_COUNT) == 0,
	       "dtype sizes");
	tap_ok(ms_shape_elements(2, (const int64_t[]){ INT64_MAX / 2, 3 }) == -1,
	       "shape element overflow is -1");
}

static void test_scan_and_bits(void)
{
	struct ms_checkpoint ck = { .path = strdup("unit") };
	struct ms_error err;
	float *a = calloc(16, 4), *u = calloc(16, 4), *q = calloc(122, 4);
	float *many = calloc(70000, 4), *m = calloc(16, 4);
	struct ms_tensor *t;
	bool is_signed = false;

	if (!tap_ok(a && u && q && many && m, "scan buffers allocated"))
		return;
	ms_ck_keep(&ck, a, &err);
	ms_ck_keep(&ck, u, &err);
	ms_ck_keep(&ck, q, &err);
	ms_ck_keep(&ck, many, &err);
	ms_ck_keep(&ck, m, &err);
	for (int i = 0; i < 16; i++) {
		a[i] = (float)(i - 8);          /* -8 .. 7 */
		u[i] = (float)i;                /* 0 .. 15 */
		m[i] = (float)(i % 2);
	}
	a[8] = -0.0f;                           /* same value as a[8] = 0 */
	for (int i = 0; i < 122; i++)
		q[i] = 0.01f * (float)(i % 61);  /* 61 levels, each twice */
	for (int i = 0; i < 70000; i++)
		many[i] = (float)i + 0.5f;

	t = add_f32(&ck, "signed", a, 16, &err);
	if (tap_ok(t != NULL, "signed tensor scanned")) {
		tap_ok(ms_stats_infer_bits(&t->stats, &is_signed) == 4 && is_signed,
		       "integers in [-8, 7] need 4 signed bits");
		tap_ok(t->stats.distinct == 16 && t->stats.nonzero == 15,
		       "-0 and +0 are one zero value");
		tap_ok(t->stats.first == -8.0, "first element recorded");
	}
	t = add_f32(&ck, "unsigned", u, 16, &err);
	if (tap_ok(t != NULL, "unsigned tensor scanned"))
		tap_ok(ms_stats_infer_bits(&t->stats, &is_signed) == 4 && !is_signed,
		       "integers in [0, 15] need 4 unsigned bits");
	t = add_f32(&ck, "levels", q, 122, &err);
	if (tap_ok(t != NULL, "61-level tensor scanned"))
		tap_ok(!t->stats.all_integer &&
		       ms_stats_infer_bits(&t->stats, &is_signed) == 6,
		       "61 distinct non-integers need 6 bits (2^6 = 64 >= 61)");
	/* The first 61 elements hold each level once: values that never
	 * repeat are not a codebook, so they keep 32 bits. */
	t = add_f32(&ck, "distinct", q, 61, &err);
	if (tap_ok(t != NULL, "61 distinct values scanned"))
		tap_ok(ms_stats_infer_bits(&t->stats, &is_signed) == 32,
		       "61 values used once each need 32 bits");
	t = add_f32(&ck, "many", many, 70000, &err);
	if (tap_ok(t != NULL, "70000-value tensor scanned")) {
		tap_ok(t->stats.distinct_capped &&
		       t->stats.distinct == MS_DISTINCT_CAP,
		       "distinct count capped at MS_DISTINCT_CAP");
		tap_ok(ms_stats_infer_bits(&t->stats, &is_signed) == 32,
		       "capped distinct count gives 32 bits");
	}
	t = add_f32(&ck, "masked", u, 16, &err);
	add_f32(&ck, "mask", m, 16, &err);
	t = &ck.tensors[ck.count - 2];
	if (tap_ok(ms_tensor_scan(t, &ck.tensors[ck.count - 1], &err) == 0,
		   "masked scan runs")) {
		/* The mask keeps the odd indices 1, 3, ..., 15: 8 nonzeros,
		 * 9 distinct values (0 and the 8 odd numbers), max 15. */
		tap_ok(t->stats.nonzero == 8, "mask zeroes the even elements");
		tap_ok(t->stats.distinct == 9, "masked distinct count is 9");
		tap_ok(t->stats.channel_nonzero[0] == 0 &&
		       t->stats.channel_nonzero[1] == 1,
		       "1-d tensor: one channel per element, masked");
	}
	ms_checkpoint_close(&ck);
}

int main(void)
{
	const char *src = getenv("TESTS_SRCDIR");

	snprintf(fixture_dir, sizeof fixture_dir, "%s/fixtures/readers",
		 src ? src : "tests");
	check_fixture("legacy-dtypes.pth", "legacy-dtypes.expected");
	for (int p = 1; p <= 5; p++) {
		char file[64], expected[64];

		snprintf(file, sizeof file, "legacy-proto%d.pth", p);
		snprintf(expected, sizeof expected, "legacy-proto%d.expected", p);
		check_fixture(file, expected);
	}
	check_fixture("legacy-views.pth", "legacy-views.expected");
	check_fixture("legacy-training.pth", "legacy-training.expected");
	check_fixture("legacy-training.pth.gz", "legacy-training.pth.expected");
	check_fixture("legacy-pruned.pth", "legacy-pruned.expected");
	check_fixture("self-reference.pth", "self-reference.expected");
	check_fixture("legacy-magic-proto0.pth", "legacy-magic-proto0.expected");
	check_fixture("legacy-rebuild-v1.pth", "legacy-rebuild-v1.expected");
	test_hostile();
	test_truncation("legacy-proto2.pth");
	test_truncation("legacy-magic-proto0.pth");
	test_truncation("legacy-training.pth.gz");
	test_small_files();
	test_ck_add();
	test_conversion();
	test_scan_and_bits();
	return tap_done();
}
