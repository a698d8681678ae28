/* The torch.save format used before PyTorch 1.6 made zip archives the
 * default (and still written with _use_new_zipfile_serialization=False):
 * five pickles, then the raw storages. Storages are not copied: tensors
 * point into the input. */
#include "pickle.h"

#include "ckpriv.h"
#include "gunzip.h"

#include <stdlib.h>
#include <string.h>

/* The first pickle of the stream contains this number, 0x1950a86a20f9469cfc6c,
 * stored little-endian as LONG1 does. */
static const unsigned char magic_number[] = {
	0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19
};
#define LEGACY_PROTOCOL_VERSION 1001

struct storage {
	const char *key;
	enum ms_dtype dtype;
	int64_t numel;               /* from the persistent ids */
	bool listed;                 /* seen in the storage key list */
	const unsigned char *data;   /* NULL until the data section is read */
	size_t bytes;
};

struct legacy {
	const char *path;
	struct storage *storages;    /* sorted by key */
	size_t count;
	bool big_endian;
};

static int compare_keys(const void *a, const void *b)
{
	return strcmp(((const struct storage *)a)->key,
		      ((const struct storage *)b)->key);
}

static struct storage *find_storage(const struct legacy *lg, const char *key)
{
	struct storage probe = { .key = key };

	return bsearch(&probe, lg->storages, lg->count, sizeof probe,
		       compare_keys);
}

/* Builds the table of storages from every persistent id in the object
 * pickle: the data section needs each storage's element size. */
static int collect_storages(struct legacy *lg, const struct ms_pickle *p,
			    struct ms_error *err)
{
	size_t n, k = 0;
	const struct ms_pval *const *ids = ms_pickle_persids(p, &n);

	lg->storages = calloc(n + 1, sizeof *lg->storages);
	if (lg->storages == NULL)
		return ms_fail(err, "%s: out of memory", lg->path);
	for (size_t i = 0; i < n; i++) {
		struct ms_storage_ref ref;

		if (ms_torch_storage_ref(lg->path, NULL, ids[i]->u.pid, &ref, err) < 0)
			return -1;
		lg->storages[k].key = ref.key;
		lg->storages[k].dtype = ref.dtype;
		lg->storages[k].numel = ref.numel;
		k++;
	}
	qsort(lg->storages, k, sizeof *lg->storages, compare_keys);
	/* Keep one entry per key; the same key must mean the same storage. */
	lg->count = 0;
	for (size_t i = 0; i < k; i++) {
		struct storage *prev = lg->count ? &lg->storages[lg->count - 1]
						 : NULL;

		if (prev != NULL && strcmp(prev->key, lg->storages[i].key) == 0) {
			if (prev->dtype != lg->storages[i].dtype ||
			    prev->numel != lg->storages[i].numel)
				return ms_fail(err, "%s: storage '%s' is referenced "
					       "with two different types or sizes",
					       lg->path, prev->key);
			continue;
		}
		lg->storages[lg->count++] = lg->storages[i];
	}
	return 0;
}

/* Returns in *OUT the storage that entry I of the storage key list KEYS
 * names, after checking that it is a str naming a storage that tensors
 * refer to, listed once. */
static int listed_storage(struct legacy *lg, const struct ms_pval *keys,
			  size_t i, struct storage **out, struct ms_error *err)
{
	const struct ms_pval *key = keys->u.seq.items[i];
	struct storage *s;

	if (key->kind != MS_PV_STR)
		return ms_fail(err, "%s: storage key %zu is a %s, not a str",
			       lg->path, i, ms_pval_kind_name(key));
	s = find_storage(lg, key->u.str.data);
	if (s == NULL)
		return ms_fail(err, "%s: storage '%s' is listed but no tensor "
			       "refers to it", lg->path, key->u.str.data);
	if (s->listed)
		return ms_fail(err, "%s: storage '%s' is listed twice",
			       lg->path, s->key);
	s->listed = true;
	*out = s;
	return 0;
}

static int check_key_list(const struct legacy *lg, const struct ms_pval *keys,
			  struct ms_error *err)
{
	if (keys->kind != MS_PV_LIST)
		return ms_fail(err, "%s: the storage key list is a %s, not a list",
			       lg->path, ms_pval_kind_name(keys));
	return 0;
}

