/* Building a checkpoint's tensor list: the checked ms_ck_add() that every
 * container reader calls, the buffers a checkpoint owns, the record of
 * skipped placeholder objects, and the final step that applies pruning
 * masks and scans each tensor. */
#include "ckpriv.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most this many threads scan tensors, and only when the checkpoint
 * contains at least this many elements. The threshold is an estimate:
 * 4M elements take a few milliseconds to scan, far more than starting a
 * thread. */
#define SCAN_THREADS 8
#define SCAN_THREAD_MIN_ELEMENTS (1 << 22)

struct ms_ck_priv *ms_ck_priv(struct ms_checkpoint *ck)
{
	if (ck->priv == NULL)
		ck->priv = calloc(1, sizeof(struct ms_ck_priv));
	return ck->priv;
}

const char *ms_ck_strip_module(const char *name)
{
	while (strncmp(name, "module.", 7) == 0 && name[7] != '\0')
		name += 7;
	return name;
}

int ms_ck_keep(struct ms_checkpoint *ck, void *buffer, struct ms_error *err)
{
	struct ms_ck_priv *p = ms_ck_priv(ck);

	if (p != NULL && p->kept_count == p->kept_cap) {
		size_t cap = p->kept_cap ? p->kept_cap * 2 : 8;
		void **kept = realloc(p->kept, cap * sizeof *kept);
		size_t *sizes = kept ? realloc(p->kept_size, cap * sizeof *sizes)
				     : NULL;

		if (kept != NULL)
			p->kept = kept;
		if (sizes != NULL) {
			p->kept_size = sizes;
			p->kept_cap = cap;
		}
	}
	if (p == NULL || p->kept_count == p->kept_cap) {
		free(buffer);
		return ms_fail(err, "%s: out of memory", ck->path);
	}
	p->kept[p->kept_count] = buffer;
	/* NOTE: ms_ck_keep() does not receive the buffer's size, so the
	 * storage check relies on glibc's malloc_usable_size(), which is at
	 * least the size requested from malloc. */
	p->kept_size[p->kept_count] = malloc_usable_size(buffer);
	p->kept_count++;
	return 0;
}

static bool range_inside(const unsigned char *base, size_t size,
			 const unsigned char *p, size_t n)
{
	uintptr_t b = (uintptr_t)base, q = (uintptr_t)p;

	return base != NULL && q >= b && q - b <= size && n <= size - (q - b);
}

/* Tells whether [P, P + N) lies inside a buffer the checkpoint owns, and
 * adds the byte count of those buffers to *KNOWN. */
static bool storage_known(const struct ms_ck_priv *pv, const unsigned char *p,
			  size_t n, size_t *known)
{
	bool inside = range_inside(pv->map.data, pv->map.size, p, n) ||
		      range_inside(pv->inflated, pv->inflated_size, p, n);

	*known = pv->map.size + pv->inflated_size;
	for (size_t i = 0; i < pv->kept_count; i++) {
		*known += pv->kept_size[i];
		if (range_inside(pv->kept[i], pv->kept_size[i], p, n))
			inside = true;
	}
	return inside;
}

/* Computes the lowest and highest storage index (in elements) that the
 * shape, strides and offset can reach. Returns -1 on overflow. */
static int reach(int ndim, const int64_t *shape, const int64_t *stride,
		 int64_t offset, int64_t *lo, int64_t *hi)
{
	*lo = offset;
	*hi = offset;
	for (int d = 0; d < ndim; d++) {
		int64_t span;

		if (__builtin_mul_overflow(shape[d] - 1, stride[d], &span))
			return -1;
		if (span < 0 && __builtin_add_overflow(*lo, span, lo))
			return -1;
		if (span > 0 && __builtin_add_overflow(*hi, span, hi))
			return -1;
	}
	return 0;
}

