/* The explorer's bits prompt: exact weight and activation bits for the
 * selected layer, typed as numbers, for widths that the w and a keys do
 * not step through. No terminal code here. */
#include "app.h"

#include <stdio.h>
#include <string.h>

#include "app_prompt.h"
#include "keys.h"

/* The widths a prompt accepts, as the scorer's formulas allow. */
#define BITS_MIN 1
#define BITS_MAX 32

/* The maximum input length of a bits prompt, in characters. */
#define BITS_INPUT_MAX 8

static const char *bits_name(bool weight)
{
	return weight ? "weight" : "activation";
}

/* Puts the selected layer's current bits for the open question into the
 * input as a selected suggestion. */
static void suggest_current(struct ms_app *app)
{
	bool weight = app->prompt == MS_PROMPT_WEIGHT_BITS;
	char text[16];

	snprintf(text, sizeof text, "%d",
		 ms_app_bits(app, app->selected, weight));
	ms_app_input_set(app, text);
	app->input_selected = true;
}

unsigned ms_app_bits_start(struct ms_app *app)
{
	size_t i = app->selected;
	const struct ms_layer *l;

	if (app->net->count == 0)
		return 0;
	l = &app->net->layers[i];
	if (!ms_app_act_bits_apply(app, i)) {
		ms_app_message(app, true, "%s: bits can be set on conv and "
			       "linear layers only, not on a %s layer",
			       l->name, ms_layer_kind_name(l->kind));
		return MS_APP_REDRAW;
	}
	app->message[0] = '\0';
	app->pending_weight_bits = 0;
	app->prompt = ms_app_weight_bits_apply(app, i) ?
		MS_PROMPT_WEIGHT_BITS : MS_PROMPT_ACT_BITS;
	suggest_current(app);
	return MS_APP_PROMPT | MS_APP_REDRAW;
}

/* Parses the prompt's INPUT, where empty keeps CURRENT. Returns the bits,
 * or 0 when INPUT is not a whole number from BITS_MIN to BITS_MAX. */
static int parse_bits(const char *input, int current)
{
	int value = 0;

	if (input[0] == '\0')
		return current;
	for (const char *c = input; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return 0;
		value = value * 10 + (*c - '0');
		if (value > BITS_MAX)
			return 0;
	}
	return value >= BITS_MIN ? value : 0;
}

/* Stores BITS as layer I's override, or as none when the description
 * sets the same width. */
static void set_override(struct ms_app *app, size_t i, bool weight, int bits)
{
	const struct ms_layer *l = &app->net->layers[i];
	int desc = weight ? l->weight_bits : l->act_bits;
	int *field = weight ? &app->overrides[i].weight_bits :
			      &app->overrides[i].act_bits;

	if (desc <= 0)
		desc = 32;  /* the scorer's width where none is described */
	*field = bits == desc ? 0 : bits;
}

static unsigned accept_bits(struct ms_app *app)
{
	size_t i = app->selected;
	const struct ms_layer *l = &app->net->layers[i];
	bool weight = app->prompt == MS_PROMPT_WEIGHT_BITS;
	int bits = parse_bits(app->input, ms_app_bits(app, i, weight));

	if (bits == 0) {
		ms_app_message(app, true, "%s: %s bits must be a whole number "
			       "from %d to %d, not '%s'", l->name,
			       bits_name(weight), BITS_MIN, BITS_MAX,
			       app->input);
		return MS_APP_PROMPT | MS_APP_REDRAW;
	}
	if (weight) {
		app->pending_weight_bits = bits;
		app->message[0] = '\0';
		app->prompt = MS_PROMPT_ACT_BITS;
		suggest_current(app);
		return MS_APP_PROMPT | MS_APP_REDRAW;
	}

	app->prompt = MS_PROMPT_NONE;
	set_override(app, i, false, bits);
	if (app->pending_weight_bits > 0) {
		set_override(app, i, true, app->pending_weight_bits);
		ms_app_message(app, false, "%s: weight bits %d, activation "
			       "bits %d", l->name, app->pending_weight_bits,
			       bits);
	} else {
		ms_app_message(app, false, "%s: activation bits %d", l->name,
			       bits);
	}
	return MS_APP_RECOMPUTE | MS_APP_REDRAW;
}

unsigned ms_app_bits_prompt_key(struct ms_app *app, int key)
{
	switch (key) {
	case MS_KEY_ENTER:
	case '\n':
	case '\r':
		return accept_bits(app);
	case MS_KEY_ESCAPE:
		app->prompt = MS_PROMPT_NONE;
		ms_app_message(app, false, "bits unchanged");
		return MS_APP_REDRAW;
	default:
		return ms_app_input_key(app, key, BITS_INPUT_MAX);
	}
}

bool ms_app_bits_prompt_text(const struct ms_app *app, int form, char *buf,
			     size_t size)
{
	bool weight = app->prompt == MS_PROMPT_WEIGHT_BITS;

	/* Layer names can be long, so the name goes first and the range
	 * and input stay. */
	if (form == 0)
		snprintf(buf, size, "%s: %s bits (%d-%d): %s",
			 app->net->layers[app->selected].name,
			 bits_name(weight), BITS_MIN, BITS_MAX, app->input);
	else
		snprintf(buf, size, "%s bits (%d-%d): %s", bits_name(weight),
			 BITS_MIN, BITS_MAX, app->input);
	return form <= 1;
}
