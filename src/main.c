/* Command line: parses options, checks every input before curses starts,
 * then runs the batch mode or the explorer. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "listing.h"
#include "model.h"
#include "options.h"
#include "report.h"
#include "score.h"
#include "tensor.h"
#include "ui.h"

/* The errno of the first failed write to standard output, kept because
 * later calls overwrite errno. */
static int stdout_errno;

/* Records errno when standard output has failed. Returns STATUS. */
static int note_stdout(int status)
{
	if (status != 0 && ferror(stdout) && stdout_errno == 0)
		stdout_errno = errno ? errno : EIO;
	return status;
}

/* Exit statuses: 0 success, 1 an input cannot be read or scored, 2 a usage
 * error. */
enum { EXIT_INPUT = 1, EXIT_USAGE = 2 };

static void fail_input(const struct ms_error *err)
{
	fprintf(stderr, "microscore: %s\n", err->msg);
}

/* Points MICROSCORE_DATADIR at the source tree's data/ when the program
 * runs uninstalled from it, so that ./microscore works after a build. */
static void find_uninstalled_data(void)
{
	char exe[PATH_MAX], probe[PATH_MAX + 64];
	struct stat st;
	ssize_t n;
	char *slash;

	if (getenv("MICROSCORE_DATADIR") != NULL ||
	    stat(MS_DATADIR "/densenet-bc-100.net", &st) == 0)
		return;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	snprintf(probe, sizeof probe, "%s/data/densenet-bc-100.net", exe);
	if (stat(probe, &st) == 0) {
		snprintf(probe, sizeof probe, "%s/data", exe);
		setenv("MICROSCORE_DATADIR", probe, 1);
	}
}

static int list_builtins(void)
{
	char **names = ms_net_builtins();

	if (names == NULL || names[0] == NULL) {
		fprintf(stderr, "microscore: %s: no built-in network "
				"descriptions found; set MICROSCORE_DATADIR "
				"to the directory that holds them\n",
			ms_net_datadir());
		ms_net_free_names(names);
		return EXIT_INPUT;
	}
	for (size_t i = 0; names[i] != NULL; i++) {
		char *summary = ms_net_summary(names[i]);
		char *params = ms_net_param_list(names[i]);

		printf("%-20s %s\n", names[i], summary ? summary : "");
		if (params != NULL)
			printf("%-20s   params: %s\n", "", params);
		free(summary);
		free(params);
	}
	ms_net_free_names(names);
	return 0;
}

/* Warns on stderr about tensors the description and checkpoint disagree
 * on; the report lists them in full. */
static void warn_binding(const struct options *o, const struct ms_net *net)
{
	if (net->missing_count > 0)
		fprintf(stderr, "microscore: %s: warning: %zu %s of "
				"network '%s' not found, first '%s'; those "
				"layers are scored dense\n",
			o->checkpoint, net->missing_count,
			net->missing_count == 1 ? "tensor" : "tensors",
			net->name, net->missing[0]);
	if (net->unused_count > 0)
		fprintf(stderr, "microscore: %s: warning: %zu %s not used "
				"by network '%s', first '%s'\n",
			o->checkpoint, net->unused_count,
			net->unused_count == 1 ? "tensor" : "tensors",
			net->name, net->unused[0]);
}

static int run_report(const struct options *o, const struct ms_net *net,
		      const struct ms_table *table,
		      const struct ms_override *overrides)
{
	struct ms_report_input in = {
		.checkpoint = o->checkpoint,
		.net = net,
		.table = table,
		.overrides = overrides,
	};
	struct ms_error err;
	bool exists = false;

	/* A failed write to standard output is reported once, at exit. */
	if (o->report_file == NULL)
		return note_stdout(ms_report_write(stdout, o->format, &in) == 0
					   ? 0 : EXIT_INPUT);
	if (ms_report_save(o->report_file, o->force, o->format, &in, &exists,
			   &err) != 0) {
		if (exists)
			fprintf(stderr, "microscore: %s: file exists; use "
					"--force to replace it\n",
				o->report_file);
		else
			fail_input(&err);
		return EXIT_INPUT;
	}
	return 0;
}

/* Loads the description: the one named by --net, or the built-in that
 * matches the checkpoint's tensor names. */