/* Reads the storage data section at IN.DATA[POS]: for each key of KEYS in
 * order, an 8-byte little-endian element count and then the elements. */
static int read_storages(struct legacy *lg, const struct ms_pval *keys,
			 struct ms_bytes in, size_t pos, struct ms_error *err)
{
	if (check_key_list(lg, keys, err) < 0)
		return -1;
	for (size_t i = 0; i < keys->u.seq.len; i++) {
		struct storage *s;
		uint64_t count = 0;
		size_t bytes;

		if (listed_storage(lg, keys, i, &s, err) < 0)
			return -1;
		if (in.size - pos < 8)
			return ms_fail(err, "%s: storage '%s': the file ends at byte "
				       "%zu, before its size", lg->path, s->key,
				       in.size);
		for (int b = 7; b >= 0; b--)
			count = count << 8 | in.data[pos + (size_t)b];
		if (count != (uint64_t)s->numel)
			return ms_fail(err, "%s: storage '%s' at byte %zu contains %llu "
				       "elements, but its tensors were saved with "
				       "%lld", lg->path, s->key, pos,
				       (unsigned long long)count, (long long)s->numel);
		pos += 8;
		if (ms_mul_size((size_t)count, ms_dtype_size(s->dtype), &bytes) < 0 ||
		    bytes > in.size - pos)
			return ms_fail(err, "%s: storage '%s' at byte %zu: %llu "
				       "elements of %s run past the end of the file "
				       "(%zu bytes)", lg->path, s->key, pos - 8,
				       (unsigned long long)count,
				       ms_dtype_name(s->dtype), in.size);
		s->data = in.data + pos;
		s->bytes = bytes;
		pos += bytes;
	}
	return 0;
}

static int resolve(void *ctx, const char *name, const struct ms_pval *pid,
		   struct ms_storage *out, struct ms_error *err)
{
	const struct legacy *lg = ctx;
	struct ms_storage_ref ref;
	const struct storage *s;
	size_t esize;

	if (ms_torch_storage_ref(lg->path, name, pid, &ref, err) < 0)
		return -1;
	s = find_storage(lg, ref.key);
	if (s == NULL || s->data == NULL)
		return ms_fail(err, "%s: tensor '%s': storage '%s' has no data in "
			       "the file", lg->path, name, ref.key);
	esize = ms_dtype_size(s->dtype);
	out->dtype = s->dtype;
	out->data = s->data;
	out->bytes = s->bytes;
	out->big_endian = lg->big_endian;
	if (ref.view_key != NULL) {
		/* ms_torch_storage_ref() checked the view lies inside. */
		out->data += (size_t)ref.view_offset * esize;
		out->bytes = (size_t)ref.view_size * esize;
	}
	return 0;
}

/* Checks header pickle I: 0 is the magic number, 1 the format version
 * and 2 the writer's system info (only its byte order matters here). */
static int check_header(struct legacy *lg, int i, const struct ms_pval *v,
			size_t offset, struct ms_error *err)
{
	if (i == 0 && (v->kind != MS_PV_BIGINT ||
		       v->u.str.len != sizeof magic_number ||
		       memcmp(v->u.str.data, magic_number, sizeof magic_number) != 0))
		return ms_fail(err, "%s: not a torch checkpoint: the first pickle "
			       "is not torch's magic number", lg->path);
	if (i == 1 && (v->kind != MS_PV_INT || v->u.i != LEGACY_PROTOCOL_VERSION))
		return ms_fail(err, "%s: pickle at byte %zu: unsupported torch "
			       "format version (expected %d)", lg->path, offset,
			       LEGACY_PROTOCOL_VERSION);
	if (i != 2)
		return 0;
	if (v->kind != MS_PV_DICT)
		return ms_fail(err, "%s: pickle at byte %zu: the system info is a "
			       "%s, not a dict", lg->path, offset,
			       ms_pval_kind_name(v));
	for (size_t k = 0; k < v->u.dict.keys.len; k++) {
		const struct ms_pval *value = v->u.dict.values.items[k];

		if (ms_pval_is_str(v->u.dict.keys.items[k], "little_endian") &&
		    value->kind == MS_PV_BOOL)
			lg->big_endian = !value->u.b;
	}
	return 0;
}

