/* Expansion of a parsed description: parameters, repetition, blocks and
 * their joins (residual add, dense concat, gate multiply), names, and the
 * tensors left unused. Single layers are built in net_layers.c. */
#define _POSIX_C_SOURCE 200809L  /* strdup, strndup */

#include "net_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int net_fail(struct net_builder *b, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_vfail_at(b->err, b->path, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Expressions and names */

static struct net_var *find_var(struct net_builder *b, const char *name)
{
	for (size_t i = b->nvars; i-- > 0;)
		if (strcmp(b->vars[i].name, name) == 0)
			return &b->vars[i];
	return NULL;
}

/* The shape of the current activation, as in_c, in_h and in_w. */
static bool shape_var(struct net_builder *b, const char *name, int64_t *out)
{
	if (b->cur == NULL || strlen(name) != 4 || strncmp(name, "in_", 3) != 0)
		return false;
	switch (name[3]) {
	case 'c': *out = b->cur->c; return true;
	case 'h': *out = b->cur->h; return true;
	case 'w': *out = b->cur->w; return true;
	}
	return false;
}

static int eval_binary(struct net_builder *b, const struct net_expr *e,
		       int64_t x, int64_t y, int64_t *out)
{
	bool overflow = false;

	switch (e->op) {
	case '+':
		overflow = __builtin_add_overflow(x, y, out);
		break;
	case '-':
		overflow = __builtin_sub_overflow(x, y, out);
		break;
	case '*':
		overflow = __builtin_mul_overflow(x, y, out);
		break;
	case '/':
	case '%':
		if (y == 0)
			return net_fail(b, e->line, e->col,
					"division by zero");
		if (x == INT64_MIN && y == -1)
			overflow = true;
		else
			*out = e->op == '/' ? x / y : x % y;
		break;
	case '<': *out = x < y; break;
	case '>': *out = x > y; break;
	case NE_OP_LE: *out = x <= y; break;
	case NE_OP_GE: *out = x >= y; break;
	case NE_OP_EQ: *out = x == y; break;
	case NE_OP_NE: *out = x != y; break;
	case NE_OP_AND: *out = x && y; break;
	case NE_OP_SHL:
	case NE_OP_SHR:
		if (y < 0 || y > 62)
			return net_fail(b, e->line, e->col,
					"shift count %lld is out of range "
					"(0 to 62)", (long long)y);
		if (e->op == NE_OP_SHR)
			*out = x >> y;
		else
			overflow = __builtin_mul_overflow(x, (int64_t)1 << y,
							  out);
		break;
	case NE_OP_OR: *out = x || y; break;
	default:
		return net_fail(b, e->line, e->col, "unknown operator");
	}
	if (overflow)
		return net_fail(b, e->line, e->col,
				"integer overflow in the expression");
	return 0;
}

int net_eval(struct net_builder *b, const struct net_expr *e, int64_t *out)
{
	int64_t x, y;
	struct net_var *v;

	switch (e->kind) {
	case NE_NUM:
		*out = e->value;
		return 0;
	case NE_VAR:
		v = find_var(b, e->var);
		if (v == NULL && shape_var(b, e->var, out))
			return 0;
		if (v == NULL)
			return net_fail(b, e->line, e->col,
					"unknown name '%s': not a parameter, "
					"let variable or loop variable in "
					"scope", e->var);
		*out = v->value;
		return 0;
	case NE_NEG:
		if (net_eval(b, e->a, &x) < 0)
			return -1;
		if (x == INT64_MIN)
			return net_fail(b, e->line, e->col,
					"integer overflow in the expression");
		*out = -x;
		return 0;
	case NE_NOT:
		if (net_eval(b, e->a, &x) < 0)
			return -1;
		*out = !x;
		return 0;
	case NE_BINARY:
		if (net_eval(b, e->a, &x) < 0 || net_eval(b, e->b, &y) < 0)
			return -1;
		return eval_binary(b, e, x, y, out);
	}
	return net_fail(b, e->line, e->col, "invalid expression");
}

const char *net_expand_name(struct net_builder *b, const char *prefix,
			    const struct net_name *n)
{
	char buf[NET_MAX_NAME + 1];
	size_t len = 0;
	char *s;

	if (prefix[0] != '\0') {
		len = strlen(prefix);
		memcpy(buf, prefix, len);
		buf[len++] = '.';
	}
	for (size_t i = 0; i < n->count; i++) {
		char num[24];
		const char *piece = n->parts[i].text;
		size_t plen;

		if (piece == NULL) {
			int64_t v;

			if (net_eval(b, n->parts[i].expr, &v) < 0)
				return NULL;
			snprintf(num, sizeof num, "%lld", (long long)v);
			piece = num;
		}
		plen = strlen(piece);
		if (plen > NET_MAX_NAME - len) {
			net_fail(b, n->line, n->col,
				 "name is longer than %d bytes", NET_MAX_NAME);
			return NULL;
		}
		memcpy(buf + len, piece, plen);
		len += plen;
	}
	s = net_strndup(&b->arena, buf, len);
	if (s == NULL)
		net_fail(b, n->line, n->col, "out of memory");
	return s;
}

