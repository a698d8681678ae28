/* The explorer's export: the file name prompt, the replace question, and
 * writing the report through ms_report_save(). No terminal code here. */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_prompt.h"
#include "keys.h"
#include "report.h"

/* File name endings dropped from the checkpoint's name to make the
 * default export name, tried repeatedly so "x.pth.tar" gives "x". */
static const char *const checkpoint_extensions[] = {
	".tar", ".pth", ".pt", ".ckpt", ".bin", ".npz", ".npy",
	".safetensors", ".net",
};

static bool strip_suffix(char *name, const char *suffix)
{
	size_t n = strlen(name);
	size_t s = strlen(suffix);

	if (n <= s || strcmp(name + n - s, suffix) != 0)
		return false;
	name[n - s] = '\0';
	return true;
}

void ms_app_default_export_name(const struct ms_app *app, char *buf,
				size_t size)
{
	const char *source = app->checkpoint_path;
	const char *slash;
	char base[256];
	bool stripped;

	if (source == NULL || source[0] == '\0')
		source = app->net->name;
	if (source == NULL || source[0] == '\0')
		source = "microscore";
	slash = strrchr(source, '/');
	if (slash != NULL && slash[1] != '\0')
		source = slash + 1;
	snprintf(base, sizeof base, "%s", source);

	do {
		stripped = false;
		for (size_t i = 0; i < sizeof checkpoint_extensions /
				       sizeof checkpoint_extensions[0]; i++)
			if (strip_suffix(base, checkpoint_extensions[i]))
				stripped = true;
	} while (stripped);
	snprintf(buf, size, "%s-score.txt", base);
}

void ms_app_input_set(struct ms_app *app, const char *text)
{
	snprintf(app->input, sizeof app->input, "%s", text);
	app->input_len = strlen(app->input);
	app->input_selected = false;
}

unsigned ms_app_export_start(struct ms_app *app)
{
	char name[MS_APP_INPUT_MAX];

	ms_app_default_export_name(app, name, sizeof name);
	ms_app_input_set(app, name);
	app->input_selected = true;
	app->prompt = MS_PROMPT_EXPORT_PATH;
	app->message[0] = '\0';
	return MS_APP_PROMPT | MS_APP_REDRAW;
}

static enum ms_report_format format_of(const char *path)
{
	size_t n = strlen(path);

	if (n >= 5 && strcmp(path + n - 5, ".json") == 0)
		return MS_REPORT_JSON;
	if (n >= 4 && strcmp(path + n - 4, ".csv") == 0)
		return MS_REPORT_CSV;
	return MS_REPORT_TEXT;
}

static const char *format_name(enum ms_report_format format)
{
	switch (format) {
	case MS_REPORT_JSON:
		return "JSON";
	case MS_REPORT_CSV:
		return "CSV";
	case MS_REPORT_TEXT:
		break;
	}
	return "text";
}

/* Copies NAME to PATH (SIZE bytes), replacing a leading "~/" with the
 * value of $HOME as a shell would, because no shell expands the name.
 * Returns 0, or -1 when the result does not fit. */
