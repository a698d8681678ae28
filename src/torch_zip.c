/* PyTorch zip checkpoints (torch.save since 1.6): a top folder of any name
 * holding data.pkl, a pickle whose persistent ids name storages kept as
 * members data/KEY, and an optional byteorder record. */

#include "gunzip.h"
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

/* ---------------------------------------------------------------------
 * The size bound of a gzip-wrapped archive, from its first member. */

/* The zip records around each member, in bytes: a local header of 30
 * bytes, a data descriptor of at most 24 (signature, CRC-32, two 8-byte
 * sizes), and a central directory entry of 46. Each header is followed by
 * the member's name and its extra fields. ZIP_EXTRA_MAX bounds the extra
 * fields of one header. torch 1.13 writes an "FB" field that pads the data
 * to a multiple of 64 bytes (so at most 4 + 63 bytes), and past 4 GiB a
 * zip64 field (at most 4 + 28). The end records are a zip64 end record
 * (56 bytes), its locator (20) and the end record (22) with a comment of
 * at most 65535 bytes. */
#define ZIP_LOCAL_SIZE 30
#define ZIP_DESCRIPTOR_MAX 24
#define ZIP_CENTRAL_SIZE 46
#define ZIP_EXTRA_MAX 256
#define ZIP_END_MAX (56 + 20 + 22 + 65535)
/* Besides data.pkl and the storages, torch writes a few small members
 * (version, byteorder, .data/version, .data/serialization_id): room is
 * left for ZIP_OTHER_COUNT of them, with names of at most the top folder
 * plus ZIP_OTHER_NAME bytes and at most ZIP_OTHER_DATA bytes of data. */
#define ZIP_OTHER_COUNT 16
#define ZIP_OTHER_NAME 64
#define ZIP_OTHER_DATA 4096

/* Returns the bytes that a member of NAME_LEN bytes and DATA bytes takes
 * with its records. A deflated member may be a little larger than its
 * data: zlib 1.2.13's deflateBound() allows n + n/4096 + n/16384 +
 * n/2^25 + 7 bytes for raw deflate, which n/1024 + 64 covers. */
static uint64_t member_bytes(uint64_t name_len, uint64_t data)
{
	return ZIP_LOCAL_SIZE + ZIP_CENTRAL_SIZE + ZIP_DESCRIPTOR_MAX +
	       2 * (name_len + ZIP_EXTRA_MAX) + data + data / 1024 + 64;
}

struct declared_storage {
	const char *key;
	uint64_t bytes;
};

static int compare_declared(const void *a, const void *b)
{
	return strcmp(((const struct declared_storage *)a)->key,
		      ((const struct declared_storage *)b)->key);
}

/* Sums the bytes of the distinct storages that the persistent ids of P
 * declare, each with its member's records under TOP_LEN bytes of top
 * folder, into *DATA (storage bytes only) and *ALL. */
static int sum_storages(const char *path, const struct ms_pickle *p,
			size_t top_len, uint64_t *data, uint64_t *all,
			struct ms_error *err)
{
	size_t n, kept = 0;
	const struct ms_pval *const *ids = ms_pickle_persids(p, &n);
	struct declared_storage *st = calloc(n ? n : 1, sizeof *st);

	if (st == NULL)
		return ms_fail(err, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++) {
		struct ms_storage_ref ref;

		if (ms_torch_storage_ref(path, NULL, ids[i]->u.pid, &ref, err) < 0) {
			free(st);
			return -1;
		}
		st[i].key = ref.key;
		if (__builtin_mul_overflow((uint64_t)ref.numel,
					   ms_dtype_size(ref.dtype),
					   &st[i].bytes)) {
			free(st);
			return ms_fail(err, "%s: storage '%s' declares more "
				       "than 2^64 bytes", path, ref.key);
		}
	}
	qsort(st, n, sizeof *st, compare_declared);
	*data = 0;
	*all = 0;
	for (size_t i = 0; i < n; i++) {
		/* The same key must mean the same storage, which the reader
		 * checks; the larger size counts here. */
		if (kept > 0 && strcmp(st[kept - 1].key, st[i].key) == 0) {
			if (st[i].bytes > st[kept - 1].bytes)
				st[kept - 1].bytes = st[i].bytes;
			continue;
		}
		st[kept++] = st[i];
	}
	for (size_t i = 0; i < kept; i++) {
		uint64_t name_len = top_len + 5 + strlen(st[i].key);

		if (st[i].bytes > UINT64_MAX / 2 ||
		    __builtin_add_overflow(*data, st[i].bytes, data) ||
		    __builtin_add_overflow(*all, member_bytes(name_len,
							      st[i].bytes), all)) {
			free(st);
			return ms_fail(err, "%s: the storages declare more than "
				       "2^64 bytes", path);
		}
	}
	free(st);
	return 0;
}

/* torch 1.13 writes TOP/data.pkl first, stored, with a data descriptor,
 * so its size comes from the pickle's STOP opcode. When the local header
 * gives sizes, the member counts at the larger of the two. */
