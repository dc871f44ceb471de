package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/leased/leased/lease"
)

// CorruptError reports damage or loss that recovery will not accept on its
// own: a bad record followed by valid ones, a bad record in a segment that
// is not the last, a damaged snapshot, a file missing from the chain
// snapshot → first segment → … → last segment.
type CorruptError struct {
	Path string
	// Offset is where the damage starts; -1 when the whole file is at
	// issue (missing, or not part of the log).
	Offset int64
	Reason string
	// Hint says how the operator overrides the refusal (Options.OverrideHint).
	Hint string
}

// DefaultOverrideHint ends a CorruptError when Options.OverrideHint is empty.
const DefaultOverrideHint = "restore every file of the data directory from one backup, or set store.allow_data_loss: true in the configuration file for one start to accept losing these records"

func (e *CorruptError) Error() string {
	hint := e.Hint
	if hint == "" {
		hint = DefaultOverrideHint
	}
	if e.Offset < 0 {
		return fmt.Sprintf("wal: %s: %s (%s)", e.Path, e.Reason, hint)
	}
	return fmt.Sprintf("wal: %s: corrupt at offset %d: %s (%s)", e.Path, e.Offset, e.Reason, hint)
}

// span is a byte range [from, to) of a file that recovery skipped.
type span struct{ from, to int64 }

// recFile is one file recovery read, and how far.
type recFile struct {
	path  string
	num   uint64
	snap  bool
	valid int64 // frames lie in [headerSize, valid)
	skips []span
	// leases counts the lease records read from the file (frames in
	// skips excluded): a record's ordinal is its place among them.
	leases uint32
	// wins has bit i set when lease record i of the file is the winning
	// record of its address (set by settle).
	wins []uint64
}

// loc is where the winning record of an address lies: the ordinal of the
// record among the lease records of its file.
type loc struct {
	seq  uint64
	file int32
	ord  uint32
	dead bool
}

// recovered is the outcome of recovery, kept until Load: which record of
// which file wins for every address. During recovery an index maps each
// address to its winning record (DHCPv4 addresses by their 4 bytes, a
// fast map key, DHCPv6 ones by their 16); settle then turns it into one
// bit per lease record of each file and drops it, so what is kept until
// Load is ~1 bit per record, and Load reads the files again in order
// without a lookup per record. Records are read again by Load rather than
// held decoded (the engine is the in-memory index).
type recovered struct {
	files  []recFile
	index4 map[uint32]loc
	index6 map[[16]byte]loc
	live   int // live addresses (deleted ones excluded), after settle
	// snap4 holds the first record of each DHCPv4 address in the
	// snapshot instead of index4: a list and a bitmap of the addresses
	// seen cost a fraction of a map insert per record. Every later record
	// of an address (a repeat in the snapshot, which leased never writes,
	// or a segment's record) goes to index4, and settle compares the two.
	snap4 []snapEnt
	seen  seenSet
}

// snapEnt is a DHCPv4 record of the snapshot (file 0 of the recovery).
type snapEnt struct {
	seq  uint64
	addr uint32
	ord  uint32 // ordinal; the top bit: a tombstone
}

const snapDead = 1 << 31

// seenSet is a set of IPv4 addresses in 256-address blocks. The block
// last used is kept aside: a snapshot lists addresses in the order the
// engine keeps them, mostly consecutive.
type seenSet struct {
	m     map[uint32]*[4]uint64
	lastK uint32
	last  *[4]uint64
}

// add adds a and reports whether it was already present.
func (s *seenSet) add(a uint32) bool {
	k := a >> 8
	c := s.last
	if c == nil || k != s.lastK {
		if s.m == nil {
			s.m = make(map[uint32]*[4]uint64)
		}
		if c = s.m[k]; c == nil {
			c = new([4]uint64)
			s.m[k] = c
		}
		s.last, s.lastK = c, k
	}
	w, bit := (a&255)>>6, uint64(1)<<(a&63)
	had := c[w]&bit != 0
	c[w] |= bit
	return had
}

