package adapters

import (
	"encoding/binary"
	"encoding/hex"
	"math/bits"
)

// murmur3Hex returns the lower-case hex of MurmurHash3 x64_128 (seed 0) of
// s's UTF-8 bytes, with h1 then h2 each written as 8 little-endian bytes. That
// is what Guava's Hashing.murmur3_128().hashString(s, UTF_8).toString()
// prints, which Druid appends to job names.
//
// It is implemented here rather than imported because the algorithm is short,
// fixed by its published reference, and pinned by test vectors; a dependency
// would add more surface than it saves.
func murmur3Hex(s string) string {
	h1, h2 := murmur3x64128([]byte(s), 0)
	var out [16]byte
	binary.LittleEndian.PutUint64(out[:8], h1)
	binary.LittleEndian.PutUint64(out[8:], h2)
	return hex.EncodeToString(out[:])
}

const (
	murmurC1 = 0x87c37b91114253d5
	murmurC2 = 0x4cf5ad432745937f
)

func murmur3x64128(data []byte, seed uint64) (uint64, uint64) {
	h1, h2 := seed, seed
	n := len(data)
	body := n / 16 * 16
	for i := 0; i < body; i += 16 {
		k1 := binary.LittleEndian.Uint64(data[i:])
		k2 := binary.LittleEndian.Uint64(data[i+8:])

		k1 *= murmurC1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= murmurC2
		h1 ^= k1
		h1 = bits.RotateLeft64(h1, 27)
		h1 += h2
		h1 = h1*5 + 0x52dce729

		k2 *= murmurC2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= murmurC1
		h2 ^= k2
		h2 = bits.RotateLeft64(h2, 31)
		h2 += h1
		h2 = h2*5 + 0x38495ab5
	}

	tail := data[body:]
	var k1, k2 uint64
	// The tail bytes are little-endian: byte j of each half goes to bits 8j.
	for j := len(tail) - 1; j >= 8; j-- {
		k2 |= uint64(tail[j]) << (8 * uint(j-8))
	}
	if len(tail) > 8 {
		k2 *= murmurC2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= murmurC1
		h2 ^= k2
	}
	for j := min(len(tail), 8) - 1; j >= 0; j-- {
		k1 |= uint64(tail[j]) << (8 * uint(j))
	}
	if len(tail) > 0 {
		k1 *= murmurC1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= murmurC2
		h1 ^= k1
	}

	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1 = fmix64(h1)
	h2 = fmix64(h2)
	h1 += h2
	h2 += h1
	return h1, h2
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
