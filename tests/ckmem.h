/* In-memory checkpoints for the model-layer tests: tensors built by hand
 * or from a list of keys and shapes (tests/nets/NAME.shapes), with the
 * statistics that ms_tensor_scan() would gather, computed here from the
 * test's own float32 data. */
#ifndef MS_TEST_CKMEM_H
#define MS_TEST_CKMEM_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

/* Adds tensor KEY of shape DIMS (NDIM entries) to CK. VALUES contains the
 * row-major float32 elements, or is NULL for a dense tensor of ones whose
 * data is never read (the model layer reads only statistics). Returns the
 * tensor, or NULL when memory runs out. */
static __attribute__((unused)) struct ms_tensor *
ckmem_add(struct ms_checkpoint *ck, const char *key, int ndim,
	  const int64_t *dims, const float *values)
{
	struct ms_tensor *ts, *t;
	int64_t n = 1;

	ts = realloc(ck->tensors, (ck->count + 1) * sizeof *ts);
	if (ts == NULL)
		return NULL;
	ck->tensors = ts;
	t = &ts[ck->count++];
	memset(t, 0, sizeof *t);
	t->name = strdup(key);
	t->key = t->name;
	t->dtype = MS_DTYPE_F32;
	t->ndim = ndim;
	for (int i = ndim - 1; i >= 0; i--) {
		t->shape[i] = dims[i];
		t->stride[i] = n;
		n *= dims[i];
	}
	t->data = (const unsigned char *)values;
	t->storage_bytes = values != NULL ? (size_t)n * sizeof(float) : 0;

	/* Statistics: channels are the slices along dimension 0. */
	struct ms_tensor_stats *s = &t->stats;
	int64_t per;

	s->elements = n;
	s->channels = ndim > 0 ? dims[0] : 1;
	per = s->channels > 0 ? n / s->channels : 0;
	s->channel_nonzero = calloc((size_t)(s->channels ? s->channels : 1),
				    sizeof *s->channel_nonzero);
	s->all_integer = true;
	if (values == NULL) {
		s->nonzero = n;
		for (int64_t c = 0; c < s->channels; c++)
			s->channel_nonzero[c] = per;
		s->min = s->max = s->first = n > 0 ? 1.0 : 0.0;
		s->distinct = n > 0;
		return t;
	}
	for (int64_t i = 0; i < n; i++) {
		float v = values[i];

		if (v != 0.0f) {
			s->nonzero++;
			s->channel_nonzero[per ? i / per : 0]++;
		}
		if (v != floorf(v))
			s->all_integer = false;
		if (i == 0 || v < s->min)
			s->min = v;
		if (i == 0 || v > s->max)
			s->max = v;
		bool seen = false;

		for (int64_t j = 0; j < i && !seen; j++)
			seen = values[j] == v;
		s->distinct += !seen;
	}
	s->first = n > 0 ? values[0] : 0.0;
	return t;
}

/* Reads "KEY D0 D1 ..." lines (lines starting with '#' skipped) into CK
 * as dense tensors. Returns the tensor count, or -1 when PATH cannot be
 * read. */
static __attribute__((unused)) int
ckmem_load_shapes(struct ms_checkpoint *ck, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int count = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		int64_t dims[MS_MAX_DIMS];
		int ndim = 0;
		char *tok = strtok(line, " \n");

		if (tok == NULL || tok[0] == '#')
			continue;

		char *key = tok;

		while ((tok = strtok(NULL, " \n")) != NULL && ndim < MS_MAX_DIMS)
			dims[ndim++] = strtoll(tok, NULL, 10);
		ckmem_add(ck, key, ndim, dims, NULL);
		count++;
	}
	fclose(f);
	return count;
}

/* Reads the number after "# WHAT " in the header of a shapes file, or
 * returns -1. */
static __attribute__((unused)) double
ckmem_header_value(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t len = strlen(what);
	double v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL && line[0] == '#')
		if (strncmp(line + 2, what, len) == 0 && line[2 + len] == ' ')
			v = strtod(line + 3 + len, NULL);
	fclose(f);
	return v;
}

static __attribute__((unused)) void ckmem_free(struct ms_checkpoint *ck)
{
	for (size_t i = 0; i < ck->count; i++) {
		free(ck->tensors[i].name);
		free(ck->tensors[i].stats.channel_nonzero);
	}
	free(ck->tensors);
	memset(ck, 0, sizeof *ck);
}

/* Definitions used only when the core library does not provide them yet
 * (weak symbols): the model layer calls both, and the readers branch
 * implements them. Each follows its contract in tensor.h. */
__attribute__((weak)) const struct ms_tensor *
ms_checkpoint_find(const struct ms_checkpoint *ck, const char *name)
{
	for (size_t i = 0; i < ck->count; i++)
		if (strcmp(ck->tensors[i].key, name) == 0)
			return &ck->tensors[i];
	return NULL;
}

__attribute__((weak)) int ms_stats_infer_bits(const struct ms_tensor_stats *s,
					      bool *is_signed)
{
	int bits = 1;

	*is_signed = s->min < 0;
	if (s->all_integer) {
		double lo = s->min, hi = s->max;

		while (*is_signed ? (lo < -ldexp(1, bits - 1) ||
				     hi > ldexp(1, bits - 1) - 1)
				  : hi > ldexp(1, bits) - 1)
			bits++;
		return bits;
	}
	if (s->distinct_capped)
		return 32;
	while (ldexp(1, bits) < (double)s->distinct)
		bits++;
	return bits;
}

#endif
