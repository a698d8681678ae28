/* A minimal TAP producer for the C unit tests: each check prints one
 * "ok N - text" or "not ok N - text" line, and tap_done() prints the plan
 * and returns the exit status. */
#ifndef MS_TAP_H
#define MS_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static void tap_result(int ok, const char *fmt, va_list ap)
{
	tap_count++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

/* Records a check that passes when OK is nonzero. */
static inline __attribute__((format(printf, 2, 3), unused))
int tap_ok(int ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_result(ok, fmt, ap);
	va_end(ap);
	return ok;
}

/* Checks two doubles for a relative difference of at most REL. */
static inline __attribute__((format(printf, 4, 5), unused))
int tap_close(double got, double want, double rel, const char *fmt, ...)
{
	va_list ap;
	double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
	int ok = fabs(got - want) <= rel * scale;

	va_start(ap, fmt);
	tap_result(ok, fmt, ap);
	va_end(ap);
	if (!ok)
		printf("# got %.17g, expected %.17g\n", got, want);
	return ok;
}

/* Checks two strings for equality. */
static inline __attribute__((format(printf, 3, 4), unused))
int tap_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int ok = got != NULL && want != NULL && strcmp(got, want) == 0;

	va_start(ap, fmt);
	tap_result(ok, fmt, ap);
	va_end(ap);
	if (!ok)
		printf("# got '%s', expected '%s'\n", got ? got : "(null)",
		       want ? want : "(null)");
	return ok;
}

/* Marks the whole test program as skipped, with a reason. */
static inline __attribute__((unused)) int tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	return 0;
}

/* Prints the plan and returns the exit status for main(). */
static inline __attribute__((unused)) int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