int ms_torch_zip_bound(const char *path, struct ms_bytes prefix,
		       struct ms_size_bound *bound, struct ms_error *err)
{
	const unsigned char *d = prefix.data;
	size_t name_len, data_start, available, used;
	uint64_t member_len, data = 0, all = 0, rest;
	const struct ms_pval *root;
	const char *slash;
	struct ms_pickle *p;
	int flags, rc;

	if (prefix.size < ZIP_LOCAL_SIZE)
		return MS_BOUND_MORE;
	flags = d[6] | d[7] << 8;
	name_len = d[26] | (size_t)d[27] << 8;
	data_start = ZIP_LOCAL_SIZE + name_len + (d[28] | (size_t)d[29] << 8);
	if (prefix.size < data_start)
		return MS_BOUND_MORE;
	slash = memchr(d + ZIP_LOCAL_SIZE, '/', name_len);
	if ((flags & 1) != 0 || (d[8] | d[9] << 8) != MS_ZIP_STORED ||
	    slash == NULL || slash == (const char *)d + ZIP_LOCAL_SIZE ||
	    (size_t)(slash - (const char *)d) + 9 != ZIP_LOCAL_SIZE + name_len ||
	    memcmp(slash, "/data.pkl", 9) != 0)
		return MS_BOUND_NONE;
	member_len = 0;
	if ((flags & 8) == 0)
		member_len = (uint64_t)d[18] | (uint64_t)d[19] << 8 |
			     (uint64_t)d[20] << 16 | (uint64_t)d[21] << 24;
	if (member_len > TORCH_PICKLE_MAX)
		return MS_BOUND_NONE;
	available = prefix.size - data_start;
	if (member_len != 0 && member_len < available)
		available = (size_t)member_len;
	if (ms_mul_size(available, TORCH_PICKLE_VALUES_PER_BYTE, &used) ||
	    ms_add_size(used, TORCH_PICKLE_VALUES_BASE, &used))
		used = SIZE_MAX;
	p = ms_pickle_new(path, used);
	if (p == NULL)
		return ms_fail(err, "%s: out of memory", path);
	/* A pickle that does not load may only be cut short: the reader
	 * reports it if it is still there at the end. */
	if (ms_pickle_load(p, d + data_start, available, data_start, &root,
			   &used, err) < 0) {
		ms_pickle_free(p);
		return MS_BOUND_MORE;
	}
	rc = sum_storages(path, p, (size_t)(slash - (const char *)d) -
			  ZIP_LOCAL_SIZE + 1, &data, &all, err);
	ms_pickle_free(p);
	if (rc < 0)
		return MS_BOUND_ERROR;
	if (member_len < used)
		member_len = used;
	/* data.pkl with its records, the other small members and the end
	 * records: far below 2^63, as every term is. */
	rest = data_start + member_len + ZIP_DESCRIPTOR_MAX + ZIP_CENTRAL_SIZE +
	       name_len + ZIP_EXTRA_MAX + ZIP_END_MAX +
	       ZIP_OTHER_COUNT * member_bytes(name_len + ZIP_OTHER_NAME,
					      ZIP_OTHER_DATA);
	/* ALL already counts DATA and each storage member's records. */
	return ms_storage_bound(path, data, all - data + rest, bound, err);
}

/* ---------------------------------------------------------------------
 * The size bound of a gzip-wrapped npz archive, walked member by member. */

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	while (bytes-- > 0)
		v = v << 8 | p[bytes];
	return v;
}

/* Replaces the all-ones 32-bit sizes USIZE and CSIZE of a local header
 * with those of its ZIP64 extra field (ID 1), which lists the
 * uncompressed size, then the compressed size, each only when its 32-bit
 * field is all ones. Returns false when a needed size is missing. */
static bool local_zip64_sizes(const unsigned char *extra, size_t len,
			      uint64_t *usize, uint64_t *csize)
{
	size_t at = 0;

	while (at + 4 <= len) {
		size_t id = get_le(extra + at, 2), size = get_le(extra + at + 2, 2);
		size_t field = at + 4;

		if (at + 4 + size > len)
			return false;
		if (id == 1) {
			if (*usize == UINT32_MAX && field + 8 <= at + 4 + size) {
				*usize = get_le(extra + field, 8);
				field += 8;
			}
			if (*csize == UINT32_MAX && field + 8 <= at + 4 + size)
				*csize = get_le(extra + field, 8);
		}
		at += 4 + size;
	}
	return *usize != UINT32_MAX && *csize != UINT32_MAX;
}

/* Returns the length of the data descriptor at D (AVAILABLE bytes) that
 * follows a member of CSIZE compressed bytes, or 0 when none matches. The
 * descriptor is an optional signature, the CRC-32, then both sizes in 4
 * or (ZIP64) 8 bytes each. */
