package config

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as in Go ("90s", "30m", "1h30m")
// with an extra unit "d" for days ("2d", "1d12h").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d the way it is read back: "2d", "1h", "1h30m", "90s".
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	const day = 24 * time.Hour
	if days := v / day; days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
		v -= days * day
		if v == 0 {
			return b.String()
		}
	}
	s := v.String()
	// time.Duration.String writes "1h0m0s"; drop the zero units.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	b.WriteString(s)
	return b.String()
}

// UnmarshalText parses "90s", "1h", "2d", "1d12h". Negative durations and
// numbers without a unit are rejected.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText is the inverse of UnmarshalText.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration; write a number with a unit, e.g. 90s, 30m, 1h or 2d", s)
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, bad
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 {
			return 0, bad
		}
		const maxDays = int64(math.MaxInt64 / int64(24*time.Hour))
		if n > maxDays {
			return 0, fmt.Errorf("%q is too long", s)
		}
		days = n
		s = s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		// A bare number such as "3600" is ambiguous: refuse it.
		if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
			return 0, bad
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return 0, bad
		}
		rest = v
	}
	total := time.Duration(days) * 24 * time.Hour
	if total > math.MaxInt64-rest {
		return 0, bad
	}
	return total + rest, nil
}

// FileMode is a Unix permission mode written in octal, e.g. "0600".
type FileMode os.FileMode

// Perm returns m as an os.FileMode.
func (m FileMode) Perm() os.FileMode { return os.FileMode(m) }

// String writes m as four octal digits ("0600").
func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// UnmarshalText parses an octal mode: "0600", "600" or "0o600".
func (m *FileMode) UnmarshalText(text []byte) error {
	s := strings.TrimPrefix(strings.TrimPrefix(string(text), "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || s == "" || v > 0o777 {
		return fmt.Errorf("%q is not a permission mode; write octal digits from 0000 to 0777, e.g. \"0600\"", string(text))
	}
	*m = FileMode(v)
	return nil
}

// MarshalText is the inverse of UnmarshalText.
func (m FileMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// HexBytes are bytes written in hex, optionally separated by colons:
// "01:aa:bb:cc:dd:ee:ff" or "01aabbccddeeff".
type HexBytes []byte

// UnmarshalText parses hex with optional ':' separators between bytes.
func (h *HexBytes) UnmarshalText(text []byte) error {
	b, err := parseHex(string(text), ":")
	if err != nil {
		return err
	}
	*h = b
	return nil
}

// MarshalText writes colon-separated lower-case hex.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hexColons(h)), nil }

func (h HexBytes) String() string { return hexColons(h) }

// HWAddr is a hardware (MAC) address: "52:54:00:12:34:56", with ':' or '-'
// separators or none; 1 to 16 bytes (the size of chaddr).
type HWAddr []byte

// UnmarshalText parses a hardware address.
func (h *HWAddr) UnmarshalText(text []byte) error {
	s := string(text)
	b, err := parseHex(strings.ReplaceAll(s, "-", ":"), ":")
	if err != nil || len(b) == 0 || len(b) > 16 {
		return fmt.Errorf("%q is not a hardware address; write hex bytes separated by colons, e.g. 52:54:00:12:34:56", s)
	}
	*h = b
	return nil
}

// MarshalText writes colon-separated lower-case hex.
func (h HWAddr) MarshalText() ([]byte, error) { return []byte(hexColons(h)), nil }

func (h HWAddr) String() string { return hexColons(h) }

func parseHex(s, sep string) ([]byte, error) {
	bad := fmt.Errorf("%q is not hex bytes; write pairs of hex digits, optionally separated by colons, e.g. 01:aa:bb", s)
	t := strings.TrimSpace(s)
	if strings.Contains(t, sep) {
		parts := strings.Split(t, sep)
		for _, p := range parts {
			if len(p) != 2 {
				return nil, bad
			}
		}
		t = strings.Join(parts, "")
	}
	if len(t)%2 != 0 {
		return nil, bad
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return nil, bad
	}
	return b, nil
}

func hexColons(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// AddrRange is one address ("10.77.1.7") or an inclusive range
// ("10.77.1.10-10.77.1.19").
type AddrRange struct {
	From, To netip.Addr
}

// UnmarshalText parses "a" or "a-b".
func (r *AddrRange) UnmarshalText(text []byte) error {
	s := string(text)
	from, to, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(strings.TrimSpace(from))
	if err != nil {
		return fmt.Errorf("%q is not an address or range; write 10.0.0.5 or 10.0.0.10-10.0.0.19", s)
	}
	b := a
	if isRange {
		b, err = netip.ParseAddr(strings.TrimSpace(to))
		if err != nil {
			return fmt.Errorf("%q is not an address or range; write 10.0.0.5 or 10.0.0.10-10.0.0.19", s)
		}
	}
	*r = AddrRange{From: a, To: b}
	return nil
}

// MarshalText is the inverse of UnmarshalText.
func (r AddrRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r AddrRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + "-" + r.To.String()
}

// size is the number of addresses in r (From <= To, both IPv4).
func (r AddrRange) size() uint64 {
	return uint64(addrUint(r.To)) - uint64(addrUint(r.From)) + 1
}

func addrUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintAddr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
