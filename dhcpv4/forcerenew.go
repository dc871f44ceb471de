package dhcpv4

// NonceCapable reports whether an option 145 value (RFC 6704 §3: a list of
// supported algorithm numbers) lists alg, e.g. AuthAlgHMACMD5.
func NonceCapable(v []byte, alg uint8) bool {
	for _, a := range v {
		if a == alg {
			return true
		}
	}
	return false
}

// AppendNonceCapable appends an option 145 value listing algs.
func AppendNonceCapable(dst []byte, algs ...uint8) []byte { return append(dst, algs...) }
