/* The semantics of REDUCE, NEWOBJ and BUILD in the pickle interpreter:
 * the data meaning of the few torch, NumPy and standard-library globals
 * that checkpoints need, and inert placeholders for every other one. Nothing
 * is imported or called. Also decodes the text string operands. */
#include "pickle_int.h"

#include <string.h>

enum known_global {
	G_OTHER,
	G_ORDERED_DICT,        /* collections.OrderedDict */
	G_REBUILD_TENSOR,      /* torch._utils._rebuild_tensor(_v2) */
	G_REBUILD_PARAMETER,   /* torch._utils._rebuild_parameter(_with_state) */
	G_REBUILD_QTENSOR,     /* torch._utils._rebuild_qtensor */
	G_NP_RECONSTRUCT,      /* numpy.core.multiarray._reconstruct */
	G_NP_DTYPE,            /* numpy.dtype */
	G_NP_SCALAR,           /* numpy.core.multiarray.scalar */
	G_CODECS_ENCODE,       /* _codecs.encode: how protocol 2 stores bytes */
	G_BYTES                /* builtins.bytes: protocol 2's empty bytes */
};

static enum known_global known_global(const struct ms_pval *g)
{
	static const struct {
		const char *module, *name;
		enum known_global id;
	} table[] = {
		{ "collections", "OrderedDict", G_ORDERED_DICT },
		{ "torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR },
		{ "torch._utils", "_rebuild_tensor", G_REBUILD_TENSOR },
		{ "torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER },
		{ "torch._utils", "_rebuild_qtensor", G_REBUILD_QTENSOR },
		{ "torch._utils", "_rebuild_parameter_with_state",
		  G_REBUILD_PARAMETER },
		{ "numpy.core.multiarray", "_reconstruct", G_NP_RECONSTRUCT },
		{ "numpy._core.multiarray", "_reconstruct", G_NP_RECONSTRUCT },
		{ "numpy", "dtype", G_NP_DTYPE },
		{ "numpy.core.multiarray", "scalar", G_NP_SCALAR },
		{ "numpy._core.multiarray", "scalar", G_NP_SCALAR },
		{ "_codecs", "encode", G_CODECS_ENCODE },
		{ "builtins", "bytes", G_BYTES },
		{ "__builtin__", "bytes", G_BYTES },
	};

	if (g->kind != MS_PV_GLOBAL)
		return G_OTHER;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strcmp(g->u.global.module, table[i].module) == 0 &&
		    strcmp(g->u.global.name, table[i].name) == 0)
			return table[i].id;
	}
	return G_OTHER;
}

static bool is_seq(const struct ms_pval *v)
{
	return v->kind == MS_PV_TUPLE || v->kind == MS_PV_LIST;
}

/* Reads a tuple of at most MS_MAX_DIMS ints into DIMS. */
static int int_tuple(struct loader *ld, const struct ms_pval *v,
		     const char *what, int64_t *dims, int *ndim)
{
	if (!is_seq(v))
		return ld_fail(ld, "%s is a %s, not a tuple", what,
			       ms_pval_kind_name(v));
	if (v->u.seq.len > MS_MAX_DIMS)
		return ld_fail(ld, "%s has %zu dimensions, more than the maximum "
			       "of %d", what, v->u.seq.len, MS_MAX_DIMS);
	for (size_t i = 0; i < v->u.seq.len; i++) {
		if (v->u.seq.items[i]->kind != MS_PV_INT)
			return ld_fail(ld, "%s holds a %s, not an int", what,
				       ms_pval_kind_name(v->u.seq.items[i]));
		dims[i] = v->u.seq.items[i]->u.i;
	}
	*ndim = (int)v->u.seq.len;
	return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) and the
 * older _rebuild_tensor(storage, storage_offset, size, stride). */
