package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskgate/taskgate/task"
)

func TestConfigDefaults(t *testing.T) {
	d := DefaultConfig()
	assert.Equal(t, ":8088", d.ListenAddress)
	assert.Equal(t, int64(32<<20), d.MaxRequestBodyBytes)
	assert.Equal(t, 10*time.Second, d.ReadHeaderTimeout)
	assert.Equal(t, 2*time.Minute, d.ReadTimeout)
	assert.Equal(t, 2*time.Minute, d.WriteTimeout)
	assert.Equal(t, 2*time.Minute, d.IdleTimeout)
	assert.Equal(t, 30*time.Second, d.LongPollTimeout)
	assert.Equal(t, 5*time.Minute, d.LongPollMaxTimeout)
	assert.Equal(t, 4096, d.ChangesBufferSize)
	require.NoError(t, d.Validate())

	partial := Config{ListenAddress: "127.0.0.1:9000", WriteTimeout: time.Second}.WithDefaults()
	assert.Equal(t, "127.0.0.1:9000", partial.ListenAddress)
	assert.Equal(t, time.Second, partial.WriteTimeout)
	assert.Equal(t, DefaultReadTimeout, partial.ReadTimeout)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{name: "zero config is valid", cfg: Config{}},
		{name: "ipv6 host", cfg: Config{ListenAddress: "[::1]:8088"}},
		{name: "port 0", cfg: Config{ListenAddress: "127.0.0.1:0"}},
		{name: "no port", cfg: Config{ListenAddress: "localhost"}, wantErr: []string{"ListenAddress", "host:port"}},
		{name: "named port", cfg: Config{ListenAddress: ":http"}, wantErr: []string{"ListenAddress", "port must be a number"}},
		{name: "port too big", cfg: Config{ListenAddress: ":70000"}, wantErr: []string{"ListenAddress"}},
		{name: "negative body limit", cfg: Config{MaxRequestBodyBytes: -5}, wantErr: []string{"MaxRequestBodyBytes", "-5"}},
		{name: "negative timeouts are each named", cfg: Config{ReadTimeout: -1, IdleTimeout: -time.Second},
			wantErr: []string{"ReadTimeout", "IdleTimeout"}},
		{name: "negative buffer", cfg: Config{ChangesBufferSize: -1}, wantErr: []string{"ChangesBufferSize"}},
		{name: "default poll longer than max", cfg: Config{LongPollTimeout: time.Minute, LongPollMaxTimeout: time.Second},
			wantErr: []string{"LongPollTimeout", "exceeds LongPollMaxTimeout"}},
		{name: "default poll longer than the default max", cfg: Config{LongPollTimeout: time.Hour},
			wantErr: []string{"LongPollTimeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.wantErr {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestTaskStatusPlusJSON(t *testing.T) {
	in := TaskStatusPlus{
		ID: "t1", GroupID: "g1", Type: "index", DataSource: "wiki",
		CreatedTime:      time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.FixedZone("x", 3600)),
		StatusCode:       task.StateFailed,
		RunnerStatusCode: task.RunnerStateNone, Duration: 42, ErrorMsg: "boom",
		Location: task.UnknownLocation(), Runner: "worker",
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"t1","groupId":"g1","type":"index","dataSource":"wiki",
		"createdTime":"2026-03-04T04:06:07.891Z","queueInsertionTime":"1970-01-01T00:00:00.000Z",
		"statusCode":"FAILED","status":"FAILED","runnerStatusCode":"NONE","duration":42,
		"location":{"host":null,"port":-1,"tlsPort":-1},"errorMsg":"boom","runner":"worker"}`, string(b))

	var out TaskStatusPlus
	require.NoError(t, json.Unmarshal(b, &out))
	assert.True(t, in.CreatedTime.Equal(out.CreatedTime))
	assert.Equal(t, time.Unix(0, 0).UTC(), out.QueueInsertionTime.UTC())
	out.CreatedTime, out.QueueInsertionTime = in.CreatedTime, in.QueueInsertionTime
	assert.Equal(t, in, out)

	empty, err := json.Marshal(TaskStatusPlus{ID: "x", StatusCode: task.StateRunning, Location: task.UnknownLocation()})
	require.NoError(t, err)
	assert.Contains(t, string(empty), `"type":null`)
	assert.Contains(t, string(empty), `"dataSource":null`)
	assert.Contains(t, string(empty), `"errorMsg":null`)

	require.Error(t, json.Unmarshal([]byte(`{"id":"x","createdTime":"yesterday"}`), &out))
}
