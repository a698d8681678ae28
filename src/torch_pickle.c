/* Turns the object tree of a torch checkpoint pickle into checkpoint
 * tensors: the walk that names tensors by key path, the parsing of
 * storage persistent ids, and the stripping of wrapper keys. */
#include "pickle.h"

#include "ckpriv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Root-level keys under which training scripts commonly store the
 * weights, in order of preference. */
static const char *const wrappers[] = {
	"state_dict", "model", "net", "model_state_dict", "ema"
};
#define WRAPPER_COUNT (sizeof wrappers / sizeof wrappers[0])

struct walker {
	struct ms_checkpoint *ck;
	ms_storage_resolver resolve;
	void *ctx;
	char *path;                  /* the dotted key path being walked */
	size_t len, cap;
	int depth;
	struct ms_error *err;
};

static int path_push(struct walker *w, const struct ms_pval *key,
		     size_t index, size_t *saved)
{
	char num[64];
	const char *s = num;
	size_t n;

	if (key == NULL)
		snprintf(num, sizeof num, "%zu", index);
	else if (key->kind == MS_PV_STR)
		s = key->u.str.data;
	else if (key->kind == MS_PV_INT)
		snprintf(num, sizeof num, "%" PRId64, key->u.i);
	else if (key->kind == MS_PV_BOOL)
		s = key->u.b ? "True" : "False";
	else
		snprintf(num, sizeof num, "<%s>", ms_pval_kind_name(key));
	n = strlen(s);
	*saved = w->len;
	if (w->len + n + 2 > w->cap) {
		size_t cap = (w->len + n + 2) * 2;
		char *p = realloc(w->path, cap);

		if (p == NULL)
			return ms_fail(w->err, "%s: out of memory", w->ck->path);
		w->path = p;
		w->cap = cap;
	}
	if (w->len > 0)
		w->path[w->len++] = '.';
	memcpy(w->path + w->len, s, n + 1);
	w->len += n;
	return 0;
}

static void path_pop(struct walker *w, size_t saved)
{
	w->len = saved;
	w->path[saved] = '\0';
}

static int add_tensor(struct walker *w, const struct ms_ptensor *t)
{
	const struct ms_pval *s = t->storage;
	struct ms_storage st;

	if (s->kind == MS_PV_OBJECT)
		return ms_fail(w->err, "%s: tensor '%s' has a storage built by "
			       "%s.%s, which is not allowed", w->ck->path, w->path,
			       s->u.global.module, s->u.global.name);
	if (s->kind != MS_PV_PERSID)
		return ms_fail(w->err, "%s: tensor '%s': the storage is a %s, not "
			       "a storage reference", w->ck->path, w->path,
			       ms_pval_kind_name(s));
	if (w->resolve(w->ctx, w->path, s->u.pid, &st, w->err) < 0)
		return -1;
	return ms_ck_add(w->ck, w->path, st.dtype, t->ndim, t->shape, t->stride,
			 t->offset, st.data, st.bytes, st.big_endian, w->err);
}

/* Adds a NumPy array, copying its data into a buffer the checkpoint
 * keeps (the pickle's values are freed after reading). */
static int add_array(struct walker *w, const struct ms_parray *a)
{
	int64_t stride[MS_MAX_DIMS], step = 1;
	unsigned char *copy;

	if (!a->built || !a->supported)
		return 0;   /* NOTE: arrays of other dtypes are skipped */
	for (int i = 0; i < a->ndim; i++) {
		int d = a->fortran_order ? i : a->ndim - 1 - i;

		stride[d] = step;
		step *= a->shape[d] > 0 ? a->shape[d] : 1;
	}
	copy = malloc(a->bytes ? a->bytes : 1);
	if (copy == NULL)
		return ms_fail(w->err, "%s: out of memory", w->ck->path);
	if (a->bytes)
		memcpy(copy, a->data, a->bytes);
	if (ms_ck_keep(w->ck, copy, w->err) < 0)
		return -1;
	return ms_ck_add(w->ck, w->path, a->dtype, a->ndim, a->shape, stride, 0,
			 copy, a->bytes, a->big_endian, w->err);
}

/* Tells whether placeholder V is in the place of a tensor's data: the
 * data of a parameter or quantized tensor, or the result of a
 * torch._utils._rebuild_* function that the interpreter does not know. */
static bool placeholder_is_error(const struct ms_pval *v)
{
	return v->tensor_expected ||
	       (strcmp(v->u.global.module, "torch._utils") == 0 &&
		strncmp(v->u.global.name, "_rebuild_", 9) == 0);
}

