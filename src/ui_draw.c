/* Drawing of the explorer's frames from its state: the title line, the
 * layer table, the totals pane, the status line, the help screen and the
 * "terminal too small" guard. Nothing here computes a score. */
#include "ui_draw.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "keys.h"

/* The totals pane goes right of the table when the table keeps at least
 * this many columns, else below it. */
#define PANE_RIGHT_WIDTH 32
#define TABLE_MIN_WIDTH_BESIDE_PANE 100
/* Lines of the pane below the table: a rule and three lines of totals. */
#define PANE_BELOW_LINES 4

static attr_t role_attrs[MS_UI_ROLE_COUNT];

enum {
	PAIR_TITLE = 1,
	PAIR_SELECTED,
	PAIR_CHANGED,
	PAIR_WARNING
};

void ms_ui_theme_init(void)
{
	const char *no_color = getenv("NO_COLOR");
	bool colour = has_colors() && (no_color == NULL || no_color[0] == '\0');

	role_attrs[MS_UI_NORMAL] = A_NORMAL;
	role_attrs[MS_UI_TITLE] = A_REVERSE;
	role_attrs[MS_UI_HEADER] = A_BOLD | A_UNDERLINE;
	role_attrs[MS_UI_SELECTED] = A_REVERSE;
	role_attrs[MS_UI_CHANGED] = A_BOLD | A_UNDERLINE;
	role_attrs[MS_UI_WARNING] = A_BOLD;
	if (!colour || start_color() == ERR)
		return;

	use_default_colors();
	if (init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_CYAN) == OK)
		role_attrs[MS_UI_TITLE] = COLOR_PAIR(PAIR_TITLE);
	if (init_pair(PAIR_SELECTED, COLOR_BLACK, COLOR_GREEN) == OK)
		role_attrs[MS_UI_SELECTED] = COLOR_PAIR(PAIR_SELECTED);
	if (init_pair(PAIR_CHANGED, COLOR_YELLOW, -1) == OK)
		role_attrs[MS_UI_CHANGED] = COLOR_PAIR(PAIR_CHANGED) | A_BOLD;
	if (init_pair(PAIR_WARNING, COLOR_RED, -1) == OK)
		role_attrs[MS_UI_WARNING] = COLOR_PAIR(PAIR_WARNING) | A_BOLD;
}

unsigned long ms_ui_role_attr(enum ms_ui_role role)
{
	return (unsigned long)role_attrs[role];
}

int ms_ui_put(int y, int x, int width, const char *text, unsigned long attr,
	      bool pad)
{
	mbstate_t state;
	wchar_t buf[256];
	size_t len = strlen(text);
	int count = 0;
	int used = 0;

	if (width <= 0)
		return 0;
	memset(&state, 0, sizeof state);
	while (len > 0 && count < (int)(sizeof buf / sizeof buf[0])) {
		wchar_t wc;
		int w;
		size_t n = ms_ui_next_char(text, len, &state, &wc, &w);

		if (n == 0 || used + w > width)
			break;
		buf[count++] = wc;
		used += w;
		text += n;
		len -= n;
	}

	attrset((attr_t)attr);
	mvaddnwstr(y, x, buf, count);
	for (; pad && used < width; used++)
		addch(' ');
	attrset(A_NORMAL);
	return used;
}

void ms_ui_put_wrapped(int *y, int end, int x, int width, const char *text)
{
	char line[256];

	if (width < 1)
		return;
	while (*text != '\0' && *y < end) {
		size_t len = strlen(text);
		size_t cut = len;

		if (ms_ui_text_width(text) > width) {
			cut = (size_t)width < len ? (size_t)width : len;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = (size_t)width;
		}
		if (cut >= sizeof line)
			cut = sizeof line - 1;
		memcpy(line, text, cut);
		line[cut] = '\0';
		ms_ui_put((*y)++, x, width, line, A_NORMAL, false);
		text += cut;
		while (*text == ' ')
			text++;
	}
}

