/* Drawing of the explorer's frames, shared by the event loop (ui.c) and
 * the drawing files (ui_draw.c, ui_table.c, ui_pane.c). Declares no curses types:
 * attributes travel as unsigned long, so only the ui_*.c files include
 * curses. */
#ifndef MS_UI_DRAW_H
#define MS_UI_DRAW_H

#include <stdbool.h>

#include "app.h"
#include "ui_text.h"

/* The smallest terminal the explorer lays out; below this it shows a
 * "terminal too small" message. */
#define MS_UI_MIN_COLS 40
#define MS_UI_MIN_LINES 10

/* Colour roles. Each maps to a colour pair and attributes, or to
 * attributes alone on a monochrome terminal. */
enum ms_ui_role {
	MS_UI_NORMAL,
	MS_UI_TITLE,
	MS_UI_HEADER,
	MS_UI_SELECTED,  /* the selected table row */
	MS_UI_CHANGED,   /* a value the user overrode */
	MS_UI_WARNING,   /* errors, missing tensors */
	MS_UI_ROLE_COUNT
};

/* Sets the attributes of the colour roles: colours when the terminal has
 * them and NO_COLOR is unset or empty, else bold, underline and reverse
 * video. Call once after curses starts. */
void ms_ui_theme_init(void);

/* Lays out and draws one frame of APP into the standard screen and stages
 * it with wnoutrefresh(); the caller calls doupdate(). Tells APP how many
 * table rows are visible. */
void ms_ui_draw(struct ms_app *app);

/* Returns the curses attributes of ROLE. */
unsigned long ms_ui_role_attr(enum ms_ui_role role);

/* Draws UTF-8 TEXT at line Y, column X, cut to WIDTH columns, with the
 * curses attributes ATTR; PAD fills the rest of WIDTH with spaces. Bytes
 * that are not valid in the locale's encoding draw as '?'. Returns the
 * columns used, padding included. */
int ms_ui_put(int y, int x, int width, const char *text, unsigned long attr,
	      bool pad);

/* Draws TEXT word-wrapped from line *Y within WIDTH columns from column
 * X, stopping before line END; advances *Y past the lines drawn. Words
 * are split at spaces and a longer word is cut. Counts one column a byte,
 * so it is meant for ASCII text (help and score type descriptions). */
void ms_ui_put_wrapped(int *y, int end, int x, int width, const char *text);

/* Draws the layer table (a header line, then rows from APP->top) in the
 * rectangle at line Y, column 0, of HEIGHT lines and WIDTH columns. */
void ms_ui_draw_table(const struct ms_app *app, int y, int height,
		      int width);

/* Draws the totals pane in the rectangle at Y, X of HEIGHT lines and
 * WIDTH columns: one item a line, or, with FLOW, items side by side and
 * wrapped (for the pane below the table). */
void ms_ui_draw_pane(const struct ms_app *app, int y, int x, int height,
		     int width, bool flow);

#endif
