/* Drafts of residual networks whose tensor names follow a known layout:
 * torchvision's ResNet (blocks "layerN.M", basic or bottleneck, with an
 * optional "downsample" projection) and the pre-activation WideResNet
 * (blocks "blockN.layer.M", with an optional "convShortcut"). Strides are
 * not stored in a checkpoint, so every stride is a marked guess. */
#include "describe_internal.h"

#include <string.h>

enum layout {
	LAYOUT_RESNET,          /* torchvision ResNet, post-activation */
	LAYOUT_WIDE             /* WideResNet, pre-activation */
};

/* The members of one residual block, found by their names. The torchvision
 * layout uses all three convs of a bottleneck; WideResNet uses conv[0],
 * conv[1], bn[0] and bn[1] only. */
struct block {
	const char *prefix;     /* "layer2.0", PREFIX_LEN bytes */
	size_t prefix_len;
	long stage;             /* N in "layerN" or "blockN" */
	const struct draft_layer *conv[3], *bn[3];
	const struct draft_layer *shortcut_conv, *shortcut_bn;
};

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Reads the decimal number at *P, advancing *P past it. The value is
 * clamped so that a long run of digits cannot overflow. */
static long read_number(const char **p)
{
	long v = 0;

	for (; is_digit(**p); (*p)++)
		v = v < 100000000 ? v * 10 + (**p - '0') : v;
	return v;
}

/* Splits NAME into its block prefix and member for LAYOUT. Returns the
 * member ("conv1", "downsample.0"), or NULL when NAME is no block member. */
static const char *split_block(const char *name, enum layout layout,
			       long *stage, size_t *prefix_len)
{
	const char *p = name;
	const char *head = layout == LAYOUT_RESNET ? "layer" : "block";

	if (strncmp(p, head, 5) != 0 || !is_digit(p[5]))
		return NULL;
	p += 5;
	*stage = read_number(&p);
	if (layout == LAYOUT_WIDE) {
		if (strncmp(p, ".layer", 6) != 0)
			return NULL;
		p += 6;
	}
	if (p[0] != '.' || !is_digit(p[1]))
		return NULL;
	p++;
	read_number(&p);
	if (p[0] != '.' || p[1] == '\0')
		return NULL;
	*prefix_len = (size_t)(p - name);
	return p + 1;
}

/* Files layer L as MEMBER of block B. Returns false when the member is not
 * part of LAYOUT or appears twice. */
static bool add_member(struct block *b, const struct draft_layer *l,
		       const char *member, enum layout layout)
{
	static const char *const body[] = { "conv1", "conv2", "conv3" };
	static const char *const norms[] = { "bn1", "bn2", "bn3" };
	const struct draft_layer **slot = NULL;
	int count = layout == LAYOUT_RESNET ? 3 : 2;

	for (int k = 0; k < count; k++) {
		if (strcmp(member, body[k]) == 0)
			slot = &b->conv[k];
		else if (strcmp(member, norms[k]) == 0)
			slot = &b->bn[k];
	}
	if (layout == LAYOUT_RESNET && strcmp(member, "downsample.0") == 0)
		slot = &b->shortcut_conv;
	else if (layout == LAYOUT_RESNET &&
		 strcmp(member, "downsample.1") == 0)
		slot = &b->shortcut_bn;
	else if (layout == LAYOUT_WIDE && strcmp(member, "convShortcut") == 0)
		slot = &b->shortcut_conv;
	if (slot == NULL || *slot != NULL)
		return false;
	*slot = l;
	return true;
}

/* True when L is a groups-1 conv that reads IN channels. */
static bool conv_reads(const struct draft_layer *l, int64_t in)
{
	return l != NULL && l->weight != NULL && !l->batchnorm &&
	       l->weight->ndim == 4 && l->weight->shape[1] == in;
}

/* True when L is a batch norm over C channels. */
static bool bn_over(const struct draft_layer *l, int64_t c)
{
	return l != NULL && l->weight != NULL && l->batchnorm &&
	       l->weight->ndim == 1 && l->weight->shape[0] == c;
}

static void indent(FILE *out, int depth)
{
	for (int i = 0; i < depth; i++)
		fputc('\t', out);
}

/* Writes conv NAME (a member name, or the full prefix at the top level)
 * with the guessed STRIDE, and WHY after the guess comment. */
static void put_conv(FILE *out, int depth, const char *name,
		     const struct draft_layer *l, int64_t stride,
		     const char *why)
{
	const struct ms_tensor *w = l->weight;

	if (out == NULL)
		return;
	indent(out, depth);
	fprintf(out, "conv %s out=%lld kh=%lld kw=%lld", name,
		(long long)w->shape[0], (long long)w->shape[2],
		(long long)w->shape[3]);
	if (stride > 1)
		fprintf(out, " stride=%lld", (long long)stride);
	fprintf(out, " pad=%lld%s    # guess: stride %lld, padding k/2%s\n",
		(long long)(w->shape[2] / 2), l->bias != NULL ? " bias" : "",
		(long long)stride, why);
}

