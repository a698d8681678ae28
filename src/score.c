/* Counting of ops and params per layer, under the published DenseNet-100
 * scorer's rules or the challenge rules. Every function here is pure: it
 * reads a layer's fields and the statistics they point to, never weights. */
#include "score.h"

#include <math.h>
#include <stdlib.h>

/* Score types of the published scorer: conv accumulation, scale precision,
 * average-pool precision. The three are independent choices. */
static const struct {
	enum ms_accum accum;
	enum ms_precision scale, pool;
	const char *text;
} score_types[MS_SCORE_TYPES] = {
	{ MS_ACCUM_TREE, MS_PREC_FP16, MS_PREC_FP16,
	  "adder tree; FP16 elsewhere" },
	{ MS_ACCUM_FIXED, MS_PREC_FP16, MS_PREC_FP16,
	  "fixed-length integer accumulation; FP16 elsewhere" },
	{ MS_ACCUM_FP32, MS_PREC_FP32, MS_PREC_FP32,
	  "FP32 accumulation in conv, pooling and bias; FP16 elsewhere" },
	{ MS_ACCUM_FIXED, MS_PREC_FP32, MS_PREC_FP32,
	  "fixed-length integer; FP32 pooling and bias; FP16 elsewhere" },
	{ MS_ACCUM_TREE, MS_PREC_FP32, MS_PREC_FP32,
	  "adder tree; FP32 pooling and bias; FP16 elsewhere" },
	{ MS_ACCUM_TREE, MS_PREC_FP16, MS_PREC_FP32,
	  "adder tree; FP32 pooling; FP16 elsewhere" },
	{ MS_ACCUM_FIXED, MS_PREC_FP16, MS_PREC_FP32,
	  "fixed-length integer; FP32 pooling; FP16 elsewhere" },
};

int ms_policy_from_type(int type, struct ms_policy *p)
{
	if (type < 0 || type >= MS_SCORE_TYPES)
		return -1;
	p->accum = score_types[type].accum;
	p->scale_prec = score_types[type].scale;
	p->pool_prec = score_types[type].pool;
	p->rules = MS_RULES_PUBLISHED;
	p->count_quant = false;
	p->fold_bn = false;
	p->op_baseline = MS_CIFAR100_OPS;
	p->param_baseline = MS_CIFAR100_PARAMS;
	p->type = type;
	return 0;
}

const char *ms_score_type_text(int type)
{
	if (type < 0 || type >= MS_SCORE_TYPES)
		return "custom policy";
	return score_types[type].text;
}

double ms_adder_tree_bits(double bits, int64_t n)
{
	double total = 0;

	while (n > 1) {
		total += (double)(n / 2) * bits;
		n = (n + 1) / 2;
		bits += 1;
	}
	return total;
}

/* Returns the width of one element-wise operation as a fraction of a
 * 32-bit op. */
static double prec_ops(enum ms_precision prec)
{
	return prec == MS_PREC_FP16 ? 0.5 : 1.0;
}

static int64_t shape_elements(const struct ms_shape *s)
{
	return s->c * s->h * s->w;
}

/* Returns the nonzero weights of output channel C. */
static int64_t channel_nz(const struct ms_layer *l, int64_t c)
{
	if (l->channel_nonzero != NULL)
		return l->channel_nonzero[c];
	return l->weight_channels > 0 ? l->weight_elements / l->weight_channels
				      : 0;
}

/* Returns the accumulator width of the fixed-length mode, in bits: the
 * width of K products of an unsigned AB-bit activation and a weight of
 * magnitude up to 2^(WB-1) - 1, as the published scorer bounds them. The
 * published scorer takes the activation width where the weight's belongs.
 * NOTE: a weight of -2^(WB-1) can exceed this bound by one product's
 * worth, and both countings keep the bound as published. */
static double fixed_width(int wb, int ab, int64_t k, enum ms_rules rules)
{
	int factor_bits = rules == MS_RULES_PUBLISHED ? ab : wb;
	double range = (ldexp(1, ab) - 1) * (ldexp(1, factor_bits - 1) - 1) *
		       (double)k;

	return range >= 1 ? floor(log2(range)) + 1 : 1;
}