static int rebuild_tensor(struct loader *ld, const struct ms_pseq *a,
			  struct ms_pval **out)
{
	struct ms_pval *v = ld_value(ld, MS_PV_TENSOR);
	struct ms_ptensor *t = ld_alloc(ld, sizeof *t);
	int stride_dims;

	if (v == NULL || t == NULL)
		return -1;
	if (a->len < 4)
		return ld_fail(ld, "torch._utils._rebuild_tensor: %zu arguments, "
			       "expected at least 4", a->len);
	if (a->items[1]->kind != MS_PV_INT)
		return ld_fail(ld, "torch._utils._rebuild_tensor: the storage "
			       "offset is a %s, not an int",
			       ms_pval_kind_name(a->items[1]));
	if (int_tuple(ld, a->items[2], "tensor size", t->shape, &t->ndim) < 0 ||
	    int_tuple(ld, a->items[3], "tensor stride", t->stride,
		      &stride_dims) < 0)
		return -1;
	if (stride_dims != t->ndim)
		return ld_fail(ld, "tensor size has %d dimensions but its stride "
			       "has %d", t->ndim, stride_dims);
	t->storage = a->items[0];
	t->offset = a->items[1]->u.i;
	v->u.tensor = t;
	*out = v;
	return 0;
}

/* Returns a placeholder for the global of OBJ, marked as a tensor's data,
 * so that the tensor walk rejects it. */
static int tensor_placeholder(struct loader *ld, const struct ms_pval *obj,
			      struct ms_pval **out)
{
	*out = ld_placeholder(ld, obj->u.global.module, obj->u.global.name);
	if (*out == NULL)
		return -1;
	(*out)->tensor_expected = true;
	return 0;
}

/* Checks the quantizer parameters of a quantized tensor. Torch 1.13
 * pickles them as (torch.per_tensor_affine, scale, zero_point) or as
 * (torch.per_channel_affine, scales, zero_points, axis), where scales and
 * zero points are tensors. per_channel_affine_float_qparams has the
 * per-channel layout. Stores in *BAD a placeholder found among them, or
 * NULL. */
static int check_qparams(struct loader *ld, const struct ms_pval *q,
			 const struct ms_pval **bad)
{
	const char *scheme;
	size_t want;

	*bad = NULL;
	if (q->kind != MS_PV_TUPLE || q->u.seq.len < 1 ||
	    q->u.seq.items[0]->kind != MS_PV_GLOBAL ||
	    strcmp(q->u.seq.items[0]->u.global.module, "torch") != 0)
		return ld_fail(ld, "torch._utils._rebuild_qtensor: the quantizer "
			       "parameters are not a (torch.QSCHEME, ...) tuple");
	scheme = q->u.seq.items[0]->u.global.name;
	if (strcmp(scheme, "per_tensor_affine") == 0)
		want = 3;
	else if (strcmp(scheme, "per_channel_affine") == 0 ||
		 strcmp(scheme, "per_channel_affine_float_qparams") == 0)
		want = 4;
	else
		return ld_fail(ld, "torch._utils._rebuild_qtensor: unsupported "
			       "quantization scheme torch.%s", scheme);
	if (q->u.seq.len != want)
		return ld_fail(ld, "torch._utils._rebuild_qtensor: torch.%s has "
			       "%zu quantizer parameters, expected %zu", scheme,
			       q->u.seq.len - 1, want - 1);
	for (size_t i = 1; i < want; i++) {
		const struct ms_pval *v = q->u.seq.items[i];
		bool ok = want == 4 && i < 3 ? v->kind == MS_PV_TENSOR
			  : v->kind == MS_PV_INT || v->kind == MS_PV_FLOAT;

		if (v->kind == MS_PV_TENSOR &&
		    v->u.tensor->storage->kind == MS_PV_OBJECT)
			v = v->u.tensor->storage;
		if (v->kind == MS_PV_OBJECT) {
			*bad = v;
			return 0;
		}
		if (!ok)
			return ld_fail(ld, "torch._utils._rebuild_qtensor: "
				       "quantizer parameter %zu of torch.%s is a "
				       "%s", i, scheme, ms_pval_kind_name(v));
	}
	return 0;
}