// settle marks the winning record of every live address in its file's
// bitmap and releases the index.
func (rec *recovered) settle() {
	for i := range rec.files {
		f := &rec.files[i]
		f.wins = make([]uint64, (f.leases+63)/64)
	}
	mark := func(l loc) {
		if !l.dead {
			rec.files[l.file].wins[l.ord/64] |= 1 << (l.ord % 64)
			rec.live++
		}
	}
	// The first snapshot record of an address loses to the winner of its
	// later records (index4: repeats in the snapshot, then the segments)
	// when that has the same or a higher Seq (a later position wins a
	// tie), as if it had gone through index4 first.
	for _, e := range rec.snap4 {
		if l, ok := rec.index4[e.addr]; ok {
			if l.seq >= e.seq {
				continue
			}
			delete(rec.index4, e.addr)
		}
		mark(loc{seq: e.seq, file: 0, ord: e.ord &^ snapDead, dead: e.ord&snapDead != 0})
	}
	rec.snap4, rec.seen = nil, seenSet{}
	for _, l := range rec.index4 {
		mark(l)
	}
	for _, l := range rec.index6 {
		mark(l)
	}
	rec.index4, rec.index6 = nil, nil
}

// blobEnt is the last version of one blob key seen by recovery. Blobs are
// few and small (campaign state), so they are kept decoded.
type blobEnt struct {
	pos   uint64 // order of the write: snapshot first, then segments
	kind  uint8
	key   string
	value []byte // empty: tombstone
}

// recoveredBlobs maps kind+key to the last version.
type recoveredBlobs map[string]blobEnt

// recovery is the state of one Open's recovery pass.
type recovery struct {
	dir   string
	allow bool
	hint  string
	log   *slog.Logger
	rec   recovered
	blobs recoveredBlobs
	bpos  uint64

	man     manifest // MANIFEST as found
	manOK   bool     // a valid MANIFEST was found
	legacy  bool     // no MANIFEST and no linked segment: written before manifests
	lost    []string // damage or missing files accepted (allow): what was lost
	first   uint64   // the oldest segment of the recovered chain (0: none)
	nextSeg uint64   // the number the next new segment gets

	snapNum      uint64 // 0: no snapshot
	maxSeen      uint64 // highest segment number seen, stale or not
	tailSeg      bool   // a replayed last segment remains, tailNum, valid to tailValid
	tailNum      uint64
	tailValid    int64
	segBytes     int64 // bytes in replayed segments
	segRecords   int64 // records in replayed segments
	staleRemoved []string
}

// corrupt returns a CorruptError, or nil after logging it when the
// operator allowed data loss. off < 0: the whole file.
func (r *recovery) corrupt(path string, off int64, reason string) error {
	err := &CorruptError{Path: path, Offset: off, Reason: reason, Hint: r.hint}
	if !r.allow {
		return err
	}
	r.log.Error("wal: SKIPPING CORRUPT DATA or a missing file, its records are lost (store.allow_data_loss is set)",
		"file", path, "offset", off, "reason", reason)
	r.lost = append(r.lost, fmt.Sprintf("%s: %s", filepath.Base(path), reason))
	return nil
}

// addBlob decodes a blob payload and makes it the key's last version.
func (r *recovery) addBlob(p []byte) error {
	b, err := decodeBlob(p)
	if err != nil {
		return err
	}
	r.bpos++
	k := string(append([]byte{b.Kind}, b.Key...))
	r.blobs[k] = blobEnt{pos: r.bpos, kind: b.Kind, key: k[1:], value: append([]byte(nil), b.Value...)}
	return nil
}

// add records that lease record f.leases of file fi (the next one) holds
// seq for address a.
func (r *recovery) add(st lease.State, seq uint64, a netip.Addr, fi int32, f *recFile) {
	l := loc{seq: seq, file: fi, ord: f.leases, dead: st == lease.StateDeleted}
	f.leases++
	// Equal Seq: the later position wins (the same record written twice).
	if a.Is4() {
		b := a.As4()
		k := binary.BigEndian.Uint32(b[:])
		if f.snap && l.ord < snapDead && !r.rec.seen.add(k) {
			e := snapEnt{seq: seq, addr: k, ord: l.ord}
			if l.dead {
				e.ord |= snapDead
			}
			r.rec.snap4 = append(r.rec.snap4, e)
			return
		}
		m := r.rec.index4
		if cur, ok := m[k]; ok && cur.seq > seq {
			return
		}
		m[k] = l
		return
	}
	k := a.As16()
	if cur, ok := r.rec.index6[k]; ok && cur.seq > seq {
		return
	}
	r.rec.index6[k] = l
}

