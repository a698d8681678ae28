/* Loading network descriptions from files or the built-in set, choosing a
 * built-in for a checkpoint, and freeing loaded networks. */
#define _POSIX_C_SOURCE 200809L  /* strdup, strndup */

#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "net_internal.h"

static const char *const kind_names[MS_LAYER_KIND_COUNT] = {
	[MS_LAYER_CONV] = "conv",
	[MS_LAYER_LINEAR] = "linear",
	[MS_LAYER_SCALE] = "scale",
	[MS_LAYER_BATCHNORM] = "bn",
	[MS_LAYER_RELU] = "relu",
	[MS_LAYER_RELU6] = "relu6",
	[MS_LAYER_HSWISH] = "hswish",
	[MS_LAYER_SWISH] = "swish",
	[MS_LAYER_SIGMOID] = "sigmoid",
	[MS_LAYER_AVGPOOL] = "avgpool",
	[MS_LAYER_MAXPOOL] = "maxpool",
	[MS_LAYER_GLOBALPOOL] = "globalpool",
	[MS_LAYER_ADD] = "add",
	[MS_LAYER_MUL] = "mul",
	[MS_LAYER_CONCAT] = "concat",
	[MS_LAYER_FLATTEN] = "flatten",
	[MS_LAYER_UPSAMPLE] = "upsample",
	[MS_LAYER_QUANT] = "quant",
};

const char *ms_layer_kind_name(enum ms_layer_kind kind)
{
	if ((unsigned)kind >= MS_LAYER_KIND_COUNT)
		return "?";
	return kind_names[kind];
}

const char *ms_net_datadir(void)
{
	const char *dir = getenv("MICROSCORE_DATADIR");

	return dir != NULL && dir[0] != '\0' ? dir : MS_DATADIR;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void ms_net_free(struct ms_net *net)
{
	if (net == NULL)
		return;
	for (size_t i = 0; i < net->count; i++)
		free(net->layers[i].name);
	free(net->layers);
	free(net->name);
	free(net->path);
	free_names(net->missing, net->missing_count);
	free_names(net->unused, net->unused_count);
	memset(net, 0, sizeof *net);
}

/* Parses "NAME=VALUE" assignments into OV (N entries). */
static int parse_overrides(const char *const *params, struct net_override *ov,
			   size_t n, struct ms_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(params[i], '=');
		char *end;
		long long v;

		if (eq == NULL || eq == params[i])
			return ms_fail(err, "parameter '%s' must be given as "
				       "NAME=VALUE", params[i]);
		errno = 0;
		v = strtoll(eq + 1, &end, 10);
		if (errno == ERANGE)
			return ms_fail(err, "parameter '%s': value is out of "
				       "range (at most %lld in magnitude)",
				       params[i], LLONG_MAX);
		if (eq[1] == '\0' || *end != '\0' || errno != 0)
			return ms_fail(err, "parameter '%s': value is not an "
				       "integer", params[i]);
		ov[i].name = strndup(params[i], (size_t)(eq - params[i]));
		if (ov[i].name == NULL)
			return ms_fail(err, "out of memory");
		ov[i].value = v;
	}
	return 0;
}

static char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	size_t len;

	s = s != NULL ? s + 1 : path;
	len = strlen(s);
	if (len > 4 && strcmp(s + len - 4, ".net") == 0)
		len -= 4;
	return strndup(s, len);
}

static int parse_with(const char *path, const char *text, size_t len,
		      const struct ms_checkpoint *ck,
		      const char *const *params, struct ms_net *net,
		      struct ms_error *err)
{
	struct net_ast ast;
	struct net_override *ov = NULL;
	size_t n = 0;
	int rc = -1;

	memset(net, 0, sizeof *net);
	while (params != NULL && params[n] != NULL)
		n++;
	if (n > 0 && (ov = calloc(n, sizeof *ov)) == NULL)
		return ms_fail(err, "%s: out of memory", path);
	if (parse_overrides(params, ov, n, err) < 0)
		goto out;
	if (net_parse_text(path, text, len, &ast, err) < 0)
		goto out;
	rc = net_build(path, &ast, ck, ov, n, net, err);
	net_arena_free(&ast.arena);
	if (rc == 0 && net->name == NULL)
		net->name = base_name(path);
	if (rc == 0 && (net->path = strdup(path)) == NULL)
		rc = ms_fail(err, "%s: out of memory", path);
out:
	for (size_t i = 0; i < n; i++)
		free((char *)ov[i].name);
	free(ov);
	if (rc < 0)
		ms_net_free(net);
	return rc;
}

