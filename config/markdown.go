package config

import (
	"fmt"
	"io"
	"strings"
)

// groupTitles are the section headings of the rendered reference.
var groupTitles = []struct {
	group Group
	title string
}{
	{GroupTask, "Runner selection and task directories"},
	{GroupHybrid, "k8sAndWorker: routing between Kubernetes and Middle Managers"},
	{GroupKubernetes, "Kubernetes task runner"},
	{GroupWorkerRunner, "Middle Manager runner (httpRemote / remote)"},
	{GroupTaskLogs, "Task logs"},
	{GroupTaskgate, "taskgate's own properties"},
}

// WriteMarkdown renders the catalogue as the configuration reference
// (docs/configuration.md), so the document cannot drift from what Load
// accepts: a test compares the two.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from the property catalogue in `config/catalogue.go` by\n")
	b.WriteString("`go test ./config -run TestConfigurationDoc -update`; do not edit by hand.\n\n")
	b.WriteString("Properties are Druid's runtime property names. Sources, later ones winning: these\n")
	b.WriteString("defaults, `--config` files (Java properties syntax), environment variables in Druid's\n")
	b.WriteString("convention (`druid_indexer_runner_capacity`; `__` is a literal `_`), and `-D key=value`\n")
	b.WriteString("flags. Durations are ISO-8601 (`PT4H`, `P2D`). A value of the wrong type stops startup\n")
	b.WriteString("with an error naming the property; an unknown `druid.indexer.runner.*` key is a warning.\n\n")
	b.WriteString("The origin column says where each property comes from: the Druid pull request that\n")
	b.WriteString("introduced it (`apache/druid#N`), Druid core or a Druid extension for long-standing ones,\n")
	b.WriteString("or `taskgate` for taskgate's own (with the Druid issue it answers, where there is one).\n")
	for _, g := range groupTitles {
		fmt.Fprintf(&b, "\n## %s\n\n| property | type | default | description | origin |\n|---|---|---|---|---|\n", g.title)
		for _, p := range catalogue {
			if p.Group != g.group {
				continue
			}
			def := "—"
			if p.Default != "" {
				def = "`" + strings.ReplaceAll(p.Default, "|", `\|`) + "`"
			}
			doc := p.Doc
			if len(p.Allowed) > 0 {
				doc += " One of: `" + strings.Join(p.Allowed, "`, `") + "`."
			}
			if p.Deprecated != "" {
				doc += " **Deprecated:** " + p.Deprecated
			}
			if p.Rejected != "" {
				doc += " **Rejected:** " + p.Rejected
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p.Name, p.Type, def, strings.ReplaceAll(doc, "|", `\|`), strings.ReplaceAll(p.Origin, "|", `\|`))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
