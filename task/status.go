package task

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// State is Druid's stored task state (TaskState).
type State string

// Task states.
const (
	StateRunning State = "RUNNING"
	StateSuccess State = "SUCCESS"
	StateFailed  State = "FAILED"
)

// IsComplete reports whether the state is final.
func (s State) IsComplete() bool { return s == StateSuccess || s == StateFailed }

// Valid reports whether s is one of Druid's task states.
func (s State) Valid() bool {
	return s == StateRunning || s == StateSuccess || s == StateFailed
}

// RunnerState is Druid's RunnerTaskState: where a task is inside a runner.
type RunnerState string

// Runner task states. WAITING is computed by the Overlord for tasks it stores
// but no runner has; runners report PENDING, RUNNING or NONE (finished).
const (
	RunnerStateWaiting RunnerState = "WAITING"
	RunnerStatePending RunnerState = "PENDING"
	RunnerStateRunning RunnerState = "RUNNING"
	RunnerStateNone    RunnerState = "NONE"
)

// Location is Druid's TaskLocation. Unknown is host null, ports -1.
type Location struct {
	Host       string `json:"-"`
	Port       int    `json:"port"`
	TLSPort    int    `json:"tlsPort"`
	K8sPodName string `json:"-"`
}

// UnknownLocation is Druid's TaskLocation.unknown().
func UnknownLocation() Location { return Location{Port: -1, TLSPort: -1} }

// IsUnknown reports whether the location carries no host.
func (l Location) IsUnknown() bool { return l.Host == "" }

type wireLocation struct {
	Host       *string `json:"host"`
	Port       *int    `json:"port"`
	TLSPort    *int    `json:"tlsPort"`
	K8sPodName *string `json:"k8sPodName,omitempty"`
}

// MarshalJSON writes host as null when unknown and k8sPodName only when set,
// as Druid does.
func (l Location) MarshalJSON() ([]byte, error) {
	w := wireLocation{Port: &l.Port, TLSPort: &l.TLSPort}
	if l.Host != "" {
		w.Host = &l.Host
	}
	if l.K8sPodName != "" {
		w.K8sPodName = &l.K8sPodName
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a TaskLocation; missing ports mean -1.
func (l *Location) UnmarshalJSON(b []byte) error {
	var w wireLocation
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = UnknownLocation()
	if w.Host != nil {
		l.Host = *w.Host
	}
	if w.Port != nil {
		l.Port = *w.Port
	}
	if w.TLSPort != nil {
		l.TLSPort = *w.TLSPort
	}
	if w.K8sPodName != nil {
		l.K8sPodName = *w.K8sPodName
	}
	return nil
}

// Status is Druid's TaskStatus.
type Status struct {
	ID       string   `json:"id"`
	Status   State    `json:"status"`
	Duration int64    `json:"duration"`
	ErrorMsg string   `json:"-"`
	Location Location `json:"location"`
}

type wireStatus struct {
	ID       string    `json:"id"`
	Status   State     `json:"status"`
	Duration *int64    `json:"duration"`
	ErrorMsg *string   `json:"errorMsg"`
	Location *Location `json:"location"`
}

// MarshalJSON writes errorMsg as null when empty, as Druid does.
func (s Status) MarshalJSON() ([]byte, error) {
	w := wireStatus{ID: s.ID, Status: s.Status, Duration: &s.Duration, Location: &s.Location}
	if s.ErrorMsg != "" {
		w.ErrorMsg = &s.ErrorMsg
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a TaskStatus and checks the state.
func (s *Status) UnmarshalJSON(b []byte) error {
	var w wireStatus
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if !w.Status.Valid() {
		return &FieldError{Field: "status", Reason: fmt.Sprintf("must be RUNNING, SUCCESS or FAILED, got %q", w.Status)}
	}
	*s = Status{ID: w.ID, Status: w.Status, Duration: -1, Location: UnknownLocation()}
	if w.Duration != nil {
		s.Duration = *w.Duration
	}
	if w.ErrorMsg != nil {
		s.ErrorMsg = *w.ErrorMsg
	}
	if w.Location != nil {
		s.Location = *w.Location
	}
	return nil
}

// Running returns a RUNNING status for id.
func Running(id string) Status {
	return Status{ID: id, Status: StateRunning, Duration: -1, Location: UnknownLocation()}
}

// Success returns a SUCCESS status.
func Success(id string, durationMs int64) Status {
	return Status{ID: id, Status: StateSuccess, Duration: durationMs, Location: UnknownLocation()}
}

// Failure returns a FAILED status with a message, truncated as Druid does.
func Failure(id string, format string, args ...any) Status {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return Status{ID: id, Status: StateFailed, Duration: -1, ErrorMsg: TruncateErrorMsg(msg), Location: UnknownLocation()}
}

// maxErrorMsgLength is the length past which Druid's TaskStatus shortens errorMsg.
const maxErrorMsgLength = 1024

// TruncateErrorMsg shortens a message longer than 1024 characters to its
// first 512 characters, "...", "<N> characters omitted...", and its last 512,
// as Druid's TaskStatus constructor does.
func TruncateErrorMsg(msg string) string {
	n := utf8.RuneCountInString(msg)
	if n <= maxErrorMsgLength {
		return msg
	}
	r := []rune(msg)
	half := maxErrorMsgLength / 2
	return string(r[:half]) + "..." + fmt.Sprintf("%d characters omitted...", n-maxErrorMsgLength) + string(r[n-half:])
}
