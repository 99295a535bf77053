package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/taskgate/taskgate/adapters"
)

// lintTemplates is `gateway lint-templates`: it loads every configured pod
// template file and prints what would break the peon (errors), pods that may
// never finish (warnings) and which template settings taskgate replaces
// (infos), grouped by template. It exits 1 when any finding is an error, so
// it can gate a ConfigMap change in CI.
func lintTemplates(args, environ []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lint-templates", stderr)
	var cf configFlags
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gateway lint-templates [--config runtime.properties ...] [-D key=value ...]\n\n"+
			"Checks every %s<key> pod template file, without contacting Kubernetes.\n\n", adapters.PropPodTemplatePrefix)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stderr); done {
		return code
	}
	props, warnings, err := cf.load(environ)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "note: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway lint-templates: configuration:\n%v\n", err)
		return 1
	}
	cfg, err := adapters.ConfigFromProperties(props)
	if err != nil {
		fmt.Fprintf(stderr, "gateway lint-templates: configuration:\n%v\n", err)
		return 1
	}
	report, err := adapters.LintTemplates(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gateway lint-templates: %v\n", err)
		return 1
	}
	printLintReport(stdout, cfg, report)
	if report.HasErrors() {
		return 1
	}
	return 0
}

// printLintReport writes one header per configured template and one line per
// finding under it; a template without findings says "ok".
func printLintReport(w io.Writer, cfg adapters.Config, r adapters.Report) {
	byKey := map[string][]adapters.Finding{}
	for _, f := range r.Findings {
		byKey[f.Template] = append(byKey[f.Template], f)
	}
	keys := make([]string, 0, len(cfg.PodTemplates))
	for k := range cfg.PodTemplates {
		keys = append(keys, k)
	}
	for k := range byKey {
		if _, ok := cfg.PodTemplates[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var errs, warns int
	for _, k := range keys {
		file := cfg.PodTemplates[k]
		if file == "" {
			file = "not configured"
		}
		fmt.Fprintf(w, "%s (%s):\n", k, file)
		if len(byKey[k]) == 0 {
			fmt.Fprintln(w, "  ok")
		}
		for _, f := range byKey[k] {
			switch f.Severity {
			case adapters.SeverityError:
				errs++
			case adapters.SeverityWarning:
				warns++
			}
			fmt.Fprintf(w, "  %-7s %s: %s\n", f.Severity, f.Field, f.Message)
		}
	}
	fmt.Fprintf(w, "%d template(s), %d error(s), %d warning(s)\n", len(cfg.PodTemplates), errs, warns)
}
