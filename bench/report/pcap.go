package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// DHCP message types (RFC 2132 §9.6) the latency pairing needs.
const (
	msgDiscover = 1
	msgOffer    = 2
	msgRequest  = 3
	msgAck      = 5
)

// ackLatencies reads a classic pcap capture (tcpdump -w, Ethernet link
// type, µs or ns timestamps, either byte order) of DHCPv4 traffic and
// returns, for every transaction id whose REQUEST was answered by an ACK,
// the time from the first REQUEST to the first ACK seen on the wire.
func ackLatencies(r io.Reader) ([]time.Duration, error) {
	lat, err := latencies(r, msgRequest, msgAck)
	if err != nil {
		return nil, err
	}
	return lat[0], nil
}

// latencies is ackLatencies for any pairs of a client message type and
// the server's answer (e.g. DISCOVER→OFFER and REQUEST→ACK in one pass):
// lat[i] holds the latencies of pairs[i].
func latencies(r io.Reader, pairs ...byte) (lat [][]time.Duration, err error) {
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return nil, errors.New("pcap: want message type pairs")
	}
	np := len(pairs) / 2
	lat = make([][]time.Duration, np)
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return nil, fmt.Errorf("pcap: global header: %w", err)
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(gh[0:4]) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nano = binary.BigEndian, true
	default:
		return nil, errors.New("pcap: not a classic pcap file (pcapng is not supported)")
	}
	if lt := bo.Uint32(gh[20:24]); lt != 1 {
		return nil, fmt.Errorf("pcap: link type %d, want 1 (Ethernet)", lt)
	}
	type key struct {
		pair int
		xid  uint32
	}
	requests := map[key]time.Duration{}
	acked := map[key]bool{}
	var rh [16]byte
	buf := make([]byte, 0, 2048)
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, io.ErrUnexpectedEOF) { // capture cut short by the stop signal
				break
			}
			return nil, fmt.Errorf("pcap: record header: %w", err)
		}
		sec, frac, incl := bo.Uint32(rh[0:4]), bo.Uint32(rh[4:8]), bo.Uint32(rh[8:12])
		if incl > 1<<18 {
			return nil, fmt.Errorf("pcap: record of %d bytes", incl)
		}
		buf = slices.Grow(buf[:0], int(incl))[:incl]
		if _, err := io.ReadFull(r, buf); err != nil {
			break // torn last record
		}
		ts := time.Duration(sec) * time.Second
		if nano {
			ts += time.Duration(frac)
		} else {
			ts += time.Duration(frac) * time.Microsecond
		}
		xid, typ, ok := dhcpOf(buf)
		if !ok {
			continue
		}
		for i := range np {
			k := key{i, xid}
			switch typ {
			case pairs[2*i]:
				if _, seen := requests[k]; !seen {
					requests[k] = ts
				}
			case pairs[2*i+1]:
				if t0, seen := requests[k]; seen && !acked[k] {
					acked[k] = true
					lat[i] = append(lat[i], ts-t0)
				}
			}
		}
	}
	return lat, nil
}

// dhcpOf finds the transaction id and message type (option 53) of an
// Ethernet/IPv4/UDP DHCPv4 frame.
func dhcpOf(f []byte) (xid uint32, typ byte, ok bool) {
	if len(f) < 14 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		return 0, 0, false
	}
	ip := f[14:]
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
		return 0, 0, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl+8 {
		return 0, 0, false
	}
	d := ip[ihl+8:]
	// op, htype, hlen, hops, xid(4), ..., magic cookie at 236 (RFC 2131 §3).
	if len(d) < 240 || binary.BigEndian.Uint32(d[236:240]) != 0x63825363 {
		return 0, 0, false
	}
	xid = binary.BigEndian.Uint32(d[4:8])
	opts := d[240:]
	for i := 0; i < len(opts); {
		code := opts[i]
		switch code {
		case 0:
			i++
			continue
		case 255:
			return 0, 0, false
		}
		if i+1 >= len(opts) {
			return 0, 0, false
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return 0, 0, false
		}
		if code == 53 && n == 1 {
			return xid, opts[i+2], true
		}
		i += 2 + n
	}
	return 0, 0, false
}

// percentile returns the nearest-rank q-quantile (0 < q ≤ 1) of d, or
// NaN milliseconds when d is empty; d is sorted in place.
func percentileMs(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	slices.Sort(d)
	i := int(math.Ceil(q*float64(len(d)))) - 1
	i = max(0, min(i, len(d)-1))
	return float64(d[i]) / float64(time.Millisecond)
}

// latencyLine describes a distribution of latencies: count and the p50,
// p90, p99, p99.9 and maximum in ms.
func latencyLine(d []time.Duration) string {
	if len(d) == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f max=%.3f", len(d),
		percentileMs(d, 0.5), percentileMs(d, 0.9), percentileMs(d, 0.99), percentileMs(d, 0.999), percentileMs(d, 1))
}