/* _rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params,
 * requires_grad, backward_hooks): a quantized tensor. The tensor made is
 * the stored integers, as torch's int_repr() returns them, because those
 * are what the weights occupy in memory. The scales and zero points are
 * checked and dropped. */
static int rebuild_qtensor(struct loader *ld, const struct ms_pseq *a,
			   struct ms_pval **out)
{
	const struct ms_pval *bad;

	if (a->len < 5)
		return ld_fail(ld, "torch._utils._rebuild_qtensor: %zu arguments, "
			       "expected at least 5", a->len);
	if (check_qparams(ld, a->items[4], &bad) < 0)
		return -1;
	if (bad != NULL)
		return tensor_placeholder(ld, bad, out);
	return rebuild_tensor(ld, a, out);
}

/* _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the
 * parameter is its data tensor. */
static int rebuild_parameter(struct loader *ld, const struct ms_pval *g,
			     const struct ms_pseq *a, struct ms_pval **out)
{
	struct ms_pval *data;

	if (a->len < 1)
		return ld_fail(ld, "%s.%s: no data argument", g->u.global.module,
			       g->u.global.name);
	data = a->items[0];
	if (data->kind == MS_PV_TENSOR) {
		*out = data;
		return 0;
	}
	if (data->kind != MS_PV_OBJECT)
		return ld_fail(ld, "%s.%s: the data is a %s, not a tensor",
			       g->u.global.module, g->u.global.name,
			       ms_pval_kind_name(data));
	return tensor_placeholder(ld, data, out);
}

/* numpy.dtype(DESCR, align, copy): DESCR such as "f4", "<i8" or "b1". */
static struct ms_pval *np_dtype(struct loader *ld, const struct ms_pseq *a)
{
	struct ms_pval *v = ld_value(ld, MS_PV_NPDTYPE);
	const char *s;
	int size = 0;

	if (v == NULL)
		return NULL;
	v->u.npdtype.kind = '?';
	v->u.npdtype.order = '=';
	if (a->len < 1 || a->items[0]->kind != MS_PV_STR)
		return v;
	s = a->items[0]->u.str.data;
	if (*s == '<' || *s == '>' || *s == '|' || *s == '=')
		v->u.npdtype.order = *s++;
	if (*s == '\0')
		return v;
	v->u.npdtype.kind = *s++;
	while (*s >= '0' && *s <= '9' && size < 1000)
		size = size * 10 + (*s++ - '0');
	v->u.npdtype.size = *s == '\0' ? size : 0;
	return v;
}

/* Maps a NumPy dtype to an ms_dtype. Returns false when none fits. */
static bool np_to_dtype(const struct ms_pval *d, enum ms_dtype *dtype)
{
	static const struct {
		char kind;
		int size;
		enum ms_dtype dtype;
	} table[] = {
		{ 'f', 2, MS_DTYPE_F16 }, { 'f', 4, MS_DTYPE_F32 },
		{ 'f', 8, MS_DTYPE_F64 }, { 'i', 1, MS_DTYPE_I8 },
		{ 'i', 2, MS_DTYPE_I16 }, { 'i', 4, MS_DTYPE_I32 },
		{ 'i', 8, MS_DTYPE_I64 }, { 'u', 1, MS_DTYPE_U8 },
		{ 'b', 1, MS_DTYPE_BOOL },
	};

	if (d->kind != MS_PV_NPDTYPE)
		return false;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (d->u.npdtype.kind == table[i].kind &&
		    d->u.npdtype.size == table[i].size) {
			*dtype = table[i].dtype;
			return true;
		}
	}
	return false;
}

