/* A first-draft network description made from a checkpoint's tensor names
 * and shapes alone, with every guess marked for the user to check. */
#define _POSIX_C_SOURCE 200809L  /* strndup */

#include "describe_internal.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *key_of(const struct ms_tensor *t)
{
	return t->key != NULL ? t->key : t->name;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Collects the layers in checkpoint order, keyed by the name before the
 * last dot. Returns the count, or -1 when memory runs out. */
static long collect(const struct ms_checkpoint *ck, struct draft_layer *out)
{
	long n = 0;

	for (size_t i = 0; i < ck->count; i++) {
		const struct ms_tensor *t = &ck->tensors[i];
		const char *key = key_of(t), *dot = strrchr(key, '.');
		size_t plen = dot != NULL ? (size_t)(dot - key) : 0;
		long j;

		/* Optimizer state and other entries beside the weights are
		 * not layers. */
		if (dot == NULL || t->outside_weights)
			continue;
		for (j = n - 1; j >= 0; j--)
			if (strlen(out[j].prefix) == plen &&
			    strncmp(out[j].prefix, key, plen) == 0)
				break;
		if (j < 0) {
			out[n].prefix = strndup(key, plen);
			if (out[n].prefix == NULL)
				return -1;
			j = n++;
		}
		if (ends_with(key, ".weight"))
			out[j].weight = t;
		else if (ends_with(key, ".bias"))
			out[j].bias = t;
		else if (ends_with(key, ".running_mean") ||
			 ends_with(key, ".running_var"))
			out[j].batchnorm = true;
	}
	return n;
}

/* Writes NAME so that the parser reads it back: bare when it uses only
 * name characters, else quoted. Returns false when it cannot be written. */
static bool write_name(FILE *out, const char *name)
{
	bool bare = name[0] != '\0';

	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\n' || *p == '$')
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_.-/:", *p) != NULL))
			bare = false;
	}
	fprintf(out, bare ? "%s" : "\"%s\"", name);
	return true;
}