const char *net_label(struct net_builder *b, const struct net_scope *sc,
		      enum ms_layer_kind kind, const char *word)
{
	char buf[NET_MAX_NAME + 32];
	int n = ++sc->label_counts[kind];
	size_t len = strlen(word);
	char *s;

	/* A kind that ends in a digit gets a separator before the count, so
	 * that the second relu6 is relu6_2 and not relu62. */
	if (n > 1)
		snprintf(buf, sizeof buf, "%s%s%s%s%d", sc->prefix,
			 sc->prefix[0] ? "." : "", word,
			 len > 0 && word[len - 1] >= '0' &&
			 word[len - 1] <= '9' ? "_" : "", n);
	else
		snprintf(buf, sizeof buf, "%s%s%s", sc->prefix,
			 sc->prefix[0] ? "." : "", word);
	s = net_strndup(&b->arena, buf, strlen(buf));
	return s;
}

long net_emit(struct net_builder *b, enum ms_layer_kind kind,
	      const char *name, bool has_tensors, const struct net_scope *sc,
	      int line, int col)
{
	struct ms_net *net = b->net;
	struct ms_layer *l;

	if (name == NULL)
		return net_fail(b, line, col, "out of memory");
	if (net->count >= NET_MAX_LAYERS)
		return net_fail(b, line, col,
				"description expands to more than %d layers",
				NET_MAX_LAYERS);
	if (net->count == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct ms_layer *layers;

		layers = realloc(net->layers, cap * sizeof *layers);
		if (layers == NULL)
			return net_fail(b, line, col, "out of memory");
		net->layers = layers;
		b->cap = cap;
	}
	l = &net->layers[net->count];
	memset(l, 0, sizeof *l);
	l->name = strdup(name);
	if (l->name == NULL)
		return net_fail(b, line, col, "out of memory");
	net->count++;
	l->kind = kind;
	l->has_tensors = has_tensors;
	l->depth = sc->depth;
	l->line = line;
	l->kh = l->kw = 1;
	l->stride_h = l->stride_w = 1;
	l->dilation = 1;
	l->groups = 1;
	l->act_bits = sc->prec.act_bits;
	l->act_signed = sc->prec.act_signed;
	return (long)(net->count - 1);
}

/* ------------------------------------------------------------------ */
/* Statements */

static int run_block(struct net_builder *b, const struct net_block *blk,
		     struct net_scope sc, struct ms_shape *cur);

static int top_only(struct net_builder *b, const struct net_stmt *st,
		    const struct net_scope *sc, const char *what)
{
	if (!sc->top)
		return net_fail(b, st->line, st->col,
				"'%s' is only allowed at the top level, outside "
				"any block", what);
	return 0;
}

static int define_var(struct net_builder *b, const struct net_stmt *st,
		      const char *name, int64_t value)
{
	if (find_var(b, name) != NULL)
		return net_fail(b, st->line, st->col,
				"'%s' is already defined", name);
	if (b->nvars >= NET_MAX_VARS)
		return net_fail(b, st->line, st->col,
				"more than %d parameters and loop variables",
				NET_MAX_VARS);
	b->vars[b->nvars].name = name;
	b->vars[b->nvars].value = value;
	b->nvars++;
	return 0;
}

static int run_baseline(struct net_builder *b, const struct net_stmt *st,
			const struct net_scope *sc)
{
	if (top_only(b, st, sc, "baseline") < 0)
		return -1;
	if (b->net->baseline != MS_BASELINE_UNSET)
		return net_fail(b, st->line, st->col,
				"'baseline' is given more than once");
	/* The parser accepts only these two words. */
	b->net->baseline = strcmp(st->ident, "imagenet") == 0 ?
			   MS_BASELINE_IMAGENET : MS_BASELINE_CIFAR100;
	return 0;
}

