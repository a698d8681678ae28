/* The explorer's state: settings, tables, selection, and the handlers that
 * the key table names. No terminal code here. */
#include "app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* The bit widths that w/W and a/A step through, besides the
 * description's own value. */
static const int bit_steps[] = { 1, 2, 3, 4, 5, 6, 8, 16, 32 };
#define BIT_STEP_COUNT (sizeof bit_steps / sizeof bit_steps[0])

/* The scorer uses 32 bits where a description sets none. */
#define DEFAULT_BITS 32

int ms_app_init(struct ms_app *app, const char *checkpoint_path,
		const struct ms_checkpoint *ck, const struct ms_net *net,
		const struct ms_policy *policy, struct ms_error *err)
{
	size_t count = net->count > 0 ? net->count : 1;

	memset(app, 0, sizeof *app);
	app->checkpoint_path = checkpoint_path;
	app->ck = ck;
	app->net = net;
	app->policy = *policy;
	app->page_rows = 1;
	app->overrides = calloc(count, sizeof *app->overrides);
	if (app->overrides == NULL)
		return ms_fail(err, "out of memory for %zu layer overrides",
			       net->count);
	if (ms_app_recompute(app, err) < 0) {
		ms_app_free(app);
		return -1;
	}
	return 0;
}

void ms_app_free(struct ms_app *app)
{
	free(app->overrides);
	app->overrides = NULL;
	ms_table_free(&app->table);
	ms_table_free(&app->other);
}

int ms_app_recompute(struct ms_app *app, struct ms_error *err)
{
	struct ms_policy other_policy = app->policy;
	struct ms_table table = { 0 };
	struct ms_table other = { 0 };

	other_policy.rules = app->policy.rules == MS_RULES_PUBLISHED ?
		MS_RULES_CHALLENGE : MS_RULES_PUBLISHED;
	if (ms_score_net(app->net, &app->policy, app->overrides, &table,
			 err) < 0)
		return -1;
	if (ms_score_net(app->net, &other_policy, app->overrides, &other,
			 err) < 0) {
		ms_table_free(&table);
		return -1;
	}
	ms_table_free(&app->table);
	ms_table_free(&app->other);
	app->table = table;
	app->other = other;
	return 0;
}

void ms_app_message(struct ms_app *app, bool is_error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(app->message, sizeof app->message, fmt, ap);
	va_end(ap);
	app->message_is_error = is_error;
}

/* Moves the scroll position so that the selected row is visible. */
static void scroll_to_selection(struct ms_app *app)
{
	size_t rows = app->page_rows > 0 ? app->page_rows : 1;
	size_t count = app->net->count;

	if (app->selected < app->top)
		app->top = app->selected;
	else if (app->selected >= app->top + rows)
		app->top = app->selected - rows + 1;
	/* Keep the last page full when the table shrank or the window grew. */
	if (count > rows && app->top > count - rows)
		app->top = count - rows;
	if (count <= rows)
		app->top = 0;
}

void ms_app_set_page_rows(struct ms_app *app, size_t rows)
{
	app->page_rows = rows > 0 ? rows : 1;
	scroll_to_selection(app);
}

static void select_row(struct ms_app *app, long long row)
{
	long long last = (long long)app->net->count - 1;

	if (last < 0)
		return;
	if (row > last)
		row = last;
	if (row < 0)
		row = 0;
	app->selected = (size_t)row;
	scroll_to_selection(app);
}

bool ms_app_weight_bits_apply(const struct ms_app *app, size_t i)
{
	const struct ms_layer *l = &app->net->layers[i];

	return (l->kind == MS_LAYER_CONV || l->kind == MS_LAYER_LINEAR) &&
	       l->weight_elements > 0;
}

bool ms_app_act_bits_apply(const struct ms_app *app, size_t i)
{
	enum ms_layer_kind kind = app->net->layers[i].kind;

	return kind == MS_LAYER_CONV || kind == MS_LAYER_LINEAR;
}

int ms_app_bits(const struct ms_app *app, size_t i, bool weight)
{
	const struct ms_layer *l = &app->net->layers[i];
	int set = weight ? app->overrides[i].weight_bits :
			   app->overrides[i].act_bits;
	int desc = weight ? l->weight_bits : l->act_bits;

	if (set > 0)
		return set;
	return desc > 0 ? desc : DEFAULT_BITS;
}