static int expand_home(const char *name, char *path, size_t size)
{
	const char *home = getenv("HOME");
	int n;

	if (name[0] == '~' && name[1] == '/' && home != NULL && home[0] != '\0')
		n = snprintf(path, size, "%s%s", home, name + 1);
	else
		n = snprintf(path, size, "%s", name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Returns what a file of mode MODE is, for a message, or NULL for a
 * regular file. */
static const char *file_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return NULL;
	if (S_ISDIR(mode))
		return "is a directory";
	if (S_ISLNK(mode))
		return "is a symbolic link";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "is a device";
	if (S_ISFIFO(mode))
		return "is a FIFO";
	if (S_ISSOCK(mode))
		return "is a socket";
	return "is not a regular file";
}

/* Checks that a new file can be created in DIR for PATH, as the atomic
 * save must do for its temporary file, by creating and removing one.
 * Returns 0, or -1 with ERR naming the cause. */
static int check_directory(const char *path, const char *dir,
			   struct ms_error *err)
{
	char probe[MS_APP_INPUT_MAX + 600];
	struct stat st;
	int fd;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return ms_fail(err, "%s: directory %s not found; "
				       "create it or choose another", path,
				       dir);
		return ms_fail(err, "%s: %s: %s", path, dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return ms_fail(err, "%s: %s is not a directory", path, dir);

	snprintf(probe, sizeof probe, "%s/.microscore-XXXXXX", dir);
	fd = mkstemp(probe);
	if (fd < 0) {
		/* In Linux's /proc the directory exists but creating a file
		 * fails with ENOENT, which strerror() calls a missing file. */
		if (errno == ENOENT)
			return ms_fail(err, "%s: %s does not accept new "
				       "files", path, dir);
		return ms_fail(err, "%s: cannot create a file in %s: %s",
			       path, dir, strerror(errno));
	}
	close(fd);
	unlink(probe);
	return 0;
}

/* Checks PATH before anything is written or asked: it must not end in
 * '/', must be a regular file if it exists, and its directory must accept
 * a new file. Returns 0, or -1 with ERR naming the cause. */
static int check_export_path(const char *path, struct ms_error *err)
{
	char dir[MS_APP_INPUT_MAX + 512];
	const char *type;
	const char *slash;
	struct stat st;
	size_t n = strlen(path);

	if (n > 0 && path[n - 1] == '/')
		return ms_fail(err, "%s: ends with '/'; choose a file name",
			       path);
	if (lstat(path, &st) == 0) {
		type = file_type_name(st.st_mode);
		if (type != NULL)
			return ms_fail(err, "%s: %s; choose a file name", path,
				       type);
	} else if (errno != ENOENT && errno != ENOTDIR) {
		return ms_fail(err, "%s: %s", path, strerror(errno));
	}

	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	return check_directory(path, dir, err);
}

/* Writes the report to the prompt's file name. An existing file turns
 * the prompt into the replace question unless REPLACE is true. A failure
 * returns to the file name prompt with the name kept and the error in
 * the message line. */
static unsigned export_to_input(struct ms_app *app, bool replace)
{
	struct ms_report_input in = {
		.checkpoint = app->checkpoint_path,
		.net = app->net,
		.table = &app->table,
		.overrides = app->overrides,
	};
	enum ms_report_format format = format_of(app->input);
	struct ms_error err = { { 0 } };
	bool exists = false;
	char path[MS_APP_INPUT_MAX + 512];

	if (expand_home(app->input, path, sizeof path) < 0) {
		app->prompt = MS_PROMPT_EXPORT_PATH;
		ms_app_message(app, true, "%s: file name too long", app->input);
		return MS_APP_PROMPT | MS_APP_REDRAW;
	}
	if (check_export_path(path, &err) < 0 ||
	    ms_report_save(path, replace, format, &in, &exists, &err) < 0) {
		if (exists && !replace) {
			app->prompt = MS_PROMPT_REPLACE;
			app->message[0] = '\0';
			return MS_APP_PROMPT | MS_APP_REDRAW;
		}
		app->prompt = MS_PROMPT_EXPORT_PATH;
		ms_app_message(app, true, "%s", err.msg);
		return MS_APP_PROMPT | MS_APP_REDRAW;
	}
	app->prompt = MS_PROMPT_NONE;
	ms_app_message(app, false, "wrote the %s report to %s",
		       format_name(format), path);
	return MS_APP_REDRAW;
}

void ms_app_input_delete_last(struct ms_app *app)
{
	while (app->input_len > 0) {
		unsigned char c = (unsigned char)app->input[--app->input_len];

		if ((c & 0xc0) != 0x80)
			break;
	}
	app->input[app->input_len] = '\0';
}

/* Control characters of the line-editing keys, as terminals send them. */
#define CTRL_U 0x15
#define CTRL_W 0x17

/* Removes the word before the end of the input, with the spaces and
 * slashes after it, as a shell's Ctrl-W does with spaces, so that a
 * directory of a path can be retyped. */
static void delete_last_word(struct ms_app *app)
{
	size_t n = app->input_len;

	while (n > 0 && (app->input[n - 1] == ' ' || app->input[n - 1] == '/'))
		n--;
	while (n > 0 && app->input[n - 1] != ' ' && app->input[n - 1] != '/')
		n--;
	app->input_len = n;
	app->input[n] = '\0';
}

bool ms_app_input_edit(struct ms_app *app, int key)
{
	switch (key) {
	case MS_KEY_BACKSPACE:
		ms_app_input_delete_last(app);
		break;
	case CTRL_U:
		app->input_len = 0;
		app->input[0] = '\0';
		break;
	case CTRL_W:
		delete_last_word(app);
		break;
	default:
		return false;
	}
	app->input_selected = false;
	if (app->message_is_error)
		app->message[0] = '\0';
	return true;
}

unsigned ms_app_input_key(struct ms_app *app, int key, size_t max_len)
{
	char text[2] = { 0 };

	if (ms_app_input_edit(app, key))
		return MS_APP_PROMPT | MS_APP_REDRAW;
	if (key < 0x20 || key > 0x7e)
		return MS_APP_PROMPT;
	if (max_len > 0 && app->input_len >= max_len && !app->input_selected)
		return MS_APP_PROMPT;
	text[0] = (char)key;
	return ms_app_prompt_insert(app, text);
}

static unsigned path_prompt_key(struct ms_app *app, int key)
{
	switch (key) {
	case MS_KEY_ENTER:
	case '\n':
	case '\r':
		if (app->input_len == 0) {
			app->prompt = MS_PROMPT_NONE;
			ms_app_message(app, false,
				       "export cancelled: no file name");
			return MS_APP_REDRAW;
		}
		return export_to_input(app, false);
	case MS_KEY_ESCAPE:
		app->prompt = MS_PROMPT_NONE;
		ms_app_message(app, false, "export cancelled");
		return MS_APP_REDRAW;
	default:
		return ms_app_input_key(app, key, 0);
	}
}

static unsigned replace_prompt_key(struct ms_app *app, int key)
{
	switch (key) {
	case 'y':
	case 'Y':
		return export_to_input(app, true);
	case 'n':
	case 'N':
	case MS_KEY_ESCAPE:
		/* Back to the file name, so that another can be typed. */
		app->prompt = MS_PROMPT_EXPORT_PATH;
		return MS_APP_PROMPT | MS_APP_REDRAW;
	default:
		return MS_APP_PROMPT;
	}
}

unsigned ms_app_prompt_key(struct ms_app *app, int key)
{
	switch (app->prompt) {
	case MS_PROMPT_EXPORT_PATH:
		return path_prompt_key(app, key);
	case MS_PROMPT_REPLACE:
		return replace_prompt_key(app, key);
	case MS_PROMPT_WEIGHT_BITS:
	case MS_PROMPT_ACT_BITS:
		return ms_app_bits_prompt_key(app, key);
	case MS_PROMPT_NONE:
		break;
	}
	return 0;
}

unsigned ms_app_prompt_insert(struct ms_app *app, const char *text)
{
	size_t n = strlen(text);

	if (app->prompt == MS_PROMPT_NONE || app->prompt == MS_PROMPT_REPLACE ||
	    app->too_small)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return MS_APP_PROMPT;
	if (app->input_selected) {
		ms_app_input_set(app, "");
		app->input_selected = false;
	}
	if (app->message_is_error)
		app->message[0] = '\0';
	if (app->input_len + n >= sizeof app->input) {
		ms_app_message(app, true, "file name too long: at most %zu bytes",
			       sizeof app->input - 1);
		return MS_APP_PROMPT | MS_APP_REDRAW;
	}
	memcpy(app->input + app->input_len, text, n + 1);
	app->input_len += n;
	return MS_APP_PROMPT | MS_APP_REDRAW;
}

void ms_app_prompt_text(const struct ms_app *app, char *buf, size_t size)
{
	ms_app_prompt_text_form(app, 0, buf, size);
}

bool ms_app_prompt_text_form(const struct ms_app *app, int form, char *buf,
			     size_t size)
{
	switch (app->prompt) {
	case MS_PROMPT_EXPORT_PATH:
		if (form == 0)
			snprintf(buf, size, "Export to (Enter writes, Ctrl-U "
				 "clears, Esc cancels): %s", app->input);
		else
			snprintf(buf, size, "Export to: %s", app->input);
		return form <= 1;
	case MS_PROMPT_REPLACE:
		snprintf(buf, size, "%s exists. Replace it? (y/n) ",
			 app->input);
		return form == 0;
	case MS_PROMPT_WEIGHT_BITS:
	case MS_PROMPT_ACT_BITS:
		return ms_app_bits_prompt_text(app, form, buf, size);
	case MS_PROMPT_NONE:
		break;
	}
	if (size > 0)
		buf[0] = '\0';
	return form == 0;
}
