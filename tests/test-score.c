/* Unit tests of the counting formulas. Each expected value is derived by
 * hand from the formulas of the published DenseNet-100 scorer or the
 * challenge rules, and the derivation is written next to it. */
#include <string.h>

#include "score.h"
#include "tap.h"

static void test_adder_tree(void)
{
	/* n = 1: no adds. n = 2: one add of 8 bits. */
	tap_close(ms_adder_tree_bits(8, 0), 0, 0, "tree of 0 numbers");
	tap_close(ms_adder_tree_bits(8, 1), 0, 0, "tree of 1 number");
	tap_close(ms_adder_tree_bits(8, 2), 8, 0, "tree of 2 numbers");
	/* n = 3: 1 add at 8 bits, then 2 -> 1 add at 9 bits: 17. */
	tap_close(ms_adder_tree_bits(8, 3), 17, 0, "tree of 3 numbers");
	/* n = 5: 2 x 8, then n = 3: 1 x 9, then n = 2: 1 x 10: 35. */
	tap_close(ms_adder_tree_bits(8, 5), 35, 0, "tree of 5 numbers");
}

/* A 1x1 conv, 4 -> 2 channels at 2x2, channel nonzeros 3 and 1: N = 8,
 * nz = 4, k = 4, d = 0.5, 4-bit weights and unsigned 4-bit inputs. */
static int64_t small_nz[2] = { 3, 1 };

static struct ms_layer small_conv(void)
{
	return (struct ms_layer){
		.name = "c", .kind = MS_LAYER_CONV,
		.in = { 4, 2, 2 }, .out = { 2, 2, 2 },
		.kh = 1, .kw = 1, .stride_h = 1, .stride_w = 1, .groups = 1,
		.weight_elements = 8, .weight_nonzero = 4,
		.weight_channels = 2, .channel_nonzero = small_nz,
		.weight_bits = 4, .act_bits = 4,
	};
}

static void test_conv(void)
{
	struct ms_layer l = small_conv();
	struct ms_policy p;
	struct ms_cost c;

	ms_policy_from_type(2, &p);
	ms_score_layer(&l, &p, NULL, &c);
	/* params = (N + nz * wb) / 32 = (8 + 16) / 32 */
	tap_close(c.params, 0.75, 1e-15, "conv params: mask plus weights");
	/* mults = nz * H * W * max(wb, ab) / 32 = 4 * 4 * 4 / 32 */
	tap_close(c.mults, 2, 1e-15, "conv mults at the wider width");
	/* fp32 adds = d * H * W * C * (k - 1) = 0.5 * 4 * 2 * 3 */
	tap_close(c.adds, 12, 1e-15, "conv adds, fp32 accumulation");

	ms_policy_from_type(0, &p);
	ms_score_layer(&l, &p, NULL, &c);
	/* tree(8, 3) + tree(8, 1) = 17 bit-adds per pixel; * 4 / 32 */
	tap_close(c.adds, 17.0 * 4 / 32, 1e-15, "conv adds, adder tree");

	ms_policy_from_type(1, &p);
	ms_score_layer(&l, &p, NULL, &c);
	/* L = floor(log2(15 * 7 * 4)) + 1 = floor(8.71) + 1 = 9;
	 * adds = 9 * ((3 - 1) + (1 - 1)) * 4 / 32 */
	tap_close(c.adds, 9.0 * 2 * 4 / 32, 1e-15,
		  "conv adds, fixed length, published width");

	p.rules = MS_RULES_CHALLENGE;
	ms_score_layer(&l, &p, NULL, &c);
	/* with the weight bits: floor(log2(15 * (2^3 - 1) * 4)) + 1 = 9,
	 * the same as the published width because wb = ab */
	tap_close(c.adds, 9.0 * 2 * 4 / 32, 1e-15,
		  "conv adds, fixed length, challenge width");

	/* 32-bit inputs: the published fixed-length count is the fp32 count
	 * divided by 32, and the challenge rules keep the fp32 count. */
	l.act_bits = 32;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.adds, 12, 1e-15, "fixed length with fp32 inputs, rules");
	p.rules = MS_RULES_PUBLISHED;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.adds, 12.0 / 32, 1e-15,
		  "fixed length with fp32 inputs, published");
	/* mults = 4 * 4 * 32 / 32 */
	tap_close(c.mults, 16, 1e-15, "mults at 32-bit inputs");

	/* An all-zero channel: the published count charges -1 adds. */
	int64_t zero_nz[2] = { 4, 0 };
	l = small_conv();
	l.channel_nonzero = zero_nz;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.adds, 9.0 * (3 - 1) * 4 / 32, 1e-15,
		  "fixed length, empty channel, published");
	p.rules = MS_RULES_CHALLENGE;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.adds, 9.0 * 3 * 4 / 32, 1e-15,
		  "fixed length, empty channel, rules");

	/* 8-bit weights, 4-bit inputs: the published width is
	 * floor(log2(15 * 7 * 4)) + 1 = 9, the challenge width
	 * floor(log2(15 * 127 * 4)) + 1 = floor(12.9) + 1 = 13. */
	l = small_conv();
	l.weight_bits = 8;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.adds, 13.0 * 2 * 4 / 32, 1e-15,
		  "fixed length width uses weight bits, rules");
	p.rules = MS_RULES_PUBLISHED;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.adds, 9.0 * 2 * 4 / 32, 1e-15,
		  "fixed length width uses act bits, published");
}

