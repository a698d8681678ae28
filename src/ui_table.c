/* The explorer's layer table, drawn from the score tables that the state
 * contains. Columns that do not fit are dropped, least useful first. */
#include "ui_draw.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum column_id {
	COL_NAME,
	COL_KIND,
	COL_WEIGHT,
	COL_OUTPUT,
	COL_SPARSE,
	COL_WBITS,
	COL_ABITS,
	COL_OPS,
	COL_PARAMS,
	COL_SHARE,
	COL_DIFF_OPS,
	COL_DIFF_PARAMS,
	COL_COUNT
};

struct column {
	const char *header;
	int width;
	bool right;  /* right-aligned */
	int keep;    /* columns with lower values are dropped first; the
		      * optional difference columns (key d) are lowest, so
		      * they go before any standard column */
};

#define NAME_MIN_WIDTH 12
#define NAME_MAX_WIDTH 40

static const struct column columns[COL_COUNT] = {
	[COL_NAME] = { "layer", NAME_MIN_WIDTH, false, 10 },
	[COL_KIND] = { "kind", 10, false, 5 },
	[COL_WEIGHT] = { "weight", 13, false, 2 },
	[COL_OUTPUT] = { "output", 12, false, 4 },
	[COL_SPARSE] = { "sparse", 6, true, 3 },
	[COL_WBITS] = { "wbit", 4, true, 8 },
	[COL_ABITS] = { "abit", 4, true, 8 },
	[COL_OPS] = { "ops", 8, true, 9 },
	[COL_PARAMS] = { "params", 8, true, 7 },
	[COL_SHARE] = { "ops%", 5, true, 6 },
	[COL_DIFF_OPS] = { "ops diff", 9, true, 1 },
	[COL_DIFF_PARAMS] = { "par diff", 9, true, 0 },
};

