/* One layer statement: its options, and the output shape of the layers
 * without weights; layers with weights are in net_weights.c. */
#include "net_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options each layer kind takes besides the precision options. A leading
 * '!' marks a flag (no value). */
static const char *const conv_opts[] = {
	"out", "k", "kh", "kw", "stride", "pad", "pad_h", "pad_w",
	"dilation", "groups", "!depthwise", "!bias", "!nobias", NULL
};
static const char *const linear_opts[] = { "out", "!bias", "!nobias", NULL };
static const char *const scale_opts[] = { "!bias", "!nobias", NULL };
static const char *const bn_opts[] = { "!noaffine", NULL };
static const char *const pool_opts[] = { "k", "stride", "pad", "!ceil", NULL };
static const char *const concat_opts[] = { "channels", NULL };
static const char *const upsample_opts[] = { "factor", NULL };
static const char *const no_opts[] = { NULL };

static const char *const *options_of(enum ms_layer_kind kind)
{
	switch (kind) {
	case MS_LAYER_CONV: return conv_opts;
	case MS_LAYER_LINEAR: return linear_opts;
	case MS_LAYER_SCALE: return scale_opts;
	case MS_LAYER_BATCHNORM: return bn_opts;
	case MS_LAYER_AVGPOOL:
	case MS_LAYER_MAXPOOL: return pool_opts;
	case MS_LAYER_CONCAT: return concat_opts;
	case MS_LAYER_UPSAMPLE: return upsample_opts;
	default: return no_opts;
	}
}

static bool has_weight(enum ms_layer_kind kind)
{
	return kind == MS_LAYER_CONV || kind == MS_LAYER_LINEAR ||
	       kind == MS_LAYER_SCALE || kind == MS_LAYER_BATCHNORM;
}

/* ------------------------------------------------------------------ */
/* Options */

bool net_is_word(const struct net_expr *e, const char *word)
{
	return e != NULL && e->kind == NE_VAR && strcmp(e->var, word) == 0;
}

int net_apply_prec(struct net_builder *b, const struct net_option *o,
		   struct net_prec *p)
{
	int64_t v;

	if (strcmp(o->key, "signed") == 0 || strcmp(o->key, "unsigned") == 0) {
		if (o->value != NULL)
			return net_fail(b, o->line, o->col,
					"'%s' is a flag and takes no value",
					o->key);
		p->act_signed = o->key[0] == 's';
		return 1;
	}
	if (strcmp(o->key, "accum") == 0) {
		static const char *const names[] = {
			"default", "tree", "fixed", "fp32"
		};

		for (int i = 0; i < 4; i++)
			if (net_is_word(o->value, names[i])) {
				p->accum = (enum ms_accum)i;
				return 1;
			}
		return net_fail(b, o->line, o->col,
				"accum must be tree, fixed, fp32 or default");
	}
	if (strcmp(o->key, "wbits") != 0 && strcmp(o->key, "abits") != 0)
		return 0;
	if (o->value == NULL)
		return net_fail(b, o->line, o->col, "'%s' needs a value",
				o->key);
	if (o->key[0] == 'w' && net_is_word(o->value, "auto")) {
		p->weight_auto = true;
		p->weight_bits = 0;
		return 1;
	}
	if (net_eval(b, o->value, &v) < 0)
		return -1;
	if (v < 1 || v > 32)
		return net_fail(b, o->value->line, o->value->col,
				"%s must be 1 to 32, not %lld", o->key,
				(long long)v);
	if (o->key[0] == 'w') {
		p->weight_bits = (int)v;
		p->weight_auto = false;
	} else {
		p->act_bits = (int)v;
	}
	return 1;
}

/* Checks the option keys of ST against its kind and applies precision
 * options to *PREC. */
static int check_options(struct net_builder *b, const struct net_stmt *st,
			 struct net_prec *prec)
{
	const char *const *allowed = options_of(st->layer);