static void test_override(void)
{
	struct ms_layer l = small_conv();
	struct ms_override o = { .weight_bits = 8 };
	struct ms_policy p;
	struct ms_cost c;

	ms_policy_from_type(2, &p);
	ms_score_layer(&l, &p, &o, &c);
	/* (8 + 4 * 8) / 32 and 4 * 4 * 8 / 32 */
	tap_close(c.params, 40.0 / 32, 1e-15, "override changes params");
	tap_close(c.mults, 4, 1e-15, "override changes mults");
	tap_ok(c.weight_bits == 8, "override reported in the cost");
}

static void test_scale(void)
{
	struct ms_tensor bias = { 0 };
	struct ms_layer l = {
		.name = "s", .kind = MS_LAYER_SCALE, .has_tensors = true,
		.in = { 3, 2, 2 }, .out = { 3, 2, 2 }, .bias = true,
		.bias_tensor = &bias,
	};
	struct ms_policy p;
	struct ms_cost c;

	/* First bias value 0, another one nonzero; E = 12. */
	bias.stats.first = 0;
	bias.stats.nonzero = 1;
	ms_policy_from_type(0, &p);
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.ops, 6, 1e-15, "scale, zero first bias: E / 2");
	tap_close(c.params, 0.5, 1e-15, "scale, zero first bias: 1/2 param");

	p.rules = MS_RULES_CHALLENGE;
	ms_score_layer(&l, &p, NULL, &c);
	/* Any nonzero bias counts: E/2 + E/2 ops, C/2 + C/2 params (16-bit
	 * weights and biases). */
	tap_close(c.ops, 12, 1e-15, "scale, rules: any bias counts");
	tap_close(c.params, 3, 1e-15, "scale, rules: C values stored");

	bias.stats.first = 0.25;
	ms_policy_from_type(2, &p);
	ms_score_layer(&l, &p, NULL, &c);
	/* fp32: E/2 + E = 18 ops, 1 param */
	tap_close(c.ops, 18, 1e-15, "scale with bias, fp32");
	tap_close(c.params, 1, 1e-15, "scale with bias, published params");
}