int ms_net_parse(const char *path, const char *text, size_t len,
		 const struct ms_checkpoint *ck, struct ms_net *net,
		 struct ms_error *err)
{
	return parse_with(path, text, len, ck, NULL, net, err);
}

/* Reads the whole file PATH, up to the description size limit. */
static char *read_text(const char *path, size_t *len, struct ms_error *err)
{
	int fd = ms_open_regular(path, NULL, err);
	FILE *f;
	char *buf;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "rb");
	if (f == NULL) {
		ms_fail(err, "%s: cannot open: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	buf = malloc(NET_MAX_TEXT + 1);
	if (buf == NULL) {
		fclose(f);
		ms_fail(err, "%s: out of memory", path);
		return NULL;
	}
	*len = fread(buf, 1, NET_MAX_TEXT + 1, f);
	if (ferror(f)) {
		ms_fail(err, "%s: read failed: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else if (*len > NET_MAX_TEXT) {
		ms_fail(err, "%s: description is longer than %d bytes", path,
			NET_MAX_TEXT);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static char *spec_path(const char *spec)
{
	size_t len = strlen(spec);
	const char *dir;
	char *path;

	if (strchr(spec, '/') != NULL ||
	    (len > 4 && strcmp(spec + len - 4, ".net") == 0))
		return strdup(spec);
	dir = ms_net_datadir();
	path = malloc(strlen(dir) + len + 6);
	if (path != NULL)
		sprintf(path, "%s/%s.net", dir, spec);
	return path;
}

int ms_net_load_params(const char *spec, const char *const *params,
		       const struct ms_checkpoint *ck, struct ms_net *net,
		       struct ms_error *err)
{
	char *path = spec_path(spec), *text;
	size_t len;
	int rc;

	memset(net, 0, sizeof *net);
	if (path == NULL)
		return ms_fail(err, "%s: out of memory", spec);
	text = read_text(path, &len, err);
	if (text == NULL) {
		bool builtin = strcmp(path, spec) != 0;

		if (builtin && errno == ENOENT)
			ms_fail(err, "%s: no such built-in network (in %s; "
				"microscore --nets lists them)", spec,
				ms_net_datadir());
		free(path);
		return -1;
	}
	rc = parse_with(path, text, len, ck, params, net, err);
	free(text);
	free(path);
	return rc;
}

int ms_net_load(const char *spec, const struct ms_checkpoint *ck,
		struct ms_net *net, struct ms_error *err)
{
	return ms_net_load_params(spec, NULL, ck, net, err);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **ms_net_builtins(void)
{
	DIR *d = opendir(ms_net_datadir());
	char **names;
	size_t n = 0;
	struct dirent *e;

	if (d == NULL)
		return NULL;
	names = calloc(1, sizeof *names);
	if (names == NULL) {
		closedir(d);
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char **more;

		if (len <= 4 || strcmp(e->d_name + len - 4, ".net") != 0 ||
		    e->d_name[0] == '.')
			continue;
		more = realloc(names, (n + 2) * sizeof *names);
		if (more == NULL)
			break;
		names = more;
		names[n] = strndup(e->d_name, len - 4);
		if (names[n] == NULL)
			break;
		names[++n] = NULL;
	}
	closedir(d);
	qsort(names, n, sizeof *names, compare_names);
	return names;
}

/* Copies the text of comment LINE without its '#', the blanks around it
 * and the newline. */
static char *comment_text(const char *line)
{
	size_t len;

	line += strspn(line, "#");
	line += strspn(line, " \t");
	len = strcspn(line, "\r\n");
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return strndup(line, len);
}

/* Opens the description SPEC for reading, or returns NULL. */
static FILE *open_spec(const char *spec)
{
	char *path = spec_path(spec);
	FILE *f;

	if (path == NULL)
		return NULL;
	f = fopen(path, "r");
	free(path);
	return f;
}

char *ms_net_param_list(const char *spec)
{
	FILE *f = open_spec(spec);
	char *list = NULL;
	size_t used = 0;
	char line[512];

	if (f == NULL)
		return NULL;

	/* "param" is allowed only at the top level, one per line, so a
	 * line scan finds every parameter without parsing the file. */
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *name, *end, *grown;
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "param", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
			continue;
		name = p + 5;
		while (*name == ' ' || *name == '\t')
			name++;
		end = strchr(name, '#');
		if (end != NULL)
			*end = '\0';
		len = strcspn(name, "\r\n");
		while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
			len--;
		grown = realloc(list, used + len + 3);
		if (grown == NULL)
			break;
		list = grown;
		if (used > 0) {
			memcpy(list + used, ", ", 2);
			used += 2;
		}
		memcpy(list + used, name, len);
		used += len;
		list[used] = '\0';
	}
	fclose(f);
	return list;
}

char *ms_net_summary(const char *spec)
{
	FILE *f = open_spec(spec);
	char *first = NULL;
	char line[256];

	if (f == NULL)
		return NULL;

	/* Only the comment block at the top of the file is searched. */
	while (fgets(line, sizeof line, f) != NULL) {
		bool whole = strchr(line, '\n') != NULL || feof(f);
		const char *s = line + strspn(line, " \t");

		if (s[0] != '#' && s[0] != '\n' && s[0] != '\r' &&
		    s[0] != '\0')
			break;
		if (strncmp(s, "# summary:", 10) == 0) {
			free(first);
			first = comment_text(s + 10);
			break;
		}
		if (first == NULL && s[0] == '#' && s[strspn(s, "# \t\r\n")])
			first = comment_text(s);

		/* A line longer than the buffer is cut at 255 bytes, and its
		 * rest is skipped. */
		while (!whole && fgets(line, sizeof line, f) != NULL)
			whole = strchr(line, '\n') != NULL;
	}
	fclose(f);
	return first;
}

void ms_net_free_names(char **names)
{
	if (names == NULL)
		return;
	for (size_t i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Counts the layers of NET (loaded without a checkpoint) whose weight
 * tensor CK holds. Returns -1 when a weight is missing or NET has none. */
static long weights_named_in(const struct ms_net *net,
			     const struct ms_checkpoint *ck)
{
	char key[512];
	long found = 0;

	for (size_t i = 0; i < net->count; i++) {
		const struct ms_layer *l = &net->layers[i];

		if (!l->has_tensors || l->weight_elements == 0)
			continue;
		snprintf(key, sizeof key, "%s.weight", l->name);
		if (ms_checkpoint_find(ck, key) == NULL)
			return -1;
		found++;
	}
	return found > 0 ? found : -1;
}

char *ms_net_detect(const struct ms_checkpoint *ck)
{
	char **names = ms_net_builtins();
	char *best = NULL, *by_names = NULL;
	size_t best_used = 0;
	long best_named = 0;

	if (names == NULL || ck == NULL)
		goto out;
	for (size_t i = 0; names[i] != NULL; i++) {
		struct ms_net net;
		struct ms_error err;
		size_t used;
		long named;

		if (ms_net_load(names[i], ck, &net, &err) == 0) {
			used = ck->count - net.unused_count;
			if (net.missing_count == 0 && used > best_used) {
				free(best);
				best = strdup(names[i]);
				best_used = used;
			}
			ms_net_free(&net);
			continue;
		}

		/* A load can fail on sizes alone, as for a 10-class model
		 * and a 1000-class description. Remember the best match by
		 * weight names, so that the caller can show that error. */
		if (ms_net_load(names[i], NULL, &net, &err) != 0)
			continue;
		named = weights_named_in(&net, ck);
		if (named > best_named) {
			free(by_names);
			by_names = strdup(names[i]);
			best_named = named;
		}
		ms_net_free(&net);
	}
out:
	ms_net_free_names(names);
	if (best == NULL)
		return by_names;
	free(by_names);
	return best;
}