static int run_param(struct net_builder *b, const struct net_stmt *st,
		     const struct net_scope *sc)
{
	int64_t v;

	if (top_only(b, st, sc, "param") < 0)
		return -1;
	for (size_t i = 0; i < b->noverrides; i++)
		if (strcmp(b->overrides[i].name, st->ident) == 0) {
			b->overrides[i].used = true;
			return define_var(b, st, st->ident,
					  b->overrides[i].value);
		}
	if (net_eval(b, st->expr[0], &v) < 0)
		return -1;
	return define_var(b, st, st->ident, v);
}

static int run_input(struct net_builder *b, const struct net_stmt *st,
		     const struct net_scope *sc, struct ms_shape *cur)
{
	int64_t v[3];

	if (top_only(b, st, sc, "input") < 0)
		return -1;
	if (b->have_input)
		return net_fail(b, st->line, st->col,
				"'input' is given more than once");
	if (b->net->count > 0)
		return net_fail(b, st->line, st->col,
				"'input' must come before the first layer");
	for (int i = 0; i < 3; i++) {
		if (net_eval(b, st->expr[i], &v[i]) < 0)
			return -1;
		if (v[i] < 1 || v[i] > NET_MAX_DIM)
			return net_fail(b, st->expr[i]->line,
					st->expr[i]->col,
					"input size %lld is out of range "
					"(1 to %lld)", (long long)v[i],
					(long long)NET_MAX_DIM);
	}
	if (v[0] > NET_MAX_ELEMENTS / v[1] / v[2])
		return net_fail(b, st->line, st->col,
				"input has more than %lld elements",
				(long long)NET_MAX_ELEMENTS);
	cur->c = v[0];
	cur->h = v[1];
	cur->w = v[2];
	b->net->input = *cur;
	b->have_input = true;
	return 0;
}

static int run_default(struct net_builder *b, const struct net_stmt *st,
		       struct net_scope *sc)
{
	for (size_t i = 0; i < st->nopts; i++) {
		int r = net_apply_prec(b, &st->opts[i], &sc->prec);

		if (r < 0)
			return -1;
		if (r == 0)
			return net_fail(b, st->opts[i].line, st->opts[i].col,
					"'default' takes wbits, abits, "
					"signed, unsigned and accum, not "
					"'%s'", st->opts[i].key);
	}
	return 0;
}

static int run_net(struct net_builder *b, const struct net_stmt *st,
		   const struct net_scope *sc)
{
	const char *name;

	if (top_only(b, st, sc, "net") < 0)
		return -1;
	name = net_expand_name(b, "", st->name);
	if (name == NULL)
		return -1;
	free(b->net->name);
	b->net->name = strdup(name);
	if (b->net->name == NULL)
		return net_fail(b, st->line, st->col, "out of memory");
	return 0;
}

/* Makes the scope of a block's body: its name prefix, one level deeper,
 * with label counters of its own when the prefix changes. */
static int enter(struct net_builder *b, const struct net_stmt *st,
		 struct net_scope *inner, const struct net_scope *outer)
{
	*inner = *outer;
	inner->top = false;
	inner->depth = outer->depth + 1;
	if (st->name == NULL)
		return 0;
	inner->prefix = net_expand_name(b, outer->prefix, st->name);
	inner->label_counts = net_alloc(&b->arena, MS_LAYER_KIND_COUNT *
					sizeof *inner->label_counts);
	if (inner->prefix == NULL || inner->label_counts == NULL)
		return net_fail(b, st->line, st->col, "out of memory");
	return 0;
}

static bool same_shape(struct ms_shape a, struct ms_shape b)
{
	return a.c == b.c && a.h == b.h && a.w == b.w;
}