static int walk(struct walker *w, const struct ms_pval *v);

static int walk_items(struct walker *w, const struct ms_pseq *keys,
		      const struct ms_pseq *values)
{
	for (size_t i = 0; i < values->len; i++) {
		size_t saved;

		if (path_push(w, keys ? keys->items[i] : NULL, i, &saved) < 0 ||
		    walk(w, values->items[i]) < 0)
			return -1;
		path_pop(w, saved);
	}
	return 0;
}

static int walk(struct walker *w, const struct ms_pval *v)
{
	int rc = 0;

	switch (v->kind) {
	case MS_PV_TENSOR:
		return add_tensor(w, v->u.tensor);
	case MS_PV_ARRAY:
		return add_array(w, v->u.array);
	case MS_PV_OBJECT:
		if (placeholder_is_error(v))
			return ms_fail(w->err, "%s: tensor '%s' is built by %s.%s, "
				       "which is not allowed", w->ck->path,
				       w->path, v->u.global.module,
				       v->u.global.name);
		return ms_ck_skip(w->ck, w->path, v->u.global.module,
				  v->u.global.name, w->err);
	case MS_PV_DICT:
	case MS_PV_LIST:
	case MS_PV_TUPLE:
	case MS_PV_SET:
		break;
	default:
		return 0;
	}
	/* A container reached twice (shared or self-referencing) is walked
	 * once, so the walk is linear in the number of values. */
	if (v->walked)
		return 0;
	((struct ms_pval *)v)->walked = true;
	if (++w->depth > MS_PICKLE_MAX_DEPTH)
		return ms_fail(w->err, "%s: objects are nested more than %d "
			       "levels deep, under '%.100s'", w->ck->path,
			       MS_PICKLE_MAX_DEPTH, w->path);
	if (v->kind == MS_PV_DICT)
		rc = walk_items(w, &v->u.dict.keys, &v->u.dict.values);
	else
		rc = walk_items(w, NULL, &v->u.seq);
	w->depth--;
	return rc;
}

/* The tensors and skipped objects that one root entry added: index
 * ranges into ck->tensors and ck->skipped. */
struct entry_range {
	size_t first, last;
	size_t first_skipped, last_skipped;
};

/* Re-keys the tensors and skipped objects under the preferred root
 * wrapper entry, given the range that each wrapper's entry added. */
static void strip_wrapper(struct ms_checkpoint *ck,
			  const struct entry_range *ranges)
{
	for (size_t i = 0; i < WRAPPER_COUNT; i++) {
		const struct entry_range *r = &ranges[i];
		size_t skip = strlen(wrappers[i]) + 1;

		if (r->first == r->last)
			continue;
		for (size_t t = 0; t < ck->count; t++)
			ck->tensors[t].outside_weights = t < r->first ||
							 t >= r->last;
		for (size_t t = r->first; t < r->last; t++) {
			struct ms_tensor *x = &ck->tensors[t];

			if (strlen(x->name) > skip)
				x->key = ms_ck_strip_module(x->name + skip);
		}
		for (size_t t = r->first_skipped; t < r->last_skipped; t++) {
			struct ms_skipped *x = &ck->skipped[t];

			if (strlen(x->name) > skip)
				x->key = ms_ck_strip_module(x->name + skip);
		}
		return;
	}
}

int ms_torch_add_tensors(struct ms_checkpoint *ck, const struct ms_pval *root,
			 ms_storage_resolver resolve, void *ctx,
			 struct ms_error *err)
{
	struct walker w = { .ck = ck, .resolve = resolve, .ctx = ctx,
			    .err = err };
	struct entry_range ranges[WRAPPER_COUNT] = { { 0, 0, 0, 0 } };
	int rc = 0;

