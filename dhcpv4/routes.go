package dhcpv4

import (
	"net/netip"
	"strconv"
)

// Route is one classless static route (RFC 3442). A zero-length Dest is
// the default route.
type Route struct {
	Dest   netip.Prefix
	Router netip.Addr
}

// ParseClasslessRoutes decodes option 121 (RFC 3442 §3): per route a width
// byte (0..32), the significant octets of the destination, and the router.
func ParseClasslessRoutes(v []byte) ([]Route, error) {
	var routes []Route
	for i := 0; i < len(v); {
		w := int(v[i])
		if w > 32 {
			return nil, &DecodeError{Field: "option 121", Offset: i, Kind: ErrBadValue,
				Reason: "prefix width " + strconv.Itoa(w) + " exceeds 32"}
		}
		sig := (w + 7) / 8
		if i+1+sig+4 > len(v) {
			return nil, &DecodeError{Field: "option 121", Offset: i, Kind: ErrOptionOverrun,
				Reason: "route runs past end of option (len " + strconv.Itoa(len(v)) + ")"}
		}
		var d [4]byte
		copy(d[:], v[i+1:i+1+sig])
		p, err := netip.AddrFrom4(d).Prefix(w) // masks stray host bits
		if err != nil {
			return nil, &DecodeError{Field: "option 121", Offset: i, Kind: ErrBadValue, Reason: err.Error()}
		}
		r := netip.AddrFrom4([4]byte(v[i+1+sig:]))
		routes = append(routes, Route{Dest: p, Router: r})
		i += 1 + sig + 4
	}
	return routes, nil
}

// AppendClasslessRoutes appends the option 121 value for routes to dst.
func AppendClasslessRoutes(dst []byte, routes []Route) ([]byte, error) {
	for _, r := range routes {
		if !r.Dest.Addr().Is4() || !r.Router.Is4() {
			return dst, &EncodeError{Field: "option 121", Reason: "route " + r.Dest.String() + " via " + r.Router.String() + " is not IPv4"}
		}
		w := r.Dest.Bits()
		d := r.Dest.Masked().Addr().As4()
		g := r.Router.As4()
		dst = append(dst, byte(w))
		dst = append(dst, d[:(w+7)/8]...)
		dst = append(dst, g[:]...)
	}
	return dst, nil
}
