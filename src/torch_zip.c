/* PyTorch zip checkpoints (torch.save since 1.6): a top folder of any name
 * holding data.pkl, a pickle whose persistent ids name storages kept as
 * members data/KEY, and an optional byteorder record. */

#include "pickle.h"
#include "readers.h"
#include "zipfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A state dict's pickle takes an estimated 100 to 300 bytes per tensor, so
 * 256 MiB is room for about a million tensors. The bound matters only for a
 * deflated data.pkl (torch writes it stored), whose declared size is not
 * otherwise tied to any tensor. */
#define TORCH_PICKLE_MAX ((uint64_t)256 << 20)

/* Memory for the values the pickle builds: each opcode builds at most a
 * few small values, so a bound proportional to the pickle's size (plus
 * room for small pickles) holds for any valid checkpoint. */
#define TORCH_PICKLE_VALUES_PER_BYTE 64
#define TORCH_PICKLE_VALUES_BASE ((size_t)16 << 20)

struct torch_zip {
	struct ms_checkpoint *ck;
	struct ms_zip *zip;
	char *top;                      /* "NAME/" */
	bool big_endian;
	size_t *by_name;                /* member indexes sorted by name */
	struct ms_bytes *loaded;        /* per member, data once loaded */
};

static int compare_members(const void *a, const void *b, void *ctx)
{
	const struct ms_zip *zip = ctx;

	return strcmp(ms_zip_member(zip, *(const size_t *)a)->name,
		      ms_zip_member(zip, *(const size_t *)b)->name);
}

/* Returns the index of member NAME, or -1: a binary search, because a
 * checkpoint may hold many thousands of storages. */
