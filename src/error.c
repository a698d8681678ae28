/* Error formatting and checked size arithmetic. */
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

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
