/* Container readers (torch zip, npz, npy, safetensors) against the
 * statistics that PyTorch and NumPy computed for the same fixtures
 * (tests/make-format-fixtures.py), then hostile inputs: every truncation
 * of each fixture, lying sizes and offsets, and element-count overflow. */
#define _POSIX_C_SOURCE 200809L

#include "ckpriv.h"
#include "readers.h"
#include "tap.h"
#include "testfile.h"

#include <sys/resource.h>
#include <time.h>

enum kind { TORCH_ZIP, NPZ, NPY, SAFETENSORS };

static const struct {
	const char *file;
	enum kind kind;
} good[] = {
	{ "torch-all.pt", TORCH_ZIP },
	{ "torch-renamed.pt", TORCH_ZIP },
	{ "torch-big.pt", TORCH_ZIP },
	{ "torch-zip64.pt", TORCH_ZIP },
	{ "torch-zip64cd.pt", TORCH_ZIP },
	{ "torch-deflated.pt", TORCH_ZIP },
	{ "torch-views.pt", TORCH_ZIP },
	{ "npz-stored.npz", NPZ },
	{ "npz-compressed.npz", NPZ },
	{ "npz-zip64.npz", NPZ },
	{ "npy-c.npy", NPY },
	{ "npy-fortran.npy", NPY },
	{ "npy-v2-big.npy", NPY },
	{ "npy-v3.npy", NPY },
	{ "npy-f64-big.npy", NPY },
	{ "safetensors-all.safetensors", SAFETENSORS },
};

/* Hostile files and a word the error message must contain. */
static const struct {
	const char *file;
	enum kind kind;
	const char *message_word;
} bad[] = {
	{ "torch-storage-deflated-lie.pt", TORCH_ZIP, "exceeds the" },
	{ "torch-storage-stored-lie.pt", TORCH_ZIP, "bytes, but" },
	{ "torch-no-pickle.pt", TORCH_ZIP, "data.pkl" },
	{ "bomb-small-declared.npz", NPZ, "inflates to more bytes" },
	{ "bomb-huge-declared.npz", NPZ, "declared size" },
	{ "lying-header-size.npz", NPZ, "impossible" },
	{ "local-offset-past-end.npz", NPZ, "offset" },
	{ "stored-size-past-end.npz", NPZ, "past the end" },
	{ "npy-shape-lie.npy", NPY, "data bytes" },
	{ "npy-header-length-lie.npy", NPY, "runs past" },
	{ "npy-bad-dict.npy", NPY, "byte" },
	{ "npy-overflow.npy", NPY, "overflow" },
	{ "npy-bad-descr.npy", NPY, "unsupported dtype" },
	{ "st-overlap.safetensors", SAFETENSORS, "tensor 'b'" },
	{ "st-hole.safetensors", SAFETENSORS, "hole" },
	{ "st-past-end.safetensors", SAFETENSORS, "past the" },
	{ "st-overflow.safetensors", SAFETENSORS, "overflow" },
	{ "st-header-past-end.safetensors", SAFETENSORS, "header runs past" },
	{ "st-bad-json.safetensors", SAFETENSORS, "byte" },
};

/* Runs the reader of KIND over IN and scans every tensor. */
static int read_with(enum kind kind, const char *path, struct ms_bytes in,
		     struct ms_checkpoint *ck, struct ms_error *err)
{
	int rc;

	memset(ck, 0, sizeof *ck);
	ck->path = strdup(path);
	/* ms_ck_add() accepts storages inside the registered mapping. */
	if (ck->path == NULL || ms_ck_priv(ck) == NULL)
		return ms_fail(err, "%s: out of memory", path);
	ms_ck_priv(ck)->map = in;
	switch (kind) {
	case TORCH_ZIP:
		rc = ms_read_torch_zip(ck, in, err);
		break;
	case NPZ:
		rc = ms_read_npz(ck, in, err);
		break;
	case NPY:
		rc = ms_read_npy(ck, "w", in, err);
		break;
	default:
		rc = ms_read_safetensors(ck, in, err);
		break;
	}
	for (size_t i = 0; rc == 0 && i < ck->count; i++)
		rc = ms_tensor_scan(&ck->tensors[i], NULL, err);
	return rc;
}

/* Closes CK after unregistering the test's buffer, which the checkpoint
 * must not unmap. */
static void close_ck(struct ms_checkpoint *ck)
{
	if (ck->priv != NULL) {
		ms_ck_priv(ck)->map.data = NULL;
		ms_ck_priv(ck)->map.size = 0;
	}
	ms_checkpoint_close(ck);
}

static const struct ms_tensor *find(const struct ms_checkpoint *ck,
				    const char *name)
{
	for (size_t i = 0; i < ck->count; i++)
		if (strcmp(ck->tensors[i].name, name) == 0)
			return &ck->tensors[i];
	return NULL;
}

