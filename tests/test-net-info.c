/* Tests a description's information about itself: the "baseline"
 * statement, the one-line summary from its top comment block, and the list
 * of built-ins with a missing, empty or filled data directory. */
#define _POSIX_C_SOURCE 200809L  /* mkdtemp, setenv */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "tap.h"

static int parse(const char *text, struct ms_net *net, struct ms_error *err)
{
	return ms_net_parse("t.net", text, strlen(text), NULL, net, err);
}

static void fails(const char *text, const char *message, const char *what)
{
	struct ms_net net;
	struct ms_error err = { "" };

	if (!tap_ok(parse(text, &net, &err) == -1, "baseline: %s fails",
		    what))
		ms_net_free(&net);
	tap_str(err.msg, message, "baseline: %s message", what);
}

static void baseline_statement(void)
{
	struct ms_net net;
	struct ms_error err;

	if (tap_ok(parse("baseline imagenet\ninput 3 8 8\n", &net, &err) == 0,
		   "baseline: imagenet parses")) {
		tap_ok(net.baseline == MS_BASELINE_IMAGENET,
		       "baseline: imagenet set");
		ms_net_free(&net);
	}
	if (tap_ok(parse("input 3 8 8\nbaseline cifar100\n", &net, &err) == 0,
		   "baseline: cifar100 parses")) {
		tap_ok(net.baseline == MS_BASELINE_CIFAR100,
		       "baseline: cifar100 set");
		ms_net_free(&net);
	}
	if (tap_ok(parse("input 3 8 8\n", &net, &err) == 0,
		   "baseline: absent parses")) {
		tap_ok(net.baseline == MS_BASELINE_UNSET,
		       "baseline: absent leaves it unset");
		ms_net_free(&net);
	}
	fails("baseline mnist\n", "t.net:1:10: unknown baseline 'mnist': "
	      "expected cifar100 or imagenet", "unknown track");
	fails("baseline\n", "t.net:1:9: expected cifar100 or imagenet but "
	      "found end of line", "missing track");
	fails("baseline imagenet\nbaseline imagenet\ninput 3 8 8\n",
	      "t.net:2:1: 'baseline' is given more than once", "given twice");
	fails("input 3 8 8\nblock b { baseline imagenet }\n", "t.net:2:11: "
	      "'baseline' is only allowed at the top level, outside any "
	      "block", "inside a block");
}

/* The ImageNet built-ins are those with 1000 classes at 224 x 224; the
 * CIFAR ones take 32 x 32 images. */