/* numpy.core.multiarray.scalar(dtype, bytes): a NumPy number becomes a
 * plain int, float or bool; anything else a placeholder. */
static struct ms_pval *np_scalar(struct loader *ld, const struct ms_pval *g,
				 const struct ms_pseq *a)
{
	struct ms_tensor t = { .ndim = 0 };
	struct ms_pval *v;
	double x;

	if (a->len != 2 || !np_to_dtype(a->items[0], &t.dtype) ||
	    a->items[1]->kind != MS_PV_BYTES ||
	    a->items[1]->u.str.len != ms_dtype_size(t.dtype))
		return ld_placeholder(ld, g->u.global.module, g->u.global.name);
	t.data = (const unsigned char *)a->items[1]->u.str.data;
	t.big_endian = a->items[0]->u.npdtype.order == '>';
	x = ms_tensor_get(&t, 0);
	if (t.dtype == MS_DTYPE_BOOL) {
		v = ld_value(ld, MS_PV_BOOL);
		if (v != NULL)
			v->u.b = x != 0;
	} else if (t.dtype == MS_DTYPE_F16 || t.dtype == MS_DTYPE_F32 ||
		   t.dtype == MS_DTYPE_F64) {
		v = ld_value(ld, MS_PV_FLOAT);
		if (v != NULL)
			v->u.f = x;
	} else {
		v = ld_value(ld, MS_PV_INT);
		if (v != NULL)
			v->u.i = (int64_t)x;
	}
	return v;
}

/* _codecs.encode(TEXT, "latin1"): Python 3 pickles bytes this way at
 * protocols 0 to 2. Each code point of TEXT is one byte. */
static struct ms_pval *latin1_bytes(struct loader *ld, const struct ms_pval *g,
				    const struct ms_pseq *a)
{
	const unsigned char *s;
	unsigned char *out;
	size_t n, k = 0;
	struct ms_pval *v;

	if (a->len != 2 || a->items[0]->kind != MS_PV_STR ||
	    !(ms_pval_is_str(a->items[1], "latin1") ||
	      ms_pval_is_str(a->items[1], "latin-1")))
		return ld_placeholder(ld, g->u.global.module, g->u.global.name);
	s = (const unsigned char *)a->items[0]->u.str.data;
	n = a->items[0]->u.str.len;
	if ((v = ld_value(ld, MS_PV_BYTES)) == NULL ||
	    (out = ld_alloc(ld, n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80) {
			out[k++] = s[i];
		} else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n &&
			   (s[i + 1] & 0xc0) == 0x80) {
			out[k++] = (unsigned char)((s[i] & 3) << 6 | (s[i + 1] & 0x3f));
			i++;
		} else {
			ld_fail(ld, "_codecs.encode: the text is not Latin-1");
			return NULL;
		}
	}
	v->u.str.data = (const char *)out;
	v->u.str.len = k;
	return v;
}

static struct ms_pval *ordered_dict(struct loader *ld, const struct ms_pseq *a)
{
	struct ms_pval *d = ld_value(ld, MS_PV_DICT);
	const struct ms_pval *pairs;

	if (d == NULL || a->len == 0 || !is_seq(a->items[0]))
		return d;
	pairs = a->items[0];
	for (size_t i = 0; i < pairs->u.seq.len; i++) {
		const struct ms_pval *kv = pairs->u.seq.items[i];

		if (!is_seq(kv) || kv->u.seq.len != 2) {
			ld_fail(ld, "collections.OrderedDict: an item is not a "
				"key-value pair");
			return NULL;
		}
		if (ld_seq_push(ld, &d->u.dict.keys, kv->u.seq.items[0]) < 0 ||
		    ld_seq_push(ld, &d->u.dict.values, kv->u.seq.items[1]) < 0)
			return NULL;
	}
	return d;
}

int ld_reduce(struct loader *ld, struct ms_pval *func, struct ms_pval *args,
	      struct ms_pval **out)
{
	const struct ms_pseq *a = &args->u.seq;