static int64_t vector_length(const struct ms_tensor *t)
{
	int64_t n = 1;

	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

/* Writes the options of conv weight W (out, in / groups, kh, kw) that
 * follows an activation of C channels, with a guess comment. Only a clean
 * depthwise weight (in-channels 1 over C > 1 channels that divide out)
 * gets groups > 1. Any other difference between C and the weight's
 * in-channels means the conv most likely reads another activation, such
 * as a block input in a residual shortcut, so it keeps groups 1. */
static void write_conv(FILE *out, const struct ms_tensor *w, int64_t c,
		       bool bias)
{
	int64_t w_out = w->shape[0], w_in = w->shape[1];
	bool depthwise = w_in == 1 && c > 1 && w_out % c == 0;

	fprintf(out, " out=%lld kh=%lld kw=%lld", (long long)w_out,
		(long long)w->shape[2], (long long)w->shape[3]);
	if (depthwise)
		fprintf(out, " groups=%lld", (long long)c);
	fprintf(out, " pad=%lld%s    # guess: stride 1, padding k/2",
		(long long)(w->shape[2] / 2), bias ? " bias" : "");
	if (depthwise)
		fprintf(out, ", groups=%lld (depthwise: weight in-channels "
			"1)", (long long)c);
	else if (w_in != c)
		fprintf(out, ", input channels %lld from the weight, but the "
			"layer before gives %lld, so the input is another "
			"activation such as a residual block's input",
			(long long)w_in, (long long)c);
	fputc('\n', out);
}

/* Writes the statement of one layer and updates the channel count C. */
static void write_layer(FILE *out, const struct draft_layer *l, int64_t *c,
			bool *flat)
{
	const struct ms_tensor *w = l->weight;
	const char *kind;

	if (w == NULL) {
		fprintf(out, "# not a layer: tensors under '%s'\n", l->prefix);
		return;
	}
	if (w->ndim == 4) {
		kind = "conv";
	} else if (w->ndim == 2 && !l->batchnorm) {
		kind = "linear";
		if (!*flat) {
			fprintf(out, "globalpool    # guess: pooled to 1x1 "
				"before the first linear layer\nflatten\n");
			*flat = true;
		}
	} else if (vector_length(w) == *c) {
		kind = l->batchnorm ? "bn" : "scale";
	} else {
		fprintf(out, "# guess: '%s' (%lld elements) is not a layer "
			"over the %lld channels here\n", l->prefix,
			(long long)vector_length(w), (long long)*c);
		return;
	}

	fprintf(out, "%s ", kind);
	if (!write_name(out, l->prefix)) {
		fprintf(out, "\n# cannot write the name of '%s'\n", kind);
		return;
	}
	if (w->ndim == 4) {
		write_conv(out, w, *c, l->bias != NULL);
		*c = w->shape[0];
	} else if (w->ndim == 2) {
		fprintf(out, " out=%lld%s\n", (long long)w->shape[0],
			l->bias != NULL ? " bias" : "");
		*c = w->shape[0];
	} else {
		fprintf(out, "%s\n", l->bias != NULL && !l->batchnorm ?
			" bias" : "");
		if (l->batchnorm)
			fprintf(out, "relu    # guess: an activation after "
				"each batch norm\n");
	}
}

int ms_net_describe(FILE *out, const struct ms_checkpoint *ck,
		    struct ms_error *err)
{
	struct draft_layer *layers;
	long n, flat_count;
	int64_t c = 0, classes = 0;
	bool flat = false;

	layers = calloc(ck->count + 1, sizeof *layers);
	if (layers == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	n = collect(ck, layers);
	if (n < 0) {
		ms_fail(err, "%s: out of memory", ck->path);
		goto out;
	}
	flat_count = n;
	for (long i = 0; i < n; i++) {
		const struct ms_tensor *w = layers[i].weight;

		if (w != NULL && w->ndim == 4 && c == 0)
			c = w->shape[1];
		if (w != NULL && w->ndim == 2 && !layers[i].batchnorm)
			classes = w->shape[0];
	}

	fprintf(out, "# First draft made by microscore from the tensor names "
		"and shapes of\n# %s.\n# Check every line marked \"guess\": "
		"strides, the input size,\n# where pooling happens and the "
		"joins of residual or dense blocks are\n# not stored in a "
		"checkpoint. Syntax: microscore-net(5).\n\n",
		ck->path != NULL ? ck->path : "the checkpoint");
	if (c == 0)
		c = 3;
	fprintf(out, "input %lld %d %d    # guess: input size\n",
		(long long)c, classes == 1000 ? 224 : 32,
		classes == 1000 ? 224 : 32);
	if (classes == 1000)
		fprintf(out, "baseline imagenet    # guess: 1000 classes\n");
	fprintf(out, "# Weight bits of conv and linear layers, inferred from "
		"their values:\n# the integer range, a codebook of at most %d "
		"values, or the dtype.\n# Activation bits are not stored: "
		"set abits where they are not 32.\ndefault wbits=auto\n\n",
		MS_CODEBOOK_MAX);
	/* Known residual layouts get blocks, and any other checkpoint gets a
	 * flat sequence of layers. */
	if (describe_residual(out, layers, n))
		flat_count = 0;
	for (long i = 0; i < flat_count; i++) {
		const char *p = layers[i].prefix, *q = i > 0 ?
				layers[i - 1].prefix : "";
		size_t len = strcspn(p, ".");

		/* A comment line opens each group of layers whose names share
		 * their first component ("layer1", "features"). */
		if (strncmp(p, q, len) != 0 || (q[len] != '.' && q[len] != '\0'))
			fprintf(out, "\n# %.*s\n", (int)len, p);
		write_layer(out, &layers[i], &c, &flat);
	}
	if (ferror(out))
		ms_fail(err, "writing the description failed");
out:
	for (long i = 0; i < (n > 0 ? n : 0); i++)
		free(layers[i].prefix);
	free(layers);
	return n < 0 || ferror(out) ? -1 : 0;
}
