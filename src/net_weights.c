/* Layers with weights (conv, linear, scale, batch norm): their tensors
 * bound from the checkpoint by name and checked against the shape the
 * description implies, and their weight counts for scoring. */
#define _POSIX_C_SOURCE 200809L  /* strdup, strndup */

#include "net_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Binding */

static int add_missing(struct net_builder *b, const char *name, int line)
{
	struct ms_net *net = b->net;

	if (net->missing_count == b->missing_cap) {
		size_t cap = b->missing_cap ? 2 * b->missing_cap : 16;
		char **m = realloc(net->missing, cap * sizeof *m);

		if (m == NULL)
			return net_fail(b, line, 1, "out of memory");
		net->missing = m;
		b->missing_cap = cap;
	}
	net->missing[net->missing_count] = strdup(name);
	if (net->missing[net->missing_count] == NULL)
		return net_fail(b, line, 1, "out of memory");
	net->missing_count++;
	return 0;
}

/* Looks up tensor BASE.SUFFIX of layer BASE and marks it used. With no
 * checkpoint, *OUT is NULL. A tensor that is REQUIRED but not found is
 * recorded as missing, unless the checkpoint skipped a placeholder object
 * at that key, which is an error. */
static int bind(struct net_builder *b, const char *base, const char *suffix,
		bool required, int line, const struct ms_tensor **out)
{
	char key[NET_MAX_NAME + 64];
	const char *global;

	*out = NULL;
	if (b->ck == NULL)
		return 0;
	snprintf(key, sizeof key, "%s.%s", base, suffix);
	*out = ms_checkpoint_find(b->ck, key);
	if (*out != NULL) {
		size_t i = (size_t)(*out - b->ck->tensors);

		if (i < b->ck->count)
			b->used[i] = true;
		return 0;
	}
	if (!required)
		return 0;
	global = ms_checkpoint_placeholder(b->ck, key);
	if (global != NULL)
		return net_fail(b, line, 1, "layer '%s' needs tensor '%s', but "
				"the checkpoint has a %s object there, which "
				"microscore does not run", base, key, global);
	return add_missing(b, key, line);
}

static void shape_text(char *buf, size_t size, int ndim, const int64_t *dims)
{
	size_t len = 0;

	buf[0] = '\0';
	if (ndim == 0)
		snprintf(buf, size, "a scalar");
	for (int i = 0; i < ndim && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%lld",
					i ? "x" : "", (long long)dims[i]);
}

static int mismatch(struct net_builder *b, const struct net_stmt *st,
		    const char *layer, const char *what, int ndim,
		    const int64_t *want, const struct ms_tensor *t)
{
	char w[96], g[96];

	shape_text(w, sizeof w, ndim, want);
	shape_text(g, sizeof g, t->ndim, t->shape);
	return net_fail(b, st->line, st->col,
			"layer '%s' expects %s %s but tensor '%s' is %s",
			layer, what, w, t->key != NULL ? t->key : t->name, g);
}

static bool shape_is(const struct ms_tensor *t, int ndim, const int64_t *d)
{
	if (t->ndim != ndim)
		return false;
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] != d[i])
			return false;
	return true;
}

/* Returns the element count of T's shape, or -1 when it overflows. */
static int64_t elements_of(const struct ms_tensor *t)
{
	int64_t n = 1;

	for (int i = 0; i < t->ndim; i++)
		if (t->shape[i] < 0 ||
		    __builtin_mul_overflow(n, t->shape[i], &n))
			return -1;
	return n;
}

/* Checks that T contains N elements in any shape, as per-channel vectors
 * such as (C), (1, C, 1) or (1, C, 1, 1) do. */
static int check_vector(struct net_builder *b, const struct net_stmt *st,
			const char *layer, const struct ms_tensor *t,
			int64_t n)
{
	if (t == NULL || elements_of(t) == n)
		return 0;
	return mismatch(b, st, layer, "a vector of", 1, &n, t);
}

/* Fills the weight counts of L from W's statistics, or as a dense weight
 * of ELEMENTS values in CHANNELS output channels when W is NULL. */