// snapshotCount returns the record count of a snapshot's end marker, the
// last frame of data, or 0 when there is none. It is only a size hint:
// recovery checks the marker again when it reaches it.
func snapshotCount(data []byte) int {
	for n := 1; n <= binary.MaxVarintLen64; n++ {
		off := len(data) - frameHeaderSize - n
		if off < headerSize {
			break
		}
		if k, p, size, st := parseFrame(data[off:]); st == frameOK && k == kindSnapEnd && size == frameHeaderSize+n {
			if c, m := binary.Uvarint(p); m == n && c < uint64(len(data)) {
				return int(c)
			}
		}
	}
	return 0
}

// findFrame returns the offset of the first intact frame at or after from,
// or -1. Cheap checks (length, kind) come before the checksum so that
// scanning garbage or zero fill stays fast.
func findFrame(data []byte, from int64) int64 {
	for o := from; o+frameHeaderSize <= int64(len(data)); o++ {
		n := int64(binary.LittleEndian.Uint32(data[o:]))
		if n == 0 || n > maxPayload || o+frameHeaderSize+n > int64(len(data)) || !Kind(data[o+8]).known() {
			continue
		}
		if _, _, _, st := parseFrame(data[o:]); st == frameOK {
			return o
		}
	}
	return -1
}

// scan walks the frames of data[headerSize:limit]. visit returns an error
// for a frame whose checksum is right but whose content is not (that is
// corruption, never a torn write). tail says the file is the last segment,
// whose damaged end (nothing intact after the damage) is torn, not corrupt:
// scan then returns tornAt >= 0 and the caller truncates. In the last
// segment, where only zeros remain the log ends: the preallocated space
// no record reached yet. Not in another segment: its successor's header
// says how far it was durable (the limit), so zeros before that are
// damage, and what lies after the limit is never scanned.
func (r *recovery) scan(f *recFile, data []byte, limit int64, tail bool, visit func(Kind, []byte, int64) error) (tornAt int64, err error) {
	off := int64(headerSize)
	for off < limit {
		if tail && data[off] == 0 && zeroFrom(data[off:limit]) == 0 {
			f.valid = off
			return -1, nil
		}
		k, p, n, st := parseFrame(data[off:limit])
		if st == frameOK {
			if verr := visit(k, p, off); verr != nil {
				if err := r.corrupt(f.path, off, verr.Error()); err != nil {
					return -1, err
				}
				f.skips = append(f.skips, span{off, off + int64(n)})
			}
			off += int64(n)
			continue
		}
		next := findFrame(data[:limit], off+1)
		if next < 0 && tail {
			f.valid = off
			return off, nil
		}
		reason := st.String()
		if next >= 0 {
			reason = fmt.Sprintf("%s; intact records follow at offset %d", reason, next)
		} else {
			reason = fmt.Sprintf("%s in a file that is not the last segment", reason)
		}
		if err := r.corrupt(f.path, off, reason); err != nil {
			return -1, err
		}
		if next < 0 {
			f.valid = off
			return -1, nil
		}
		f.skips = append(f.skips, span{off, next})
		off = next
	}
	f.valid = limit
	return -1, nil
}

// segInfo is what recovery knows of a segment before replaying it.
type segInfo struct {
	num  uint64
	size int64
	hdr  fileHeader
	err  error // the header is missing or invalid
}

// pred returns the predecessor a linked header names: a segment
// (snap false) or a snapshot number.
func (s *segInfo) pred() (n uint64, snap bool, err error) {
	switch s.hdr.link {
	case linkSegment, linkSnapshot:
		if uint64(s.hdr.dist) > s.num || (s.hdr.link == linkSegment && s.hdr.dist == 0) {
			return 0, false, fmt.Errorf("header links to %s %d before segment %d", map[bool]string{true: "snapshot", false: "segment"}[s.hdr.link == linkSnapshot], s.hdr.dist, s.num)
		}
		return s.num - uint64(s.hdr.dist), s.hdr.link == linkSnapshot, nil
	}
	return 0, false, nil
}

