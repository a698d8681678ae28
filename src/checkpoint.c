/* Opening a checkpoint: memory-map the file, recognise its container from
 * its first bytes (never its name), unwrap gzip, hand the bytes to the
 * matching reader, then apply masks and scan every tensor. */
#include "ckpriv.h"
#include "gunzip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

/* Tells whether the zip archive IN has a member NAME/data.pkl, as
 * torch.save archives do. */
static int zip_has_data_pkl(struct ms_checkpoint *ck, struct ms_bytes in,
			    bool *found, struct ms_error *err)
{
	zip_error_t zerr;
	zip_source_t *src;
	zip_t *za;
	zip_int64_t n;

	*found = false;
	zip_error_init(&zerr);
	src = zip_source_buffer_create(in.data, in.size, 0, &zerr);
	za = src ? zip_open_from_source(src, ZIP_RDONLY, &zerr) : NULL;
	if (za == NULL) {
		/* libzip finds no end of central directory record in a zip
		 * archive cut short, and calls it "Not a zip archive", which
		 * the local header signature already contradicts. */
		if (zip_error_code_zip(&zerr) == ZIP_ER_NOZIP)
			ms_fail(err, "%s: truncated or damaged zip archive: no "
				"end of central directory record", ck->path);
		else
			ms_fail(err, "%s: truncated or damaged zip archive: %s",
				ck->path, zip_error_strerror(&zerr));
		zip_source_free(src);
		zip_error_fini(&zerr);
		return -1;
	}
	n = zip_get_num_entries(za, 0);
	for (zip_int64_t i = 0; i < n && !*found; i++) {
		const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		size_t len = name ? strlen(name) : 0;

		*found = len > 9 && strcmp(name + len - 9, "/data.pkl") == 0;
	}
	zip_discard(za);
	zip_error_fini(&zerr);
	return 0;
}

/* The tensor name of a lone .npy file: its base name without extensions. */
static int npy_name(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	char *dot;

	snprintf(out, size, "%s", base ? base + 1 : path);
	dot = strchr(out, '.');
	if (dot != NULL && dot != out)
		*dot = '\0';
	return 0;
}

/* A safetensors header length above this that also runs past the end of
 * the file is reported as too large rather than as a truncated file. The
 * safetensors library (0.4) rejects headers over 100 MB. */
#define SAFETENSORS_MAX_HEADER ((uint64_t)1 << 30)

static const char *const formats[][2] = {
	{ "torch-legacy", "torch-legacy+gzip" },
	{ "torch-zip", "torch-zip+gzip" },
	{ "npz", "npz+gzip" },
	{ "npy", "npy+gzip" },
	{ "safetensors", "safetensors+gzip" },
};

static int read_content(struct ms_checkpoint *ck, struct ms_bytes in,
			bool gzipped, struct ms_error *err)
{
	const unsigned char *d = in.data;
	uint64_t header = 0;
	bool torch_zip;
	char name[256];

	if (in.size >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
		struct ms_bytes inner;

		if (gzipped)
			return ms_fail(err, "%s: gzip inside gzip is not supported",
				       ck->path);
		if (ms_ck_gunzip(ck, in, &inner, err) < 0)
			return -1;
		return read_content(ck, inner, true, err);
	}
	if (in.size >= 4 && memcmp(d, "PK\3\4", 4) == 0) {
		if (zip_has_data_pkl(ck, in, &torch_zip, err) < 0)
			return -1;
		ck->format = formats[torch_zip ? 1 : 2][gzipped];
		return torch_zip ? ms_read_torch_zip(ck, in, err)
				 : ms_read_npz(ck, in, err);
	}
	if (in.size >= 6 && memcmp(d, "\x93NUMPY", 6) == 0) {
		ck->format = formats[3][gzipped];
		npy_name(ck->path, name, sizeof name);
		return ms_read_npy(ck, name, in, err);
	}
	for (int i = 7; i >= 0 && in.size >= 9; i--)
		header = header << 8 | d[i];
	/* Safetensors comes before pickles: its header length may well
	 * start with the byte 0x80. No torch legacy file has '{' at byte 8:
	 * its magic-number pickle puts a digit (protocols 0 and 1), 0xf9
	 * (protocols 2 and 3) or the sixth byte of a frame length (protocol
	 * 4 and later) there. A declared header length that runs
	 * past the end is a truncated file, which the reader reports, unless
	 * the length is too large to be a safetensors header at all. */
	if (in.size >= 9 && d[8] == '{') {
		ck->format = formats[4][gzipped];
		if (header > SAFETENSORS_MAX_HEADER && header > in.size - 8)
			return ms_fail(err, "%s: safetensors header length %llu "
				       "is larger than the file (%zu bytes)",
				       ck->path, (unsigned long long)header,
				       in.size);
		return ms_read_safetensors(ck, in, err);
	}
	/* A legacy stream starts with its magic-number pickle: PROTO at
	 * protocol 2 and later, a LONG opcode ('L') at 0 and 1. */
	if (d[0] == 0x80 || d[0] == 'L') {
		ck->format = formats[0][gzipped];
		return ms_read_torch_legacy(ck, in, err);
	}
	{
		char hex[3 * 8 + 1] = "";
		int n = 0;

		for (size_t i = 0; i < in.size && i < 8; i++)
			n += snprintf(hex + n, sizeof hex - (size_t)n,
				      i ? " %02x" : "%02x", d[i]);
		return ms_fail(err, "%s: not a checkpoint: unknown format (first "
			       "bytes %s)", ck->path, hex);
	}
}