/* The values of a pickle take at most a few dozen bytes per input byte,
 * so this bounds memory on any input of SIZE bytes while leaving room for
 * any real checkpoint. */
static size_t pickle_memory_limit(size_t size)
{
	return size < ((size_t)1 << 26) ? (16u << 20) + 32 * size
					 : (size_t)1 << 31;
}

/* Loads the five pickles at the start of IN into V and stores the offset
 * past them in *POS. Returns 0, or -1 with ERR set when a pickle does not
 * load (the input may be cut short), or -2 with ERR set when the pickles
 * load but declare something invalid. */
static int load_pickles(struct legacy *lg, struct ms_pickle *p,
			struct ms_bytes in, const struct ms_pval *v[5],
			size_t *pos, struct ms_error *err)
{
	*pos = 0;
	for (int i = 0; i < 5; i++) {
		size_t used;

		if (ms_pickle_load(p, in.data + *pos, in.size - *pos, *pos, &v[i],
				   &used, err) < 0)
			return -1;
		if (check_header(lg, i, v[i], *pos, err) < 0)
			return -2;
		*pos += used;
		if (i == 3 && collect_storages(lg, p, err) < 0)
			return -2;
	}
	return 0;
}

int ms_read_torch_legacy(struct ms_checkpoint *ck, struct ms_bytes in,
			 struct ms_error *err)
{
	struct legacy lg = { .path = ck->path };
	const struct ms_pval *v[5];
	size_t pos;
	struct ms_pickle *p = ms_pickle_new(ck->path,
					    pickle_memory_limit(in.size));
	int rc = -1;

	if (p == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	if (load_pickles(&lg, p, in, v, &pos, err) < 0 ||
	    read_storages(&lg, v[4], in, pos, err) < 0 ||
	    ms_torch_add_tensors(ck, v[3], resolve, &lg, err) < 0)
		goto out;
	rc = 0;
out:
	free(lg.storages);
	ms_pickle_free(p);
	return rc;
}

/* The data section holds, per listed storage, an 8-byte element count
 * and the elements, and nothing follows it. */
int ms_torch_legacy_bound(const char *path, struct ms_bytes prefix,
			  struct ms_size_bound *bound, struct ms_error *err)
{
	struct legacy lg = { .path = path };
	const struct ms_pval *v[5];
	uint64_t data = 0;
	size_t pos, listed = 0;
	struct ms_pickle *p = ms_pickle_new(path,
					    pickle_memory_limit(prefix.size));
	int rc;

	if (p == NULL)
		return ms_fail(err, "%s: out of memory", path);
	/* A pickle that does not load may only be cut short: the reader
	 * reports it if it is still there at the end. */
	rc = load_pickles(&lg, p, prefix, v, &pos, err);
	if (rc == -1) {
		free(lg.storages);
		ms_pickle_free(p);
		return MS_BOUND_MORE;
	}
	if (rc == 0)
		rc = check_key_list(&lg, v[4], err);
	if (rc == 0)
		listed = v[4]->u.seq.len;
	for (size_t i = 0; rc == 0 && i < listed; i++) {
		struct storage *s;
		uint64_t bytes;

		rc = listed_storage(&lg, v[4], i, &s, err);
		if (rc == 0 && (__builtin_mul_overflow((uint64_t)s->numel,
						       ms_dtype_size(s->dtype),
						       &bytes) ||
				__builtin_add_overflow(data, bytes, &data)))
			rc = ms_fail(err, "%s: storage '%s': the storages "
				     "declare more than 2^64 bytes", path, s->key);
	}
	free(lg.storages);
	ms_pickle_free(p);
	if (rc < 0)
		return MS_BOUND_ERROR;
	/* Each listed storage has an 8-byte element count before its data.
	 * LISTED is bounded by the pickle's size, so the overhead cannot
	 * overflow. */
	return ms_storage_bound(path, data, (uint64_t)pos + 8 * (uint64_t)listed,
				bound, err);
}