/* Writes TEXT indented by DEPTH tabs, or nothing when OUT is NULL. */
static void put_line(FILE *out, int depth, const char *text)
{
	if (out == NULL)
		return;
	indent(out, depth);
	fprintf(out, "%s\n", text);
}

static void put_bn(FILE *out, int depth, const char *name)
{
	if (out == NULL)
		return;
	indent(out, depth);
	fprintf(out, "bn %s\n", name);
}

static const char stride_reason[] = ", because the block has a projection "
	"shortcut outside the first stage";

/* Checks a torchvision basic or bottleneck block that reads *C channels
 * and, when OUT is not NULL, writes it with STRIDE on its first conv
 * wider than 1x1 and on its projection. Updates *C to the block's output
 * channels. Returns false when the block does not fit the layout. */
static bool draft_resnet_block(FILE *out, const struct block *b,
			       int64_t stride, int64_t *c)
{
	static const char *const convs[] = { "conv1", "conv2", "conv3" };
	static const char *const norms[] = { "bn1", "bn2", "bn3" };
	int count = b->conv[2] != NULL ? 3 : 2;
	int64_t width = *c;
	bool strided = false;

	if ((b->conv[2] == NULL) != (b->bn[2] == NULL) ||
	    (b->shortcut_conv == NULL) != (b->shortcut_bn == NULL))
		return false;
	if (out != NULL)
		fprintf(out, "block %.*s {\n\tresidual {\n",
			(int)b->prefix_len, b->prefix);
	for (int k = 0; k < count; k++) {
		int64_t s = 1;

		if (!conv_reads(b->conv[k], width) ||
		    !bn_over(b->bn[k], b->conv[k]->weight->shape[0]))
			return false;
		width = b->conv[k]->weight->shape[0];
		if (stride > 1 && !strided && b->conv[k]->weight->shape[2] > 1) {
			s = stride;
			strided = true;
		}
		put_conv(out, 2, convs[k], b->conv[k], s,
			 s > 1 ? stride_reason : "");
		put_bn(out, 2, norms[k]);
		if (k + 1 < count)
			put_line(out, 2, "relu");
	}
	if (b->shortcut_conv != NULL) {
		if (!conv_reads(b->shortcut_conv, *c) ||
		    b->shortcut_conv->weight->shape[0] != width ||
		    !bn_over(b->shortcut_bn, width))
			return false;
		put_line(out, 1, "} shortcut {");
		put_conv(out, 2, "downsample.0", b->shortcut_conv, stride,
			 stride > 1 ? stride_reason : "");
		put_bn(out, 2, "downsample.1");
	} else if (*c != width) {
		return false;
	}
	if (stride > 1 && !strided)
		return false;
	put_line(out, 1, "}");
	put_line(out, 1, "relu");
	put_line(out, 0, "}");
	*c = width;
	return true;
}

/* As draft_resnet_block, for a pre-activation WideResNet block: bn1, relu,
 * conv1 (with STRIDE), bn2, relu, conv2. In a block with a 1x1
 * convShortcut, bn1 and relu come before the split, so both paths read
 * the activated input. Without one, the identity reads the raw input. */
static bool draft_wide_block(FILE *out, const struct block *b,
			     int64_t stride, int64_t *c)
{
	int64_t width;
	int depth = b->shortcut_conv != NULL ? 2 : 1;

	if (!bn_over(b->bn[0], *c) || !conv_reads(b->conv[0], *c))
		return false;
	width = b->conv[0]->weight->shape[0];
	if (!bn_over(b->bn[1], width) || !conv_reads(b->conv[1], width))
		return false;
	width = b->conv[1]->weight->shape[0];
	if (b->shortcut_conv != NULL ?
	    !conv_reads(b->shortcut_conv, *c) ||
	    b->shortcut_conv->weight->shape[0] != width : *c != width)
		return false;

	if (out != NULL && b->shortcut_conv != NULL)
		fprintf(out, "block %.*s {\n\tbn bn1\n\trelu\n\tresidual {\n",
			(int)b->prefix_len, b->prefix);
	else if (out != NULL)
		fprintf(out, "residual %.*s {\n\tbn bn1\n\trelu\n",
			(int)b->prefix_len, b->prefix);
	put_conv(out, depth, "conv1", b->conv[0], stride,
		 stride > 1 ? stride_reason : "");
	put_bn(out, depth, "bn2");
	put_line(out, depth, "relu");
	put_conv(out, depth, "conv2", b->conv[1], 1, "");
	if (b->shortcut_conv != NULL) {
		put_line(out, 1, "} shortcut {");
		put_conv(out, 2, "convShortcut", b->shortcut_conv, stride,
			 stride > 1 ? stride_reason : "");
		put_line(out, 1, "}");
	}
	put_line(out, 0, "}");
	*c = width;
	return true;
}

