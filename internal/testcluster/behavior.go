package testcluster

import (
	"fmt"
	"strconv"
	"time"
)

// Pod annotations read by the rig's kwok stages (stages/pod.yaml). Put them on
// a Job's pod template: Kubernetes copies template annotations to the pods.
// They can also be changed on a live pod (kubectl annotate) and kwok acts on
// the new value, e.g. removing AnnotationStay lets a held pod finish.
const (
	// AnnotationResult is "succeeded" or "failed". Without it a pod owned by
	// a Job succeeds and any other pod keeps running, as a server would.
	AnnotationResult = "taskgate.test/result"
	// AnnotationStay is "pending" (the pod is bound to a node but never
	// starts: phase Pending, no IP) or "running" (it never finishes).
	AnnotationStay = "taskgate.test/stay"
	// AnnotationStartDelay is a Go duration from binding to Running. Default 0.
	AnnotationStartDelay = "taskgate.test/start-delay"
	// AnnotationRunDuration is a Go duration from Running to the result.
	// Default 0.
	AnnotationRunDuration = "taskgate.test/run-duration"
	// AnnotationRunDurationMax, if longer than the run duration, makes the run
	// time uniformly random in [run-duration, run-duration-max).
	AnnotationRunDurationMax = "taskgate.test/run-duration-max"
	// AnnotationExitCode is the container exit code of a failed pod. Default 1.
	AnnotationExitCode = "taskgate.test/exit-code"
	// AnnotationReason is the termination reason of a failed pod's containers
	// and of the pod, e.g. OOMKilled. Default "Error".
	AnnotationReason = "taskgate.test/reason"
	// AnnotationMessage is the termination message of a failed pod.
	AnnotationMessage = "taskgate.test/message"
	// AnnotationWaitingReason holds a bound pod Pending with every container
	// waiting for this reason (e.g. ErrImagePull), as a kubelet reports an
	// image that cannot be pulled; the pod never runs.
	AnnotationWaitingReason = "taskgate.test/waiting-reason"
)

// Result is the outcome a pod is told to have.
type Result string

// Results a pod can be told to have.
const (
	ResultDefault   Result = ""
	ResultSucceeded Result = "succeeded"
	ResultFailed    Result = "failed"
)

// Stay holds a pod in one phase.
type Stay string

// Phases a pod can be held in.
const (
	StayNone    Stay = ""
	StayPending Stay = "pending"
	StayRunning Stay = "running"
)

// UnschedulableNodeSelector is a node selector no node of the rig matches:
// a pod with it stays Pending with condition PodScheduled=False
// (Unschedulable), unlike StayPending, which binds the pod to a node first.
var UnschedulableNodeSelector = map[string]string{"taskgate.test/no-such-node": "true"}

// Behavior is what a pod on a fake node should do. The zero value means the
// default: a Job's pod runs and succeeds at once.
type Behavior struct {
	Result Result
	Stay   Stay
	// StartDelay is the time from binding to Running.
	StartDelay time.Duration
	// RunDuration is the time from Running to the result; RunDurationMax, if
	// longer, makes it random in [RunDuration, RunDurationMax).
	RunDuration, RunDurationMax time.Duration
	// ExitCode, Reason and Message describe a failure (Result failed only).
	// ExitCode 0 means the default, 1.
	ExitCode int32
	Reason   string
	Message  string
	// WaitingReason keeps the pod Pending with its containers waiting for
	// this reason (e.g. "ErrImagePull"); it excludes Result and Stay.
	WaitingReason string
}

// Validate reports contradictory or out-of-range fields by name.
func (b Behavior) Validate() error {
	switch b.Result {
	case ResultDefault, ResultSucceeded, ResultFailed:
	default:
		return fmt.Errorf("behavior: Result is %q, want %q or %q", b.Result, ResultSucceeded, ResultFailed)
	}
	switch b.Stay {
	case StayNone, StayPending, StayRunning:
	default:
		return fmt.Errorf("behavior: Stay is %q, want %q or %q", b.Stay, StayPending, StayRunning)
	}
	for name, d := range map[string]time.Duration{"StartDelay": b.StartDelay, "RunDuration": b.RunDuration, "RunDurationMax": b.RunDurationMax} {
		if d < 0 {
			return fmt.Errorf("behavior: %s is %s, want >= 0", name, d)
		}
	}
	if b.RunDurationMax != 0 && b.RunDurationMax <= b.RunDuration {
		return fmt.Errorf("behavior: RunDurationMax (%s) must be longer than RunDuration (%s)", b.RunDurationMax, b.RunDuration)
	}
	if b.Result != ResultFailed && (b.ExitCode != 0 || b.Reason != "" || b.Message != "") {
		return fmt.Errorf("behavior: ExitCode, Reason and Message need Result %q", ResultFailed)
	}
	if b.WaitingReason != "" && (b.Result != ResultDefault || b.Stay != StayNone) {
		return fmt.Errorf("behavior: WaitingReason %q excludes Result and Stay (the pod never starts)", b.WaitingReason)
	}
	if b.ExitCode < 0 || b.ExitCode > 255 {
		return fmt.Errorf("behavior: ExitCode is %d, want 1 to 255", b.ExitCode)
	}
	return nil
}

// Annotations returns the pod annotations for b (nil for the default). It
// writes the fields as they are; call Validate first when they come from
// outside the test (kwok treats an unparsable duration as zero).
func (b Behavior) Annotations() map[string]string {
	a := map[string]string{}
	if b.Result != ResultDefault {
		a[AnnotationResult] = string(b.Result)
	}
	if b.Stay != StayNone {
		a[AnnotationStay] = string(b.Stay)
	}
	if b.StartDelay > 0 {
		a[AnnotationStartDelay] = b.StartDelay.String()
	}
	if b.RunDuration > 0 {
		a[AnnotationRunDuration] = b.RunDuration.String()
	}
	if b.RunDurationMax > 0 {
		a[AnnotationRunDurationMax] = b.RunDurationMax.String()
	}
	if b.ExitCode != 0 {
		a[AnnotationExitCode] = strconv.Itoa(int(b.ExitCode))
	}
	if b.Reason != "" {
		a[AnnotationReason] = b.Reason
	}
	if b.Message != "" {
		a[AnnotationMessage] = b.Message
	}
	if b.WaitingReason != "" {
		a[AnnotationWaitingReason] = b.WaitingReason
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// Apply merges b's annotations into an annotation map (e.g. a pod
// template's ObjectMeta.Annotations) and returns it, allocating if nil.
func (b Behavior) Apply(annotations map[string]string) map[string]string {
	a := b.Annotations()
	if len(a) == 0 {
		return annotations
	}
	if annotations == nil {
		annotations = make(map[string]string, len(a))
	}
	for k, v := range a {
		annotations[k] = v
	}
	return annotations
}