	if (func->kind != MS_PV_GLOBAL && func->kind != MS_PV_OBJECT)
		return ld_fail(ld, "REDUCE calls a %s, not a global",
			       ms_pval_kind_name(func));
	if (args->kind != MS_PV_TUPLE)
		return ld_fail(ld, "REDUCE arguments are a %s, not a tuple",
			       ms_pval_kind_name(args));
	switch (known_global(func)) {
	case G_ORDERED_DICT:
		*out = ordered_dict(ld, a);
		break;
	case G_REBUILD_TENSOR:
		return rebuild_tensor(ld, a, out);
	case G_REBUILD_PARAMETER:
		return rebuild_parameter(ld, func, a, out);
	case G_REBUILD_QTENSOR:
		return rebuild_qtensor(ld, a, out);
	case G_NP_RECONSTRUCT:
		if (a->len >= 1 && a->items[0]->kind == MS_PV_GLOBAL &&
		    strcmp(a->items[0]->u.global.name, "ndarray") == 0) {
			*out = ld_value(ld, MS_PV_ARRAY);
			if (*out != NULL &&
			    ((*out)->u.array = ld_alloc(ld, sizeof(struct ms_parray))) == NULL)
				return -1;
		} else {
			*out = ld_placeholder(ld, func->u.global.module,
					      func->u.global.name);
		}
		break;
	case G_NP_DTYPE:
		*out = np_dtype(ld, a);
		break;
	case G_NP_SCALAR:
		*out = np_scalar(ld, func, a);
		break;
	case G_CODECS_ENCODE:
		*out = latin1_bytes(ld, func, a);
		break;
	case G_BYTES:
		*out = ld_value(ld, a->len == 0 ? MS_PV_BYTES : MS_PV_OBJECT);
		if (*out != NULL && a->len != 0)
			(*out)->u.global = func->u.global;
		break;
	default:
		*out = ld_placeholder(ld, func->u.global.module,
				      func->u.global.name);
		break;
	}
	return *out == NULL ? -1 : 0;
}

int ld_newobj(struct loader *ld, struct ms_pval *cls, struct ms_pval **out)
{
	if (cls->kind != MS_PV_GLOBAL && cls->kind != MS_PV_OBJECT)
		return ld_fail(ld, "NEWOBJ on a %s, not a class",
			       ms_pval_kind_name(cls));
	if (known_global(cls) == G_ORDERED_DICT)
		*out = ld_value(ld, MS_PV_DICT);
	else
		*out = ld_placeholder(ld, cls->u.global.module,
				      cls->u.global.name);
	return *out == NULL ? -1 : 0;
}

/* Sets the state (version, shape, dtype, is_fortran, rawdata) that
 * ndarray.__reduce__ pickles. */
static int build_array(struct loader *ld, struct ms_parray *arr,
		       const struct ms_pval *state)
{
	const struct ms_pseq *s = &state->u.seq;
	const struct ms_pval *raw;
	int64_t elements;
	size_t need;

	if (!is_seq(state) || s->len != 5)
		return ld_fail(ld, "invalid NumPy array state");
	if (int_tuple(ld, s->items[1], "NumPy array shape", arr->shape,
		      &arr->ndim) < 0)
		return -1;
	raw = s->items[4];
	arr->built = true;
	arr->fortran_order = s->items[3]->kind == MS_PV_BOOL ? s->items[3]->u.b
			     : s->items[3]->kind == MS_PV_INT && s->items[3]->u.i;
	arr->supported = np_to_dtype(s->items[2], &arr->dtype) &&
			 raw->kind == MS_PV_BYTES;
	if (!arr->supported)
		return 0;
	arr->big_endian = s->items[2]->u.npdtype.order == '>';
	elements = ms_shape_elements(arr->ndim, arr->shape);
	if (elements < 0 || ms_mul_size((size_t)elements,
					ms_dtype_size(arr->dtype), &need) < 0 ||
	    need != raw->u.str.len)
		return ld_fail(ld, "NumPy array data is %zu bytes, which does not "
			       "match its shape and dtype", raw->u.str.len);
	arr->data = (const unsigned char *)raw->u.str.data;
	arr->bytes = raw->u.str.len;
	return 0;
}