/* Compares tensor T with one tab-separated line of a .expected file. */
static void check_line(const char *file, const struct ms_tensor *t,
		       char *line)
{
	char *f[8], *save = NULL, shape[128] = "";
	double sum = 0;
	int n = 0;

	for (char *tok = strtok_r(line, "\t\n", &save); tok && n < 8;
	     tok = strtok_r(NULL, "\t\n", &save))
		f[n++] = tok;
	if (!tap_ok(n == 8, "%s: expected line has 8 fields", file))
		return;
	if (!tap_ok(t != NULL, "%s: tensor '%s' is present", file, f[0]))
		return;
	tap_str(ms_dtype_name(t->dtype), f[1], "%s: %s dtype", file, f[0]);
	for (int d = 0; d < t->ndim; d++)
		snprintf(shape + strlen(shape), sizeof shape - strlen(shape),
			 "%s%lld", d ? "," : "", (long long)t->shape[d]);
	tap_str(t->ndim ? shape : "-", f[2], "%s: %s shape", file, f[0]);
	tap_ok(t->stats.elements == atoll(f[3]), "%s: %s elements", file,
	       f[0]);
	tap_ok(t->stats.nonzero == atoll(f[4]), "%s: %s nonzero", file, f[0]);
	tap_close(t->stats.min, atof(f[5]), 0, "%s: %s min", file, f[0]);
	tap_close(t->stats.max, atof(f[6]), 0, "%s: %s max", file, f[0]);
	for (int64_t i = 0; i < t->stats.elements; i++)
		sum += ms_tensor_get(t, i);
	tap_close(sum, atof(f[7]), 1e-12, "%s: %s sum", file, f[0]);
}

static void check_good(const char *dir, size_t k)
{
	char path[1024], line[1024];
	struct ms_checkpoint ck;
	struct ms_error err = { "" };
	struct ms_bytes in;
	size_t lines = 0;
	unsigned char *buf;
	FILE *expected;
	int rc;

	snprintf(path, sizeof path, "%s/%s", dir, good[k].file);
	buf = read_whole_file(path, &in.size);
	in.data = buf;
	if (!tap_ok(buf != NULL, "%s: fixture is readable", good[k].file))
		return;
	rc = read_with(good[k].kind, path, in, &ck, &err);
	if (!tap_ok(rc == 0, "%s: reads", good[k].file))
		printf("# %s\n", err.msg);
	snprintf(path + strlen(path) - strlen(strrchr(path, '.')),
		 sizeof path - strlen(path), ".expected");
	expected = fopen(path, "r");
	tap_ok(expected != NULL, "%s: expected values are readable",
	       good[k].file);
	while (expected != NULL && fgets(line, sizeof line, expected)) {
		char name[256];

		sscanf(line, "%255[^\t]", name);
		check_line(good[k].file, find(&ck, name), line);
		lines++;
	}
	if (expected != NULL)
		fclose(expected);
	tap_ok(ck.count == lines, "%s: %zu tensors, expected %zu",
	       good[k].file, ck.count, lines);
	close_ck(&ck);
	free(buf);
}

/* Every proper prefix of a fixture must be rejected with a message. The
 * prefix is copied into a buffer of exactly its length, so that an
 * AddressSanitizer build catches any read past it. */
static void check_truncations(const char *dir, size_t k)
{
	char path[1024];
	struct ms_bytes in;
	unsigned char *buf;
	size_t failures = 0, silent = 0;

	snprintf(path, sizeof path, "%s/%s", dir, good[k].file);
	buf = read_whole_file(path, &in.size);
	if (buf == NULL)
		return;
	for (size_t n = 0; n < in.size; n++) {
		struct ms_checkpoint ck;
		struct ms_error err = { "" };
		unsigned char *copy = malloc(n ? n : 1);
		struct ms_bytes cut = { copy, n };

		memcpy(copy, buf, n);
		if (read_with(good[k].kind, path, cut, &ck, &err) == 0)
			failures++;
		else if (err.msg[0] == '\0')
			silent++;
		close_ck(&ck);
		free(copy);
	}
	tap_ok(failures == 0, "%s: all %zu truncations rejected (%zu read)",
	       good[k].file, in.size, failures);
	tap_ok(silent == 0, "%s: every truncation has a message",
	       good[k].file);
	free(buf);
}

static void check_bad(const char *dir, size_t k)
{
	char path[1024];
	struct ms_checkpoint ck;
	struct ms_error err = { "" };
	struct ms_bytes in;
	unsigned char *buf;
	clock_t start = clock();
	int rc;

	snprintf(path, sizeof path, "%s/bad/%s", dir, bad[k].file);
	buf = read_whole_file(path, &in.size);
	in.data = buf;
	if (!tap_ok(buf != NULL, "%s: fixture is readable", bad[k].file))
		return;
	rc = read_with(bad[k].kind, path, in, &ck, &err);
	tap_ok(rc == -1, "%s: rejected", bad[k].file);
	if (!tap_ok(strstr(err.msg, bad[k].message_word) != NULL,
		    "%s: message mentions '%s'", bad[k].file, bad[k].message_word))
		printf("# message: %s\n", err.msg);
	tap_ok(strncmp(err.msg, path, strlen(path)) == 0,
	       "%s: message starts with the file name", bad[k].file);
	/* The inputs are small, so a second is ample for any bounded path. */
	tap_ok(clock() - start < CLOCKS_PER_SEC, "%s: rejected within 1 s",
	       bad[k].file);
	close_ck(&ck);
	free(buf);
}

int main(void)
{
	const char *srcdir = getenv("TESTS_SRCDIR");
	char dir[512];
	struct rusage ru;

	snprintf(dir, sizeof dir, "%s/fixtures/formats",
		 srcdir ? srcdir : "tests");
	/* The hostile inputs run first, so that peak RSS measures them. The
	 * deflate bomb would take 256 MiB if inflated; rejecting it must
	 * not. The bound leaves room for sanitizer overhead. */
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		check_bad(dir, k);
	getrusage(RUSAGE_SELF, &ru);
	tap_ok(ru.ru_maxrss < 128 * 1024, "peak RSS %ld KiB below 128 MiB",
	       ru.ru_maxrss);
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
		check_good(dir, k);
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
		check_truncations(dir, k);
	return tap_done();
}
