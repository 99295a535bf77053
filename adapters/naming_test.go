package adapters

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation"
)

// murmurVectors pin MurmurHash3 x64_128 (seed 0, hex of h1 then h2 as
// little-endian bytes, i.e. Guava's HashCode.toString()). The prefixes of one
// string cover every tail length and several 16-byte blocks; their values come
// from an independent implementation (github.com/spaolacci/murmur3 v1.1.0,
// Sum128). "The quick brown fox..." is the published reference value, and the
// last two are the hashes inside job names in Druid's own tests and fixtures.
var murmurVectors = []struct{ in, want string }{
	{"", "00000000000000000000000000000000"},
	{"0", "80a346d5bedec92a095e873ce5e98d3a"},
	{"01", "8e70c17faa4e9e64d62a0f23105194e6"},
	{"012", "db3b357c0df668ce8af16b93d54c3600"},
	{"0123", "5482f3e77c75950f4bab126f9e7cc6b4"},
	{"01234", "c13f7f4959e4040f13d68da22362ccec"},
	{"012345", "270abe8625a9c08844827237612d0681"},
	{"0123456", "a6f70626b89feb134ef3de2f49efebb4"},
	{"01234567", "4d3587739b033682204996d8879336c3"},
	{"012345678", "ba38e79f51871e4cf197d599f87aa172"},
	{"0123456789", "24ebff3eac52963f070b99f27ca12780"},
	{"0123456789a", "2986d329cdeac34b929cda97e7d9b27c"},
	{"0123456789ab", "a73c9eee8c2b356658fca881b3f0eda9"},
	{"0123456789abc", "1e936542dbf8b25eb70a1de653e81c80"},
	{"0123456789abcd", "1af759dd14a0a4073122d24c8537f4aa"},
	{"0123456789abcde", "5123bfc0f6d52da6f04c547c0cf5cc4f"},
	{"0123456789abcdef", "a7d14acf946de04bda08a7635c5bc387"},
	{"0123456789abcdefg", "def945aa2d61328eee72c306c2f40008"},
	{"0123456789abcdefgh", "e8fa580ba5d211c59fb9f3833554d42a"},
	{"0123456789abcdefghi", "474b24b3c07f3dadcef5297018c872dd"},
	{"0123456789abcdefghij", "fda376f0243ec8e4d7a88f3a588c9cf9"},
	{"0123456789abcdefghijk", "da227c80be50ad00632a80022aabcfea"},
	{"0123456789abcdefghijkl", "b558559daaa86447bb60f720676f528a"},
	{"0123456789abcdefghijklm", "c26730a8749923253a8f6a7c51292a0b"},
	{"0123456789abcdefghijklmn", "7aad5b761bbd4b35d7152a0ef172dc2c"},
	{"0123456789abcdefghijklmno", "063d047d2e09c804b94bbeba003588b3"},
	{"0123456789abcdefghijklmnop", "71a52322a0449baa3532ba026cb84318"},
	{"0123456789abcdefghijklmnopq", "0bb541d0982b073f62e16ec5f409bc06"},
	{"0123456789abcdefghijklmnopqr", "9453607b7f2fc07ef13858b631e35966"},
	{"0123456789abcdefghijklmnopqrs", "49226b14ba03532e73ef58f62fa332de"},
	{"0123456789abcdefghijklmnopqrst", "c87ab40e0cf36e40bce4576fc0415f32"},
	{"0123456789abcdefghijklmnopqrstu", "42056e1a0c7828b8b2e9a71391732239"},
	{"0123456789abcdefghijklmnopqrstuv", "f7f1edc0ce5c282f0ba5de7463d605c4"},
	{"0123456789abcdefghijklmnopqrstuvw", "28117495bf1720e89aa9c32bb36ec5dd"},
	{"héllo wörld ✓ \x00\xff", "978936d37463a1ee240cf85a81af9857"},
	{"The quick brown fox jumps over the lazy dog", "6c1b07bc7bbc4be347939ac4a93c437a"},
	{"id", "3e70afe5cd823dfc7dd308eea616426b"},
	{"api-issued_kill_wikipedia3_omjobnbc_1000-01-01T00:00:00.000Z_2023-05-14T00:00:00.000Z_2023-05-15T17:03:01.220Z", "18ed64f09a02fab468b9bba38739871f"},
}

func TestMurmur3(t *testing.T) {
	for _, v := range murmurVectors {
		assert.Equal(t, v.want, murmur3Hex(v.in), "murmur3_128(%q)", v.in)
	}
}