static void test_pool(void)
{
	struct ms_layer l = {
		.name = "p", .kind = MS_LAYER_AVGPOOL,
		.in = { 3, 4, 4 }, .out = { 3, 2, 2 },
		.pool_kh = 2, .pool_kw = 2, .pool_covered = 16,
	};
	struct ms_policy p;
	struct ms_cost c;

	/* n = 12 outputs. fp16: ((s - 1) + 1) * n / 2 = 12 */
	ms_policy_from_type(0, &p);
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.ops, 12, 1e-15, "avgpool, published fp16");
	/* fp32: (s - 1) * n + n / 2 = 12 + 6 */
	ms_policy_from_type(2, &p);
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.ops, 18, 1e-15, "avgpool, published fp32");
	/* Rules: 16 covered per channel, 3 * (4 - 1) * 4 = 36 adds, plus
	 * n / 2 for the 16-bit multiplies. */
	p.rules = MS_RULES_CHALLENGE;
	ms_score_layer(&l, &p, NULL, &c);
	tap_close(c.ops, 36 + 6, 1e-15, "avgpool, rules fp32");
}

static void test_elementwise(void)
{
	struct ms_layer relu = {
		.name = "r", .kind = MS_LAYER_RELU,
		.in = { 2, 3, 3 }, .out = { 2, 3, 3 },
	};
	struct ms_layer quant = relu;
	struct ms_policy p;
	struct ms_cost c;

	quant.kind = MS_LAYER_QUANT;
	ms_policy_from_type(2, &p);
	ms_score_layer(&relu, &p, NULL, &c);
	/* One 16-bit op per element: 18 / 2. */
	tap_close(c.ops, 9, 1e-15, "relu, published");
	ms_score_layer(&quant, &p, NULL, &c);
	tap_close(c.ops, 0, 0, "quant free by default");
	p.count_quant = true;
	ms_score_layer(&quant, &p, NULL, &c);
	tap_close(c.ops, 18, 1e-15, "quant counted at fp32");
}

static void test_types(void)
{
	/* The seven types: accumulation, scale precision, pool precision. */
	static const struct {
		enum ms_accum accum;
		enum ms_precision scale, pool;
	} want[MS_SCORE_TYPES] = {
		{ MS_ACCUM_TREE, MS_PREC_FP16, MS_PREC_FP16 },
		{ MS_ACCUM_FIXED, MS_PREC_FP16, MS_PREC_FP16 },
		{ MS_ACCUM_FP32, MS_PREC_FP32, MS_PREC_FP32 },
		{ MS_ACCUM_FIXED, MS_PREC_FP32, MS_PREC_FP32 },
		{ MS_ACCUM_TREE, MS_PREC_FP32, MS_PREC_FP32 },
		{ MS_ACCUM_TREE, MS_PREC_FP16, MS_PREC_FP32 },
		{ MS_ACCUM_FIXED, MS_PREC_FP16, MS_PREC_FP32 },
	};
	struct ms_policy p;

	for (int t = 0; t < MS_SCORE_TYPES; t++) {
		ms_policy_from_type(t, &p);
		tap_ok(p.accum == want[t].accum && p.scale_prec == want[t].scale &&
			       p.pool_prec == want[t].pool,
		       "score type %d columns", t);
	}
	tap_ok(ms_policy_from_type(7, &p) == -1, "score type 7 rejected");
	tap_ok(ms_policy_from_type(-1, &p) == -1, "score type -1 rejected");
}

static void test_totals(void)
{
	struct ms_layer layers[2] = { small_conv(), small_conv() };
	struct ms_net net = { .name = "n", .layers = layers, .count = 2 };
	struct ms_override ov[2] = { { 0 }, { .weight_bits = 8 } };
	struct ms_policy p;
	struct ms_table t;

	ms_policy_from_type(2, &p);
	tap_ok(ms_score_net(&net, &p, ov, &t, NULL) == 0, "score a net");
	/* Layer 1: 2 + 12 ops, 0.75 params; layer 2 at 8 bits: 4 + 12 ops,
	 * 1.25 params. */
	tap_close(t.ops, 30, 1e-15, "total ops");
	tap_close(t.params, 2, 1e-15, "total params");
	tap_close(t.score, 30 / 10.49e9 + 2 / 36.5e6, 1e-12,
		  "score against the CIFAR-100 baseline");
	ms_table_free(&t);
}

int main(void)
{
	test_adder_tree();
	test_conv();
	test_override();
	test_scale();
	test_pool();
	test_elementwise();
	test_types();
	test_totals();
	return tap_done();
}