static size_t descriptor_length(const unsigned char *d, size_t available,
				uint64_t csize)
{
	size_t sig = available >= 4 && get_le(d, 4) == 0x08074b50 ? 4 : 0;

	if (available >= sig + 20 && get_le(d + sig + 4, 8) == csize)
		return sig + 20;
	if (available >= sig + 12 && get_le(d + sig + 4, 4) == csize)
		return sig + 12;
	return 0;
}

/* Steps WALK over the member whose local header is at WALK->pos.
 * Returns MS_BOUND_MORE with *NEED set, 1 after a step, MS_BOUND_NONE or
 * MS_BOUND_ERROR. */
static int step_member(const char *path, struct ms_bytes prefix,
		       struct ms_npz_walk *walk, uint64_t *need,
		       struct ms_error *err)
{
	const unsigned char *d = prefix.data + walk->pos;
	size_t available = prefix.size - walk->pos, name_len, extra_len;
	uint64_t usize, csize, data_start, length, end;
	int flags, method;

	if (available < ZIP_LOCAL_SIZE) {
		*need = walk->pos + ZIP_LOCAL_SIZE;
		return MS_BOUND_MORE;
	}
	flags = (int)get_le(d + 6, 2);
	method = (int)get_le(d + 8, 2);
	csize = get_le(d + 18, 4);
	usize = get_le(d + 22, 4);
	name_len = get_le(d + 26, 2);
	extra_len = get_le(d + 28, 2);
	data_start = ZIP_LOCAL_SIZE + name_len + extra_len;
	if (available < data_start) {
		*need = walk->pos + data_start;
		return MS_BOUND_MORE;
	}
	if ((flags & 1) != 0)
		return MS_BOUND_NONE;
	if ((flags & 8) != 0 && method != MS_ZIP_STORED)
		return MS_BOUND_NONE;
	if ((flags & 8) == 0 && (usize == UINT32_MAX || csize == UINT32_MAX) &&
	    !local_zip64_sizes(d + ZIP_LOCAL_SIZE + name_len, extra_len,
			       &usize, &csize))
		return MS_BOUND_NONE;
	if (method == MS_ZIP_STORED) {
		struct ms_bytes npy = { d + data_start, available - data_start };
		struct ms_size_bound array;
		int rc;

		if (npy.size >= 6 && memcmp(npy.data, "\x93NUMPY", 6) != 0)
			return MS_BOUND_NONE;
		rc = ms_npy_bound(path, npy, &array, err);
		if (rc == MS_BOUND_MORE) {
			/* The magic, version and length, then at most
			 * NPY_HEADER_MAX bytes of header, as npy.c reads. */
			*need = walk->pos + data_start + 12 + ((size_t)1 << 20);
			return MS_BOUND_MORE;
		}
		if (rc != MS_BOUND_KNOWN)
			return rc;
		length = array.total;
		if ((flags & 8) == 0 && csize < length)
			length = csize;
	} else if (method == MS_ZIP_DEFLATED) {
		length = csize;
	} else {
		return MS_BOUND_NONE;
	}
	if (length > UINT64_MAX / 4 - walk->pos - data_start) {
		ms_fail(err, "%s: zip member at byte %llu declares more than "
			"2^62 bytes", path, (unsigned long long)walk->pos);
		return MS_BOUND_ERROR;
	}
	end = walk->pos + data_start + length;
	if ((flags & 8) != 0) {
		size_t tail;

		if (prefix.size < end + ZIP_DESCRIPTOR_MAX) {
			*need = end + ZIP_DESCRIPTOR_MAX;
			return MS_BOUND_MORE;
		}
		tail = descriptor_length(prefix.data + end, ZIP_DESCRIPTOR_MAX,
					 length);
		if (tail == 0)
			return MS_BOUND_NONE;
		end += tail;
	}
	walk->data += length;
	walk->central += ZIP_CENTRAL_SIZE + name_len + ZIP_EXTRA_MAX;
	walk->pos = end;
	return 1;
}

/* A stored member counts at the size its npy header declares (or its
 * local header's size, when smaller). A deflated member counts at the
 * compressed size of its local header: the npy header inside it would
 * need inflating, and the reader checks the array against it anyway. */
int ms_npz_bound(const char *path, struct ms_bytes prefix,
		 struct ms_npz_walk *walk, uint64_t *need,
		 struct ms_size_bound *bound, struct ms_error *err)
{
	for (;;) {
		int rc;

		if (prefix.size < walk->pos + 4) {
			*need = walk->pos + ZIP_LOCAL_SIZE;
			return MS_BOUND_MORE;
		}
		if (memcmp(prefix.data + walk->pos, "PK\3\4", 4) != 0)
			break;
		rc = step_member(path, prefix, walk, need, err);
		if (rc != 1)
			return rc;
	}
	/* The central directory or whatever else follows the last member:
	 * only the directory and the end records may follow. */
	bound->total = walk->pos + walk->central + ZIP_END_MAX;
	bound->tensor_bytes = walk->data;
	bound->declared_by = "its members declare";
	return MS_BOUND_KNOWN;
}