static int run_join(struct net_builder *b, const struct net_stmt *st,
		    const struct net_scope *sc, struct ms_shape *cur)
{
	struct net_scope inner;
	struct ms_shape x = *cur, y = *cur, z = *cur;
	enum ms_layer_kind kind;
	long i;

	if (enter(b, st, &inner, sc) < 0)
		return -1;
	if (st->kind == NS_RESIDUAL && st->expr[0] != NULL) {
		int64_t on;

		if (net_eval(b, st->expr[0], &on) < 0)
			return -1;
		if (!on) {
			/* Without its add, the block is its body alone. */
			if (st->has_alt && st->alt.count > 0)
				return net_fail(b, st->line, st->col,
						"a residual whose 'if' is "
						"false must not have a "
						"shortcut");
			return run_block(b, &st->body, inner, cur);
		}
	}
	if (run_block(b, &st->body, inner, &y) < 0)
		return -1;
	if (st->kind == NS_RESIDUAL) {
		kind = MS_LAYER_ADD;
		if (st->has_alt && run_block(b, &st->alt, inner, &z) < 0)
			return -1;
		if (!same_shape(y, z))
			return net_fail(b, st->line, st->col,
					"residual body gives %lldx%lldx%lld "
					"but its shortcut gives %lldx%lldx%lld",
					(long long)y.c, (long long)y.h,
					(long long)y.w, (long long)z.c,
					(long long)z.h, (long long)z.w);
	} else if (st->kind == NS_DENSE) {
		kind = MS_LAYER_CONCAT;
		if (y.h != x.h || y.w != x.w)
			return net_fail(b, st->line, st->col,
					"dense body changes the size from "
					"%lldx%lld to %lldx%lld; concat needs "
					"equal sizes", (long long)x.h,
					(long long)x.w, (long long)y.h,
					(long long)y.w);
		z.c = x.c + y.c;
		if (z.c > NET_MAX_DIM || z.c > NET_MAX_ELEMENTS / z.h / z.w)
			return net_fail(b, st->line, st->col,
					"concat output is too large");
	} else {
		kind = MS_LAYER_MUL;
		if (y.c != x.c || !((y.h == 1 && y.w == 1) ||
				    (y.h == x.h && y.w == x.w)))
			return net_fail(b, st->line, st->col,
					"gate body gives %lldx%lldx%lld but "
					"must give %lldx1x1 or %lldx%lldx%lld",
					(long long)y.c, (long long)y.h,
					(long long)y.w, (long long)x.c,
					(long long)x.c, (long long)x.h,
					(long long)x.w);
	}

	i = net_emit(b, kind, net_label(b, &inner, kind,
					ms_layer_kind_name(kind)),
		     false, &inner, st->line, st->col);
	if (i < 0)
		return -1;
	struct ms_layer *l = &b->net->layers[i];

	/* An add joins two equal shapes; a concat and a gate keep the
	 * block input as their first operand. */
	if (kind == MS_LAYER_ADD) {
		l->in = y;
		l->out = y;
	} else if (kind == MS_LAYER_CONCAT) {
		l->in = x;
		l->out = z;
	} else {
		l->in = x;
		l->out = x;
	}
	*cur = l->out;
	return 0;
}

static int run_repeat(struct net_builder *b, const struct net_stmt *st,
		      const struct net_scope *sc, struct ms_shape *cur)
{
	int64_t n;
	struct net_scope inner = *sc;

	if (net_eval(b, st->expr[0], &n) < 0)
		return -1;
	if (n < 0 || n > NET_MAX_REPEAT)
		return net_fail(b, st->expr[0]->line, st->expr[0]->col,
				"repeat count %lld is out of range (0 to %d)",
				(long long)n, NET_MAX_REPEAT);
	if (define_var(b, st, st->ident, 0) < 0)
		return -1;

	size_t slot = b->nvars - 1;

	inner.top = false;
	for (int64_t i = 0; i < n; i++) {
		/* Each pass counts as a step, so that nested loops over empty
		 * bodies stay bounded in time too. */
		if (++b->steps > NET_MAX_STEPS)
			return net_fail(b, st->line, st->col,
					"description expands to more than %d "
					"statements", NET_MAX_STEPS);
		b->vars[slot].value = i;
		if (run_block(b, &st->body, inner, cur) < 0)
			return -1;
	}
	b->nvars--;
	return 0;
}

static int run_stmt(struct net_builder *b, const struct net_stmt *st,
		    struct net_scope *sc, struct ms_shape *cur)
{
	struct net_scope inner;
	int64_t cond;

	if (++b->steps > NET_MAX_STEPS)
		return net_fail(b, st->line, st->col,
				"description expands to more than %d "
				"statements", NET_MAX_STEPS);
	b->cur = b->have_input ? cur : NULL;
	switch (st->kind) {
	case NS_NET:
		return run_net(b, st, sc);
	case NS_BASELINE:
		return run_baseline(b, st, sc);
	case NS_PARAM:
		return run_param(b, st, sc);
	case NS_LET:
		if (net_eval(b, st->expr[0], &cond) < 0)
			return -1;
		return define_var(b, st, st->ident, cond);
	case NS_INPUT:
		return run_input(b, st, sc, cur);
	case NS_DEFAULT:
		return run_default(b, st, sc);
	case NS_LAYER:
		if (!b->have_input)
			return net_fail(b, st->line, st->col,
					"a layer comes before the 'input C H W' "
					"statement; put 'input' first");
		return net_build_layer(b, st, sc, cur);
	case NS_BLOCK:
		if (enter(b, st, &inner, sc) < 0)
			return -1;
		return run_block(b, &st->body, inner, cur);
	case NS_REPEAT:
		return run_repeat(b, st, sc, cur);
	case NS_IF:
		if (net_eval(b, st->expr[0], &cond) < 0)
			return -1;
		inner = *sc;
		inner.top = false;
		if (cond)
			return run_block(b, &st->body, inner, cur);
		return st->has_alt ? run_block(b, &st->alt, inner, cur) : 0;
	case NS_RESIDUAL:
	case NS_DENSE:
	case NS_GATE:
		if (!b->have_input)
			return net_fail(b, st->line, st->col,
					"a block comes before the 'input C H W' "
					"statement; put 'input' first");
		return run_join(b, st, sc, cur);
	}
	return net_fail(b, st->line, st->col, "invalid statement");
}

