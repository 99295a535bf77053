package smile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// hx turns "3A 29 0A 05" into bytes; it panics on a typo in a test table,
// which is a test bug.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// hdr is Druid's header: shared names, raw binary allowed.
var hdr = hx("3A 29 0A 05")

// jsonEquivalent reports whether two JSON documents hold the same data:
// same structure and key order, same strings (after encoding/json's
// decoding, which also replaces invalid UTF-8), and numbers equal as
// integers when both are integers, else as float64, else (beyond the float64
// range) as exact decimals.
func jsonEquivalent(a, b []byte) error {
	da := json.NewDecoder(bytes.NewReader(a))
	db := json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	for i := 0; ; i++ {
		ta, ea := da.Token()
		tb, eb := db.Token()
		if ea != nil || eb != nil {
			if ea != nil && eb != nil && ea.Error() == "EOF" && eb.Error() == "EOF" {
				return nil
			}
			return fmt.Errorf("token %d: errors %v / %v", i, ea, eb)
		}
		na, aNum := ta.(json.Number)
		nb, bNum := tb.(json.Number)
		if aNum && bNum {
			if !numbersEqual(string(na), string(nb)) {
				return fmt.Errorf("token %d: number %s != %s", i, na, nb)
			}
			continue
		}
		if ta != tb {
			return fmt.Errorf("token %d: %#v != %#v", i, ta, tb)
		}
	}
}

func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	ia, okA := new(big.Int).SetString(a, 10)
	ib, okB := new(big.Int).SetString(b, 10)
	if okA && okB {
		return ia.Cmp(ib) == 0
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa == fb
	}
	ua, sa, okA := normalizedDecimal(a)
	ub, sb, okB := normalizedDecimal(b)
	return okA && okB && sa == sb && ua.Cmp(ub) == 0
}

// normalizedDecimal is the literal's unscaled value and scale with trailing
// zeros of the unscaled value removed.
func normalizedDecimal(lit string) (*big.Int, int64, bool) {
	u, s, ok := splitNumber([]byte(lit)).decimal()
	if !ok {
		return nil, 0, false
	}
	scale := int64(s)
	ten := big.NewInt(10)
	q, r := new(big.Int), new(big.Int)
	for u.Sign() != 0 {
		q.QuoRem(u, ten, r)
		if r.Sign() != 0 {
			break
		}
		u.Set(q)
		scale--
	}
	return u, scale, true
}

func requireEquivalent(t *testing.T, want, got []byte) {
	t.Helper()
	if err := jsonEquivalent(want, got); err != nil {
		t.Fatalf("JSON not equivalent: %v\nwant %s\ngot  %s", err, want, got)
	}
}
