package smile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtures are real Druid task JSON (copies of shared/reference/druid-tasks)
// and the worker protocol's golden documents.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{
		"testdata/druid-tasks/*.json",
		"../../workerrunner/protocol/testdata/*.json",
	} {
		files, err := filepath.Glob(pattern)
		require.NoError(t, err)
		require.NotEmpty(t, files, pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			out[f] = b
		}
	}
	return out
}

var encodeVariants = []struct {
	name string
	opts EncodeOptions
}{
	{"druid", EncodeOptions{}},
	{"no sharing", EncodeOptions{NoSharedNames: true}},
	{"shared values", EncodeOptions{SharedValues: true}},
	{"exact decimals", EncodeOptions{ExactDecimals: true, EndMarker: true}},
	{"headerless", EncodeOptions{NoHeader: true, Binary7Bit: true}},
}

func decodeOptsFor(o EncodeOptions) DecodeOptions {
	return DecodeOptions{AllowMissingHeader: o.NoHeader}
}

// TestFixturesRoundTrip: JSON → Smile → JSON gives the same data (and, for
// these fixtures, exactly the compacted input), and Smile is smaller.
func TestFixturesRoundTrip(t *testing.T) {
	for name, in := range fixtures(t) {
		for _, v := range encodeVariants {
			t.Run(filepath.Base(name)+"/"+v.name, func(t *testing.T) {
				enc, err := FromJSON(in, v.opts)
				require.NoError(t, err)
				got, err := decodeOptsFor(v.opts).ToJSON(enc)
				require.NoError(t, err)
				assert.JSONEq(t, string(in), string(got))
				var compact bytes.Buffer
				require.NoError(t, json.Compact(&compact, in))
				assert.Equal(t, compact.String(), string(got))
				if v.opts == (EncodeOptions{}) {
					assert.Less(t, len(enc), compact.Len()+4, "Smile is not larger than compact JSON")
				}
			})
		}
	}
}

// TestSharedValuesShrinkRepeats: a sync snapshot repeats task ids; with
// shared values on the document shrinks and still decodes the same.
func TestSharedValuesShrinkRepeats(t *testing.T) {
	in, err := os.ReadFile("../../workerrunner/protocol/testdata/sync_full.json")
	require.NoError(t, err)
	plain, err := FromJSON(in, EncodeOptions{})
	require.NoError(t, err)
	shared, err := FromJSON(in, EncodeOptions{SharedValues: true})
	require.NoError(t, err)
	assert.Less(t, len(shared), len(plain))
	a, err := ToJSON(plain)
	require.NoError(t, err)
	b, err := ToJSON(shared)
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))
}

// checkSmile is FuzzToJSON's property: a decodable document gives valid JSON
// that re-encodes and decodes to the same data, and after one round the
// text is stable.
func checkSmile(t *testing.T, data []byte, opts DecodeOptions) {
	j1, err := opts.ToJSON(data)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) || se.Input != "smile" {
			t.Fatalf("error is not a smile *Error: %v", err)
		}
		return
	}
	if !json.Valid(j1) {
		t.Fatalf("invalid JSON %q from % X", j1, data)
	}
	s2, err := FromJSON(j1, EncodeOptions{})
	if err != nil {
		t.Fatalf("re-encode %s: %v", j1, err)
	}
	j2, err := ToJSON(s2)
	if err != nil {
		t.Fatalf("decode re-encoded: %v", err)
	}
	requireEquivalent(t, j1, j2)
	s3, err := FromJSON(j2, EncodeOptions{})
	if err != nil {
		t.Fatalf("re-encode %s: %v", j2, err)
	}
	j3, err := ToJSON(s3)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !bytes.Equal(j2, j3) || !bytes.Equal(s2, s3) {
		t.Fatalf("not stable after one round:\n%s\n%s", j2, j3)
	}
	for _, v := range encodeVariants {
		s, err := FromJSON(j1, v.opts)
		if err != nil {
			t.Fatalf("%s: re-encode: %v", v.name, err)
		}
		j, err := decodeOptsFor(v.opts).ToJSON(s)
		if err != nil {
			t.Fatalf("%s: decode: %v", v.name, err)
		}
		requireEquivalent(t, j1, j)
	}
}

// checkJSON is FuzzRoundTrip's property: FromJSON accepts exactly what
// encoding/json accepts (up to the documented limits), and what it writes
// decodes to the same data.
func checkJSON(t *testing.T, data []byte) {
	valid := json.Valid(data)
	for _, v := range encodeVariants {
		s, err := FromJSON(data, v.opts)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Input != "json" {
				t.Fatalf("%s: error is not a json *Error: %v", v.name, err)
			}
			if valid && !errors.Is(err, ErrLimit) {
				t.Fatalf("%s: encoding/json accepts %q, FromJSON says %v", v.name, data, err)
			}
			continue
		}
		if !valid {
			t.Fatalf("%s: encoding/json rejects %q, FromJSON accepted it", v.name, data)
		}
		j, err := decodeOptsFor(v.opts).ToJSON(s)
		if err != nil {
			t.Fatalf("%s: decode our own Smile % X: %v", v.name, s, err)
		}
		requireEquivalent(t, data, j)
	}
}

func TestPropertiesOnSeeds(t *testing.T) {
	for _, s := range smileSeeds(t) {
		checkSmile(t, s, DecodeOptions{})
		checkSmile(t, s, DecodeOptions{AllowMissingHeader: true})
	}
	for _, j := range jsonSeeds(t) {
		checkJSON(t, j)
	}
}