/* The position and size of each part of a frame. */
struct layout {
	int table_y, table_h, table_w;  /* TABLE_H counts the header */
	enum { PANE_NONE, PANE_RIGHT, PANE_BELOW } pane;
	int pane_y, pane_x, pane_h, pane_w;
};

static void lay_out(struct layout *lo, int lines, int cols)
{
	int middle = lines - 2;  /* between the title and the status line */

	memset(lo, 0, sizeof *lo);
	lo->table_y = 1;
	lo->table_h = middle;
	lo->table_w = cols;
	if (cols - PANE_RIGHT_WIDTH - 1 >= TABLE_MIN_WIDTH_BESIDE_PANE) {
		lo->pane = PANE_RIGHT;
		lo->table_w = cols - PANE_RIGHT_WIDTH - 1;
		lo->pane_x = lo->table_w + 1;
		lo->pane_y = 1;
		lo->pane_w = PANE_RIGHT_WIDTH;
		lo->pane_h = middle;
	} else if (middle - PANE_BELOW_LINES >= 3) {
		lo->pane = PANE_BELOW;
		lo->table_h = middle - PANE_BELOW_LINES;
		lo->pane_x = 0;
		lo->pane_y = 1 + lo->table_h;
		lo->pane_w = cols;
		lo->pane_h = PANE_BELOW_LINES;
	}
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

static void draw_title(const struct ms_app *app, int cols)
{
	attr_t attr = role_attrs[MS_UI_TITLE];
	char left[512];
	char right[64];
	int right_w;

	snprintf(left, sizeof left, " microscore  %s  net %s",
		 app->checkpoint_path != NULL ?
			base_name(app->checkpoint_path) : "(no checkpoint)",
		 app->net->name != NULL ? app->net->name : "?");
	snprintf(right, sizeof right, "layer %zu/%zu  ? help ",
		 app->net->count > 0 ? app->selected + 1 : 0,
		 app->net->count);
	right_w = ms_ui_text_width(right);
	ms_ui_put(0, 0, cols, "", attr, true);
	if (right_w + 20 <= cols) {
		ms_ui_put(0, 0, cols - right_w - 1, left, attr, false);
		ms_ui_put(0, cols - right_w, right_w, right, attr, false);
	} else {
		ms_ui_put(0, 0, cols, left, attr, false);
	}
}

/* Redraws a selected suggestion, the end of the prompt TEXT that ends
 * at column END of line Y, in reverse video, as line editors mark
 * selected text that typing replaces. */
static void draw_suggestion(const struct ms_app *app, int y, int end,
			    const char *text)
{
	int input_w = ms_ui_text_width(app->input);

	if (!app->input_selected || app->prompt == MS_PROMPT_REPLACE ||
	    input_w == 0 ||
	    ms_ui_text_width(text) != end || input_w > end)
		return;
	ms_ui_put(y, end - input_w, input_w, app->input, A_BOLD | A_REVERSE,
		  false);
}

static void draw_status(const struct ms_app *app, int lines, int cols)
{
	char text[sizeof app->input + 128];
	int used;

	if (app->prompt != MS_PROMPT_NONE) {
		int form = 0;

		/* A rejected answer keeps the prompt open, so its reason
		 * goes on the line above, over the bottom of the frame. */
		if (app->message[0] != '\0' && app->message_is_error)
			ms_ui_put(lines - 2, 0, cols, app->message,
				  role_attrs[MS_UI_WARNING], true);
		while (ms_app_prompt_text_form(app, form, text, sizeof text) &&
		       ms_ui_text_width(text) > cols - 1)
			form++;
		used = ms_ui_put(lines - 1, 0, cols - 1, text, A_BOLD, false);
		draw_suggestion(app, lines - 1, used, text);
		curs_set(1);
		move(lines - 1, used);
		return;
	}
	curs_set(0);
	if (app->message[0] != '\0') {
		ms_ui_put(lines - 1, 0, cols, app->message,
			  app->message_is_error ? role_attrs[MS_UI_WARNING] :
						  A_NORMAL, false);
		return;
	}
	ms_ui_put(lines - 1, 0, cols,
		  "0-6 type  w/a/b bits  r reset  p rules  e export  ? help  "
		  "q quit",
		  A_NORMAL, false);
}

/* Draws the key table, one binding a line from line 2, and the prompt
 * note below it. When the bindings do not fit, the last line that fits
 * shows how many are left out. */
static void draw_help(int lines, int cols)
{
	const int label_w = 13;
	int rows = lines - 3;  /* all but the title, a blank and the last */
	size_t shown = ms_binding_count;
	int y = 2;
	char line[128];

	ms_ui_put(0, 0, cols, " microscore keys", role_attrs[MS_UI_TITLE],
		  true);
	if ((int)shown > rows)
		shown = rows > 1 ? (size_t)rows - 1 : 0;
	for (size_t i = 0; i < shown; i++, y++) {
		ms_ui_put(y, 2, label_w, ms_bindings[i].label, A_BOLD, false);
		if (cols > label_w + 3)
			ms_ui_put(y, label_w + 3, cols - label_w - 3,
				  ms_bindings[i].help, A_NORMAL, false);
	}
	if (shown < ms_binding_count) {
		snprintf(line, sizeof line, "  ... %zu more: enlarge the terminal",
			 ms_binding_count - shown);
		ms_ui_put(y++, 0, cols, line, A_NORMAL, false);
	} else {
		/* A blank line before the note, unless the note then would
		 * not fit (an estimate: wrapping at spaces may take more). */
		int note_lines = ms_ui_text_width(ms_prompt_keys_note) /
				 (cols - 4) + 1;

		if (y + 1 + note_lines <= lines - 1)
			y++;
		ms_ui_put_wrapped(&y, lines - 1, 2, cols - 4,
				  ms_prompt_keys_note);
	}
	ms_ui_put(lines - 1, 0, cols, "Press any key to return.", A_NORMAL,
		  false);
}

static void draw_too_small(int lines, int cols)
{
	char need[64];
	const char *text[2] = { "terminal too small:", need };

	snprintf(need, sizeof need, "need at least %dx%d",
		 MS_UI_MIN_COLS, MS_UI_MIN_LINES);
	for (int i = 0; i < 2; i++) {
		int w = ms_ui_text_width(text[i]);
		int y = lines / 2 - 1 + i;
		int x = w < cols ? (cols - w) / 2 : 0;

		if (y >= 0 && y < lines)
			ms_ui_put(y, x, cols - x, text[i],
				  role_attrs[MS_UI_WARNING], false);
	}
}

void ms_ui_draw(struct ms_app *app)
{
	int lines = LINES;
	int cols = COLS;
	struct layout lo;

	erase();
	app->too_small = lines < MS_UI_MIN_LINES || cols < MS_UI_MIN_COLS;
	if (app->too_small) {
		curs_set(0);
		draw_too_small(lines, cols);
		wnoutrefresh(stdscr);
		return;
	}
	if (app->show_help) {
		curs_set(0);
		draw_help(lines, cols);
		wnoutrefresh(stdscr);
		return;
	}

	lay_out(&lo, lines, cols);
	ms_app_set_page_rows(app, (size_t)(lo.table_h - 1));
	draw_title(app, cols);
	ms_ui_draw_table(app, lo.table_y, lo.table_h, lo.table_w);
	if (lo.pane == PANE_RIGHT) {
		mvvline(lo.pane_y, lo.pane_x - 1, ACS_VLINE, lo.pane_h);
		ms_ui_draw_pane(app, lo.pane_y, lo.pane_x, lo.pane_h,
				lo.pane_w, false);
	} else if (lo.pane == PANE_BELOW) {
		mvhline(lo.pane_y, 0, ACS_HLINE, cols);
		ms_ui_draw_pane(app, lo.pane_y + 1, lo.pane_x, lo.pane_h - 1,
				lo.pane_w, true);
	}
	draw_status(app, lines, cols);
	wnoutrefresh(stdscr);
}