/* Maps PATH read-only into CK's private state. */
static int map_file(struct ms_checkpoint *ck, struct ms_error *err)
{
	struct ms_ck_priv *pv = ck->priv;
	size_t size;
	int fd = ms_open_regular(ck->path, &size, err);
	void *map;

	if (fd < 0)
		return -1;
	if (size == 0) {
		close(fd);
		return ms_fail(err, "%s: not a checkpoint: the file is empty",
			       ck->path);
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return ms_fail(err, "%s: cannot map the file: %s", ck->path,
			       strerror(errno));
	pv->map.data = map;
	pv->map.size = size;
	return 0;
}

int ms_checkpoint_open(const char *path, struct ms_checkpoint *ck,
		       struct ms_error *err)
{
	memset(ck, 0, sizeof *ck);
	ck->path = strdup(path);
	if (ck->path == NULL || ms_ck_priv(ck) == NULL) {
		ms_checkpoint_close(ck);
		return ms_fail(err, "%s: out of memory", path);
	}
	if (map_file(ck, err) < 0 ||
	    read_content(ck, ((struct ms_ck_priv *)ck->priv)->map, false, err) < 0 ||
	    ms_ck_finish(ck, err) < 0)
		goto fail;
	if (ck->count == 0 && ck->skipped_count > 0) {
		ms_fail(err, "%s: the checkpoint contains no tensors, only "
			"objects that microscore does not run, such as '%s' "
			"(%s)", path, ck->skipped[0].name[0] != '\0' ?
			ck->skipped[0].name : "the top-level object",
			ck->skipped[0].global);
		goto fail;
	}
	if (ck->count == 0) {
		ms_fail(err, "%s: the checkpoint contains no tensors", path);
		goto fail;
	}
	return 0;
fail:
	ms_checkpoint_close(ck);
	return -1;
}

void ms_checkpoint_close(struct ms_checkpoint *ck)
{
	struct ms_ck_priv *pv = ck->priv;

	for (size_t i = 0; i < ck->count; i++) {
		free(ck->tensors[i].name);
		free(ck->tensors[i].mask);
		free(ck->tensors[i].stats.channel_nonzero);
	}
	free(ck->tensors);
	for (size_t i = 0; i < ck->skipped_count; i++) {
		free(ck->skipped[i].name);
		free(ck->skipped[i].global);
	}
	free(ck->skipped);
	if (pv != NULL) {
		for (size_t i = 0; i < pv->kept_count; i++)
			free(pv->kept[i]);
		free(pv->kept);
		free(pv->kept_size);
		free(pv->inflated);
		if (pv->map.data != NULL)
			munmap((void *)pv->map.data, pv->map.size);
		free(pv);
	}
	free(ck->path);
	memset(ck, 0, sizeof *ck);
}

const struct ms_tensor *ms_checkpoint_find(const struct ms_checkpoint *ck,
					   const char *name)
{
	for (size_t i = 0; i < ck->count; i++) {
		if (strcmp(ck->tensors[i].key, name) == 0)
			return &ck->tensors[i];
	}
	return NULL;
}