// empty reports whether the segment at path holds nothing after its
// header but zeros (the preallocated space of a segment created and never
// written to). It reads the whole file: only for the rare segments whose
// use is in question.
func (s *segInfo) empty(path string) bool {
	data, release, err := mapFile(path)
	if err != nil {
		return false
	}
	defer release()
	return len(data) >= headerSize && zeroFrom(data[headerSize:]) == 0
}

func readSegInfo(path string, num uint64) (*segInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	s := &segInfo{num: num, size: st.Size()}
	b := make([]byte, headerSize)
	n, _ := f.ReadAt(b, 0)
	s.hdr, s.err = parseFileHeader(b[:n], magicSegment)
	return s, nil
}

// recoverDir reads the newest snapshot and the segments after it, proves
// that they form an unbroken chain (see chain), repairs a torn tail, and
// lists files a finished compaction left behind.
func recoverDir(dir string, allow bool, hint string, log *slog.Logger) (*recovery, error) {
	r := &recovery{dir: dir, allow: allow, hint: hint, log: log}
	r.rec.index4 = make(map[uint32]loc)
	r.rec.index6 = make(map[[16]byte]loc)
	r.blobs = make(recoveredBlobs)
	df, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	for _, t := range df.tmps { // an interrupted compaction or manifest update
		if err := os.Remove(t); err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		r.staleRemoved = append(r.staleRemoved, t)
	}
	manPath := filepath.Join(dir, manifestName)
	m, ok, bad, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	damaged := bad != nil
	if damaged {
		if err := r.corrupt(manPath, -1, "damaged: "+bad.Error()); err != nil {
			return nil, err
		}
	}
	r.man, r.manOK = m, ok
	if n := len(df.snapshots); n > 0 {
		r.snapNum = df.snapshots[n-1]
		for _, s := range df.snapshots[:n-1] {
			r.staleRemoved = append(r.staleRemoved, filepath.Join(dir, snapName(s)))
		}
	}
	segs := make(map[uint64]*segInfo)
	var nums []uint64 // segments from the snapshot on, ascending
	linked := false
	for _, s := range df.segments {
		r.maxSeen = max(r.maxSeen, s)
		if s < r.snapNum {
			r.staleRemoved = append(r.staleRemoved, filepath.Join(dir, segName(s)))
			continue
		}
		si, err := readSegInfo(filepath.Join(dir, segName(s)), s)
		if err != nil {
			return nil, err
		}
		segs[s] = si
		nums = append(nums, s)
		linked = linked || (si.err == nil && si.hdr.link != linkNone)
	}
	r.legacy = !ok && !damaged && !linked
	switch {
	case r.legacy && len(df.segments)+len(df.snapshots) > 0:
		log.Info("wal: no MANIFEST: a store written by an older leased; trusting the files present once and writing one",
			"dir", dir, "snapshot", r.snapNum, "segments", len(nums))
	case !ok && !damaged && !r.legacy:
		if err := r.corrupt(manPath, -1, "missing, although the segments were written by a leased that keeps one: cannot prove that no newer segment or snapshot was lost"); err != nil {
			return nil, err
		}
	}
	if ok && m.snap > r.snapNum {
		newest := "none is present"
		if r.snapNum > 0 {
			newest = "the newest present is " + snapName(r.snapNum)
		}
		if err := r.corrupt(filepath.Join(dir, snapName(m.snap)), -1, fmt.Sprintf("missing: MANIFEST records snapshot %d as the newest written; %s", m.snap, newest)); err != nil {
			return nil, err
		}
	}
	// Segments created just before a crash and never written to: a
	// segment the manifest does not name never received a commit (the
	// manifest names a segment before anything is appended to it).
	for len(nums) > 0 {
		top := segs[nums[len(nums)-1]]
		path := filepath.Join(dir, segName(top.num))
		neverUsed := false
		switch {
		case r.legacy:
			neverUsed = top.size < headerSize // the rule before manifests
		case ok:
			neverUsed = top.num > m.last && (top.size <= headerSize || top.empty(path))
		}
		if !neverUsed {
			break
		}
		log.Info("wal: removing a segment created just before a crash and never written to", "file", path, "bytes", top.size)
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return nil, err
		}
		delete(segs, top.num)
		nums = nums[:len(nums)-1]
	}
	var top uint64
	if len(nums) > 0 {
		top = nums[len(nums)-1]
	}
	if ok && m.last >= max(r.snapNum, 1) && m.last > top {
		newest := "none is present"
		if top > 0 {
			newest = "the newest present is " + segName(top)
		}
		if err := r.corrupt(filepath.Join(dir, segName(m.last)), -1, fmt.Sprintf("missing: MANIFEST records segment %d as created (its header was durable before any lease was written to it); %s", m.last, newest)); err != nil {
			return nil, err
		}
	}
	chain, err := r.chain(segs, nums, top)
	if err != nil {
		return nil, err
	}
	if r.snapNum != 0 {
		if err := r.readSnapshot(filepath.Join(dir, snapName(r.snapNum))); err != nil {
			return nil, err
		}
	}
	if err := r.readSegments(segs, chain); err != nil {
		return nil, err
	}
	r.nextSeg = max(r.snapNum, r.maxSeen+1)
	if ok {
		r.nextSeg = max(r.nextSeg, m.last+1)
	}
	r.rec.settle()
	for k, b := range r.blobs {
		if len(b.value) == 0 {
			delete(r.blobs, k)
		}
	}
	return r, nil
}

