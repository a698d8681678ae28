/* safetensors files: an 8-byte little-endian header length, a JSON header
 * mapping tensor names to dtype, shape and data_offsets, then the data,
 * which the tensors must tile exactly. */
#include "gunzip.h"
#include "json.h"
#include "readers.h"

#include <stdlib.h>
#include <string.h>

/* One tensor entry, with its byte range relative to the data start. */
struct entry {
	const char *name;
	enum ms_dtype dtype;
	int ndim;
	int64_t shape[MS_MAX_DIMS];
	uint64_t begin, end;
};

static int parse_dtype(const char *path, const char *name,
		       const struct ms_json *v, enum ms_dtype *out,
		       struct ms_error *err)
{
	static const struct {
		const char *code;
		enum ms_dtype dtype;
	} codes[] = {
		{ "F32", MS_DTYPE_F32 }, { "F16", MS_DTYPE_F16 },
		{ "BF16", MS_DTYPE_BF16 }, { "F64", MS_DTYPE_F64 },
		{ "I8", MS_DTYPE_I8 }, { "I16", MS_DTYPE_I16 },
		{ "I32", MS_DTYPE_I32 }, { "I64", MS_DTYPE_I64 },
		{ "U8", MS_DTYPE_U8 }, { "BOOL", MS_DTYPE_BOOL },
	};

	if (v == NULL || v->type != MS_JSON_STRING)
		return ms_fail(err, "%s: tensor '%s': missing or non-string "
			       "\"dtype\"", path, name);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		if (strcmp(v->string, codes[i].code) == 0) {
			*out = codes[i].dtype;
			return 0;
		}
	}
	return ms_fail(err, "%s: tensor '%s': unsupported dtype '%s'", path,
		       name, v->string);
}

/* Reads "shape" and "data_offsets" of entry V into E. */
static int parse_entry(const char *path, const struct ms_json *v,
		       struct entry *e, struct ms_error *err)
{
	const struct ms_json *shape = ms_json_get(v, "shape");
	const struct ms_json *offsets = ms_json_get(v, "data_offsets");
	int64_t elements;
	uint64_t bytes;

	e->name = v->key;
	if (v->type != MS_JSON_OBJECT)
		return ms_fail(err, "%s: tensor '%s': entry is not an object",
			       path, e->name);
	if (parse_dtype(path, e->name, ms_json_get(v, "dtype"), &e->dtype,
			err))
		return -1;
	if (shape == NULL || shape->type != MS_JSON_ARRAY)
		return ms_fail(err, "%s: tensor '%s': missing \"shape\" array",
			       path, e->name);
	if (shape->count > MS_MAX_DIMS)
		return ms_fail(err, "%s: tensor '%s': %zu dimensions exceed "
			       "the maximum of %d", path, e->name,
			       shape->count, MS_MAX_DIMS);
	e->ndim = (int)shape->count;
	for (int i = 0; i < e->ndim; i++) {
		uint64_t dim;

		if (ms_json_u64(&shape->items[i], &dim) || dim > INT64_MAX)
			return ms_fail(err, "%s: tensor '%s': shape[%d] is not "
				       "a valid dimension", path, e->name, i);
		e->shape[i] = (int64_t)dim;
	}
	if (offsets == NULL || offsets->type != MS_JSON_ARRAY ||
	    offsets->count != 2 ||
	    ms_json_u64(&offsets->items[0], &e->begin) ||
	    ms_json_u64(&offsets->items[1], &e->end) || e->begin > e->end)
		return ms_fail(err, "%s: tensor '%s': \"data_offsets\" must be "
			       "[begin, end] with begin <= end", path, e->name);
	elements = ms_shape_elements(e->ndim, e->shape);
	if (elements < 0 || (uint64_t)elements > UINT64_MAX /
	    ms_dtype_size(e->dtype))
		return ms_fail(err, "%s: tensor '%s': element count overflows",
			       path, e->name);
	bytes = (uint64_t)elements * ms_dtype_size(e->dtype);
	if (e->end - e->begin != bytes)
		return ms_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu) "
			       "hold %llu bytes but the shape needs %llu", path,
			       e->name, (unsigned long long)e->begin,
			       (unsigned long long)e->end,
			       (unsigned long long)(e->end - e->begin),
			       (unsigned long long)bytes);
	return 0;
}

static int compare_begin(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Checks that the entries tile [0, DATA_SIZE) with no overlap or hole. */
static int check_tiling(const char *path, struct entry *entries, size_t n,
			uint64_t data_size, struct ms_error *err)
{
	struct entry **order = malloc((n ? n : 1) * sizeof *order);
	uint64_t at = 0;
	const char *previous = NULL;
	int rc = 0;

	if (order == NULL)
		return ms_fail(err, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++)
		order[i] = &entries[i];
	qsort(order, n, sizeof *order, compare_begin);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct entry *e = order[i];

		if (e->end > data_size)
			rc = ms_fail(err, "%s: tensor '%s': data_offsets end "
				     "%llu runs past the %llu data bytes", path,
				     e->name, (unsigned long long)e->end,
				     (unsigned long long)data_size);
		else if (e->begin < at)
			rc = ms_fail(err, "%s: tensor '%s': data_offsets [%llu, "
				     "%llu) overlap tensor '%s'", path, e->name,
				     (unsigned long long)e->begin,
				     (unsigned long long)e->end, previous);
		else if (e->begin > at)
			rc = ms_fail(err, "%s: tensor '%s': data_offsets leave "
				     "a hole of %llu bytes before it", path,
				     e->name,
				     (unsigned long long)(e->begin - at));
		at = e->end;
		previous = e->name;
	}
	if (rc == 0 && at != data_size)
		rc = ms_fail(err, "%s: %llu data bytes after the last tensor "
			     "belong to no tensor", path,
			     (unsigned long long)(data_size - at));
	free(order);
	return rc;
}

