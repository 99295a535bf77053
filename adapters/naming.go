package adapters

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	jobNameHeadLen = 30
	labelValueLen  = validation.LabelValueMaxLength
	// fallbackJobNameHead stands in for an id with no letter or digit, whose
	// Druid name would start with "-" and be rejected by Kubernetes.
	fallbackJobNameHead = "task"
)

// JobName is the name of the Job for a task: Druid's
// KubernetesOverlordUtils.convertTaskIdToJobName with no pod name prefix.
func JobName(taskID string) string { return JobNameWithPrefix("", taskID) }

// JobNameWithPrefix is the Job name Druid derives from a task id and
// druid.indexer.runner.k8sTaskPodNamePrefix: the prefix (or, when the prefix
// is empty, the task id) with every character but letters and digits removed,
// lower-cased, cut to 30 characters, then "-" and the murmur3_128 hex of the
// task id. The result is at most 63 characters.
//
// Druid's character filter also keeps backslashes, which makes a name
// Kubernetes rejects, and an id with no letter or digit gives a name starting
// with "-". Druid cannot create those Jobs, so no Druid Job can have such a
// name; for them this function drops the backslashes and uses "task" for an
// empty head, so the name is always a valid DNS-1123 label and equal to
// Druid's whenever Druid's is valid.
func JobNameWithPrefix(prefix, taskID string) string {
	source := prefix
	if source == "" {
		source = taskID
	}
	hash := murmur3Hex(taskID)
	name := druidJobNameHead(source, true) + "-" + hash
	if len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	head := druidJobNameHead(source, false)
	if head == "" {
		head = fallbackJobNameHead
	}
	return head + "-" + hash
}

func druidJobNameHead(s string, keepBackslash bool) string {
	return truncate(strings.ToLower(keepJobNameChars(s, keepBackslash)), jobNameHeadLen)
}

// keepJobNameChars applies Druid's K8S_TASK_ID_PATTERN, [^a-zA-Z0-9\\s]: the
// class's "\\" is a backslash and "s" a letter already in a-z.
func keepJobNameChars(s string, keepBackslash bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIIAlnum(c) || (keepBackslash && c == '\\') {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// LabelValue makes an arbitrary string a valid label value as Druid's
// convertStringToK8sLabel does: drop characters other than letters, digits,
// '_', '.', '-', keep the first 63, then strip leading and trailing '_', '.',
// '-'.
func LabelValue(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isASCIIAlnum(c) || c == '_' || c == '.' || c == '-' {
			b.WriteByte(c)
		}
	}
	return strings.Trim(truncate(b.String(), labelValueLen), "_.-")
}

// TaskIDLabelValue is a task (or group) id as a label value, as Druid's
// convertTaskIdToK8sLabel does: the job-name character filter, lower-cased,
// first 63 characters. Druid keeps backslashes, making an invalid value that
// fails Job creation; they are dropped here.
func TaskIDLabelValue(id string) string {
	v := truncate(strings.ToLower(keepJobNameChars(id, true)), labelValueLen)
	if !strings.Contains(v, `\`) {
		return v
	}
	return truncate(strings.ToLower(keepJobNameChars(id, false)), labelValueLen)
}

func isASCIIAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// truncate keeps the first n bytes; callers pass ASCII-only strings.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