int ld_build(struct loader *ld, struct ms_pval *obj, struct ms_pval *state)
{
	if (obj->kind == MS_PV_ARRAY && !obj->u.array->built)
		return build_array(ld, obj->u.array, state);
	if (obj->kind == MS_PV_NPDTYPE && is_seq(state) &&
	    state->u.seq.len > 1 && state->u.seq.items[1]->kind == MS_PV_STR &&
	    state->u.seq.items[1]->u.str.len == 1)
		obj->u.npdtype.order = state->u.seq.items[1]->u.str.data[0];
	/* Any other state (an OrderedDict's _metadata, a placeholder's
	 * attributes) is dropped: no object's __setstate__ is run. */
	return 0;
}

/* ---------------------------------------------------------------------
 * Text operands. */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads N hex digits at S; returns -1 when one is not a hex digit. */
static long hex_value(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		int d = hex_digit(s[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

struct ms_pval *ld_decode_string(struct loader *ld, const char *s, size_t n)
{
	static const char escapes[] = "n\nt\tr\ra\ab\bf\fv\v\\\\''\"\"";
	struct ms_pval *v;
	char *out;
	size_t k = 0;

	if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0]) {
		ld_fail(ld, "STRING operand is not a quoted literal");
		return NULL;
	}
	if ((v = ld_str(ld, s + 1, n - 2)) == NULL)
		return NULL;
	out = (char *)v->u.str.data;
	for (size_t i = 1; i < n - 1; i++) {
		const char *e;

		if (s[i] != '\\' || i + 1 >= n - 1) {
			out[k++] = s[i];
			continue;
		}
		i++;
		e = strchr(escapes, s[i]);
		if (e != NULL && s[i] != '\0' && (e - escapes) % 2 == 0) {
			out[k++] = e[1];
		} else if (s[i] == 'x' && i + 2 < n - 1 && hex_value(s + i + 1, 2) >= 0) {
			out[k++] = (char)hex_value(s + i + 1, 2);
			i += 2;
		} else if (s[i] >= '0' && s[i] <= '7') {
			int c = 0;

			for (int d = 0; d < 3 && i < n - 1 && s[i] >= '0' && s[i] <= '7'; d++)
				c = c * 8 + (s[i++] - '0');
			out[k++] = (char)c;
			i--;
		} else {
			out[k++] = '\\';
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	v->u.str.len = k;
	return v;
}

static size_t put_utf8(char *out, long c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

struct ms_pval *ld_decode_unicode(struct loader *ld, const char *s, size_t n)
{
	struct ms_pval *v;
	char *out;
	size_t k = 0;

	/* Each input byte becomes at most two UTF-8 bytes; an escape of 6
	 * or 10 bytes becomes at most 4. */
	if (n > (SIZE_MAX - 1) / 2 || (v = ld_str(ld, "", 0)) == NULL ||
	    (out = ld_alloc(ld, 2 * n + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int digits = 0;
		long cp;

		if (c == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U'))
			digits = s[i + 1] == 'u' ? 4 : 8;
		if (digits && i + 2 + (size_t)digits <= n &&
		    (cp = hex_value(s + i + 2, digits)) >= 0 && cp <= 0x10ffff) {
			k += put_utf8(out + k, cp);
			i += 1 + (size_t)digits;
		} else {
			k += put_utf8(out + k, c);
		}
	}
	out[k] = '\0';
	v->u.str.data = out;
	v->u.str.len = k;
	return v;
}
