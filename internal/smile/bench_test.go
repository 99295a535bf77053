package smile

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// benchDocs are a typical task (the wikipedia index task) and a full worker
// sync snapshot, the two documents the Overlord exchanges with a worker.
func benchDocs(b *testing.B) map[string][]byte {
	docs := map[string][]byte{}
	for name, path := range map[string]string{
		"task":     "testdata/druid-tasks/wikipedia-index.json",
		"syncFull": "../../workerrunner/protocol/testdata/sync_full.json",
	} {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			b.Fatal(err)
		}
		docs[name] = c.Bytes()
	}
	return docs
}

// BenchmarkFromJSON reports MB/s of JSON input encoded to Smile.
func BenchmarkFromJSON(b *testing.B) {
	for name, doc := range benchDocs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = (EncodeOptions{}).AppendSmile(buf[:0], doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkToJSON reports MB/s of Smile input decoded to JSON.
func BenchmarkToJSON(b *testing.B) {
	for name, doc := range benchDocs(b) {
		s, err := FromJSON(doc, EncodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = (DecodeOptions{}).AppendJSON(buf[:0], s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodingJSONBaseline is encoding/json compacting the same
// documents: a yardstick for the numbers above, measured in the same run.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	for name, doc := range benchDocs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := json.Compact(&buf, doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
