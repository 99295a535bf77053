package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/taskgate/taskgate/config"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// propertyFlag is a repeatable -D key=value flag.
type propertyFlag []string

func (p *propertyFlag) String() string { return strings.Join(*p, " ") }

func (p *propertyFlag) Set(v string) error {
	key, _, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(key) == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	*p = append(*p, v)
	return nil
}

// configFlags are the flags every command that reads configuration takes.
type configFlags struct {
	files      stringList
	properties propertyFlag
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.files, "config", "Druid runtime.properties `file` (repeatable; later files win)")
	fs.Var(&c.properties, "D", "set a property, `key=value` (repeatable; wins over files and environment)")
}

func (c *configFlags) load(environ []string) (*config.Properties, []config.Warning, error) {
	return config.Load(config.Options{Files: c.files, Environ: environ, Flags: c.properties})
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gateway "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses a command's flags and rejects positional arguments. done
// is true when the command must return code at once (-h, or bad usage).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (flags only)\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	return 0, false
}