// chain walks back from the newest segment, top, along the predecessors
// the segment headers name, to the newest snapshot (the segment with its
// number), to the first segment of an empty store, or, for version 1
// segments, to the lowest present. It returns the segments to replay,
// oldest first. A missing predecessor is a gap: recovery refuses unless
// allowed, and then goes on with the next lower segment present. Segments
// off the chain hold nothing (a creation that failed); they are removed.
func (r *recovery) chain(segs map[uint64]*segInfo, nums []uint64, top uint64) ([]uint64, error) {
	path := func(n uint64) string { return filepath.Join(r.dir, segName(n)) }
	below := func(n uint64) uint64 { // the next lower segment present
		i := sort.Search(len(nums), func(i int) bool { return nums[i] >= n })
		if i == 0 {
			return 0
		}
		return nums[i-1]
	}
	var chain []uint64
	for cur := top; cur != 0; {
		s := segs[cur]
		if s.err != nil {
			reason := s.err.Error()
			if r.manOK && cur <= r.man.last {
				reason += fmt.Sprintf("; MANIFEST records this segment as created, so its header was durable: the file was truncated or overwritten (%d bytes) and its leases are lost", s.size)
			}
			if err := r.corrupt(path(cur), 0, reason); err != nil {
				return nil, err
			}
			cur = below(cur)
			continue
		}
		chain = append(chain, cur)
		if r.snapNum != 0 && cur == r.snapNum {
			r.first = cur
			break
		}
		p, _, err := s.pred()
		if err != nil {
			if err := r.corrupt(path(cur), 0, err.Error()); err != nil {
				return nil, err
			}
			cur = below(cur)
			continue
		}
		var gapPath, reason string
		switch s.hdr.link {
		case linkSegment:
			switch {
			case p < r.snapNum:
				gapPath, reason = path(r.snapNum), fmt.Sprintf("missing: %s continues into it, and %s continues from segment %d before it", snapName(r.snapNum), segName(cur), p)
			case segs[p] == nil:
				gapPath, reason = path(p), fmt.Sprintf("missing: %s continues from it", segName(cur))
				if r.snapNum == 0 {
					reason += " and no snapshot covers it"
				}
			default:
				cur = p
				continue
			}
		case linkSnapshot:
			if p == r.snapNum {
				r.first = cur
				return reverse(chain), r.offChain(segs, nums, chain)
			}
			gapPath, reason = filepath.Join(r.dir, snapName(p)), fmt.Sprintf("missing: %s continues from it", segName(cur))
		case linkEmpty:
			if r.snapNum == 0 {
				r.first = cur
				return reverse(chain), r.offChain(segs, nums, chain)
			}
			gapPath, reason = path(cur), fmt.Sprintf("starts an empty store, but %s is older: the files come from different stores", snapName(r.snapNum))
		default: // version 1: the segment numbered one less, if any
			switch {
			case segs[cur-1] != nil:
				cur--
				continue
			case r.snapNum != 0:
				gapPath, reason = path(cur-1), fmt.Sprintf("missing: segments %d to %d must follow %s", r.snapNum, cur, snapName(r.snapNum))
			case r.manOK && r.man.first != 0 && cur > r.man.first:
				gapPath, reason = path(cur-1), fmt.Sprintf("missing: MANIFEST records the log as starting at %s", segName(r.man.first))
			default: // the oldest segment present starts the log
				r.first = cur
				return reverse(chain), r.offChain(segs, nums, chain)
			}
		}
		if err := r.corrupt(gapPath, -1, reason); err != nil {
			return nil, err
		}
		cur = below(cur)
	}
	if len(chain) > 0 && r.first == 0 {
		r.first = chain[len(chain)-1]
	}
	return reverse(chain), r.offChain(segs, nums, chain)
}