static double rules_diff(const struct ms_app *app, size_t i, bool params)
{
	const struct ms_cost *cur = &app->table.rows[i];
	const struct ms_cost *oth = &app->other.rows[i];
	double d = params ? oth->params - cur->params : oth->ops - cur->ops;

	return app->policy.rules == MS_RULES_PUBLISHED ? d : -d;
}

double ms_app_rules_diff_ops(const struct ms_app *app, size_t i)
{
	return rules_diff(app, i, false);
}

double ms_app_rules_diff_params(const struct ms_app *app, size_t i)
{
	return rules_diff(app, i, true);
}

size_t ms_app_override_count(const struct ms_app *app)
{
	size_t n = 0;

	for (size_t i = 0; i < app->net->count; i++)
		if (app->overrides[i].weight_bits != 0 ||
		    app->overrides[i].act_bits != 0)
			n++;
	return n;
}

/* Steps from CURRENT to the next bit width up (DIR > 0) or down, over
 * bit_steps plus the description's value DESC, wrapping at either end.
 * Returns the new override: 0 when the step lands on DESC. */
static int step_bits(int current, int desc, int dir)
{
	int ring[BIT_STEP_COUNT + 1];
	size_t n = 0;
	int next;

	for (size_t i = 0; i < BIT_STEP_COUNT; i++) {
		if (desc > (i > 0 ? bit_steps[i - 1] : 0) &&
		    desc < bit_steps[i])
			ring[n++] = desc;
		ring[n++] = bit_steps[i];
	}
	if (desc > bit_steps[BIT_STEP_COUNT - 1])
		ring[n++] = desc;

	next = dir > 0 ? ring[0] : ring[n - 1];
	for (size_t i = 0; i < n; i++) {
		size_t j = dir > 0 ? i : n - 1 - i;

		if (dir > 0 ? ring[j] > current : ring[j] < current) {
			next = ring[j];
			break;
		}
	}
	return next == desc ? 0 : next;
}

static unsigned change_bits(struct ms_app *app, bool weight, int dir)
{
	size_t i = app->selected;
	const struct ms_layer *l;
	int *field;
	int desc;

	if (app->net->count == 0)
		return 0;
	l = &app->net->layers[i];
	if (weight ? !ms_app_weight_bits_apply(app, i) :
		     !ms_app_act_bits_apply(app, i)) {
		ms_app_message(app, true, "%s: %s bits can be changed on conv "
			       "and linear layers only, not on a %s layer",
			       l->name, weight ? "weight" : "activation",
			       ms_layer_kind_name(l->kind));
		return MS_APP_REDRAW;
	}

	field = weight ? &app->overrides[i].weight_bits :
			 &app->overrides[i].act_bits;
	desc = weight ? l->weight_bits : l->act_bits;
	if (desc <= 0)
		desc = DEFAULT_BITS;
	*field = step_bits(ms_app_bits(app, i, weight), desc, dir);

	if (*field == 0)
		ms_app_message(app, false, "%s: %s bits %d, as described",
			    l->name, weight ? "weight" : "activation", desc);
	else
		ms_app_message(app, false, "%s: %s bits %d (described: %d)",
			    l->name, weight ? "weight" : "activation", *field,
			    desc);
	return MS_APP_RECOMPUTE | MS_APP_REDRAW;
}

static unsigned on_score_type(struct ms_app *app,
			      const struct ms_binding *b, int key)
{
	struct ms_policy p;

	(void)b;
	if (ms_policy_from_type(key - '0', &p) < 0)
		return 0;
	/* Only the three counting choices belong to a score type; the
	 * rules, the baseline and the switches stay as they were. */
	app->policy.accum = p.accum;
	app->policy.scale_prec = p.scale_prec;
	app->policy.pool_prec = p.pool_prec;
	app->policy.type = p.type;
	app->message[0] = '\0';
	return MS_APP_RECOMPUTE | MS_APP_REDRAW;
}

static unsigned on_move(struct ms_app *app, const struct ms_binding *b,
			int key)
{
	(void)key;
	select_row(app, (long long)app->selected + b->arg);
	return MS_APP_REDRAW;
}

static unsigned on_page(struct ms_app *app, const struct ms_binding *b,
			int key)
{
	long long page = app->page_rows > 1 ? (long long)app->page_rows - 1 : 1;

	(void)key;
	select_row(app, (long long)app->selected + b->arg * page);
	return MS_APP_REDRAW;
}

static unsigned on_first(struct ms_app *app, const struct ms_binding *b,
			 int key)
{
	(void)b;
	(void)key;
	select_row(app, 0);
	return MS_APP_REDRAW;
}

