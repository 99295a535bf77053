package smile

import (
	"testing"
)

// jsonSeeds are the fuzz corpus for JSON input: fixtures plus edge cases.
func jsonSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`{"type":"metadata","disabled":false}`),
		[]byte(`[0,-1,15,-16,16,-17,2147483647,-2147483648,2147483648,9223372036854775807,-9223372036854775808,9223372036854775808]`),
		[]byte(`[1.5,-0.0,0.1,1e300,1e400,-1e-400,5e-324,1E2]`),
		[]byte(`["","a","é","\u2028","\ud800","\ud83d\ude00","a\"b\\c\n"]`),
		[]byte(`{"":{"":[]},"a":{"a":{"a":null}}}`),
		[]byte(" \t\n[true , false,null ] \r\n"),
		[]byte("\"\xff\xfe\""),
		[]byte(`[1,]`), []byte(`{"a" 1}`), []byte(`01`), []byte(`-`), []byte(`"\u12`),
	}
	for _, b := range fixtures(t) {
		seeds = append(seeds, b)
	}
	return seeds
}

// smileSeeds are the fuzz corpus for Smile input: every JSON seed encoded
// with each option set, plus hand-made token sequences.
func smileSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		hx("3A 29 0A 05 F8 28 04 0F 3E 37 26 28 7B 7C 00 00 00 F9"),
		hx("3A 29 0A 05 F8 2A 84 81 0C 01 2A 0C 9F 81 00 01 F9"),
		hx("3A 29 0A 05 F8 FD 83 01 02 03 E8 83 00 40 40 03 E8 80 F9 FF"),
		hx("3A 29 0A 07 F8 40 78 01 41 79 79 01 EC 00 F9"),
		hx("3A 29 0A 05 FA 34 61 62 FC C0 30 40 C1 40 C2 FB"),
		hx("3A 29 0A 05 F8 26 89 00 20 00 00 00 00 00 00 00 00 00 25 03 7F 7F 7F 7F 7F 7F 7F 7F BE F9"),
		hx("3A 29 0A 05 BF 61" + hexOf(rep("é", 32))),
		hx("FA 80 61 FA 40 C2 FB FB"),
		hx("3A 29 0A 05 FA F7 61" + hexOf(rep("é", 28)) + " C0 FB"),
		hx("3A 29 0A 05 E0 61 FC"), hx("3A 29 0A 05 E4 C3 A9 FC"),
		hx("3A 29 0A 05 29 7F 7F 7F 7F 7F 7F 7F 7F 7F 7F"),
		hx("3A 29 0A 05"), hx("3A 29 0A 05 F8"), hx("3A 29 0A 05 26 BF"),
	}
	for _, j := range jsonSeeds(t) {
		for _, v := range encodeVariants {
			if s, err := FromJSON(j, v.opts); err == nil {
				seeds = append(seeds, s)
			}
		}
	}
	return seeds
}

// FuzzToJSON: ToJSON never panics and fails only with a *Error; what it
// decodes is valid JSON that FromJSON re-encodes to the same data, stable
// after one round, under every encoder option set.
func FuzzToJSON(f *testing.F) {
	for _, s := range smileSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSmile(t, data, DecodeOptions{})
		checkSmile(t, data, DecodeOptions{AllowMissingHeader: true})
	})
}

// FuzzRoundTrip: FromJSON accepts what encoding/json accepts (except inputs
// beyond the documented limits) and rejects the rest with a *Error; its
// Smile decodes to the same data.
func FuzzRoundTrip(f *testing.F) {
	for _, j := range jsonSeeds(f) {
		f.Add(j)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSON(t, data)
	})
}