/* Counts the additions of a conv or linear layer, in ops. */
static double conv_adds(const struct ms_layer *l, const struct ms_policy *p,
			int wb, int ab)
{
	enum ms_accum accum = l->accum != MS_ACCUM_DEFAULT ? l->accum : p->accum;
	int64_t C = l->weight_channels;
	int64_t N = l->weight_elements;
	double hw = (double)(l->out.h * l->out.w);
	int64_t k = C > 0 ? N / C : 0;
	double fp32, total = 0;

	if (C <= 0 || N <= 0)
		return 0;
	fp32 = (double)l->weight_nonzero / (double)N * hw * (double)C *
	       (double)(k - 1);
	if (accum == MS_ACCUM_FP32)
		return fp32;

	if (accum == MS_ACCUM_TREE) {
		double first = wb + ab - (l->act_signed ? 1 : 0);

		if (ab == 32)
			return fp32;
		for (int64_t c = 0; c < C; c++)
			total += ms_adder_tree_bits(first, channel_nz(l, c));
		return total * hw / 32;
	}

	/* Fixed-length integer accumulation. */
	if (ab == 32)
		return p->rules == MS_RULES_PUBLISHED ? fp32 / 32 : fp32;
	double width = fixed_width(wb, ab, k, p->rules);
	for (int64_t c = 0; c < C; c++) {
		int64_t nz = channel_nz(l, c);

		if (p->rules == MS_RULES_CHALLENGE && nz == 0)
			continue;
		total += width * (double)(nz - 1);
	}
	return total * hw / 32;
}

static void score_conv(const struct ms_layer *l, const struct ms_policy *p,
		       int wb, int ab, struct ms_cost *out)
{
	double N = (double)l->weight_elements;
	double nz = (double)l->weight_nonzero;
	double hw = (double)(l->out.h * l->out.w);
	int widest = wb > ab ? wb : ab;

	/* A 1-bit mask for every weight plus WB bits per nonzero. Under the
	 * challenge rules a dense weight needs no mask. */
	if (p->rules == MS_RULES_CHALLENGE && nz == N)
		out->params = N * wb / 32;
	else
		out->params = (N + nz * wb) / 32;
	out->mults = nz * hw * widest / 32;
	out->adds = conv_adds(l, p, wb, ab);

	if (l->bias) {
		double prec = prec_ops(p->scale_prec);

		out->adds += (double)shape_elements(&l->out) * prec;
		out->params += (double)l->out.c * prec;
	}
}

/* True when a scale layer has a bias: by its first value under the
 * published rules, by any nonzero value under the challenge rules. */
static bool scale_has_bias(const struct ms_layer *l, enum ms_rules rules)
{
	const struct ms_tensor *b = l->bias_tensor;

	if (b == NULL)
		return l->bias && l->weight == NULL;
	if (rules == MS_RULES_PUBLISHED)
		return b->stats.first != 0;
	return b->stats.nonzero > 0;
}

static void score_scale(const struct ms_layer *l, const struct ms_policy *p,
			struct ms_cost *out)
{
	double E = (double)shape_elements(&l->in);
	double C = (double)l->in.c;
	bool bias = scale_has_bias(l, p->rules);

	/* The multiply is always 16-bit. The bias add is 16-bit, or 32-bit
	 * under FP32 precision. */
	out->mults = E / 2;
	if (bias)
		out->adds = E * prec_ops(p->scale_prec);

	/* C 16-bit weights, and C 16-bit biases when there is a bias. The
	 * published scorer took the batch size (1) for the channel count. */
	if (p->rules == MS_RULES_PUBLISHED)
		C = 1;
	out->params = C / 2 + (bias ? C / 2 : 0);
}

static void score_batchnorm(const struct ms_layer *l, const struct ms_policy *p,
			    struct ms_cost *out)
{
	double E = (double)shape_elements(&l->in);
	double C = (double)l->in.c;
	double prec = prec_ops(p->scale_prec);

	/* Folded into the conv before it, only the bias add remains. */
	if (p->fold_bn) {
		out->adds = E * prec;
		out->params = C * prec;
		return;
	}
	out->mults = E * prec;
	out->adds = E * prec;
	out->params = 2 * C * prec;
}

/* Average pools and the global average pool: the adds of every window and
 * one multiply (by the reciprocal of the window size) per output. */
static void score_avgpool(const struct ms_layer *l, const struct ms_policy *p,
			  struct ms_cost *out)
{
	double n = (double)shape_elements(&l->out);
	double prec = prec_ops(p->pool_prec);
	double adds;

	if (l->kind == MS_LAYER_GLOBALPOOL) {
		adds = (double)l->in.c * ((double)(l->in.h * l->in.w) - 1);
	} else if (p->rules == MS_RULES_PUBLISHED) {
		/* The published scorer took an s x s window as s elements. */
		adds = (double)(l->pool_kh - 1) * n;
	} else {
		adds = (double)l->pool_covered * (double)l->out.c - n;
	}

	/* At FP16 the adds and the multiply are 16-bit. At FP32 the adds are
	 * 32-bit and the multiply stays 16-bit. */
	if (p->pool_prec == MS_PREC_FP16) {
		out->adds = adds * prec;
		out->mults = n * prec;
	} else {
		out->adds = adds;
		out->mults = n / 2;
	}
}