static void builtin_baselines(void)
{
	static const struct {
		const char *name;
		enum ms_baseline baseline;
	} want[] = {
		{ "densenet-bc-100", MS_BASELINE_CIFAR100 },
		{ "efficientnet-b0", MS_BASELINE_IMAGENET },
		{ "mobilenet-v2-1.4", MS_BASELINE_IMAGENET },
		{ "resnet-18", MS_BASELINE_IMAGENET },
		{ "resnet-20", MS_BASELINE_CIFAR100 },
		{ "resnet-32", MS_BASELINE_CIFAR100 },
		{ "resnet-50", MS_BASELINE_IMAGENET },
		{ "wrn-28-10", MS_BASELINE_CIFAR100 },
	};

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *name = want[i].name;
		bool imagenet = want[i].baseline == MS_BASELINE_IMAGENET;
		struct ms_net net;
		struct ms_error err;
		char *summary;

		if (!tap_ok(ms_net_load(name, NULL, &net, &err) == 0,
			    "%s: loads", name)) {
			printf("# %s\n", err.msg);
			continue;
		}
		tap_ok(net.baseline == want[i].baseline, "%s: baseline %s",
		       name, imagenet ? "imagenet" : "cifar100");
		tap_ok(net.input.h == (imagenet ? 224 : 32), "%s: input size "
		       "fits the baseline", name);
		ms_net_free(&net);

		summary = ms_net_summary(name);
		if (tap_ok(summary != NULL, "%s: has a summary", name)) {
			size_t len = strlen(summary);

			tap_ok(len > 10 && len < 80, "%s: summary of %zu "
			       "characters fits one line", name, len);
			tap_ok(summary[0] != '#' && summary[0] != ' ' &&
			       strncmp(summary, "summary:", 8) != 0,
			       "%s: summary has no comment marks", name);
			tap_ok((strstr(summary, "ImageNet") != NULL) ==
			       imagenet, "%s: summary names the data set",
			       name);
		}
		free(summary);
	}
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void remove_file(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

static void summaries(const char *dir)
{
	char long_line[400], want_long[300], *s;

	write_file(dir, "tagged.net", "\n# First line\n#\n# summary:  The "
		   "summary  \n# more\ninput 3 8 8\n");
	write_file(dir, "plain.net", "#\n#   Only the first   \n# second\n"
		   "input 3 8 8\n");
	write_file(dir, "late.net", "input 3 8 8\n# summary: too late\n");
	write_file(dir, "bare.net", "input 3 8 8\n");

	/* A 300-byte first line is cut at 255 bytes: "# " and 253 x's. The
	 * rest of it is skipped, so the summary line after it is found. */
	memset(long_line, 0, sizeof long_line);
	strcpy(long_line, "# ");
	memset(long_line + 2, 'x', 298);
	strcat(long_line, "\n# summary: after the long line\n");
	write_file(dir, "long.net", long_line);
	memset(want_long, 'x', 253);
	want_long[253] = '\0';

	s = ms_net_summary("tagged");
	tap_str(s, "The summary", "summary: tagged line wins");
	free(s);
	s = ms_net_summary("plain");
	tap_str(s, "Only the first", "summary: first comment with text");
	free(s);
	s = ms_net_summary("late");
	tap_ok(s == NULL, "summary: none after the first statement");
	free(s);
	s = ms_net_summary("bare");
	tap_ok(s == NULL, "summary: none without comments");
	free(s);
	s = ms_net_summary("long");
	tap_str(s, "after the long line", "summary: long line skipped");
	free(s);
	s = ms_net_summary("nosuch");
	tap_ok(s == NULL, "summary: missing file gives NULL");
	free(s);

	/* Without a summary line, the long first line is the summary. */
	long_line[300] = '\n';
	long_line[301] = '\0';
	write_file(dir, "longonly.net", long_line);
	s = ms_net_summary("longonly");
	tap_str(s, want_long, "summary: long first line cut");
	free(s);

	static const char *const names[] = {
		"tagged.net", "plain.net", "late.net", "bare.net", "long.net",
		"longonly.net",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		remove_file(dir, names[i]);
}

static void builtin_lists(const char *dir)
{
	char missing[512];
	char **names;

	snprintf(missing, sizeof missing, "%s/no-such-directory", dir);
	setenv("MICROSCORE_DATADIR", missing, 1);
	names = ms_net_builtins();
	tap_ok(names == NULL, "builtins: missing directory gives NULL");
	ms_net_free_names(names);

	setenv("MICROSCORE_DATADIR", dir, 1);
	names = ms_net_builtins();
	if (tap_ok(names != NULL, "builtins: empty directory gives a list"))
		tap_ok(names[0] == NULL, "builtins: empty list");
	ms_net_free_names(names);

	write_file(dir, "b.net", "input 3 8 8\n");
	write_file(dir, "a.net", "input 3 8 8\n");
	write_file(dir, "notes.txt", "not a description\n");
	names = ms_net_builtins();
	if (tap_ok(names != NULL, "builtins: filled directory gives a list")) {
		tap_str(names[0], "a", "builtins: first sorted");
		tap_str(names[1], "b", "builtins: second sorted");
		tap_ok(names[1] != NULL && names[2] == NULL,
		       "builtins: other files left out");
	}
	ms_net_free_names(names);
	remove_file(dir, "a.net");
	remove_file(dir, "b.net");
	remove_file(dir, "notes.txt");
}

int main(void)
{
	char dir[] = "/tmp/test-net-info-XXXXXX";

	baseline_statement();
	if (getenv("MICROSCORE_DATADIR") != NULL)
		builtin_baselines();
	else
		printf("# MICROSCORE_DATADIR is not set: built-ins not "
		       "checked\n");
	if (!tap_ok(mkdtemp(dir) != NULL, "temporary directory made"))
		return tap_done();
	setenv("MICROSCORE_DATADIR", dir, 1);
	summaries(dir);
	builtin_lists(dir);
	rmdir(dir);
	return tap_done();
}
