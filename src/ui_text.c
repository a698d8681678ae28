/* Text of the explorer's table cells: character widths, names cut from
 * the left, and counts. No curses here. */
#include "ui_text.h"

#include <langinfo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *ms_ui_cut_marker(void)
{
	const char *codeset = nl_langinfo(CODESET);

	if (codeset != NULL && (strcmp(codeset, "UTF-8") == 0 ||
				strcmp(codeset, "utf8") == 0))
		return "\xe2\x80\xa6";
	return "~";
}

size_t ms_ui_next_char(const char *text, size_t len, mbstate_t *state,
		       wchar_t *wc, int *width)
{
	size_t n = mbrtowc(wc, text, len, state);

	if (n == (size_t)-1 || n == (size_t)-2) {
		memset(state, 0, sizeof *state);
		*wc = L'?';
		n = 1;
	}
	if (n == 0)
		return 0;
	*width = wcwidth(*wc);
	if (*width < 0) {
		*wc = L'?';
		*width = 1;
	}
	return n;
}

int ms_ui_text_width(const char *text)
{
	mbstate_t state;
	size_t len = strlen(text);
	int total = 0;
	wchar_t wc;
	int w;
	size_t n;

	memset(&state, 0, sizeof state);
	while (len > 0 && (n = ms_ui_next_char(text, len, &state, &wc,
					       &w)) > 0) {
		total += w;
		text += n;
		len -= n;
	}
	return total;
}

/* Returns the byte offset in TEXT where the longest end that fits in
 * ROOM columns starts, and stores that end's width in *USED. */
static size_t fitting_end(const char *text, int room, int *used)
{
	mbstate_t state;
	size_t len = strlen(text);
	size_t offset = 0;
	int remaining = ms_ui_text_width(text);
	wchar_t wc;
	int w;

	/* Drop characters from the front until the rest fits. */
	memset(&state, 0, sizeof state);
	while (remaining > room && offset < len) {
		size_t n = ms_ui_next_char(text + offset, len - offset,
					   &state, &wc, &w);

		if (n == 0)
			break;
		offset += n;
		remaining -= w;
	}
	*used = remaining;
	return offset;
}

int ms_ui_fit_left(const char *text, int width, const char *marker,
		   char *buf, size_t size)
{
	int total = ms_ui_text_width(text);
	int marker_w = ms_ui_text_width(marker);
	size_t start;
	int used;
	int n;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (width < 1)
		return 0;
	if (total <= width) {
		n = snprintf(buf, size, "%s", text);
		if (n < 0 || (size_t)n >= size) {
			buf[0] = '\0';
			return 0;
		}
		return total;
	}
	if (marker_w > width)
		marker = "";
	start = fitting_end(text, width - ms_ui_text_width(marker), &used);
	n = snprintf(buf, size, "%s%s", marker, text + start);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return 0;
	}
	return ms_ui_text_width(marker) + used;
}

void ms_ui_format_count(char *buf, size_t size, double v, int sign)
{
	const char *plus = sign && v > 0 ? "+" : "";
	double a = fabs(v);

	/* Below 0.05 the one decimal shown would be 0.0 or -0.0. */
	if (a < 0.05)
		snprintf(buf, size, "0");
	else if (a < 1e4)
		snprintf(buf, size, "%s%.1f", plus, v);
	else if (a < 1e6)
		snprintf(buf, size, "%s%.1fk", plus, v / 1e3);
	else if (a < 1e9)
		snprintf(buf, size, "%s%.2fM", plus, v / 1e6);
	else
		snprintf(buf, size, "%s%.2fG", plus, v / 1e9);
}
