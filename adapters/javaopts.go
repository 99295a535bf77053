package adapters

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/taskgate/taskgate/task"
)

// ContextKeyJavaOpts is the task context key with extra JVM options for that
// task's peon (Druid's ForkingTaskRunnerConfig.JAVA_OPTS_PROPERTY).
const ContextKeyJavaOpts = "druid.indexer.runner.javaOpts"

const (
	optXmx             = "-Xmx"
	optMaxDirectMemory = "-XX:MaxDirectMemorySize="
	// defaultHeapBytes is Druid's DEFAULT_JAVA_HEAP_SIZE "1G" as
	// HumanReadableBytes reads it: decimal, 10^9.
	defaultHeapBytes = 1_000_000_000
)

// peonJavaOpts is the peon's JVM option list as Druid's K8sTaskAdapter builds
// it: javaOptsArray, the task context's options (split on whitespace outside
// double quotes), then the task directory, port and TLS options.
func peonJavaOpts(c Config, t *task.Task) ([]string, error) {
	opts := append([]string(nil), c.JavaOptsArray...)
	if raw, ok := t.Context[ContextKeyJavaOpts]; ok && strings.TrimSpace(string(raw)) != "null" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("task %s: context %q must be a string of JVM options, got %s", t.ID, ContextKeyJavaOpts, raw)
		}
		opts = append(opts, splitQuotableWhitespace(s)...)
	}
	tlsPort := -1
	if c.EnableTLSPort {
		tlsPort = TLSPort
	}
	opts = append(opts,
		"-Ddruid.indexer.task.baseTaskDir="+c.taskBaseDir(),
		fmt.Sprintf("-Ddruid.port=%d", Port),
		fmt.Sprintf("-Ddruid.plaintextPort=%d", Port),
		fmt.Sprintf("-Ddruid.tlsPort=%d", tlsPort),
		fmt.Sprintf("-Ddruid.task.executor.tlsPort=%d", tlsPort),
		fmt.Sprintf("-Ddruid.task.executor.enableTlsPort=%t", c.EnableTLSPort),
	)
	return opts, nil
}

// splitQuotableWhitespace splits JVM options as Druid's
// QuotableWhiteSpaceSplitter: on breaking whitespace that is not inside double
// quotes; quotes stay in the tokens; empty tokens are dropped.
func splitQuotableWhitespace(s string) []string {
	var out []string
	var cur strings.Builder
	inQuotes := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		if r == '"' {
			inQuotes = !inQuotes
		}
		if !inQuotes && isBreakingWhitespace(r) {
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return out
}

// isBreakingWhitespace is Guava's CharMatcher.breakingWhitespace(): Unicode
// white space except the non-breaking spaces U+00A0, U+2007 and U+202F.
func isBreakingWhitespace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x85, 0x1680, 0x2028, 0x2029, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a && r != 0x2007
}

// ContainerMemoryBytes sizes the peon container as Druid's
// K8sTaskAdapter.getContainerMemory: 1.2 × (heap + direct memory), where heap
// is the last -Xmx option (default 1G) and direct memory the last
// -XX:MaxDirectMemorySize= option (default: the heap). Sizes are read as
// Druid's HumanReadableBytes reads them, so "1g" is 10^9 bytes and "1GiB" or
// "1Gi" is 2^30.
func ContainerMemoryBytes(javaOpts []string) (int64, error) {
	heap := int64(defaultHeapBytes)
	if v, ok := lastOptValue(optXmx, javaOpts); ok {
		n, err := parseHumanReadableBytes(v)
		if err != nil {
			return 0, fmt.Errorf("java option %s%s: %w", optXmx, v, err)
		}
		heap = n
	}
	direct := heap
	if v, ok := lastOptValue(optMaxDirectMemory, javaOpts); ok {
		n, err := parseHumanReadableBytes(v)
		if err != nil {
			return 0, fmt.Errorf("java option %s%s: %w", optMaxDirectMemory, v, err)
		}
		direct = n
	}
	if heap > math.MaxInt64-direct {
		return 0, fmt.Errorf("heap %d + direct memory %d bytes overflows", heap, direct)
	}
	size := float64(heap+direct) * 1.2
	if size >= math.MaxInt64 {
		return 0, fmt.Errorf("container memory 1.2 × %d bytes overflows", heap+direct)
	}
	return int64(size), nil
}

func lastOptValue(prefix string, opts []string) (string, bool) {
	for i := len(opts) - 1; i >= 0; i-- {
		if strings.HasPrefix(opts[i], prefix) {
			return strings.TrimPrefix(opts[i], prefix), true
		}
	}
	return "", false
}

// parseHumanReadableBytes is Druid's HumanReadableBytes.parse: a whole number
// with an optional case-insensitive unit k, m, g, t, p (powers of 1000) or
// Ki, Mi, Gi, Ti, Pi, optionally followed by B (powers of 1024).
func parseHumanReadableBytes(raw string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return 0, fmt.Errorf("size is blank")
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("size %q: negative values are not allowed", raw)
	}
	binary := false
	switch {
	case strings.HasSuffix(s, "ib"):
		binary, s = true, strings.TrimSuffix(s, "ib")
	case strings.HasSuffix(s, "b"):
		return 0, fmt.Errorf("size %q: a unit ending in B must be KiB, MiB, GiB, TiB or PiB", raw)
	case strings.HasSuffix(s, "i"):
		binary, s = true, strings.TrimSuffix(s, "i")
	}
	base := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k':
			base = pick(binary, 1<<10, 1e3)
		case 'm':
			base = pick(binary, 1<<20, 1e6)
		case 'g':
			base = pick(binary, 1<<30, 1e9)
		case 't':
			base = pick(binary, 1<<40, 1e12)
		case 'p':
			base = pick(binary, 1<<50, 1e15)
		default:
			if binary {
				return 0, fmt.Errorf("size %q: the unit must be one of Ki, Mi, Gi, Ti, Pi", raw)
			}
		}
		if base > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q is not a whole number with an optional unit (k, m, g, t, p, Ki, Mi, Gi, Ti, Pi)", raw)
	}
	if n > math.MaxInt64/base {
		return 0, fmt.Errorf("size %q overflows", raw)
	}
	return n * base, nil
}

func pick(binary bool, bin, dec int64) int64 {
	if binary {
		return bin
	}
	return dec
}