/* SC is passed by value, so that "default" inside a block ends with it. */
static int run_block(struct net_builder *b, const struct net_block *blk,
		     struct net_scope sc, struct ms_shape *cur)
{
	size_t nvars = b->nvars;

	for (size_t i = 0; i < blk->count; i++)
		if (run_stmt(b, &blk->items[i], &sc, cur) < 0)
			return -1;
	/* Variables made by "let" end with their block, except at the top. */
	if (!sc.top)
		b->nvars = nvars;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Missing and unused tensors */

/* True for tensors that belong to no layer, so are never reported as
 * unused: those outside the weights' wrapper entry, such as optimizer
 * state, and the scalar activation scale and zero point that PyTorch's
 * quantized modules store beside their weights. */
static bool ignored(const struct ms_tensor *t)
{
	size_t n = strlen(t->key);

	if (t->outside_weights)
		return true;
	if (ms_shape_elements(t->ndim, t->shape) != 1)
		return false;
	return (n > 6 && strcmp(t->key + n - 6, ".scale") == 0) ||
	       (n > 11 && strcmp(t->key + n - 11, ".zero_point") == 0);
}

static int collect_unused(struct net_builder *b)
{
	const struct ms_checkpoint *ck = b->ck;
	struct ms_net *net = b->net;
	size_t n = 0;

	for (size_t i = 0; i < ck->count; i++)
		n += !b->used[i] && !ignored(&ck->tensors[i]);
	if (n == 0)
		return 0;
	net->unused = calloc(n, sizeof *net->unused);
	if (net->unused == NULL)
		return ms_fail(b->err, "%s: out of memory", b->path);
	for (size_t i = 0; i < ck->count; i++) {
		const struct ms_tensor *t = &ck->tensors[i];

		if (b->used[i] || ignored(t))
			continue;
		net->unused[net->unused_count] =
			strdup(t->key != NULL ? t->key : t->name);
		if (net->unused[net->unused_count] == NULL)
			return ms_fail(b->err, "%s: out of memory", b->path);
		net->unused_count++;
	}
	return 0;
}

int net_build(const char *path, const struct net_ast *ast,
	      const struct ms_checkpoint *ck, struct net_override *overrides,
	      size_t noverrides, struct ms_net *net, struct ms_error *err)
{
	struct net_builder *b = calloc(1, sizeof *b);
	struct net_scope sc;
	struct ms_shape cur = { 0, 0, 0 };
	int rc = -1;

	if (b == NULL)
		return ms_fail(err, "%s: out of memory", path);
	b->path = path;
	b->ck = ck;
	b->net = net;
	b->err = err;
	b->overrides = overrides;
	b->noverrides = noverrides;
	memset(&sc, 0, sizeof sc);
	sc.prefix = "";
	sc.top = true;
	sc.prec.accum = MS_ACCUM_DEFAULT;
	sc.label_counts = net_alloc(&b->arena, MS_LAYER_KIND_COUNT *
				    sizeof *sc.label_counts);
	if (sc.label_counts == NULL ||
	    (ck != NULL && ck->count > 0 &&
	     (b->used = calloc(ck->count, sizeof *b->used)) == NULL)) {
		ms_fail(err, "%s: out of memory", path);
		goto out;
	}
	if (run_block(b, &ast->top, sc, &cur) < 0)
		goto out;
	if (!b->have_input) {
		ms_fail(err, "%s:1:1: the description has no 'input C H W' "
			"statement", path);
		goto out;
	}
	for (size_t i = 0; i < noverrides; i++)
		if (!overrides[i].used) {
			ms_fail(err, "%s: parameter '%s' is not declared by a "
				"'param' statement", path, overrides[i].name);
			goto out;
		}
	if (ck != NULL && collect_unused(b) < 0)
		goto out;
	rc = 0;
out:
	free(b->used);
	net_arena_free(&b->arena);
	free(b);
	return rc;
}
