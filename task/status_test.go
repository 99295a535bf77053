package task

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestStatusRoundTripDruidJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Status
	}{
		{
			name: "failed with location",
			json: `{"id":"index_parallel_wiki_abcdefgh_2024-05-01T10:00:00.000Z","status":"FAILED","duration":73412,"errorMsg":"Task execution process exited unsuccessfully with code[137]. See middleManager logs for more details.","location":{"host":"10.0.3.17","port":8100,"tlsPort":-1}}`,
			want: Status{ID: "index_parallel_wiki_abcdefgh_2024-05-01T10:00:00.000Z", Status: StateFailed, Duration: 73412,
				ErrorMsg: "Task execution process exited unsuccessfully with code[137]. See middleManager logs for more details.",
				Location: Location{Host: "10.0.3.17", Port: 8100, TLSPort: -1}},
		},
		{
			name: "running, unknown location",
			json: `{"id":"T-running","status":"RUNNING","duration":-1,"errorMsg":null,"location":{"host":null,"port":-1,"tlsPort":-1}}`,
			want: Running("T-running"),
		},
		{
			name: "success",
			json: `{"id":"T-done","status":"SUCCESS","duration":41230,"errorMsg":null,"location":{"host":null,"port":-1,"tlsPort":-1}}`,
			want: Success("T-done", 41230),
		},
		{
			name: "k8s pod name",
			json: `{"id":"k","status":"RUNNING","duration":-1,"errorMsg":null,"location":{"host":"10.1.2.3","port":-1,"tlsPort":8091,"k8sPodName":"kjob-abc"}}`,
			want: Status{ID: "k", Status: StateRunning, Duration: -1, Location: Location{Host: "10.1.2.3", Port: -1, TLSPort: 8091, K8sPodName: "kjob-abc"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Status
			require.NoError(t, json.Unmarshal([]byte(tt.json), &got))
			assert.Equal(t, tt.want, got)
			out, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, tt.json, string(out))
		})
	}
}

func TestStatusDefaultsWhenFieldsMissing(t *testing.T) {
	var s Status
	require.NoError(t, json.Unmarshal([]byte(`{"id":"a","status":"SUCCESS"}`), &s))
	assert.Equal(t, int64(-1), s.Duration)
	assert.Equal(t, UnknownLocation(), s.Location)
	assert.True(t, s.Location.IsUnknown())
}

func TestStatusRejectsUnknownState(t *testing.T) {
	var s Status
	err := json.Unmarshal([]byte(`{"id":"a","status":"DONE"}`), &s)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "status", fe.Field)
}

func TestLocationJSONOmitsEmptyPodName(t *testing.T) {
	out, err := json.Marshal(UnknownLocation())
	require.NoError(t, err)
	assert.JSONEq(t, `{"host":null,"port":-1,"tlsPort":-1}`, string(out))
	var l Location
	require.NoError(t, json.Unmarshal([]byte(`{"host":"h"}`), &l))
	assert.Equal(t, Location{Host: "h", Port: -1, TLSPort: -1}, l)
}

func TestTruncateErrorMsg(t *testing.T) {
	short := strings.Repeat("x", 1024)
	assert.Equal(t, short, TruncateErrorMsg(short))
	long := strings.Repeat("a", 512) + strings.Repeat("m", 100) + strings.Repeat("z", 512)
	got := TruncateErrorMsg(long)
	assert.Equal(t, strings.Repeat("a", 512)+"...100 characters omitted..."+strings.Repeat("z", 512), got)
	f := Failure("t", "boom %d", 7)
	assert.Equal(t, StateFailed, f.Status)
	assert.Equal(t, "boom 7", f.ErrorMsg)
}

func TestStatesAndRunnerStates(t *testing.T) {
	assert.True(t, StateSuccess.IsComplete())
	assert.True(t, StateFailed.IsComplete())
	assert.False(t, StateRunning.IsComplete())
	for _, s := range []RunnerState{RunnerStateWaiting, RunnerStatePending, RunnerStateRunning, RunnerStateNone} {
		out, err := json.Marshal(s)
		require.NoError(t, err)
		var back RunnerState
		require.NoError(t, json.Unmarshal(out, &back))
		assert.Equal(t, s, back)
	}
}
