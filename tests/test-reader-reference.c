/* Tests the legacy reader on the real DenseNet-100 checkpoint: 402 float32
 * tensors whose statistics torch computed once (densenet-100.expected,
 * written by tests/make-reader-fixtures.py --reference), and the facts
 * its README states: conv weights are 4-bit integers in [-8, 7] and the
 * FC weight 6-bit integers in [-32, 31]. */
#define _GNU_SOURCE
#include "tap.h"

#include <unistd.h>

#include "tensor.h"

static void check_expected(const struct ms_checkpoint *ck, FILE *f)
{
	char line[1 << 16], key[256], name[256], dtype[32], shape[128];
	char dist[32], sum[64];
	long long elements, nonzero;
	double min, max;
	int all_int, lines = 0, matched = 0;

	while (fgets(line, sizeof line, f) != NULL) {
		const struct ms_tensor *t;
		double s = 0;

		if (sscanf(line, "%255s %255s %31s %127s %lld %lld %lf %lf %31s %d "
			   "%63s", key, name, dtype, shape, &elements, &nonzero,
			   &min, &max, dist, &all_int, sum) != 11)
			continue;
		lines++;
		t = ms_checkpoint_find(ck, key);
		if (t == NULL) {
			tap_ok(0, "tensor %s present", key);
			continue;
		}
		for (int64_t i = 0; i < t->stats.elements; i++)
			s += ms_tensor_get(t, i);
		if (t->stats.elements == elements && t->stats.nonzero == nonzero &&
		    t->stats.min == min && t->stats.max == max &&
		    t->stats.distinct == atoll(dist) &&
		    t->stats.all_integer == (all_int != 0) &&
		    fabs(s - atof(sum)) <= 1e-9 * (fabs(s) > 1 ? fabs(s) : 1))
			matched++;
		else
			tap_ok(0, "%s statistics match torch", key);
	}
	tap_ok(lines == 402 && matched == 402,
	       "all 402 tensors match torch's statistics (%d of %d)", matched,
	       lines);
}

int main(void)
{
	const char *ref = getenv("REFERENCE_DIR");
	const char *src = getenv("TESTS_SRCDIR");
	char path[4096], expected[4096];
	struct ms_checkpoint ck;
	struct ms_error err;
	int conv = 0, conv_ok = 0;
	const struct ms_tensor *fc;
	bool is_signed;
	FILE *f;

	snprintf(path, sizeof path, "%s/densenet-100.pth.tar", ref ? ref : ".");
	if (ref == NULL || access(path, R_OK) != 0)
		return tap_skip_all("the reference checkpoint densenet-100.pth.tar "
				    "is not in $REFERENCE_DIR");
	if (!tap_ok(ms_checkpoint_open(path, &ck, &err) == 0, "reference opens")) {
		printf("# %s\n", err.msg);
		return tap_done();
	}
	tap_str(ck.format, "torch-legacy", "reference format");
	tap_ok(ck.count == 402, "402 tensors (got %zu)", ck.count);

	for (size_t i = 0; i < ck.count; i++) {
		const struct ms_tensor *t = &ck.tensors[i];
		size_t n = strlen(t->key);

		if (t->ndim != 4 || n < 7 || strcmp(t->key + n - 7, ".weight") != 0)
			continue;
		conv++;
		if (t->dtype == MS_DTYPE_F32 && t->stats.all_integer &&
		    t->stats.min >= -8 && t->stats.max <= 7 &&
		    ms_stats_infer_bits(&t->stats, &is_signed) <= 4)
			conv_ok++;
	}
	tap_ok(conv > 0 && conv_ok == conv,
	       "every conv weight holds integers in [-8, 7] (%d of %d)", conv_ok,
	       conv);
	fc = ms_checkpoint_find(&ck, "fc.weight");
	tap_ok(fc != NULL && fc->stats.all_integer && fc->stats.min >= -32 &&
	       fc->stats.max <= 31, "fc.weight holds integers in [-32, 31]");
	if (fc != NULL)
		tap_ok(ms_stats_infer_bits(&fc->stats, &is_signed) <= 6 && is_signed,
		       "fc.weight needs at most 6 signed bits");

	snprintf(expected, sizeof expected,
		 "%s/fixtures/readers/densenet-100.expected", src ? src : "tests");
	f = fopen(expected, "r");
	if (tap_ok(f != NULL, "expected statistics file opens")) {
		check_expected(&ck, f);
		fclose(f);
	}
	ms_checkpoint_close(&ck);
	return tap_done();
}