// offChain removes the segments that are not on the chain and hold no
// records: left by a segment creation that failed. One holding records is
// corruption (a file from elsewhere).
func (r *recovery) offChain(segs map[uint64]*segInfo, nums, chain []uint64) error {
	on := make(map[uint64]bool, len(chain))
	for _, n := range chain {
		on[n] = true
	}
	removed := false
	for _, n := range nums {
		s := segs[n]
		if on[n] || (s.err != nil && r.allow) {
			continue
		}
		path := filepath.Join(r.dir, segName(n))
		if s.size > headerSize && !s.empty(path) {
			if err := r.corrupt(path, -1, "holds records but is not part of the log: no later segment continues from it"); err != nil {
				return err
			}
			continue
		}
		r.log.Info("wal: removing an empty segment left by a failed segment creation", "file", path)
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		removed = true
	}
	if removed {
		return syncDir(r.dir)
	}
	return nil
}

func reverse(s []uint64) []uint64 {
	slices.Reverse(s)
	return s
}

func (r *recovery) readSnapshot(path string) error {
	data, release, err := mapFile(path)
	if err != nil {
		return err
	}
	defer release()
	if _, err := parseHeader(data, magicSnapshot); err != nil {
		if err := r.corrupt(path, 0, err.Error()); err != nil {
			return err
		}
		return nil
	}
	if len(r.rec.files) != 0 {
		return fmt.Errorf("wal: %s: snapshot read after other files", path) // recoverDir reads it first
	}
	if n := snapshotCount(data); n > 0 {
		// Presize: growing a list of a million records copies it about
		// thirty times.
		r.rec.snap4 = make([]snapEnt, 0, n)
	}
	fi := int32(len(r.rec.files))
	f := recFile{path: path, num: r.snapNum, snap: true}
	var count uint64
	ended := false
	_, err = r.scan(&f, data, int64(len(data)), false, func(k Kind, p []byte, off int64) error {
		if ended {
			return errors.New("record after the snapshot end marker")
		}
		switch k {
		case KindLease:
			st, seq, a, err := leaseKey(p)
			if err != nil {
				return err
			}
			r.add(st, seq, a, fi, &f)
			count++
		case KindBlob:
			if err := r.addBlob(p); err != nil {
				return err
			}
			count++
		case kindSnapEnd:
			want, n := binary.Uvarint(p)
			if n != len(p) || want != count {
				return fmt.Errorf("snapshot end marker says %d records, found %d", want, count)
			}
			ended = true
		default:
			return fmt.Errorf("record kind %d not valid in a snapshot", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !ended {
		if err := r.corrupt(path, f.valid, "snapshot has no end marker (incomplete)"); err != nil {
			return err
		}
	}
	r.rec.files = append(r.rec.files, f)
	return nil
}

// readSegments replays the chain, oldest first. A segment's successor
// records in its header how much of it was durable when the successor was
// created; bytes after that belong to a failed batch.
func (r *recovery) readSegments(segs map[uint64]*segInfo, chain []uint64) error {
	for i, n := range chain {
		last := i == len(chain)-1
		limit := int64(-1)
		if !last {
			next := segs[chain[i+1]]
			p, isSnap, err := next.pred()
			follows := err == nil && !isSnap && p == n && next.hdr.link == linkSegment ||
				next.hdr.link == linkNone && next.num == n+1
			if follows && next.hdr.prev != prevUnknown {
				limit = int64(next.hdr.prev)
			}
		}
		if err := r.readSegment(n, last, limit); err != nil {
			return err
		}
	}
	return nil
}

// readSegment replays one segment. limit, when >= 0, is the durable length
// the next segment's header recorded for this one.
func (r *recovery) readSegment(num uint64, last bool, limit int64) error {
	path := filepath.Join(r.dir, segName(num))
	data, release, err := mapFile(path)
	if err != nil {
		return err
	}
	mapped := true
	defer func() {
		if mapped {
			release()
		}
	}()
	size := int64(len(data))
	if _, err := parseHeader(data, magicSegment); err != nil {
		return r.corrupt(path, 0, err.Error()+" (changed during recovery)")
	}
	if limit >= 0 {
		switch {
		case limit > size:
			if err := r.corrupt(path, size, fmt.Sprintf("segment is %d bytes, the next segment recorded %d durable", size, limit)); err != nil {
				return err
			}
			limit = size
		case limit < size && zeroFrom(data[limit:]) > 0: // not only preallocated zeros
			r.log.Warn("wal: ignoring the end of a segment written by a failed, unacknowledged batch",
				"file", path, "offset", limit, "bytes_ignored", int64(zeroFrom(data[limit:])))
		}
	} else {
		limit = size
	}
	fi := int32(len(r.rec.files))
	f := recFile{path: path, num: num}
	tornAt, err := r.scan(&f, data, limit, last, func(k Kind, p []byte, off int64) error {
		if k == KindBlob {
			if err := r.addBlob(p); err != nil {
				return err
			}
			r.segRecords++
			return nil
		}
		if k != KindLease {
			return fmt.Errorf("record kind %d not valid in a segment", k)
		}
		st, seq, a, err := leaseKey(p)
		if err != nil {
			return err
		}
		r.add(st, seq, a, fi, &f)
		r.segRecords++
		return nil
	})
	if err != nil {
		return err
	}
	r.segBytes += f.valid
	r.rec.files = append(r.rec.files, f)
	if last {
		r.tailSeg = true
		r.tailNum, r.tailValid = num, f.valid
	}
	if tornAt >= 0 {
		// The torn bytes end where the zeros of the preallocated space
		// begin (or at the end of the file). Cutting the file there drops
		// the zeros too; the writer preallocates again.
		dropped := int64(zeroFrom(data[tornAt:]))
		release()
		mapped = false
		if err := truncate(path, tornAt); err != nil {
			return err
		}
		r.log.Warn("wal: truncated torn tail of the last segment",
			"file", path, "offset", tornAt, "bytes_dropped", dropped)
	}
	return nil
}

func truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: truncate %s to %d: %w", path, size, err)
	}
	return nil
}

// load yields the winning record of every live address, reading the files
// again in order. It trusts recovery's validation but still checks every
// frame it reads. With borrow, the yielded record's byte slices alias the
// mapped file and are valid only until fn returns (Hostname and Pool are
// always owned strings); otherwise they are fresh copies.
func (rec *recovered) load(borrow bool, fn func(*lease.Lease) error) error {
	intern := make(map[string]string)
	for i := range rec.files {
		if err := rec.loadFile(int32(i), intern, borrow, fn); err != nil {
			return err
		}
	}
	return nil
}

func (rec *recovered) loadFile(fi int32, intern map[string]string, borrow bool, fn func(*lease.Lease) error) error {
	f := &rec.files[fi]
	data, release, err := mapFile(f.path)
	if err != nil {
		return err
	}
	defer release()
	if int64(len(data)) < f.valid {
		return fmt.Errorf("wal: %s shrank from %d to %d bytes since Open", f.path, f.valid, len(data))
	}
	skips := f.skips
	var ord uint32 // ordinal of the next lease record
	var l lease.Lease
	for off := int64(headerSize); off < f.valid; {
		if len(skips) > 0 && skips[0].from == off {
			off = skips[0].to
			skips = skips[1:]
			continue
		}
		k, p, n, st := parseFrame(data[off:f.valid])
		if st != frameOK {
			return &CorruptError{Path: f.path, Offset: off, Reason: st.String() + " (changed since Open)"}
		}
		if k == KindLease {
			if ord >= f.leases {
				return &CorruptError{Path: f.path, Offset: off, Reason: "more lease records than at Open (changed since Open)"}
			}
			if f.wins[ord/64]&(1<<(ord%64)) != 0 {
				if err := decodeLeaseInto(&l, p, intern, borrow); err != nil {
					return &CorruptError{Path: f.path, Offset: off, Reason: err.Error()}
				}
				if err := fn(&l); err != nil {
					return err
				}
			}
			ord++
		}
		off += int64(n)
	}
	return nil
}