static int load_net(const struct options *o, const struct ms_checkpoint *ck,
		    struct ms_net *net)
{
	struct ms_error err;
	char *detected = NULL;
	const char *spec = o->net;
	int rc;

	if (spec == NULL) {
		detected = ms_net_detect(ck);
		if (detected == NULL) {
			fprintf(stderr, "microscore: %s: no built-in network "
					"description matches its tensor names; "
					"choose one with --net=NAME|FILE, or "
					"draft one with --describe\n",
				o->checkpoint);
			return -1;
		}
		spec = detected;
	}
	rc = ms_net_load_params(spec, (const char *const *)o->params, ck, net,
				&err);
	if (rc != 0) {
		fail_input(&err);
		if (detected != NULL)
			fprintf(stderr, "microscore: network '%s' was chosen "
					"because its tensor names match; if only "
					"sizes differ, set its parameters with "
					"--param=NAME=VALUE ('microscore --nets' "
					"lists them)\n", detected);
	}
	free(detected);
	return rc != 0 ? -1 : 0;
}

static int run(struct options *o)
{
	struct ms_checkpoint ck = { 0 };
	struct ms_net net = { 0 };
	struct ms_table table = { 0 };
	struct ms_override *overrides = NULL;
	struct ms_error err;
	int status = EXIT_INPUT;
	bool have_ck = o->checkpoint != NULL;

	if (have_ck && ms_checkpoint_open(o->checkpoint, &ck, &err) != 0) {
		fail_input(&err);
		return EXIT_INPUT;
	}
	if (o->list) {
		status = note_stdout(ms_listing_write(stdout, o->format, &ck)
					     == 0 ? 0 : EXIT_INPUT);
		goto out;
	}
	if (o->describe) {
		if (ms_net_describe(stdout, &ck, &err) == 0)
			status = 0;
		else if (note_stdout(EXIT_INPUT) && stdout_errno == 0)
			fail_input(&err);
		goto out;
	}
	if (load_net(o, have_ck ? &ck : NULL, &net) != 0)
		goto out;
	if (have_ck)
		warn_binding(o, &net);
	if (!o->baseline_given && net.baseline == MS_BASELINE_IMAGENET) {
		o->policy.op_baseline = MS_IMAGENET_OPS;
		o->policy.param_baseline = MS_IMAGENET_PARAMS;
	}
	if (ms_options_resolve_overrides(o, &net, &overrides, &err) != 0) {
		fail_input(&err);
		goto out;
	}

	if (o->report) {
		if (ms_score_net(&net, &o->policy, overrides, &table, &err) != 0) {
			fail_input(&err);
			goto out;
		}
		status = run_report(o, &net, &table, overrides);
		goto out;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "microscore: the explorer needs a terminal; "
				"use --report for batch output\n");
		goto out;
	}
	if (ms_ui_explore(o->checkpoint, have_ck ? &ck : NULL, &net,
			  &o->policy, overrides, &err) != 0) {
		fail_input(&err);
		goto out;
	}
	status = 0;
out:
	free(overrides);
	ms_table_free(&table);
	ms_net_free(&net);
	ms_checkpoint_close(&ck);
	return status;
}

/* Flushes standard output and reports a write failure, as GNU programs
 * do, so that "microscore --list FILE > /dev/full" does not fail
 * silently. Returns the exit status to use. */
static int finish_output(int status)
{
	int error = stdout_errno;

	if (fflush(stdout) != 0 && error == 0)
		error = errno;
	if (ferror(stdout) && error == 0)
		error = EIO;
	if (error == 0)
		return status;
	fprintf(stderr, "microscore: standard output: write failed: %s\n",
		strerror(error));
	return status != 0 ? status : EXIT_INPUT;
}

int main(int argc, char **argv)
{
	struct options o;
	int rc;

	find_uninstalled_data();
	rc = ms_options_parse(argc, argv, &o);
	if (rc != MS_OPTIONS_RUN)
		return finish_output(rc == MS_OPTIONS_EXIT ? 0 : EXIT_USAGE);
	if (o.nets)
		rc = list_builtins();
	else
		rc = run(&o);
	ms_options_free(&o);
	return finish_output(rc);
}