/* Reads the entries of header ROOT and adds them in header order. */
static int add_entries(struct ms_checkpoint *ck, const struct ms_json *root,
		       const unsigned char *data, uint64_t data_size,
		       struct ms_error *err)
{
	struct entry *entries = calloc(root->count ? root->count : 1,
				       sizeof *entries);
	size_t n = 0;
	int rc = 0;

	if (entries == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	for (size_t i = 0; i < root->count && rc == 0; i++) {
		if (strcmp(root->items[i].key, "__metadata__") == 0)
			continue;
		rc = parse_entry(ck->path, &root->items[i], &entries[n++], err);
	}
	if (rc == 0)
		rc = check_tiling(ck->path, entries, n, data_size, err);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct entry *e = &entries[i];
		int64_t stride[MS_MAX_DIMS];
		int64_t step = 1;

		for (int d = e->ndim - 1; d >= 0; d--) {
			stride[d] = step;
			if (__builtin_mul_overflow(step, e->shape[d] > 0 ?
						   e->shape[d] : 1, &step))
				rc = ms_fail(err, "%s: tensor '%s': shape is too "
					     "large", ck->path, e->name);
		}
		if (rc != 0)
			break;
		rc = ms_ck_add(ck, e->name, e->dtype, e->ndim, e->shape, stride,
			       0, data + e->begin, (size_t)(e->end - e->begin),
			       false, err);
	}
	free(entries);
	return rc;
}

int ms_read_safetensors(struct ms_checkpoint *ck, struct ms_bytes in,
			struct ms_error *err)
{
	struct ms_json *root;
	uint64_t length = 0;
	size_t error_offset;
	const char *error_what;
	int rc;

	if (in.size < 8)
		return ms_fail(err, "%s: too short for safetensors (%zu bytes)",
			       ck->path, in.size);
	for (int i = 7; i >= 0; i--)
		length = length << 8 | in.data[i];
	if (length > in.size - 8)
		return ms_fail(err, "%s: safetensors header length %llu runs "
			       "past the end of the file (%zu bytes)", ck->path,
			       (unsigned long long)length, in.size);
	root = ms_json_parse((const char *)in.data + 8, (size_t)length,
			     &error_offset, &error_what);
	if (root == NULL)
		return ms_fail(err, "%s: safetensors header, byte %zu: %s",
			       ck->path, error_offset + 8, error_what);
	if (root->type != MS_JSON_OBJECT) {
		ms_json_free(root);
		return ms_fail(err, "%s: safetensors header, byte 8: not a "
			       "JSON object", ck->path);
	}
	rc = add_entries(ck, root, in.data + 8 + length,
			 in.size - 8 - length, err);
	ms_json_free(root);
	return rc;
}

/* The data follows the header, and the reader requires the tensors to
 * tile it, so it ends at the largest end offset. */
int ms_safetensors_bound(const char *path, struct ms_bytes prefix,
			 struct ms_size_bound *bound, struct ms_error *err)
{
	struct ms_json *root;
	uint64_t length = 0, data = 0;
	size_t error_offset;
	const char *error_what;
	int rc = 0;

	if (prefix.size < 8)
		return MS_BOUND_MORE;
	for (int i = 7; i >= 0; i--)
		length = length << 8 | prefix.data[i];
	if (length > prefix.size - 8)
		return MS_BOUND_MORE;
	root = ms_json_parse((const char *)prefix.data + 8, (size_t)length,
			     &error_offset, &error_what);
	if (root == NULL) {
		ms_fail(err, "%s: safetensors header, byte %zu: %s", path,
			error_offset + 8, error_what);
		return MS_BOUND_ERROR;
	}
	if (root->type != MS_JSON_OBJECT)
		rc = ms_fail(err, "%s: safetensors header, byte 8: not a JSON "
			     "object", path);
	for (size_t i = 0; i < root->count && rc == 0; i++) {
		struct entry e;

		if (strcmp(root->items[i].key, "__metadata__") == 0)
			continue;
		rc = parse_entry(path, &root->items[i], &e, err);
		if (rc == 0 && e.end > data)
			data = e.end;
	}
	ms_json_free(root);
	if (rc < 0)
		return MS_BOUND_ERROR;
	if (data > UINT64_MAX - 8 - length) {
		ms_fail(err, "%s: safetensors data offsets overflow", path);
		return MS_BOUND_ERROR;
	}
	bound->total = 8 + length + data;
	bound->tensor_bytes = data;
	bound->declared_by = "its safetensors header declares";
	return MS_BOUND_KNOWN;
}
