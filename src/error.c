/* Error formatting, checked size arithmetic, and opening input files. */
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ms_fail(struct ms_error *err, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int ms_vfail_at(struct ms_error *err, const char *path, int line, int col,
		const char *fmt, va_list ap)
{
	char what[400];

	vsnprintf(what, sizeof what, fmt, ap);
	return ms_fail(err, "%s:%d:%d: %s", path, line, col, what);
}

int ms_open_regular(const char *path, size_t *size, struct ms_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return ms_fail(err, "%s: cannot open: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		int saved = errno;

		close(fd);
		return ms_fail(err, "%s: cannot read: %s", path,
			       strerror(saved));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ms_fail(err, "%s: %s", path, S_ISDIR(st.st_mode)
			       ? "is a directory, not a file"
			       : "is not a regular file");
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return ms_fail(err, "%s: the file is too large", path);
	}

	/* O_NONBLOCK has no effect on reads of a regular file, but clear it
	 * anyway so that the descriptor behaves as an ordinary one. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (size != NULL)
		*size = (size_t)st.st_size;
	return fd;
}

int ms_mul_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

int ms_add_size(size_t a, size_t b, size_t *out)
{
	if (b > SIZE_MAX - a)
		return -1;
	*out = a + b;
	return 0;
}
