/* Text of the explorer's table cells: cutting names to a width and
 * formatting counts. No curses here, so that the unit tests can link it;
 * widths are counted in screen columns under the locale's LC_CTYPE. */
#ifndef MS_UI_TEXT_H
#define MS_UI_TEXT_H

#include <stddef.h>
#include <wchar.h>

/* Returns the marker that shows where text was cut: "…" (U+2026) when
 * the locale's character set is UTF-8, else "~", which every character
 * set has. */
const char *ms_ui_cut_marker(void);

/* Converts the next character of TEXT (LEN bytes, LEN > 0) under the
 * locale and returns its length in bytes, 0 at a NUL. Stores the
 * character in *WC and its width in columns in *WIDTH; an invalid or
 * unprintable one comes back as '?' of width 1, and STATE is reset after
 * an invalid byte. */
size_t ms_ui_next_char(const char *text, size_t len, mbstate_t *state,
		       wchar_t *wc, int *width);

/* Returns the columns TEXT (in the locale's encoding) takes on the
 * screen. A byte that does not start a valid printable character counts
 * as one column, as ms_ui_put() draws it as '?'. */
int ms_ui_text_width(const char *text);

/* Writes TEXT into BUF (SIZE bytes) cut from the left to at most WIDTH
 * columns: when TEXT is wider, BUF gets MARKER followed by the longest
 * end of TEXT that fits in the columns left, so that the end of a layer
 * name, which distinguishes similar names, stays visible. Cuts fall between
 * whole characters. Returns the columns BUF takes. BUF is "" when WIDTH
 * is below 1 or SIZE is too small for the result. */
int ms_ui_fit_left(const char *text, int width, const char *marker,
		   char *buf, size_t size);

/* Formats a count of ops or params V into BUF (SIZE bytes) as 1234.5,
 * 12.3k, 29.42M or 1.17G, in at most 8 columns below 1e12. A value that
 * rounds to zero at the shown precision, including float noise and
 * -0.0, prints as "0". SIGN adds a '+' to the other positive values. */
void ms_ui_format_count(char *buf, size_t size, double v, int sign);

#endif
