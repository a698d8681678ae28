/* Shapes, bit widths, JSON and CSV escapes, and atomic file writes. */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ms_format_dims(int ndim, const int64_t *dims, char *buf, size_t size)
{
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	if (ndim == 0) {
		snprintf(buf, size, "scalar");
		return;
	}
	for (int i = 0; i < ndim && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%" PRId64,
				 i ? "x" : "", dims[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

void ms_format_weight_shape(const struct ms_layer *l, char *buf, size_t size)
{
	int64_t dims[4];

	if (l->weight != NULL) {
		ms_format_dims(l->weight->ndim, l->weight->shape, buf, size);
		return;
	}
	switch (l->kind) {
	case MS_LAYER_CONV:
		dims[0] = l->out.c;
		dims[1] = l->groups > 0 ? l->in.c / l->groups : l->in.c;
		dims[2] = l->kh;
		dims[3] = l->kw;
		ms_format_dims(4, dims, buf, size);
		break;
	case MS_LAYER_LINEAR:
		dims[0] = l->out.c;
		dims[1] = l->weight_channels > 0
				  ? l->weight_elements / l->weight_channels
				  : l->in.c * l->in.h * l->in.w;
		ms_format_dims(2, dims, buf, size);
		break;
	case MS_LAYER_SCALE:
	case MS_LAYER_BATCHNORM:
		dims[0] = l->in.c;
		ms_format_dims(1, dims, buf, size);
		break;
	default:
		snprintf(buf, size, "-");
		break;
	}
}

void ms_format_shape(const struct ms_shape *s, char *buf, size_t size)
{
	snprintf(buf, size, "%" PRId64 "x%" PRId64 "x%" PRId64, s->c, s->h,
		 s->w);
}

void ms_format_bits(int bits, char *buf, size_t size)
{
	if (bits > 0)
		snprintf(buf, size, "%d", bits);
	else
		snprintf(buf, size, "-");
}

void ms_json_string(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void ms_csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Creates a temporary file next to PATH and stores its name in TMP. */
static int open_temp(const char *path, char *tmp, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) + 1 : 0;
	int n = snprintf(tmp, size, "%.*s.%s.XXXXXX", dirlen, path,
			 slash ? slash + 1 : path);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkstemp(tmp);
}

int ms_save_atomic(const char *path, bool replace,
		   int (*write)(FILE *f, void *arg), void *arg, bool *exists,
		   struct ms_error *err)
{
	char tmp[4096];
	struct stat st;
	FILE *f;
	int fd, rc;

	if (exists != NULL)
		*exists = false;
	if (lstat(path, &st) == 0) {
		/* Only a regular file is ever replaced: renaming over a
		 * device, FIFO or symbolic link would destroy it. */
		if (S_ISDIR(st.st_mode))
			return ms_fail(err, "%s: is a directory; choose a file "
				       "name", path);
		if (S_ISLNK(st.st_mode))
			return ms_fail(err, "%s: is a symbolic link, which "
				       "microscore does not replace; choose "
				       "another name", path);
		if (!S_ISREG(st.st_mode))
			return ms_fail(err, "%s: is not a regular file, which "
				       "microscore does not replace; choose "
				       "another name", path);
		if (!replace) {
			if (exists != NULL)
				*exists = true;
			return ms_fail(err, "%s: file exists; choose another "
				       "name or allow replacing it", path);
		}
	}
	fd = open_temp(path, tmp, sizeof tmp);
	if (fd < 0 && errno == ENOENT)
		return ms_fail(err, "%s: its directory was not found; create "
			       "it or choose another name", path);
	if (fd < 0)
		return ms_fail(err, "%s: cannot create a file in its "
				    "directory: %s", path, strerror(errno));
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return ms_fail(err, "%s: %s", path, strerror(errno));
	}
	/* mkstemp() creates the file private: give it the usual mode. */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	rc = write(f, arg);
	if (rc == 0 && (fflush(f) != 0 || fsync(fd) != 0))
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc != 0) {
		int saved = errno;

		unlink(tmp);
		return ms_fail(err, "%s: write failed: %s", path,
			       strerror(saved));
	}

	/* Without REPLACE, link() moves the file into place only if PATH
	 * still does not exist, so a file created meanwhile survives. */
	if (replace)
		rc = rename(tmp, path);
	else if ((rc = link(tmp, path)) == 0)
		unlink(tmp);
	if (rc != 0) {
		int saved = errno;

		unlink(tmp);
		if (saved == EEXIST && exists != NULL)
			*exists = true;
		return ms_fail(err, "%s: %s", path, strerror(saved));
	}
	return 0;
}
