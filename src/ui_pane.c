/* The explorer's totals pane: the scores, the settings in force and what
 * was scored, as a column beside the table or wrapped lines below it. */
#include "ui_draw.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

struct pane_item {
	char label[32];     /* "" for free text (the score type's meaning) */
	char value[256];
	enum ms_ui_role role;
};

#define PANE_ITEMS 16

static const char *rules_name(enum ms_rules rules)
{
	return rules == MS_RULES_PUBLISHED ? "published" : "challenge";
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL && slash[1] != '\0' ? slash + 1 : path;
}

static struct pane_item *add(struct pane_item *items, size_t *n,
			     const char *label, enum ms_ui_role role)
{
	struct pane_item *it = &items[(*n)++];

	snprintf(it->label, sizeof it->label, "%s", label);
	it->value[0] = '\0';
	it->role = role;
	return it;
}

/* Fills ITEMS in the order they are shown; the scores come first, so
 * that a small pane still shows them. Returns the item count. */
static size_t collect_items(const struct ms_app *app,
			    struct pane_item items[PANE_ITEMS])
{
	const struct ms_table *t = &app->table;
	const struct ms_net *net = app->net;
	size_t overrides = ms_app_override_count(app);
	size_t n = 0;
	struct pane_item *it;
	char label[32];

	snprintf(add(items, &n, "op score", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%.6f", t->op_score);
	snprintf(add(items, &n, "param score", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%.6f", t->param_score);
	/* Both final scores name their rules, so that the one in force and
	 * the one kept for comparison cannot be confused. */
	snprintf(label, sizeof label, "score (%s rules)",
		 rules_name(app->policy.rules));
	snprintf(add(items, &n, label, MS_UI_HEADER)->value,
		 sizeof items[0].value, "%.6f", t->score);
	it = add(items, &n, "score type", MS_UI_NORMAL);
	if (app->policy.type >= 0)
		snprintf(it->value, sizeof it->value, "%d", app->policy.type);
	else
		snprintf(it->value, sizeof it->value, "custom");
	snprintf(add(items, &n, "rules", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%s", rules_name(app->policy.rules));
	snprintf(add(items, &n, "ops", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%.1f", t->ops);
	snprintf(add(items, &n, "params", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%.1f", t->params);

	snprintf(label, sizeof label, "score (%s rules)",
		 rules_name(app->other.policy.rules));
	snprintf(add(items, &n, label, MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%.6f", app->other.score);

	snprintf(add(items, &n, "overrides",
		     overrides > 0 ? MS_UI_CHANGED : MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%zu", overrides);
	snprintf(add(items, &n, "checkpoint", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%s", app->checkpoint_path != NULL ?
		 base_name(app->checkpoint_path) : "none");
	snprintf(add(items, &n, "net", MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%s",
		 net->name != NULL ? net->name : "?");
	snprintf(add(items, &n, "missing tensors", net->missing_count > 0 ?
		     MS_UI_WARNING : MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%zu", net->missing_count);
	snprintf(add(items, &n, "unused tensors", net->unused_count > 0 ?
		     MS_UI_WARNING : MS_UI_NORMAL)->value,
		 sizeof items[0].value, "%zu", net->unused_count);
	if (app->policy.type >= 0)
		snprintf(add(items, &n, "", MS_UI_NORMAL)->value,
			 sizeof items[0].value, "type %d: %s",
			 app->policy.type,
			 ms_score_type_text(app->policy.type));
	return n;
}

/* One item a line: the label on the left, the value right-aligned. */
static void draw_column(const struct pane_item *items, size_t n, int y,
			int x, int height, int width)
{
	int end = y + height;

	for (size_t i = 0; i < n && y < end; i++) {
		const struct pane_item *it = &items[i];
		unsigned long attr = ms_ui_role_attr(it->role);
		int lw = ms_ui_text_width(it->label);
		int vw = ms_ui_text_width(it->value);

		if (it->label[0] == '\0') {
			y++;  /* a blank line before the free text */
			ms_ui_put_wrapped(&y, end, x, width, it->value);
			continue;
		}
		ms_ui_put(y, x, width, it->label, A_NORMAL, false);
		if (lw + 1 + vw > width && y + 1 < end)
			y++;  /* a long value gets a line of its own */
		if (vw > width)
			vw = width;
		ms_ui_put(y++, x + width - vw, vw, it->value, attr, false);
	}
}

/* Items side by side, two spaces apart, wrapped onto HEIGHT lines;
 * items past the last line are left out. */
static void draw_flow(const struct pane_item *items, size_t n, int y, int x,
		      int height, int width)
{
	int line = 0;
	int col = 0;

	for (size_t i = 0; i < n; i++) {
		const struct pane_item *it = &items[i];
		int w = ms_ui_text_width(it->value);

		if (it->label[0] != '\0')
			w += ms_ui_text_width(it->label) + 1;
		if (col > 0 && col + 2 + w > width) {
			line++;
			col = 0;
		}
		if (line >= height)
			break;
		if (col > 0)
			col += 2;
		if (it->label[0] != '\0') {
			col += ms_ui_put(y + line, x + col, width - col,
					 it->label, A_NORMAL, false);
			col += ms_ui_put(y + line, x + col, width - col, " ",
					 A_NORMAL, false);
			col += ms_ui_put(y + line, x + col, width - col,
					 it->value, ms_ui_role_attr(it->role),
					 false);
		} else {
			col += ms_ui_put(y + line, x + col, width - col,
					 it->value, A_NORMAL, false);
		}
	}
}

void ms_ui_draw_pane(const struct ms_app *app, int y, int x, int height,
		     int width, bool flow)
{
	struct pane_item items[PANE_ITEMS];
	size_t n = collect_items(app, items);

	if (flow)
		draw_flow(items, n, y, x, height, width);
	else
		draw_column(items, n, y, x, height, width);
}