func TestJobName(t *testing.T) {
	long := strings.Repeat("Abc-", 40)
	tests := []struct {
		name, prefix, id, want string
	}{
		{
			name: "Druid's unit test known answer",
			id:   "api-issued_kill_wikipedia_new_balhnoib_1000-01-01T00:00:00.000Z_2023-05-14T00:00:00.000Z_2023-05-15T17:28:42.526Z",
			want: "apiissuedkillwikipedianewbalhn-8916017dfd5469fe9a8881b1035497a2",
		},
		{
			name: "Druid fixture expectedNoopJobLongIds.yaml",
			id:   "api-issued_kill_wikipedia3_omjobnbc_1000-01-01T00:00:00.000Z_2023-05-14T00:00:00.000Z_2023-05-15T17:03:01.220Z",
			want: "apiissuedkillwikipedia3omjobnb-18ed64f09a02fab468b9bba38739871f",
		},
		{name: "Druid fixture expectedNoopJob.yaml", id: "id", want: "id-3e70afe5cd823dfc7dd308eea616426b"},
		{name: "long id is cut to 30 characters", id: long, want: strings.ToLower(strings.ReplaceAll(long, "-", ""))[:30] + "-" + murmur3Hex(long)},
		{name: "non-ASCII letters are dropped", id: "tâche_ÜBER_1", want: "tcheber1-" + murmur3Hex("tâche_ÜBER_1")},
		{name: "prefix replaces the id head", prefix: "My-Cluster_1", id: "id", want: "mycluster1-3e70afe5cd823dfc7dd308eea616426b"},
		{name: "prefix is cut to 30", prefix: strings.Repeat("p", 40), id: "id", want: strings.Repeat("p", 30) + "-3e70afe5cd823dfc7dd308eea616426b"},
		// Druid would keep the backslash and fail to create the Job.
		{name: "backslash dropped", id: `a\b_c`, want: "abc-" + murmur3Hex(`a\b_c`)},
		// Druid would give "-<hash>", which Kubernetes rejects.
		{name: "id without letters or digits", id: "__::__", want: "task-" + murmur3Hex("__::__")},
		{name: "prefix of only symbols falls back", prefix: "---", id: "x", want: "task-" + murmur3Hex("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JobNameWithPrefix(tt.prefix, tt.id)
			assert.Equal(t, tt.want, got)
			assert.Empty(t, validation.IsDNS1123Label(got))
		})
	}
	assert.Equal(t, JobNameWithPrefix("", "id"), JobName("id"))
}

func TestLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"wikipedia", "wikipedia"},
		{"Wikipédia Edits", "WikipdiaEdits"},
		{"_.-data_source-._", "data_source"},
		{"", ""},
		{"---", ""},
		{"a/b:c d", "abcd"},
		{"index_kafka", "index_kafka"},
		// Druid cuts to 63 before stripping, so a '-' at 63 goes too.
		{strings.Repeat("a", 62) + "-b", strings.Repeat("a", 62)},
		{strings.Repeat("x", 100), strings.Repeat("x", 63)},
	}
	for _, tt := range tests {
		got := LabelValue(tt.in)
		assert.Equal(t, tt.want, got, "LabelValue(%q)", tt.in)
		assert.Empty(t, validation.IsValidLabelValue(got))
	}
}

func TestTaskIDLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		// From Druid's expectedNoopJobLongIds.yaml.
		{
			"api-issued_kill_wikipedia3_omjobnbc_1000-01-01T00:00:00.000Z_2023-05-14T00:00:00.000Z_2023-05-15T17:03:01.220Z",
			"apiissuedkillwikipedia3omjobnbc10000101t000000000z20230514t0000",
		},
		{"id", "id"},
		{"index_kafka_wiki", "indexkafkawiki"},
		{`a\b`, "ab"},
		{"", ""},
	}
	for _, tt := range tests {
		got := TaskIDLabelValue(tt.in)
		assert.Equal(t, tt.want, got, "TaskIDLabelValue(%q)", tt.in)
		assert.Empty(t, validation.IsValidLabelValue(got))
	}
}

// druidJobName is Druid's algorithm without taskgate's repairs.
func druidJobName(prefix, id string) string {
	src := prefix
	if src == "" {
		src = id
	}
	return druidJobNameHead(src, true) + "-" + murmur3Hex(id)
}

func FuzzJobName(f *testing.F) {
	f.Add("", "api-issued_kill_wikipedia_new_balhnoib_1000-01-01T00:00:00.000Z")
	f.Add("", `a\b`)
	f.Add("pre", "id")
	f.Add("", "---")
	f.Add("", "é")
	f.Fuzz(func(t *testing.T, prefix, id string) {
		got := JobNameWithPrefix(prefix, id)
		if msgs := validation.IsDNS1123Label(got); len(msgs) > 0 {
			t.Fatalf("JobNameWithPrefix(%q, %q) = %q: %v", prefix, id, got, msgs)
		}
		if druid := druidJobName(prefix, id); len(validation.IsDNS1123Label(druid)) == 0 && druid != got {
			t.Fatalf("JobNameWithPrefix(%q, %q) = %q, Druid's valid name is %q", prefix, id, got, druid)
		}
		if !strings.HasSuffix(got, "-"+murmur3Hex(id)) {
			t.Fatalf("%q does not end with the id's hash", got)
		}
	})
}

func FuzzLabelValue(f *testing.F) {
	f.Add("Wikipédia Edits")
	f.Add(`x\y`)
	f.Add("-._")
	f.Fuzz(func(t *testing.T, s string) {
		if v := LabelValue(s); len(validation.IsValidLabelValue(v)) > 0 {
			t.Fatalf("LabelValue(%q) = %q is not a valid label value", s, v)
		}
		if v := TaskIDLabelValue(s); len(validation.IsValidLabelValue(v)) > 0 {
			t.Fatalf("TaskIDLabelValue(%q) = %q is not a valid label value", s, v)
		}
	})
}
