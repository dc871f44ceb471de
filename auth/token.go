package auth

import (
	"crypto/subtle"

	"github.com/leased/leased/dhcpv4"
)

// AuthAlgToken is the algorithm number of the configuration token
// protocol (RFC 3118 §4: algorithm 0).
const AuthAlgToken uint8 = 0

// TokenOption is option 90 for RFC 3118 §4 configuration-token
// authentication: protocol 0, algorithm 0, RDM 0, the replay detection
// value and the token in clear. RFC 3118 requires it in every message of
// an authenticated exchange (for a server: every OFFER, ACK and NAK).
// Info aliases token. The token must be at most 244 bytes to fit one
// option (dhcpv4.Writer.OptionAuth reports the error otherwise).
func TokenOption(token []byte, replay uint64) dhcpv4.Auth {
	return dhcpv4.Auth{
		Protocol:        dhcpv4.AuthProtoConfigToken,
		Algorithm:       AuthAlgToken,
		RDM:             dhcpv4.AuthRDMMonotonic,
		ReplayDetection: replay,
		Info:            token,
	}
}

// VerifyToken checks option 90 of m against the configured token: protocol
// 0, algorithm 0, RDM 0, a replay detection value greater than last (0
// when nothing was seen from this peer) and the token, compared in
// constant time (the length is not secret). An empty token never matches. It returns the replay
// detection value on success. Token authentication only protects against
// inadvertently instantiated servers or clients (RFC 3118 §4): the token
// travels in clear.
func VerifyToken(m *dhcpv4.Message, token []byte, last uint64) (uint64, error) {
	v, ok := m.Option(dhcpv4.OptAuthentication)
	if !ok {
		return 0, fail(ErrNoAuth, 0, 0)
	}
	a, err := dhcpv4.ParseAuth(v)
	switch {
	case err != nil:
		return 0, fail(ErrMalformed, 0, 0)
	case a.Protocol != dhcpv4.AuthProtoConfigToken:
		return 0, fail(ErrProtocol, uint64(a.Protocol), uint64(dhcpv4.AuthProtoConfigToken))
	case a.Algorithm != AuthAlgToken:
		return 0, fail(ErrAlgorithm, uint64(a.Algorithm), uint64(AuthAlgToken))
	case a.RDM != dhcpv4.AuthRDMMonotonic:
		return 0, fail(ErrRDM, uint64(a.RDM), uint64(dhcpv4.AuthRDMMonotonic))
	case a.ReplayDetection <= last:
		// RFC 3118 §2 (erratum 3474): strictly increasing counter.
		return 0, fail(ErrReplay, a.ReplayDetection, last)
	case len(token) == 0 || subtle.ConstantTimeCompare(a.Info, token) != 1:
		return 0, fail(ErrToken, 0, 0)
	}
	return a.ReplayDetection, nil
}