	for (size_t i = 0; i < st->nopts; i++) {
		const struct net_option *o = &st->opts[i];
		bool flag = false, found = false;

		for (size_t j = 0; j < i; j++)
			if (strcmp(st->opts[j].key, o->key) == 0)
				return net_fail(b, o->line, o->col,
						"option '%s' is given twice",
						o->key);
		if (strcmp(o->key, "wbits") == 0 && !has_weight(st->layer))
			return net_fail(b, o->line, o->col,
					"%s has no weights, so it takes no "
					"wbits", ms_layer_kind_name(st->layer));
		if ((strcmp(o->key, "wbits") == 0 ||
		     strcmp(o->key, "abits") == 0) &&
		    (st->layer == MS_LAYER_SCALE ||
		     st->layer == MS_LAYER_BATCHNORM))
			return net_fail(b, o->line, o->col,
					"%s takes no %s: the scorer counts "
					"scale and bn at the policy's 16- or "
					"32-bit float precision",
					ms_layer_kind_name(st->layer), o->key);
		if (strcmp(o->key, "accum") == 0 &&
		    st->layer != MS_LAYER_CONV && st->layer != MS_LAYER_LINEAR)
			return net_fail(b, o->line, o->col,
					"accum applies to conv and linear only");

		int r = net_apply_prec(b, o, prec);

		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		for (size_t j = 0; allowed[j] != NULL; j++) {
			const char *a = allowed[j];

			flag = a[0] == '!';
			if (strcmp(a + flag, o->key) == 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return net_fail(b, o->line, o->col,
					"%s takes no option '%s'",
					ms_layer_kind_name(st->layer), o->key);
		if (flag && o->value != NULL)
			return net_fail(b, o->line, o->col,
					"'%s' is a flag and takes no value",
					o->key);
		if (!flag && o->value == NULL)
			return net_fail(b, o->line, o->col,
					"'%s' needs a value (%s=...)", o->key,
					o->key);
	}
	return 0;
}

const struct net_option *net_find_opt(const struct net_stmt *st,
					 const char *key)
{
	for (size_t i = 0; i < st->nopts; i++)
		if (strcmp(st->opts[i].key, key) == 0)
			return &st->opts[i];
	return NULL;
}

/* Evaluates option KEY into *OUT when present, checking MIN <= v <= MAX.
 * Returns 1 when present, 0 when absent, -1 on error. */
int net_int_opt(struct net_builder *b, const struct net_stmt *st,
		   const char *key, int64_t min, int64_t max, int64_t *out)
{
	const struct net_option *o = net_find_opt(st, key);

	if (o == NULL)
		return 0;
	if (net_eval(b, o->value, out) < 0)
		return -1;
	if (*out < min || *out > max)
		return net_fail(b, o->value->line, o->value->col,
				"%s=%lld is out of range (%lld to %lld)", key,
				(long long)*out, (long long)min,
				(long long)max);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Shapes */

/* Output size of a pool as PyTorch computes it: in ceil mode the last
 * window may be short, but it must start inside the input or the left
 * padding. */
static int64_t pool_size(int64_t in, int64_t k, int64_t s, int64_t p,
			 bool ceil_mode)
{
	int64_t n;

	if (in + 2 * p < k)
		return 0;
	n = (in + 2 * p - k + (ceil_mode ? s - 1 : 0)) / s + 1;
	if (ceil_mode && (n - 1) * s >= in + p)
		n--;
	return n;
}

/* Input elements covered by the windows of one dimension, summed over
 * its N outputs, counting only positions inside the input. */
static int64_t pool_covered(int64_t in, int64_t k, int64_t s, int64_t p,
			    int64_t n)
{
	int64_t total = 0;

	for (int64_t o = 0; o < n; o++) {
		int64_t lo = o * s - p, hi = lo + k;

		if (lo < 0)
			lo = 0;
		if (hi > in)
			hi = in;
		if (hi > lo)
			total += hi - lo;
	}
	return total;
}

int net_check_out(struct net_builder *b, const struct net_stmt *st,
		     const char *name, struct ms_shape in, struct ms_shape out)
{
	if (out.c < 1 || out.h < 1 || out.w < 1)
		return net_fail(b, st->line, st->col,
				"layer '%s': input %lldx%lldx%lld is too small "
				"for its window", name, (long long)in.c,
				(long long)in.h, (long long)in.w);
	if (out.c > NET_MAX_DIM || out.h > NET_MAX_DIM || out.w > NET_MAX_DIM ||
	    out.c > NET_MAX_ELEMENTS / out.h / out.w)
		return net_fail(b, st->line, st->col,
				"layer '%s': output %lldx%lldx%lld is too large",
				name, (long long)out.c, (long long)out.h,
				(long long)out.w);
	return 0;
}


/* ------------------------------------------------------------------ */
/* Layers without weights */

static int build_pool(struct net_builder *b, const struct net_stmt *st,
		      struct ms_layer *l)
{
	struct ms_shape in = l->in;
	int64_t k, s, p = 0, ch, cw;
	bool ceil_mode = net_find_opt(st, "ceil") != NULL;
	int r = net_int_opt(b, st, "k", 1, 65536, &k);

	if (r < 0)
		return -1;
	if (r == 0)
		return net_fail(b, st->line, st->col,
				"layer '%s': %s needs a window size (k=)",
				l->name, ms_layer_kind_name(l->kind));
	s = k;
	if (net_int_opt(b, st, "stride", 1, 65536, &s) < 0 ||
	    net_int_opt(b, st, "pad", 0, k / 2, &p) < 0)
		return -1;
	l->out.c = in.c;
	l->out.h = pool_size(in.h, k, s, p, ceil_mode);
	l->out.w = pool_size(in.w, k, s, p, ceil_mode);
	if (net_check_out(b, st, l->name, in, l->out) < 0)
		return -1;
	l->pool_kh = l->pool_kw = k;
	l->stride_h = l->stride_w = s;
	l->pad_h = l->pad_w = p;
	ch = pool_covered(in.h, k, s, p, l->out.h);
	cw = pool_covered(in.w, k, s, p, l->out.w);
	if (__builtin_mul_overflow(ch, cw, &l->pool_covered))
		return net_fail(b, st->line, st->col,
				"layer '%s': pool is too large", l->name);
	return 0;
}

static int build_plain(struct net_builder *b, const struct net_stmt *st,
		       struct ms_layer *l)
{
	struct ms_shape in = l->in;
	int64_t n = 0;

	l->out = in;
	switch (l->kind) {
	case MS_LAYER_GLOBALPOOL:
		l->out.h = l->out.w = 1;
		l->pool_kh = in.h;
		l->pool_kw = in.w;
		l->pool_covered = in.h * in.w;
		return 0;
	case MS_LAYER_FLATTEN:
		l->out.c = in.c * in.h * in.w;
		l->out.h = l->out.w = 1;
		break;
	case MS_LAYER_CONCAT:
		if (net_int_opt(b, st, "channels", 1, NET_MAX_DIM, &n) < 0)
			return -1;
		if (n == 0)
			return net_fail(b, st->line, st->col,
					"layer '%s': concat needs the channels "
					"it appends (channels=)", l->name);
		l->out.c = in.c + n;
		break;
	case MS_LAYER_UPSAMPLE:
		if (net_int_opt(b, st, "factor", 1, 65536, &n) < 0)
			return -1;
		if (n == 0)
			return net_fail(b, st->line, st->col,
					"layer '%s': upsample needs its "
					"factor (factor=)", l->name);
		l->out.h = in.h * n;
		l->out.w = in.w * n;
		break;
	default:
		return 0;
	}
	return net_check_out(b, st, l->name, in, l->out);
}

int net_build_layer(struct net_builder *b, const struct net_stmt *st,
		    const struct net_scope *sc, struct ms_shape *cur)
{
	struct net_prec prec = sc->prec;
	bool weighted = has_weight(st->layer);
	const char *name;
	struct ms_layer *l;
	long i;
	int r;

	if (check_options(b, st, &prec) < 0)
		return -1;
	if (st->name != NULL)
		name = net_expand_name(b, sc->prefix, st->name);
	else if (weighted)
		return net_fail(b, st->line, st->col,
				"%s needs a name: the prefix of its tensors",
				ms_layer_kind_name(st->layer));
	else
		name = net_label(b, sc, st->layer,
				 ms_layer_kind_name(st->layer));
	if (name == NULL)
		return -1;
	i = net_emit(b, st->layer, name, weighted, sc, st->line, st->col);
	if (i < 0)
		return -1;
	l = &b->net->layers[i];
	l->in = *cur;
	l->out = *cur;
	l->act_bits = prec.act_bits;
	l->act_signed = prec.act_signed;

	switch (st->layer) {
	case MS_LAYER_CONV:
		r = net_build_conv(b, st, l);
		break;
	case MS_LAYER_LINEAR:
		r = net_build_linear(b, st, l);
		break;
	case MS_LAYER_SCALE:
		r = net_build_scale(b, st, l);
		break;
	case MS_LAYER_BATCHNORM:
		r = net_build_bn(b, st, l);
		break;
	case MS_LAYER_AVGPOOL:
	case MS_LAYER_MAXPOOL:
		r = build_pool(b, st, l);
		break;
	default:
		r = build_plain(b, st, l);
		break;
	}
	if (r < 0)
		return -1;

	/* Weight bits apply to conv and linear only: the scorer counts the
	 * weights of scale and batch norm layers at a fixed 16 bits. */
	if (st->layer == MS_LAYER_CONV || st->layer == MS_LAYER_LINEAR) {
		l->accum = prec.accum;
		l->weight_bits = prec.weight_bits;
	}
	if ((st->layer == MS_LAYER_CONV || st->layer == MS_LAYER_LINEAR) &&
	    prec.weight_auto) {
		bool is_signed;

		l->weight_bits = l->weight != NULL ?
			ms_tensor_infer_bits(l->weight, &is_signed) : 0;
	}
	*cur = l->out;
	return 0;
}