static unsigned on_last(struct ms_app *app, const struct ms_binding *b,
			int key)
{
	(void)b;
	(void)key;
	select_row(app, (long long)app->net->count - 1);
	return MS_APP_REDRAW;
}

static unsigned on_weight_bits(struct ms_app *app,
			       const struct ms_binding *b, int key)
{
	(void)key;
	return change_bits(app, true, b->arg);
}

static unsigned on_act_bits(struct ms_app *app, const struct ms_binding *b,
			    int key)
{
	(void)key;
	return change_bits(app, false, b->arg);
}

static unsigned on_set_bits(struct ms_app *app, const struct ms_binding *b,
			    int key)
{
	(void)b;
	(void)key;
	return ms_app_bits_start(app);
}

static unsigned on_reset(struct ms_app *app, const struct ms_binding *b,
			 int key)
{
	size_t n = ms_app_override_count(app);

	(void)b;
	(void)key;
	memset(app->overrides, 0, app->net->count * sizeof *app->overrides);
	ms_app_message(app, false, "reset %zu overridden layer%s", n,
		    n == 1 ? "" : "s");
	return MS_APP_RECOMPUTE | MS_APP_REDRAW;
}

static unsigned on_rules(struct ms_app *app, const struct ms_binding *b,
			 int key)
{
	(void)b;
	(void)key;
	app->policy.rules = app->policy.rules == MS_RULES_PUBLISHED ?
		MS_RULES_CHALLENGE : MS_RULES_PUBLISHED;
	app->message[0] = '\0';
	return MS_APP_RECOMPUTE | MS_APP_REDRAW;
}

static unsigned on_diff(struct ms_app *app, const struct ms_binding *b,
			int key)
{
	(void)b;
	(void)key;
	app->show_diff = !app->show_diff;

	/* The columns are the first to go on a narrow terminal, so the
	 * message tells where they appear. */
	if (app->show_diff)
		ms_app_message(app, false, "challenge-minus-published columns "
			       "on; they show when the terminal is wide "
			       "enough");
	else
		ms_app_message(app, false, "challenge-minus-published columns "
			       "off");
	return MS_APP_REDRAW;
}

static unsigned on_export(struct ms_app *app, const struct ms_binding *b,
			  int key)
{
	(void)b;
	(void)key;
	return ms_app_export_start(app);
}

static unsigned on_help(struct ms_app *app, const struct ms_binding *b,
			int key)
{
	(void)b;
	(void)key;
	app->show_help = !app->show_help;
	return MS_APP_REDRAW;
}

static unsigned on_quit(struct ms_app *app, const struct ms_binding *b,
			int key)
{
	(void)app;
	(void)b;
	(void)key;
	return MS_APP_QUIT;
}

typedef unsigned (*key_handler)(struct ms_app *app,
				const struct ms_binding *b, int key);

/* The handler of each action that keys.c binds. */
static const key_handler handlers[MS_ACTION_COUNT] = {
	[MS_ACTION_SCORE_TYPE] = on_score_type,
	[MS_ACTION_MOVE] = on_move,
	[MS_ACTION_PAGE] = on_page,
	[MS_ACTION_FIRST] = on_first,
	[MS_ACTION_LAST] = on_last,
	[MS_ACTION_WEIGHT_BITS] = on_weight_bits,
	[MS_ACTION_ACT_BITS] = on_act_bits,
	[MS_ACTION_SET_BITS] = on_set_bits,
	[MS_ACTION_RESET] = on_reset,
	[MS_ACTION_RULES] = on_rules,
	[MS_ACTION_DIFF] = on_diff,
	[MS_ACTION_EXPORT] = on_export,
	[MS_ACTION_HELP] = on_help,
	[MS_ACTION_QUIT] = on_quit,
};

unsigned ms_app_key(struct ms_app *app, int key)
{
	const struct ms_binding *b;

	if (key == MS_KEY_RESIZE)
		return MS_APP_RESIZE | MS_APP_REDRAW;
	if (app->too_small)
		return key == 'q' ? MS_APP_QUIT : 0;
	if (app->prompt != MS_PROMPT_NONE)
		return ms_app_prompt_key(app, key);
	if (app->show_help) {
		app->show_help = false;
		return MS_APP_REDRAW;
	}

	b = ms_binding_find(key);
	if (b == NULL || handlers[b->action] == NULL) {
		ms_app_message(app, true, "key not bound: press ? for help");
		return MS_APP_REDRAW;
	}
	return handlers[b->action](app, b, key);
}
