/* Error reports shared by every layer of the core library. */
#ifndef MS_ERROR_H
#define MS_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* A one-line failure description, without the "microscore: " prefix.
 * By convention the text starts with the file it concerns ("model.pth:
 * tensor 'fc.weight': storage runs past the end of the file"). */
struct ms_error {
	char msg[512];
};

/* Formats an error message into ERR (if not NULL) and returns -1, so that
 * callers can write "return ms_fail(err, ...)". A message longer than the
 * buffer is cut. */
int ms_fail(struct ms_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As ms_fail(), for a position in a text file: formats
 * "PATH:LINE:COL: message" from FMT and AP. Returns -1. */
int ms_vfail_at(struct ms_error *err, const char *path, int line, int col,
		const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* Opens PATH for reading, but only when it is a regular file. The open
 * does not block, so a FIFO without a writer is rejected rather than
 * waited on. On success stores the file's size in *SIZE (when not NULL)
 * and returns the descriptor. Returns -1 with ERR set to "PATH: problem"
 * otherwise. */
int ms_open_regular(const char *path, size_t *size, struct ms_error *err);

/* Overflow-checked size arithmetic. Each returns 0 and stores the result on
 * success, or returns -1 and leaves *OUT unchanged on overflow. */
int ms_mul_size(size_t a, size_t b, size_t *out);
int ms_add_size(size_t a, size_t b, size_t *out);

#endif