static void fill_counts(struct ms_layer *l, const struct ms_tensor *w,
			int64_t elements, int64_t channels, bool per_channel)
{
	l->weight = w;
	if (w == NULL) {
		l->weight_elements = elements;
		l->weight_nonzero = elements;
		l->weight_channels = channels;
		l->channel_nonzero = NULL;
		return;
	}
	l->weight_elements = w->stats.elements;
	l->weight_nonzero = w->stats.nonzero;
	if (per_channel && w->stats.channel_nonzero != NULL &&
	    w->stats.channels == channels) {
		l->weight_channels = w->stats.channels;
		l->channel_nonzero = w->stats.channel_nonzero;
	} else {
		l->weight_channels = channels;
		l->channel_nonzero = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Shapes */

/* Fails unless OUT, the output width from out= or the bound weight, is
 * known. */
static int require_out(struct net_builder *b, const struct net_stmt *st,
		       const char *name, int64_t out)
{
	if (out != 0)
		return 0;
	return net_fail(b, st->line, st->col, "layer '%s': out= is not given "
			"and no tensor '%s.weight' gives it", name, name);
}

static int64_t conv_size(int64_t in, int64_t k, int64_t s, int64_t p,
			 int64_t d)
{
	int64_t span = d * (k - 1) + 1;

	if (in + 2 * p < span)
		return 0;
	return (in + 2 * p - span) / s + 1;
}

/* ------------------------------------------------------------------ */
/* Layers with weights */

static int conv_kernel(struct net_builder *b, const struct net_stmt *st,
		       const char *name, const struct ms_tensor *w,
		       int64_t *kh, int64_t *kw)
{
	int64_t k;
	int r = net_int_opt(b, st, "k", 1, 65536, &k);

	if (r < 0)
		return -1;
	if (r > 0)
		*kh = *kw = k;
	else if (w != NULL)
		*kh = w->shape[2], *kw = w->shape[3];
	else
		*kh = *kw = 0;
	if (net_int_opt(b, st, "kh", 1, 65536, kh) < 0 ||
	    net_int_opt(b, st, "kw", 1, 65536, kw) < 0)
		return -1;
	if (*kh == 0 || *kw == 0)
		return net_fail(b, st->line, st->col,
				"layer '%s': the kernel size is not given (k=) "
				"and no tensor '%s.weight' gives it", name,
				name);
	return 0;
}

/* Output size of a conv along one dimension, with padding PAD_OPT (a
 * number or the word "same") stored in *PAD. */
static int conv_dim(struct net_builder *b, const struct net_stmt *st,
		    const char *pad_key, int64_t in, int64_t k, int64_t s,
		    int64_t d, int64_t *pad, int64_t *out)
{
	const struct net_option *o = net_find_opt(st, pad_key);

	if (o == NULL && strcmp(pad_key, "pad") != 0)
		o = net_find_opt(st, "pad");
	*pad = 0;
	if (o != NULL && net_is_word(o->value, "same")) {
		int64_t total;

		*out = (in + s - 1) / s;
		total = (*out - 1) * s + d * (k - 1) + 1 - in;
		*pad = total > 0 ? total / 2 : 0;
		return 0;
	}
	if (o != NULL) {
		if (net_eval(b, o->value, pad) < 0)
			return -1;
		if (*pad < 0 || *pad > 65536)
			return net_fail(b, o->value->line, o->value->col,
					"%s=%lld is out of range (0 to 65536)",
					o->key, (long long)*pad);
	}
	*out = conv_size(in, k, s, *pad, d);
	return 0;
}

static int bind_bias(struct net_builder *b, const struct net_stmt *st,
		     struct ms_layer *l, int64_t n)
{
	const struct ms_tensor *t = NULL;

	if (net_find_opt(st, "nobias") != NULL)
		return 0;
	if (bind(b, l->name, "bias", net_find_opt(st, "bias") != NULL, st->line,
		 &t) < 0 || check_vector(b, st, l->name, t, n) < 0)
		return -1;
	l->bias_tensor = t;
	l->bias = t != NULL || net_find_opt(st, "bias") != NULL;
	return 0;
}

int net_build_conv(struct net_builder *b, const struct net_stmt *st,
		      struct ms_layer *l)
{
	const struct ms_tensor *w;
	struct ms_shape in = l->in;
	int64_t groups = 1, out, s = 1, d = 1, elements;

	if (bind(b, l->name, "weight", true, st->line, &w) < 0)
		return -1;
	if (w != NULL && w->ndim != 4) {
		char g[96];

		shape_text(g, sizeof g, w->ndim, w->shape);
		return net_fail(b, st->line, st->col,
				"layer '%s' expects a 4-dimensional weight but "
				"tensor '%s' is %s", l->name, w->key, g);
	}
	if (net_find_opt(st, "depthwise") != NULL)
		groups = in.c;
	if (net_int_opt(b, st, "groups", 1, NET_MAX_DIM, &groups) < 0)
		return -1;
	out = w != NULL ? w->shape[0] : 0;
	if (net_find_opt(st, "depthwise") != NULL && w == NULL)
		out = in.c;
	if (net_int_opt(b, st, "out", 1, NET_MAX_DIM, &out) < 0)
		return -1;
	if (require_out(b, st, l->name, out) < 0)
		return -1;
	if (conv_kernel(b, st, l->name, w, &l->kh, &l->kw) < 0)
		return -1;
	if (in.c % groups != 0 || out % groups != 0)
		return net_fail(b, st->line, st->col,
				"layer '%s': groups=%lld does not divide its "
				"%lld input and %lld output channels", l->name,
				(long long)groups, (long long)in.c,
				(long long)out);

	int64_t want[4] = { out, in.c / groups, l->kh, l->kw };

	if (w != NULL && !shape_is(w, 4, want))
		return mismatch(b, st, l->name, "weight", 4, want, w);
	if (net_int_opt(b, st, "stride", 1, 65536, &s) < 0 ||
	    net_int_opt(b, st, "dilation", 1, 65536, &d) < 0)
		return -1;
	l->stride_h = l->stride_w = s;
	l->dilation = d;
	l->groups = groups;
	l->out.c = out;
	if (conv_dim(b, st, "pad_h", in.h, l->kh, s, d, &l->pad_h,
		     &l->out.h) < 0 ||
	    conv_dim(b, st, "pad_w", in.w, l->kw, s, d, &l->pad_w,
		     &l->out.w) < 0 ||
	    net_check_out(b, st, l->name, in, l->out) < 0)
		return -1;
	if (__builtin_mul_overflow(out, in.c / groups, &elements) ||
	    __builtin_mul_overflow(elements, l->kh * l->kw, &elements) ||
	    elements > NET_MAX_ELEMENTS)
		return net_fail(b, st->line, st->col,
				"layer '%s': weight is too large", l->name);
	fill_counts(l, w, elements, out, true);
	return bind_bias(b, st, l, out);
}

int net_build_linear(struct net_builder *b, const struct net_stmt *st,
			struct ms_layer *l)
{
	const struct ms_tensor *w;
	struct ms_shape in = l->in;
	int64_t out;

	if (in.h != 1 || in.w != 1)
		return net_fail(b, st->line, st->col,
				"layer '%s': linear needs a flat input (Cx1x1) "
				"but gets %lldx%lldx%lld; add 'flatten' or "
				"'globalpool' before it", l->name,
				(long long)in.c, (long long)in.h,
				(long long)in.w);
	if (bind(b, l->name, "weight", true, st->line, &w) < 0)
		return -1;
	out = w != NULL && w->ndim >= 1 ? w->shape[0] : 0;
	if (net_int_opt(b, st, "out", 1, NET_MAX_DIM, &out) < 0)
		return -1;
	if (require_out(b, st, l->name, out) < 0)
		return -1;

	int64_t want[2] = { out, in.c };

	if (w != NULL && !shape_is(w, 2, want))
		return mismatch(b, st, l->name, "weight", 2, want, w);
	if (out > NET_MAX_ELEMENTS / in.c)
		return net_fail(b, st->line, st->col,
				"layer '%s': weight is too large", l->name);
	l->out.c = out;
	fill_counts(l, w, out * in.c, out, true);
	return bind_bias(b, st, l, out);
}

int net_build_scale(struct net_builder *b, const struct net_stmt *st,
		       struct ms_layer *l)
{
	const struct ms_tensor *w;
	int64_t c = l->in.c;

	if (bind(b, l->name, "weight", true, st->line, &w) < 0 ||
	    check_vector(b, st, l->name, w, c) < 0)
		return -1;
	fill_counts(l, w, c, c, false);
	return bind_bias(b, st, l, c);
}

int net_build_bn(struct net_builder *b, const struct net_stmt *st,
		    struct ms_layer *l)
{
	static const char *const stats[] = { "running_mean", "running_var" };
	const struct ms_tensor *w = NULL, *t;
	int64_t c = l->in.c;

	if (net_find_opt(st, "noaffine") == NULL) {
		if (bind(b, l->name, "weight", true, st->line, &w) < 0 ||
		    check_vector(b, st, l->name, w, c) < 0 ||
		    bind(b, l->name, "bias", true, st->line, &t) < 0 ||
		    check_vector(b, st, l->name, t, c) < 0)
			return -1;
		l->bias_tensor = t;
		l->bias = true;
	}
	for (int i = 0; i < 2; i++)
		if (bind(b, l->name, stats[i], true, st->line, &t) < 0 ||
		    check_vector(b, st, l->name, t, c) < 0)
			return -1;
	/* Older checkpoints have no batch counter, so it is optional. */
	if (bind(b, l->name, "num_batches_tracked", false, st->line, &t) < 0)
		return -1;
	fill_counts(l, w, c, c, false);
	return 0;
}