static void format_weight_shape(char *buf, size_t size,
				const struct ms_layer *l)
{
	int64_t dims[4];
	int n = 0;
	size_t used = 0;

	buf[0] = '\0';
	if (l->weight != NULL) {
		for (int i = 0; i < l->weight->ndim && n < 4; i++)
			dims[n++] = l->weight->shape[i];
	} else if (l->kind == MS_LAYER_CONV && l->groups > 0) {
		dims[n++] = l->out.c;
		dims[n++] = l->in.c / l->groups;
		dims[n++] = l->kh;
		dims[n++] = l->kw;
	} else if (l->kind == MS_LAYER_LINEAR) {
		dims[n++] = l->out.c;
		dims[n++] = l->in.c * l->in.h * l->in.w;
	}
	for (int i = 0; i < n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%" PRId64,
				 i > 0 ? "x" : "", dims[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* Formats the cell of column COL for layer I and tells whether the user
 * overrode its value. */
static bool format_cell(const struct ms_app *app, size_t i, int col,
			char *buf, size_t size)
{
	const struct ms_layer *l = &app->net->layers[i];
	const struct ms_cost *c = &app->table.rows[i];
	const struct ms_override *o = &app->overrides[i];

	buf[0] = '\0';
	switch (col) {
	case COL_NAME:
		/* Drawn by name_cell(), which needs the column width. */
		break;
	case COL_KIND:
		snprintf(buf, size, "%s", ms_layer_kind_name(l->kind));
		break;
	case COL_WEIGHT:
		format_weight_shape(buf, size, l);
		break;
	case COL_OUTPUT:
		snprintf(buf, size, "%" PRId64 "x%" PRId64 "x%" PRId64,
			 l->out.c, l->out.h, l->out.w);
		break;
	case COL_SPARSE:
		if (l->weight_elements > 0)
			snprintf(buf, size, "%.1f%%", 100.0 *
				 (double)(l->weight_elements - l->weight_nonzero) /
				 (double)l->weight_elements);
		break;
	case COL_WBITS:
		if (ms_app_weight_bits_apply(app, i))
			snprintf(buf, size, "%d", c->weight_bits > 0 ?
				 c->weight_bits : ms_app_bits(app, i, true));
		return o->weight_bits != 0;
	case COL_ABITS:
		if (ms_app_act_bits_apply(app, i))
			snprintf(buf, size, "%d", c->act_bits > 0 ?
				 c->act_bits : ms_app_bits(app, i, false));
		return o->act_bits != 0;
	case COL_OPS:
		ms_ui_format_count(buf, size, c->ops, false);
		break;
	case COL_PARAMS:
		ms_ui_format_count(buf, size, c->params, false);
		break;
	case COL_SHARE:
		if (app->table.ops > 0)
			snprintf(buf, size, "%.1f", 100.0 * c->ops /
				 app->table.ops);
		break;
	case COL_DIFF_OPS:
		ms_ui_format_count(buf, size, ms_app_rules_diff_ops(app, i),
				   true);
		break;
	case COL_DIFF_PARAMS:
		ms_ui_format_count(buf, size,
				   ms_app_rules_diff_params(app, i), true);
		break;
	}
	return false;
}

/* Writes layer I's name for a name column of WIDTH columns into BUF:
 * indented by its nesting depth and cut from the left, so that the end
 * that distinguishes sibling layers stays visible. Each level indents two
 * columns, or one when COMPACT, and indentation takes at most a quarter
 * of the column. */
static void name_cell(const struct ms_app *app, size_t i, int width,
		      bool compact, char *buf, size_t size)
{
	const struct ms_layer *l = &app->net->layers[i];
	int depth = l->depth > 0 ? l->depth : 0;
	int indent = depth * (compact ? 1 : 2);
	int used;

	if (indent > width / 4)
		indent = width / 4;
	if ((size_t)indent >= size) {
		buf[0] = '\0';
		return;
	}
	memset(buf, ' ', (size_t)indent);
	used = ms_ui_fit_left(l->name, width - indent, ms_ui_cut_marker(),
			      buf + indent, size - (size_t)indent);
	if (used == 0)
		buf[0] = '\0';
}

/* Picks the columns that fit in WIDTH and the name column's width, and
 * sets *COMPACT when the longest name needs more, so that names indent
 * less. */
static void fit_columns(const struct ms_app *app, int width, bool shown[],
			int *name_width, bool *compact)
{
	int want = NAME_MIN_WIDTH;
	int longest;
	int others;

	for (size_t i = 0; i < app->net->count; i++) {
		const struct ms_layer *l = &app->net->layers[i];
		int w = 2 * (l->depth > 0 ? l->depth : 0) +
			ms_ui_text_width(l->name);

		if (w > want)
			want = w;
	}
	longest = want;
	if (want > NAME_MAX_WIDTH)
		want = NAME_MAX_WIDTH;

	for (int c = 0; c < COL_COUNT; c++)
		shown[c] = c < COL_DIFF_OPS || app->show_diff;
	for (;;) {
		int drop = -1;

		others = 0;
		for (int c = 1; c < COL_COUNT; c++) {
			if (!shown[c])
				continue;
			others += columns[c].width + 1;
			if (drop < 0 || columns[c].keep < columns[drop].keep)
				drop = c;
		}
		if (others + NAME_MIN_WIDTH <= width || drop < 0)
			break;
		shown[drop] = false;
	}
	*name_width = width - others;
	if (*name_width > want)
		*name_width = want;
	if (*name_width < 1)
		*name_width = 1;
	*compact = *name_width < longest;
}

void ms_ui_draw_table(const struct ms_app *app, int y, int height,
		      int width)
{
	bool shown[COL_COUNT];
	int name_width;
	bool compact;
	unsigned long header = ms_ui_role_attr(MS_UI_HEADER);
	char cell[128];
	int x = 0;

	fit_columns(app, width, shown, &name_width, &compact);
	for (int c = 0; c < COL_COUNT; c++) {
		int w = c == COL_NAME ? name_width : columns[c].width;
		int tw = ms_ui_text_width(columns[c].header);

		if (!shown[c] || x >= width)
			continue;
		if (w > width - x)
			w = width - x;
		ms_ui_put(y, columns[c].right && tw < w ? x + w - tw : x,
			  w, columns[c].header, header, false);
		x += w + 1;
	}

	for (int r = 1; r < height; r++) {
		size_t i = app->top + (size_t)(r - 1);
		bool selected = i == app->selected;
		unsigned long base = selected ?
			ms_ui_role_attr(MS_UI_SELECTED) : A_NORMAL;

		if (i >= app->net->count)
			break;
		if (selected)
			ms_ui_put(y + r, 0, width, "", base, true);
		x = 0;
		for (int c = 0; c < COL_COUNT && x < width; c++) {
			int w = c == COL_NAME ? name_width : columns[c].width;
			bool changed;
			unsigned long attr = base;
			int tw;

			if (!shown[c])
				continue;
			if (w > width - x)
				w = width - x;
			changed = format_cell(app, i, c, cell, sizeof cell);
			if (c == COL_NAME)
				name_cell(app, i, w, compact, cell,
					  sizeof cell);
			if (changed)
				attr = selected ? base | A_BOLD | A_UNDERLINE :
					ms_ui_role_attr(MS_UI_CHANGED);
			tw = ms_ui_text_width(cell);
			ms_ui_put(y + r, columns[c].right && tw < w ?
				  x + w - tw : x, w, cell, attr, false);
			x += w + 1;
		}
	}
}
