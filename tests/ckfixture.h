/* Helpers of the checkpoint tests: fixture paths, comparison of a loaded
 * checkpoint with the statistics torch computed (the .expected files that
 * tests/make-reader-fixtures.py documents), and checks of rejected
 * files. Each test program includes it once. */
#ifndef MS_TEST_CKFIXTURE_H
#define MS_TEST_CKFIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tensor.h"

static char fixture_dir[4096];

static const char *fixture(const char *name)
{
	static char path[4096 + 256];

	snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
	return path;
}

static const struct ms_tensor *find_by_name(const struct ms_checkpoint *ck,
					    const char *name)
{
	for (size_t i = 0; i < ck->count; i++) {
		if (strcmp(ck->tensors[i].name, name) == 0)
			return &ck->tensors[i];
	}
	return NULL;
}

static void join_shape(const struct ms_tensor *t, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (int d = 0; d < t->ndim; d++)
		n += (size_t)snprintf(out + n, size - n, d ? ",%lld" : "%lld",
				      (long long)t->shape[d]);
	if (t->ndim == 0)
		snprintf(out, size, "-");
}

static void join_channels(const struct ms_tensor *t, char *out, size_t size)
{
	size_t n = 0;

	snprintf(out, size, "-");
	for (int64_t c = 0; c < t->stats.channels && n < size - 32; c++)
		n += (size_t)snprintf(out + n, size - n, c ? ",%lld" : "%lld",
				      (long long)t->stats.channel_nonzero[c]);
}

/* Compares one "key name dtype shape elements nonzero min max distinct
 * all_integer sum channels" line with the loaded tensor. */
static void check_line(const struct ms_checkpoint *ck, const char *file,
		       char *line)
{
	char key[512], name[512], dtype[32], shape[256], dist[32], sum[64];
	static char chans[1 << 16], got[1 << 16];
	long long elements, nonzero;
	double min, max;
	int all_int;
	const struct ms_tensor *t;

	if (sscanf(line, "%511s %511s %31s %255s %lld %lld %lf %lf %31s %d %63s "
		   "%65535s", key, name, dtype, shape, &elements, &nonzero, &min,
		   &max, dist, &all_int, sum, chans) != 12) {
		tap_ok(0, "%s: expected line parses: %s", file, line);
		return;
	}
	t = find_by_name(ck, name);
	if (!tap_ok(t != NULL, "%s: tensor %s is present", file, name))
		return;
	tap_str(t->key, key, "%s: %s key", file, name);
	tap_str(ms_dtype_name(t->dtype), dtype, "%s: %s dtype", file, name);
	join_shape(t, got, sizeof got);
	tap_str(got, shape, "%s: %s shape", file, name);
	tap_ok(t->stats.elements == elements, "%s: %s has %lld elements", file,
	       name, elements);
	tap_ok(t->stats.nonzero == nonzero, "%s: %s has %lld nonzeros (got %lld)",
	       file, name, nonzero, (long long)t->stats.nonzero);
	tap_close(t->stats.min, min, 0, "%s: %s min", file, name);
	tap_close(t->stats.max, max, 0, "%s: %s max", file, name);
	if (dist[strlen(dist) - 1] == '+')
		tap_ok(t->stats.distinct_capped, "%s: %s distinct count is capped",
		       file, name);
	else
		tap_ok(!t->stats.distinct_capped && t->stats.distinct == atoll(dist),
		       "%s: %s has %s distinct values (got %lld)", file, name,
		       dist, (long long)t->stats.distinct);
	tap_ok(t->stats.all_integer == (all_int != 0), "%s: %s all_integer is %d",
	       file, name, all_int);
	if (strcmp(sum, "-") != 0) {
		double s = 0;

		for (int64_t i = 0; i < t->stats.elements; i++)
			s += ms_tensor_get(t, i);
		tap_close(s, atof(sum), 1e-9, "%s: %s sum of elements", file, name);
	}
	join_channels(t, got, sizeof got);
	tap_str(got, chans, "%s: %s nonzeros per channel", file, name);
}

/* Opens fixture FILE and compares it with EXPECTED. */
static void check_fixture(const char *file, const char *expected)
{
	struct ms_checkpoint ck;
	struct ms_error err;
	char line[1 << 17], format[64];
	size_t count = 0;
	FILE *f = fopen(fixture(expected), "r");

	if (!tap_ok(f != NULL, "%s: expected file opens", expected))
		return;
	if (!tap_ok(ms_checkpoint_open(fixture(file), &ck, &err) == 0,
		    "%s: opens", file)) {
		printf("# %s\n", err.msg);
		fclose(f);
		return;
	}
	if (fscanf(f, "format %63s\ncount %zu\n", format, &count) == 2) {
		tap_str(ck.format, format, "%s: format", file);
		tap_ok(ck.count == count, "%s: %zu tensors (got %zu)", file, count,
		       ck.count);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		check_line(&ck, file, line);
	}
	fclose(f);
	ms_checkpoint_close(&ck);
}

/* Opens PATH, expects failure with a message containing each of the
 * strings in WANT (NULL-terminated). */
static __attribute__((unused)) void check_rejects(const char *label, const char *path,
			  const char *const *want)
{
	struct ms_checkpoint ck;
	struct ms_error err = { "" };
	int rc = ms_checkpoint_open(path, &ck, &err);

	if (!tap_ok(rc < 0, "%s: rejected", label)) {
		ms_checkpoint_close(&ck);
		return;
	}
	tap_ok(strncmp(err.msg, path, strlen(path)) == 0 &&
	       err.msg[strlen(path)] == ':', "%s: message starts with the path",
	       label);
	for (; *want != NULL; want++) {
		if (!tap_ok(strstr(err.msg, *want) != NULL,
			    "%s: message mentions '%s'", label, *want))
			printf("# message: %s\n", err.msg);
	}
	tap_ok(ck.count == 0 && ck.tensors == NULL && ck.priv == NULL,
	       "%s: checkpoint left empty", label);
}

#define REJECTS(label, file, ...) \
	check_rejects(label, fixture(file), (const char *const[]){ __VA_ARGS__, NULL })

#endif
