package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/leased/leased/dhcpv6"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/store"
)

// duidBlobKey is the key of the server DUID blob (store.BlobServerDUID).
var duidBlobKey = []byte("server-duid")

// newServerDUID makes a DUID-UUID (RFC 6355 §4; RFC 8415 §11.5) from a
// random version 4 UUID (RFC 9562 §5.4). It does not depend on any
// interface, so it stays valid when hardware changes (RFC 8415 §11: a
// DUID "SHOULD NOT change over time").
func newServerDUID() []byte {
	d := make([]byte, 18)
	binary.BigEndian.PutUint16(d, uint16(dhcpv6.DUIDUUID))
	rand.Read(d[2:])
	d[2+6] = d[2+6]&0x0f | 0x40 // version 4
	d[2+8] = d[2+8]&0x3f | 0x80 // variant 10
	return d
}

// noteBlob6 takes the server DUID from a recovered blob (called for
// every blob by initCampaigns), and the runtime reservations
// (reservations.go). It reports whether b was one of them.
func (s *Server) noteBlob6(b store.Blob) bool {
	if s.noteReservationBlob(b) {
		return true
	}
	if b.Kind != store.BlobServerDUID {
		return false
	}
	if err := dhcpv6.DUID(b.Value).Validate(); err != nil {
		s.log.Error("stored server DUID is invalid; ignored", "err", err)
		return true
	}
	s.loadedDUID = append([]byte(nil), b.Value...)
	return true
}

// ensureDUID makes the DHCPv6 service's DUID the persisted one, or makes
// and persists a new one (durable before the first Advertise carries it).
func (s *Server) ensureDUID(ctx context.Context) error {
	if s.loadedDUID != nil {
		s.v6.duid = s.loadedDUID
		s.log.Debug("dhcpv6 server DUID loaded", "duid", dhcpv6.DUID(s.loadedDUID).String())
		return nil
	}
	d := newServerDUID()
	if e, ok := s.st.(interface {
		EnsureBlob(ctx context.Context, kind uint8, key, value []byte) ([]byte, error)
	}); ok {
		// A shared database (PostgreSQL): the first server's DUID is
		// every server's, even when several start at once. A client's
		// Renew names its server's DUID, which a server with another must
		// ignore (RFC 8415 §16.6; docs/cluster.md "Campaigns").
		got, err := e.EnsureBlob(ctx, store.BlobServerDUID, duidBlobKey, d)
		if err != nil {
			return fmt.Errorf("server: persist the DHCPv6 server DUID: %w", err)
		}
		if !bytes.Equal(got, d) {
			s.loadedDUID, s.v6.duid = got, got
			s.log.Info("dhcpv6 server DUID loaded: another server sharing the database created it", "duid", dhcpv6.DUID(got).String())
			return nil
		}
	} else if err := s.st.CommitBlobs(ctx, []store.Blob{{Kind: store.BlobServerDUID, Key: duidBlobKey, Value: d}}); err != nil {
		return fmt.Errorf("server: persist the DHCPv6 server DUID: %w", err)
	}
	s.loadedDUID = d
	s.v6.duid = d
	s.log.Info("dhcpv6 server DUID created", "duid", dhcpv6.DUID(d).String())
	return nil
}

// allBlobs yields every blob a compaction must keep: the server DUID and
// the campaign state and the runtime reservations.
func (s *Server) allBlobs() iter.Seq[store.Blob] {
	return func(yield func(store.Blob) bool) {
		if s.loadedDUID != nil {
			if !yield(store.Blob{Kind: store.BlobServerDUID, Key: duidBlobKey, Value: s.loadedDUID}) {
				return
			}
		}
		for b := range s.campaignBlobs() {
			if !yield(b) {
				return
			}
		}
		for b := range s.reservationBlobs() {
			if !yield(b) {
				return
			}
		}
	}
}

// allLeases yields the records of both engines and the held records of a
// family that is not configured (compaction).
func (s *Server) allLeases() iter.Seq[lease.Lease] {
	return func(yield func(lease.Lease) bool) {
		for _, l := range s.opts.Held {
			if !yield(l) {
				return
			}
		}
		for l := range s.eng.All() {
			if !yield(l) {
				return
			}
		}
		if s.v6 != nil {
			for l := range s.v6.eng.All() {
				if !yield(l) {
					return
				}
			}
		}
	}
}
