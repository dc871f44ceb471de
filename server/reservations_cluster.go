package server

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/leased/leased/api"
	"github.com/leased/leased/store"
)

// Runtime reservations in a cluster (issue #12, docs/cluster.md): the
// reservation blobs are rows of the shared database, written by whichever
// server took the API call. Every heartbeat each server compares the
// rows' fingerprint (count and highest seq of the kind,
// postgres.Store.BlobsSignature: one indexed query) with the one it last
// applied and, when it moved, reads the rows and re-merges its engines'
// configuration with them — so a reservation added or deleted through any
// server is in force on all of them within a heartbeat.

// resSig is the fingerprint of the reservation rows last applied.
type resSig struct {
	n, seq int64
	ok     bool
}

// clusterReservations is the heartbeat's reservation step. It holds
// s.res.mu throughout, so an add or delete through this server is either
// in the rows it reads or waits for it to finish.
func (s *Server) clusterReservations(ctx context.Context) {
	cs := s.cluster
	if cs == nil || cs.st.Fenced() || ctx.Err() != nil {
		return
	}
	rs := &s.res
	rs.mu.Lock()
	defer rs.mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, cs.opTimeout())
	defer cancel()
	n, seq, err := cs.st.BlobsSignature(octx, store.BlobReservation)
	if err != nil {
		s.log.Warn("cluster: read the runtime reservations' version", "err", err)
		return
	}
	if cs.resSig.ok && cs.resSig.n == n && cs.resSig.seq == seq {
		return
	}
	blobs, n, seq, err := cs.st.BlobsOf(octx, store.BlobReservation)
	if err != nil {
		s.log.Warn("cluster: read the runtime reservations", "err", err)
		return
	}
	var list []api.Reservation
	for _, b := range blobs {
		if r, ok := s.decodeReservationBlob(b); ok {
			list = append(list, r)
		}
	}
	changed4, changed6 := !sameReservations(rs.runtime, list, 4), !sameReservations(rs.runtime, list, 6)
	if changed4 || changed6 {
		old := rs.runtime
		rs.runtime = list
		var aerr error
		if changed4 && rs.base4 != nil {
			aerr = s.apply4()
		}
		if changed6 && rs.base6 != nil && s.v6 != nil && aerr == nil {
			aerr = s.apply6()
		}
		if aerr != nil {
			// The engine refused the merge (a bug: merges leave out what
			// does not fit): keep the previous list, retry next time.
			rs.runtime = old
			s.log.Error("cluster: apply the runtime reservations of the database", "err", aerr)
			return
		}
		s.log.Info("cluster: runtime reservations changed in the database; applied", "reservations", len(list),
			"dhcpv4", changed4, "dhcpv6", changed6)
	}
	cs.resSig = resSig{n: n, seq: seq, ok: true}
}

// sameReservations reports whether a and b hold the same reservations of
// family, in the same order (Source, Pool and Problem aside: they are
// derived).
func sameReservations(a, b []api.Reservation, family int) bool {
	enc := func(l []api.Reservation) [][]byte {
		var out [][]byte
		for _, r := range l {
			if r.Family != family {
				continue
			}
			r.Source, r.Pool, r.Problem = "", "", ""
			v, _ := json.Marshal(r)
			out = append(out, v)
		}
		return out
	}
	return slices.EqualFunc(enc(a), enc(b), func(x, y []byte) bool { return string(x) == string(y) })
}