static int check_layout(struct ms_checkpoint *ck, const char *name,
			enum ms_dtype dtype, int ndim, const int64_t *shape,
			const int64_t *stride, int64_t offset,
			const unsigned char *storage, size_t storage_bytes,
			struct ms_error *err)
{
	struct ms_ck_priv *pv = ck->priv;
	size_t esize = ms_dtype_size(dtype), known, end;
	int64_t elements, lo, hi;

	if (esize == 0)
		return ms_fail(err, "%s: tensor '%s': unknown dtype %d", ck->path,
			       name, (int)dtype);
	if (ndim < 0 || ndim > MS_MAX_DIMS)
		return ms_fail(err, "%s: tensor '%s': %d dimensions, more than the "
			       "maximum of %d", ck->path, name, ndim, MS_MAX_DIMS);
	for (int d = 0; d < ndim; d++) {
		if (shape[d] < 0)
			return ms_fail(err, "%s: tensor '%s': dimension %d is negative "
				       "(%lld)", ck->path, name, d, (long long)shape[d]);
	}
	elements = ms_shape_elements(ndim, shape);
	if (elements < 0)
		return ms_fail(err, "%s: tensor '%s': the element count overflows",
			       ck->path, name);
	if (offset < 0)
		return ms_fail(err, "%s: tensor '%s': negative storage offset %lld",
			       ck->path, name, (long long)offset);
	if (elements == 0)
		return 0;

	if (reach(ndim, shape, stride, offset, &lo, &hi) < 0 || lo < 0 ||
	    ms_mul_size((size_t)hi + 1, esize, &end) < 0 || end > storage_bytes)
		return ms_fail(err, "%s: tensor '%s': its shape, strides and offset "
			       "reach past its storage of %zu bytes", ck->path,
			       name, storage_bytes);
	if (!storage_known(pv, storage, storage_bytes, &known))
		return ms_fail(err, "%s: tensor '%s': storage lies outside the "
			       "file's buffers", ck->path, name);
	if (__builtin_add_overflow(pv->elements_total, elements,
				   &pv->elements_total) ||
	    (pv->elements_total - MS_CK_ELEMENT_SLACK) / MS_CK_ELEMENTS_PER_BYTE >
	    (int64_t)known)
		return ms_fail(err, "%s: tensor '%s': tensors view more than %d "
			       "elements per byte of the file in total, which "
			       "only a file reusing one storage many times does",
			       ck->path, name, MS_CK_ELEMENTS_PER_BYTE);
	return 0;
}

