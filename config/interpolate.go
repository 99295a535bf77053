package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Druid resolves ${...} references in the values of the properties it binds
// to config objects (JsonConfigurator, with commons-text's StringSubstitutor):
// ${env:NAME} reads an environment variable, ${file:UTF-8:/path} a file's
// content, ${sys:name} a JVM system property; ${name:-default} falls back to
// default; $${ is a literal ${; an unresolvable reference is a startup error.
// taskgate does the same for every catalogued property. Java system
// properties do not exist here, so ${sys:...} is an error unless it has a
// default. An unclosed ${ is kept as written, as StringSubstitutor does.

// maxExpandDepth bounds recursive resolution (a resolved value may contain
// further references, as in StringSubstitutor).
const maxExpandDepth = 16

type expander struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
}

func newExpander(lookupEnv func(string) (string, bool)) *expander {
	return &expander{lookupEnv: lookupEnv, readFile: os.ReadFile}
}

// expand resolves the references in v.
func (e *expander) expand(v string) (string, error) {
	return e.expandDepth(v, nil)
}

func (e *expander) expandDepth(v string, active []string) (string, error) {
	if !strings.Contains(v, "${") {
		return v, nil
	}
	if len(active) >= maxExpandDepth {
		return "", fmt.Errorf("references nested more than %d deep: %s", maxExpandDepth, strings.Join(active, " -> "))
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		switch {
		case strings.HasPrefix(v[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(v[i:], "${"):
			end := strings.IndexByte(v[i+2:], '}')
			if end < 0 {
				b.WriteString(v[i:])
				i = len(v)
				continue
			}
			ref := v[i+2 : i+2+end]
			if strings.Contains(ref, "${") {
				return "", fmt.Errorf("nested reference %s is not supported", quote(v[i:i+3+end]))
			}
			resolved, err := e.resolve(ref, active)
			if err != nil {
				return "", err
			}
			b.WriteString(resolved)
			i += 3 + end
		default:
			b.WriteByte(v[i])
			i++
		}
	}
	return b.String(), nil
}

var errUndefined = errors.New("undefined")

// resolve looks up one reference (the text between ${ and }).
func (e *expander) resolve(ref string, active []string) (string, error) {
	name, def, hasDefault := strings.Cut(ref, ":-")
	for _, a := range active {
		if a == name {
			return "", fmt.Errorf("reference ${%s} refers to itself through %s", name, strings.Join(active, " -> "))
		}
	}
	value, err := e.lookup(name)
	if errors.Is(err, errUndefined) && hasDefault {
		return e.expandDepth(def, append(active, name))
	}
	if err != nil {
		return "", fmt.Errorf("cannot resolve ${%s}: %w", ref, err)
	}
	return e.expandDepth(value, append(active, name))
}

func (e *expander) lookup(name string) (string, error) {
	prefix, rest, ok := strings.Cut(name, ":")
	if !ok {
		return "", fmt.Errorf("%w: write ${env:NAME} or ${file:UTF-8:/path}", errUndefined)
	}
	switch prefix {
	case "env":
		if e.lookupEnv != nil {
			if v, ok := e.lookupEnv(rest); ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("%w: environment variable %s is not set", errUndefined, rest)
	case "file":
		charset, path, ok := strings.Cut(rest, ":")
		if !ok || path == "" {
			return "", errors.New("write ${file:UTF-8:/path}")
		}
		data, err := e.readFile(path)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, err)
		}
		switch strings.ToUpper(charset) {
		case "UTF-8", "UTF8", "US-ASCII":
			return string(data), nil
		case "ISO-8859-1", "ISO8859-1", "LATIN1":
			r := make([]rune, len(data))
			for i, c := range data {
				r[i] = rune(c)
			}
			return string(r), nil
		}
		return "", fmt.Errorf("charset %q is not supported (use UTF-8 or ISO-8859-1)", charset)
	case "sys":
		return "", fmt.Errorf("%w: Java system properties do not exist in taskgate; use ${env:NAME}", errUndefined)
	}
	return "", fmt.Errorf("%w: unknown lookup %q (taskgate supports env and file)", errUndefined, prefix)
}