/* Activation functions, in multiplies plus adds per element as the
 * challenge's own counting charges them: relu 1 + 0, relu6 2 + 0, sigmoid
 * 2 + 1 and swish 3 + 1. Hard swish, x * relu6(x + 3) / 6, is 3 + 1 by the
 * same count. The challenge lets ReLU and ReLU6 run on 16-bit inputs, and
 * the published scorer runs every activation at 16 bits. Under the
 * challenge rules the others run at the element-wise precision. */
static void score_activation(const struct ms_layer *l,
			     const struct ms_policy *p, struct ms_cost *out)
{
	static const double per_element[][2] = {
		[MS_LAYER_RELU] = { 1, 0 },
		[MS_LAYER_RELU6] = { 2, 0 },
		[MS_LAYER_SIGMOID] = { 2, 1 },
		[MS_LAYER_SWISH] = { 3, 1 },
		[MS_LAYER_HSWISH] = { 3, 1 },
	};
	double E = (double)shape_elements(&l->out);
	bool sixteen = p->rules == MS_RULES_PUBLISHED ||
		       l->kind == MS_LAYER_RELU || l->kind == MS_LAYER_RELU6;
	double prec = sixteen ? 0.5 : prec_ops(p->scale_prec);

	out->other = E * (per_element[l->kind][0] + per_element[l->kind][1]) *
		     prec;
}

static int effective_bits(int override, int declared)
{
	if (override > 0)
		return override;
	return declared > 0 ? declared : 32;
}

void ms_score_layer(const struct ms_layer *l, const struct ms_policy *p,
		    const struct ms_override *o, struct ms_cost *out)
{
	int wb = effective_bits(o ? o->weight_bits : 0, l->weight_bits);
	int ab = effective_bits(o ? o->act_bits : 0, l->act_bits);

	*out = (struct ms_cost){ 0 };
	out->act_bits = ab;

	switch (l->kind) {
	case MS_LAYER_CONV:
	case MS_LAYER_LINEAR:
		out->weight_bits = wb;
		score_conv(l, p, wb, ab, out);
		break;
	case MS_LAYER_SCALE:
		score_scale(l, p, out);
		break;
	case MS_LAYER_BATCHNORM:
		score_batchnorm(l, p, out);
		break;
	case MS_LAYER_RELU:
	case MS_LAYER_RELU6:
	case MS_LAYER_SIGMOID:
	case MS_LAYER_SWISH:
	case MS_LAYER_HSWISH:
		score_activation(l, p, out);
		break;
	case MS_LAYER_AVGPOOL:
	case MS_LAYER_GLOBALPOOL:
		score_avgpool(l, p, out);
		break;
	case MS_LAYER_MAXPOOL:
		/* One compare per covered element beyond the first. */
		out->other = ((double)l->pool_covered * (double)l->out.c -
			      (double)shape_elements(&l->out)) *
			     prec_ops(p->pool_prec);
		break;
	case MS_LAYER_ADD:
		out->adds = (double)shape_elements(&l->out) *
			    prec_ops(p->scale_prec);
		break;
	case MS_LAYER_MUL:
		out->mults = (double)shape_elements(&l->out) *
			     prec_ops(p->scale_prec);
		break;
	case MS_LAYER_QUANT:
		if (p->count_quant)
			out->other = (double)shape_elements(&l->out) *
				     prec_ops(p->scale_prec);
		break;
	case MS_LAYER_CONCAT:
	case MS_LAYER_FLATTEN:
	case MS_LAYER_UPSAMPLE:
	case MS_LAYER_KIND_COUNT:
		break;
	}
	out->ops = out->mults + out->adds + out->other;
}

int ms_score_net(const struct ms_net *net, const struct ms_policy *p,
		 const struct ms_override *overrides, struct ms_table *table,
		 struct ms_error *err)
{
	*table = (struct ms_table){ .policy = *p };
	if (net->count > 0) {
		table->rows = calloc(net->count, sizeof *table->rows);
		if (table->rows == NULL)
			return ms_fail(err, "out of memory");
	}
	table->count = net->count;

	for (size_t i = 0; i < net->count; i++) {
		ms_score_layer(&net->layers[i], p,
			       overrides ? &overrides[i] : NULL,
			       &table->rows[i]);
		table->ops += table->rows[i].ops;
		table->params += table->rows[i].params;
	}
	table->op_score = table->ops / p->op_baseline;
	table->param_score = table->params / p->param_baseline;
	table->score = table->op_score + table->param_score;
	return 0;
}

void ms_table_free(struct ms_table *table)
{
	free(table->rows);
	table->rows = NULL;
	table->count = 0;
}