static long find_member(const struct torch_zip *tz, const char *name)
{
	size_t low = 0, high = ms_zip_count(tz->zip);

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int c = strcmp(ms_zip_member(tz->zip, tz->by_name[mid])->name,
			       name);

		if (c == 0)
			return (long)tz->by_name[mid];
		if (c < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return -1;
}

/* Finds the one member TOP/data.pkl, whatever TOP is called. */
static int find_top(struct torch_zip *tz, struct ms_error *err)
{
	const char *path = tz->ck->path;

	for (size_t i = 0; i < ms_zip_count(tz->zip); i++) {
		const char *name = ms_zip_member(tz->zip, i)->name;
		const char *slash = strchr(name, '/');

		if (slash == NULL || slash == name ||
		    strcmp(slash, "/data.pkl") != 0)
			continue;
		if (tz->top != NULL)
			return ms_fail(err, "%s: two top folders hold a "
				       "data.pkl ('%s' and '%s')", path,
				       tz->top, name);
		tz->top = strndup(name, (size_t)(slash - name) + 1);
		if (tz->top == NULL)
			return ms_fail(err, "%s: out of memory", path);
	}
	if (tz->top == NULL)
		return ms_fail(err, "%s: zip archive has no TOP/data.pkl "
			       "member, so it is not a torch checkpoint", path);
	return 0;
}

/* Loads member TOP/REST with at most LIMIT bytes. Returns the member index,
 * -1 when it is missing, or -2 with ERR set. */
static long load_member(struct torch_zip *tz, const char *rest,
			uint64_t limit, struct ms_bytes *out,
			struct ms_error *err)
{
	size_t n = strlen(tz->top) + strlen(rest) + 1;
	char *name = malloc(n);
	long i;

	if (name == NULL) {
		ms_fail(err, "%s: out of memory", tz->ck->path);
		return -2;
	}
	snprintf(name, n, "%s%s", tz->top, rest);
	i = find_member(tz, name);
	free(name);
	if (i < 0)
		return -1;
	if (tz->loaded[i].data == NULL &&
	    ms_zip_load(tz->zip, (size_t)i, limit, tz->ck, &tz->loaded[i],
			err))
		return -2;
	*out = tz->loaded[i];
	return i;
}

static int read_byteorder(struct torch_zip *tz, struct ms_error *err)
{
	struct ms_bytes b;
	long i = load_member(tz, "byteorder", 16, &b, err);

	if (i == -2)
		return -1;
	/* torch 1.13 writes no byteorder record: a checkpoint without one
	 * is read as little-endian. */
	tz->big_endian = false;
	if (i == -1 || (b.size == 6 && memcmp(b.data, "little", 6) == 0))
		return 0;
	if (b.size == 3 && memcmp(b.data, "big", 3) == 0) {
		tz->big_endian = true;
		return 0;
	}
	return ms_fail(err, "%s: member '%sbyteorder' is neither 'little' "
		       "nor 'big'", tz->ck->path, tz->top);
}

/* Maps persistent id PID of tensor NAME to the bytes of TOP/data/KEY. */
static int resolve(void *ctx, const char *name, const struct ms_pval *pid,
		   struct ms_storage *out, struct ms_error *err)
{
	struct torch_zip *tz = ctx;
	const char *path = tz->ck->path;
	struct ms_storage_ref ref;
	struct ms_bytes b;
	size_t need, n;
	char *rest;
	long i;

	if (ms_torch_storage_ref(path, name, pid, &ref, err))
		return -1;
	if (ref.view_key != NULL)
		return ms_fail(err, "%s: tensor '%s': storage views are not "
			       "part of the torch zip format", path, name);
	if (ref.numel < 0 || ms_mul_size((size_t)ref.numel,
					 ms_dtype_size(ref.dtype), &need))
		return ms_fail(err, "%s: tensor '%s': storage of %lld "
			       "elements is too large", path, name,
			       (long long)ref.numel);
	n = strlen(ref.key) + 6;
	rest = malloc(n);
	if (rest == NULL)
		return ms_fail(err, "%s: out of memory", path);
	snprintf(rest, n, "data/%s", ref.key);
	/* A storage member contains exactly NUMEL elements, so that is the
	 * most a deflated one may inflate to. */
	i = load_member(tz, rest, need, &b, err);
	free(rest);
	if (i == -2)
		return -1;
	if (i == -1)
		return ms_fail(err, "%s: tensor '%s': storage member "
			       "'%sdata/%s' not found", path, name, tz->top,
			       ref.key);
	if (b.size != need)
		return ms_fail(err, "%s: tensor '%s': storage '%s' holds %zu "
			       "bytes, but %lld elements of %s need %zu", path,
			       name, ref.key, b.size, (long long)ref.numel,
			       ms_dtype_name(ref.dtype), need);
	out->dtype = ref.dtype;
	out->data = b.data;
	out->bytes = b.size;
	out->big_endian = tz->big_endian;
	return 0;
}

static int read_pickle(struct torch_zip *tz, struct ms_error *err)
{
	const char *path = tz->ck->path;
	const struct ms_zip_member *m;
	const struct ms_pval *root;
	struct ms_pickle *p;
	struct ms_bytes b;
	size_t used, limit;
	long i = load_member(tz, "data.pkl", TORCH_PICKLE_MAX, &b, err);
	int rc;

	if (i < 0)
		return -1;
	m = ms_zip_member(tz->zip, (size_t)i);
	if (ms_mul_size(b.size, TORCH_PICKLE_VALUES_PER_BYTE, &limit) ||
	    ms_add_size(limit, TORCH_PICKLE_VALUES_BASE, &limit))
		limit = SIZE_MAX;
	p = ms_pickle_new(path, limit);
	if (p == NULL)
		return ms_fail(err, "%s: out of memory", path);
	/* Offsets in messages are file offsets when the pickle is stored. */
	rc = ms_pickle_load(p, b.data, b.size,
			    m->method == MS_ZIP_STORED ? m->data_offset : 0,
			    &root, &used, err);
	if (rc == 0)
		rc = ms_torch_add_tensors(tz->ck, root, resolve, tz, err);
	ms_pickle_free(p);
	return rc;
}

int ms_read_torch_zip(struct ms_checkpoint *ck, struct ms_bytes in,
		      struct ms_error *err)
{
	struct torch_zip tz = { .ck = ck };
	size_t count;
	int rc = -1;

	tz.zip = ms_zip_open(ck->path, in, err);
	if (tz.zip == NULL)
		return -1;
	count = ms_zip_count(tz.zip);
	tz.by_name = malloc((count ? count : 1) * sizeof *tz.by_name);
	tz.loaded = calloc(count ? count : 1, sizeof *tz.loaded);
	if (tz.by_name == NULL || tz.loaded == NULL) {
		ms_fail(err, "%s: out of memory", ck->path);
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		tz.by_name[i] = i;
	qsort_r(tz.by_name, count, sizeof *tz.by_name, compare_members,
		tz.zip);
	if (find_top(&tz, err) == 0 && read_byteorder(&tz, err) == 0)
		rc = read_pickle(&tz, err);
out:
	free(tz.by_name);
	free(tz.loaded);
	free(tz.top);
	ms_zip_close(tz.zip);
	return rc;
}