/* Writes the stem: conv1, then for the torchvision layout bn1, relu and,
 * after a 7x7 conv, the ImageNet max pool. Returns the index of the first
 * layer after the stem, or 0 when the stem does not fit the layout. */
static long draft_stem(FILE *out, const struct draft_layer *l, long n,
		       enum layout layout, int64_t *c)
{
	bool imagenet = l[0].weight->shape[2] == 7;

	*c = l[0].weight->shape[0];
	if (out != NULL)
		fprintf(out, "\n# stem\n");
	if (layout == LAYOUT_WIDE) {
		put_conv(out, 0, "conv1", &l[0], 1, "");
		return 1;
	}
	if (n < 2 || strcmp(l[1].prefix, "bn1") != 0 || !bn_over(&l[1], *c))
		return 0;
	if (imagenet)
		put_conv(out, 0, "conv1", &l[0], 2, ", as in the torchvision "
			 "ResNet stem");
	else
		put_conv(out, 0, "conv1", &l[0], 1, ", and no max pool, as "
			 "in ResNets for small images");
	put_bn(out, 0, "bn1");
	put_line(out, 0, "relu");
	if (imagenet)
		put_line(out, 0, "maxpool k=3 stride=2 pad=1    # guess: the "
			 "torchvision ResNet stem");
	return 2;
}

/* Checks the N LAYERS against LAYOUT and, when OUT is not NULL, writes the
 * draft. With OUT NULL it writes nothing, so that a failed check leaves no
 * partial output. */
static bool draft(FILE *out, const struct draft_layer *l, long n,
		  enum layout layout)
{
	long i, first_stage = -1, stage = -1;
	int64_t c;

	if (n < 3 || strcmp(l[0].prefix, "conv1") != 0 ||
	    l[0].weight == NULL || l[0].batchnorm || l[0].weight->ndim != 4)
		return false;
	i = draft_stem(out, l, n, layout, &c);
	if (i == 0)
		return false;

	while (i < n) {
		struct block b = { .prefix = l[i].prefix };
		const char *member;
		long member_stage;
		size_t len;
		int64_t stride;
		bool fits;

		if (split_block(l[i].prefix, layout, &b.stage,
				&b.prefix_len) == NULL)
			break;
		while (i < n && (member = split_block(l[i].prefix, layout,
				&member_stage, &len)) != NULL &&
		       len == b.prefix_len &&
		       strncmp(l[i].prefix, b.prefix, len) == 0) {
			if (!add_member(&b, &l[i], member, layout))
				return false;
			i++;
		}
		if (first_stage < 0)
			first_stage = b.stage;
		if (b.stage != stage && out != NULL)
			fprintf(out, "\n# %.*s\n",
				(int)strcspn(b.prefix, "."), b.prefix);
		stage = b.stage;
		/* Strides are not stored, so this follows torchvision's
		 * ResNet and WideResNet: the first stage keeps the size the
		 * stem gives, and each later stage opens with a projection
		 * that halves it. */
		stride = b.shortcut_conv != NULL && b.stage != first_stage ?
			 2 : 1;
		fits = layout == LAYOUT_RESNET ?
		       draft_resnet_block(out, &b, stride, &c) :
		       draft_wide_block(out, &b, stride, &c);
		if (!fits)
			return false;
	}
	if (first_stage < 0)
		return false;

	if (out != NULL)
		fprintf(out, "\n# head\n");
	if (layout == LAYOUT_WIDE) {
		if (i >= n || strcmp(l[i].prefix, "bn1") != 0 ||
		    !bn_over(&l[i], c))
			return false;
		put_bn(out, 0, "bn1");
		put_line(out, 0, "relu");
		i++;
	}
	if (i + 1 != n || strcmp(l[i].prefix, "fc") != 0 ||
	    l[i].weight == NULL || l[i].batchnorm ||
	    l[i].weight->ndim != 2 || l[i].weight->shape[1] != c)
		return false;
	put_line(out, 0, "globalpool    # guess: an average pool over the "
		 "whole last feature map");
	put_line(out, 0, "flatten");
	if (out != NULL)
		fprintf(out, "linear fc out=%lld%s\n",
			(long long)l[i].weight->shape[0],
			l[i].bias != NULL ? " bias" : "");
	return true;
}

bool describe_residual(FILE *out, const struct draft_layer *layers, long n)
{
	static const enum layout layouts[] = { LAYOUT_RESNET, LAYOUT_WIDE };

	for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
		if (draft(NULL, layers, n, layouts[k])) {
			draft(out, layers, n, layouts[k]);
			return true;
		}
	}
	return false;
}