int ms_ck_add(struct ms_checkpoint *ck, const char *name,
	      enum ms_dtype dtype, int ndim, const int64_t *shape,
	      const int64_t *stride, int64_t offset,
	      const unsigned char *storage, size_t storage_bytes,
	      bool big_endian, struct ms_error *err)
{
	struct ms_ck_priv *pv = ms_ck_priv(ck);
	struct ms_tensor *t;

	if (pv == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	if (check_layout(ck, name, dtype, ndim, shape, stride, offset, storage,
			 storage_bytes, err) < 0)
		return -1;

	if (ck->count == pv->tensor_cap) {
		size_t cap = pv->tensor_cap ? pv->tensor_cap * 2 : 64;
		struct ms_tensor *ts = realloc(ck->tensors, cap * sizeof *ts);

		if (ts == NULL)
			return ms_fail(err, "%s: out of memory", ck->path);
		ck->tensors = ts;
		pv->tensor_cap = cap;
	}
	t = &ck->tensors[ck->count];
	memset(t, 0, sizeof *t);
	t->name = strdup(name);
	if (t->name == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	t->key = ms_ck_strip_module(t->name);
	t->dtype = dtype;
	t->ndim = ndim;
	memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
	memcpy(t->stride, stride, (size_t)ndim * sizeof *stride);
	t->offset = offset;
	t->data = storage;
	t->storage_bytes = storage_bytes;
	t->big_endian = big_endian;
	ck->count++;
	return 0;
}

int ms_ck_skip(struct ms_checkpoint *ck, const char *name, const char *module,
	       const char *global, struct ms_error *err)
{
	struct ms_ck_priv *pv = ms_ck_priv(ck);
	struct ms_skipped *e;

	if (pv == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	if (ck->skipped_count >= MS_MAX_SKIPPED)
		return 0;
	if (ck->skipped_count == pv->skipped_cap) {
		size_t cap = pv->skipped_cap ? pv->skipped_cap * 2 : 16;
		struct ms_skipped *list = realloc(ck->skipped,
						  cap * sizeof *list);

		if (list == NULL)
			return ms_fail(err, "%s: out of memory", ck->path);
		ck->skipped = list;
		pv->skipped_cap = cap;
	}
	e = &ck->skipped[ck->skipped_count];
	e->name = strdup(name);
	e->global = malloc(strlen(module) + 1 + strlen(global) + 1);
	if (e->name == NULL || e->global == NULL) {
		free(e->name);
		free(e->global);
		return ms_fail(err, "%s: out of memory", ck->path);
	}
	sprintf(e->global, "%s.%s", module, global);
	e->key = ms_ck_strip_module(e->name);
	ck->skipped_count++;
	return 0;
}

const char *ms_checkpoint_placeholder(const struct ms_checkpoint *ck,
				      const char *key)
{
	for (size_t i = 0; i < ck->skipped_count; i++) {
		if (strcmp(ck->skipped[i].key, key) == 0)
			return ck->skipped[i].global;
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * Masks and the final scan. */

static int compare_names(const void *a, const void *b, void *ctx)
{
	const struct ms_tensor *ts = ctx;

	return strcmp(ts[*(const size_t *)a].name, ts[*(const size_t *)b].name);
}

struct name_index {
	const struct ms_tensor *tensors;
	size_t *order;              /* tensor indices sorted by name */
	size_t count;
};

static long find_name(const struct name_index *ix, const char *name,
		      size_t len)
{
	size_t lo = 0, hi = ix->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *s = ix->tensors[ix->order[mid]].name;
		int c = strncmp(s, name, len);

		if (c == 0 && s[len] != '\0')
			c = 1;
		if (c == 0)
			return (long)ix->order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n <= m || strcmp(s + n - m, suffix) != 0)
		return false;
	*stem = n - m;
	return true;
}

/* Returns the index of the tensor that tensor I masks, or -1 when I is not
 * a mask. Matches NAME.weight_mask to NAME.weight_orig (or NAME.weight),
 * and NAME.mask to NAME itself or to NAME.weight. */
static long mask_target(const struct name_index *ix, size_t i)
{
	const char *name = ix->tensors[i].name;
	char buf[4096];
	size_t stem;
	long j;

	if (ends_with(name, ".weight_mask", &stem) && stem + 13 < sizeof buf) {
		memcpy(buf, name, stem);
		memcpy(buf + stem, ".weight_orig", 13);
		j = find_name(ix, buf, strlen(buf));
		return j >= 0 ? j : find_name(ix, buf, stem + 7);
	}
	if (ends_with(name, ".mask", &stem) && stem + 8 < sizeof buf) {
		j = find_name(ix, name, stem);
		if (j >= 0)
			return j;
		memcpy(buf, name, stem);
		memcpy(buf + stem, ".weight", 8);
		return find_name(ix, buf, strlen(buf));
	}
	return -1;
}

/* Sets T's key to the first STEM bytes of its key followed by SUFFIX. The
 * new key is stored after the name's terminator, so that it still points
 * into NAME's buffer and is freed with it. */
static int rekey(struct ms_tensor *t, size_t stem, const char *suffix)
{
	size_t skip = (size_t)(t->key - t->name), n = strlen(t->name);
	size_t m = strlen(suffix);
	char *name = malloc(n + 1 + stem + m + 1);

	if (name == NULL)
		return -1;
	memcpy(name, t->name, n + 1);
	memcpy(name + n + 1, t->name + skip, stem);
	memcpy(name + n + 1 + stem, suffix, m + 1);
	free(t->name);
	t->name = name;
	t->key = name + n + 1;
	return 0;
}

/* Keys NAME.weight_orig as NAME.weight. */
static int rekey_orig(struct ms_tensor *t)
{
	size_t stem;

	if (!ends_with(t->key, "_orig", &stem))
		return 0;
	return rekey(t, stem, "");
}

/* Keys the items of the (weight, bias) tuple that quantized Linear
 * modules (torch.ao.nn.quantized.Linear, and its dynamic variant) store
 * as NAME._packed_params._packed_params. */
static int rekey_packed(struct ms_tensor *t)
{
	static const char *const items[][2] = {
		{ "._packed_params._packed_params.0", ".weight" },
		{ "._packed_params._packed_params.1", ".bias" },
	};
	size_t stem;

	for (size_t i = 0; i < 2; i++) {
		if (ends_with(t->key, items[i][0], &stem))
			return rekey(t, stem, items[i][1]);
		/* A lone module's state dict has no NAME prefix. */
		if (strcmp(t->key, items[i][0] + 1) == 0)
			return rekey(t, 0, items[i][1] + 1);
	}
	return 0;
}

static int pair_masks(struct ms_checkpoint *ck, long *mask_of,
		      bool *is_mask, struct ms_error *err)
{
	struct name_index ix = { ck->tensors, NULL, ck->count };

	ix.order = malloc((ck->count + 1) * sizeof *ix.order);
	if (ix.order == NULL)
		return ms_fail(err, "%s: out of memory", ck->path);
	for (size_t i = 0; i < ck->count; i++)
		ix.order[i] = i;
	qsort_r(ix.order, ck->count, sizeof *ix.order, compare_names,
		ck->tensors);
	for (size_t i = 1; i < ck->count; i++) {
		const char *name = ck->tensors[ix.order[i]].name;

		if (strcmp(name, ck->tensors[ix.order[i - 1]].name) == 0) {
			free(ix.order);
			return ms_fail(err, "%s: tensor '%s' appears twice",
				       ck->path, name);
		}
	}
	for (size_t i = 0; i < ck->count; i++) {
		long j = mask_target(&ix, i);

		if (j < 0 || is_mask[j])
			continue;
		if (mask_of[j] >= 0) {
			free(ix.order);
			return ms_fail(err, "%s: tensor '%s' has two masks, '%s' "
				       "and '%s'", ck->path, ck->tensors[j].name,
				       ck->tensors[mask_of[j]].name,
				       ck->tensors[i].name);
		}
		mask_of[j] = (long)i;
		is_mask[i] = true;
	}
	free(ix.order);
	return 0;
}

static void free_tensor(struct ms_tensor *t)
{
	free(t->name);
	free(t->mask);
	free(t->stats.channel_nonzero);
}

/* The shared state of the scan threads: each takes the next tensor until
 * none is left or one fails. */
struct scan_job {
	struct ms_checkpoint *ck;
	const long *mask_of;
	const bool *is_mask;
	atomic_size_t next;
	atomic_bool failed;
	pthread_mutex_t lock;
	size_t failed_at;           /* the lowest failing index */
	struct ms_error error;      /* its message */
};

static void *scan_worker(void *arg)
{
	struct scan_job *job = arg;
	size_t i;

	while (!atomic_load(&job->failed) &&
	       (i = atomic_fetch_add(&job->next, 1)) < job->ck->count) {
		struct ms_tensor *t = &job->ck->tensors[i];
		const struct ms_tensor *m = NULL;
		struct ms_error scan_err;

		if (job->is_mask[i])
			continue;
		if (job->mask_of[i] >= 0)
			m = &job->ck->tensors[job->mask_of[i]];
		if (ms_tensor_scan(t, m, &scan_err) < 0) {
			pthread_mutex_lock(&job->lock);
			if (i < job->failed_at) {
				job->failed_at = i;
				job->error = scan_err;
			}
			pthread_mutex_unlock(&job->lock);
			atomic_store(&job->failed, true);
		}
	}
	return NULL;
}

/* Scans every tensor that is not a mask, on up to SCAN_THREADS threads
 * when the checkpoint is large enough to gain from them. Each tensor is
 * still read once, by one thread. */
static int scan_all(struct ms_checkpoint *ck, const long *mask_of,
		    const bool *is_mask, struct ms_error *err)
{
	struct scan_job job = { .ck = ck, .mask_of = mask_of,
				.is_mask = is_mask, .failed_at = SIZE_MAX };
	pthread_t threads[SCAN_THREADS];
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = online > 1 ? (size_t)online : 1, started = 0;
	int64_t elements = 0;

	/* ms_ck_add() checked every count, so the sum is bounded by the
	 * scan's element cap and cannot overflow. */
	for (size_t i = 0; i < ck->count; i++) {
		int64_t e = ms_shape_elements(ck->tensors[i].ndim,
					      ck->tensors[i].shape);

		if (e > 0)
			elements += e;
	}
	if (want > SCAN_THREADS)
		want = SCAN_THREADS;
	if (elements < SCAN_THREAD_MIN_ELEMENTS)
		want = 1;
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, false);
	pthread_mutex_init(&job.lock, NULL);

	/* The calling thread is one of the workers; a thread that cannot be
	 * started only means fewer of them. */
	for (size_t i = 1; i < want; i++) {
		if (pthread_create(&threads[started], NULL, scan_worker,
				   &job) != 0)
			break;
		started++;
	}
	scan_worker(&job);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&job.lock);
	if (atomic_load(&job.failed))
		return ms_fail(err, "%s: %s", ck->path, job.error.msg);
	return 0;
}

int ms_ck_finish(struct ms_checkpoint *ck, struct ms_error *err)
{
	long *mask_of = malloc((ck->count + 1) * sizeof *mask_of);
	bool *is_mask = calloc(ck->count + 1, sizeof *is_mask);
	size_t kept = 0;
	int rc = -1;

	if (mask_of == NULL || is_mask == NULL) {
		ms_fail(err, "%s: out of memory", ck->path);
		goto out;
	}
	for (size_t i = 0; i < ck->count; i++)
		mask_of[i] = -1;
	if (pair_masks(ck, mask_of, is_mask, err) < 0)
		goto out;

	for (size_t i = 0; i < ck->count; i++) {
		struct ms_tensor *t = &ck->tensors[i];
		const struct ms_tensor *m = NULL;

		if (is_mask[i])
			continue;
		if (mask_of[i] >= 0) {
			m = &ck->tensors[mask_of[i]];
			if (ms_shape_elements(m->ndim, m->shape) !=
			    ms_shape_elements(t->ndim, t->shape)) {
				ms_fail(err, "%s: mask '%s' does not have the shape of "
					"tensor '%s'", ck->path, m->name, t->name);
				goto out;
			}
			t->mask = strdup(m->name);
			if (t->mask == NULL || rekey_orig(t) < 0) {
				ms_fail(err, "%s: out of memory", ck->path);
				goto out;
			}
		}
		if (rekey_packed(t) < 0) {
			ms_fail(err, "%s: out of memory", ck->path);
			goto out;
		}
	}
	if (scan_all(ck, mask_of, is_mask, err) < 0)
		goto out;

	/* Drop the masks; they stay mapped but are no longer listed. */
	for (size_t i = 0; i < ck->count; i++) {
		if (is_mask[i])
			free_tensor(&ck->tensors[i]);
		else
			ck->tensors[kept++] = ck->tensors[i];
	}
	ck->count = kept;
	rc = 0;
out:
	free(mask_of);
	free(is_mask);
	return rc;
}