	w.path = calloc(1, 64);
	if (w.path == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	w.cap = 64;
	if (root->kind != MS_PV_DICT) {
		rc = walk(&w, root);
		free(w.path);
		return rc;
	}

	/* The root dict is walked here, to note which tensors each wrapper
	 * entry holds. */
	((struct ms_pval *)root)->walked = true;
	w.depth = 1;
	for (size_t i = 0; i < root->u.dict.values.len && rc == 0; i++) {
		const struct ms_pval *key = root->u.dict.keys.items[i];
		const struct ms_pval *value = root->u.dict.values.items[i];
		size_t start = ck->count, start_skipped = ck->skipped_count;
		size_t saved;

		rc = path_push(&w, key, i, &saved);
		if (rc == 0)
			rc = walk(&w, value);
		path_pop(&w, saved);
		for (size_t k = 0; k < WRAPPER_COUNT && rc == 0; k++) {
			struct entry_range *r = &ranges[k];

			if (value->kind != MS_PV_TENSOR &&
			    ms_pval_is_str(key, wrappers[k]) &&
			    r->first == r->last) {
				r->first = start;
				r->last = ck->count;
				r->first_skipped = start_skipped;
				r->last_skipped = ck->skipped_count;
			}
		}
	}
	free(w.path);
	if (rc == 0)
		strip_wrapper(ck, ranges);
	return rc;
}

/* ---------------------------------------------------------------------
 * Storage persistent ids. */

static bool storage_dtype(const struct ms_pval *type, enum ms_dtype *dtype)
{
	static const struct {
		const char *name;
		enum ms_dtype dtype;
	} table[] = {
		{ "FloatStorage", MS_DTYPE_F32 }, { "HalfStorage", MS_DTYPE_F16 },
		{ "BFloat16Storage", MS_DTYPE_BF16 },
		{ "DoubleStorage", MS_DTYPE_F64 }, { "CharStorage", MS_DTYPE_I8 },
		{ "ShortStorage", MS_DTYPE_I16 }, { "IntStorage", MS_DTYPE_I32 },
		{ "LongStorage", MS_DTYPE_I64 }, { "ByteStorage", MS_DTYPE_U8 },
		{ "BoolStorage", MS_DTYPE_BOOL },
		/* Quantized tensors: their stored integers. */
		{ "QInt8Storage", MS_DTYPE_I8 }, { "QUInt8Storage", MS_DTYPE_U8 },
		{ "QInt32Storage", MS_DTYPE_I32 },
	};

	if (type->kind != MS_PV_GLOBAL ||
	    (strcmp(type->u.global.module, "torch") != 0 &&
	     strcmp(type->u.global.module, "torch.cuda") != 0))
		return false;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strcmp(type->u.global.name, table[i].name) == 0) {
			*dtype = table[i].dtype;
			return true;
		}
	}
	return false;
}

static int ref_fail(struct ms_error *err, const char *path, const char *name,
		    const char *problem, const char *detail)
{
	if (name == NULL)
		return ms_fail(err, "%s: storage reference: %s%s", path, problem,
			       detail);
	return ms_fail(err, "%s: tensor '%s': %s%s", path, name, problem, detail);
}

int ms_torch_storage_ref(const char *path, const char *name,
			 const struct ms_pval *pid, struct ms_storage_ref *ref,
			 struct ms_error *err)
{
	struct ms_pval *const *it;
	const struct ms_pval *view;

	memset(ref, 0, sizeof *ref);
	if (pid->kind != MS_PV_TUPLE || pid->u.seq.len < 5 ||
	    !ms_pval_is_str(pid->u.seq.items[0], "storage"))
		return ref_fail(err, path, name, "the persistent id is not a "
				"('storage', type, key, location, size) tuple", "");
	it = pid->u.seq.items;
	if (!storage_dtype(it[1], &ref->dtype))
		return ref_fail(err, path, name, "unsupported storage type ",
				it[1]->kind == MS_PV_GLOBAL ? it[1]->u.global.name
							    : ms_pval_kind_name(it[1]));
	if (it[2]->kind != MS_PV_STR || it[4]->kind != MS_PV_INT ||
	    it[4]->u.i < 0)
		return ref_fail(err, path, name, "invalid storage key or size", "");
	ref->key = it[2]->u.str.data;
	ref->numel = it[4]->u.i;
	view = pid->u.seq.len > 5 ? it[5] : NULL;
	if (view == NULL || view->kind == MS_PV_NONE)
		return 0;
	if (view->kind != MS_PV_TUPLE || view->u.seq.len != 3 ||
	    view->u.seq.items[0]->kind != MS_PV_STR ||
	    view->u.seq.items[1]->kind != MS_PV_INT ||
	    view->u.seq.items[2]->kind != MS_PV_INT ||
	    view->u.seq.items[1]->u.i < 0 || view->u.seq.items[2]->u.i < 0 ||
	    view->u.seq.items[1]->u.i > ref->numel ||
	    view->u.seq.items[2]->u.i > ref->numel - view->u.seq.items[1]->u.i)
		return ref_fail(err, path, name, "invalid storage view", "");
	ref->view_key = view->u.seq.items[0]->u.str.data;
	ref->view_offset = view->u.seq.items[1]->u.i;
	ref->view_size = view->u.seq.items[2]->u.i;
	return 0;
}
