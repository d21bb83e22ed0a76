package esdbtest

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
)

// Sizes that shape log positions: every record advances the writer by a
// header plus its variable parts, as EventStoreDB's prepare records do.
const (
	recordHeaderSize = 86
	// firstPosition is where the first record of a new database lies: the
	// log starts with an epoch record that is not an event.
	firstPosition = 128
	// tombstoneRevision is the revision of a $streamDeleted record.
	tombstoneRevision = math.MaxInt64
	// deletedTB is the $tb a soft delete writes.
	deletedTB = math.MaxInt64
)

// record is one committed event. Records are immutable once committed, so
// readers share them without locks.
type record struct {
	pos         uint64 // commit == prepare
	stream      string
	revision    uint64
	id          uuid.UUID
	eventType   string
	contentType string
	data        []byte
	meta        []byte
	created     int64 // 100 ns ticks since the Unix epoch
}

// proposed is an event an append asks to write.
type proposed struct {
	id          uuid.UUID
	eventType   string
	contentType string
	data        []byte
	meta        []byte
}

// expectation is an append's or delete's expected stream revision.
type expectation struct {
	kind     expectKind
	revision uint64
}

type expectKind int

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectRevision
)

// legacyNumber is the number EventStoreDB uses for an expectation in error
// trailers (ExpectedVersion.Any = -2, NoStream = -1, StreamExists = -4).
func (e expectation) legacyNumber() string {
	switch e.kind {
	case expectNoStream:
		return "-1"
	case expectStreamExists:
		return "-4"
	case expectRevision:
		return strconv.FormatUint(e.revision, 10)
	}
	return "-2"
}

// stream is the state of one stream.
type stream struct {
	name       string
	events     []*record // by revision; soft-deleted ones are hidden by $tb
	ids        map[uuid.UUID]uint64
	tombstoned bool
}

func (s *stream) last() int64 {
	if s == nil {
		return -1
	}
	return int64(len(s.events)) - 1
}

// streamMeta is the parsed content of a stream's latest $metadata.
type streamMeta struct {
	maxCount int64 // 0: none
	maxAge   int64 // seconds; 0: none
	tb       int64 // 0: none
}

func parseMeta(data []byte) streamMeta {
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return streamMeta{}
	}
	num := func(k string) int64 {
		v, ok := raw[k]
		if !ok {
			return 0
		}
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return 0
		}
		i, err := n.Int64()
		if err != nil {
			if f, ferr := n.Float64(); ferr == nil && f >= math.MaxInt64 {
				return math.MaxInt64
			}
			return 0
		}
		return i
	}
	return streamMeta{maxCount: num("$maxCount"), maxAge: num("$maxAge"), tb: num("$tb")}
}

// store is the in-memory database: one log in commit order and the streams
// that index it. Appends are serialised by mu; readers take a snapshot of
// the log slice and read it without holding the lock.
type store struct {
	mu      sync.RWMutex
	log     []*record
	next    uint64 // position of the next record
	streams map[string]*stream
	meta    map[string]streamMeta // by stream name (not metastream name)
	changed chan struct{}         // closed and replaced on every commit
	now     func() time.Time
}

func newStore(now func() time.Time) *store {
	return &store{
		next:    firstPosition,
		streams: map[string]*stream{},
		meta:    map[string]streamMeta{},
		changed: make(chan struct{}),
		now:     now,
	}
}

// seedSystemRecords writes the records a fresh EventStoreDB database holds,
// so that clients see system streams and event types in $all.
func (st *store) seedSystemRecords() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range []struct{ stream, typ, data string }{
		{"$epoch-information", "$epoch-information", `{"epochNumber":0}`},
		{"$$$scavenges", "$metadata", `{"$maxAge":2592000}`},
		{"$users", "$User", `"admin"`},
		{"$user-admin", "$UserCreated", `{"loginName":"admin","fullName":"EventStoreDB Administrator","groups":["$admins"]}`},
		{"$$$users", "$metadata", `{"$acl":{"$r":"$all"}}`},
		{"$settings", "$settings", `{"$userStreamAcl":{"$r":"$all","$w":"$all"}}`},
	} {
		st.commitLocked(r.stream, []proposed{{id: uuid.New(), eventType: r.typ, contentType: contentJSON, data: []byte(r.data)}}, 0)
	}
	st.broadcastLocked()
}

const (
	contentJSON   = "application/json"
	contentBinary = "application/octet-stream"
)

// appendResult is a successful append: the revision and position of the
// last event of the batch (or of the stream, for an empty append).
type appendResult struct {
	revision    int64 // -1: the stream does not exist
	position    uint64
	hasPosition bool
}

// wrongVersion describes a wrong-expected-version failure.
type wrongVersion struct {
	expected expectation
	current  int64 // -1: no stream
}

// appendOutcome is what an append did: exactly one field is set.
type appendOutcome struct {
	ok      *appendResult
	wrong   *wrongVersion
	deleted bool
}

// appendEvents appends evs to the stream name if exp holds, following
// EventStoreDB's rules for soft-deleted and tombstoned streams and its
// idempotency by event id.
func (st *store) appendEvents(name string, exp expectation, evs []proposed) appendOutcome {
	st.mu.Lock()
	defer st.mu.Unlock()
	out, write, softDeleted := st.planLocked(name, exp, evs)
	if !write {
		return out
	}
	s := st.streams[name]
	last := s.last()
	if len(evs) == 0 {
		res := &appendResult{revision: last}
		if last >= 0 {
			// An empty append reports where the stream stands.
			res.position, res.hasPosition = s.events[last].pos, true
		}
		return appendOutcome{ok: res}
	}
	if softDeleted {
		st.undeleteLocked(name, last)
	}
	r := st.commitLocked(name, evs, 0)
	st.broadcastLocked()
	return appendOutcome{ok: &appendResult{revision: int64(r.revision), position: r.pos, hasPosition: true}}
}

// undeleteLocked recreates the soft-deleted stream name whose last revision
// is last: its old events stay hidden behind a truncate-before at the first
// new revision. The caller holds mu.
func (st *store) undeleteLocked(name string, last int64) {
	st.commitLocked("$$"+name, []proposed{{id: uuid.New(), eventType: "$metadata", contentType: contentJSON,
		data: []byte(`{"$tb":` + strconv.FormatInt(last+1, 10) + `}`)}}, 0)
}

// planLocked decides an append of evs to stream name under exp without
// writing anything. write reports that the events are to be written (then
// out is empty, and softDeleted tells whether the stream must be recreated
// first); otherwise out is the final outcome: an idempotent success, a wrong
// expected version or a deleted stream. The caller holds mu.
func (st *store) planLocked(name string, exp expectation, evs []proposed) (out appendOutcome, write, softDeleted bool) {
	s := st.streams[name]
	if s != nil && s.tombstoned {
		return appendOutcome{deleted: true}, false, false
	}
	last := s.last()
	softDeleted = last >= 0 && st.meta[name].tb == deletedTB
	wrong := func() (appendOutcome, bool, bool) {
		return appendOutcome{wrong: &wrongVersion{expected: exp, current: last}}, false, false
	}

	switch exp.kind {
	case expectAny:
		if last >= 0 && !softDeleted && len(evs) > 0 {
			if out, decided := st.idempotentAny(s, exp, evs); decided {
				return out, false, false
			}
		}
	case expectNoStream:
		if last >= 0 && !softDeleted {
			return st.idempotentFrom(s, exp, -1, evs), false, false
		}
	case expectStreamExists:
		if softDeleted {
			return appendOutcome{deleted: true}, false, false
		}
		if last < 0 {
			return wrong()
		}
		if len(evs) > 0 {
			if out, decided := st.idempotentAny(s, exp, evs); decided {
				return out, false, false
			}
		}
	case expectRevision:
		n := int64(exp.revision)
		switch {
		case last < 0:
			return wrong()
		case softDeleted && n != last:
			return wrong()
		case softDeleted:
		case n > last:
			return wrong()
		case n < last:
			return st.idempotentFrom(s, exp, n, evs), false, false
		}
	}

	return appendOutcome{}, true, softDeleted
}

// idempotentFrom handles an explicit expectation (a revision, or no_stream
// as -1) below the current revision: a retry of the same events succeeds with
// the original numbers; anything else is a wrong expected version.
func (st *store) idempotentFrom(s *stream, exp expectation, expected int64, evs []proposed) appendOutcome {
	wrong := appendOutcome{wrong: &wrongVersion{expected: exp, current: s.last()}}
	if len(evs) == 0 {
		return wrong
	}
	for i, e := range evs {
		rev := expected + 1 + int64(i)
		if rev > s.last() || s.events[rev].id != e.id {
			return wrong
		}
	}
	r := s.events[expected+int64(len(evs))]
	return appendOutcome{ok: &appendResult{revision: int64(r.revision), position: r.pos, hasPosition: true}}
}

// idempotentAny handles any and stream_exists: when the first event's id is
// already in the stream, a batch whose ids all are succeeds with the original
// numbers, and one with a new id is a wrong expected version.
func (st *store) idempotentAny(s *stream, exp expectation, evs []proposed) (appendOutcome, bool) {
	if _, known := s.ids[evs[0].id]; !known {
		return appendOutcome{}, false
	}
	var lastRev uint64
	for _, e := range evs {
		rev, ok := s.ids[e.id]
		if !ok {
			return appendOutcome{wrong: &wrongVersion{expected: exp, current: s.last()}}, true
		}
		lastRev = max(lastRev, rev)
	}
	r := s.events[lastRev]
	return appendOutcome{ok: &appendResult{revision: int64(r.revision), position: r.pos, hasPosition: true}}, true
}

// commitLocked writes evs to the end of stream name and the log; revision
// overrides the revision of a single record when non-zero (tombstones).
// It returns the last record. The caller holds mu and broadcasts.
func (st *store) commitLocked(name string, evs []proposed, revision uint64) *record {
	s := st.streams[name]
	if s == nil {
		s = &stream{name: name, ids: map[uuid.UUID]uint64{}}
		st.streams[name] = s
	}
	created := st.now().UnixNano() / 100
	var r *record
	for _, e := range evs {
		rev := uint64(len(s.events))
		if revision != 0 {
			rev = revision
		}
		r = &record{pos: st.next, stream: name, revision: rev, id: e.id, eventType: e.eventType,
			contentType: e.contentType, data: e.data, meta: e.meta, created: created}
		st.next += uint64(recordHeaderSize + len(name) + len(e.eventType) + len(e.data) + len(e.meta))
		st.log = append(st.log, r)
		if revision == 0 {
			s.events = append(s.events, r)
			s.ids[e.id] = rev
		}
		if strings.HasPrefix(name, "$$") && e.eventType == "$metadata" {
			st.meta[name[2:]] = parseMeta(e.data)
		}
	}
	return r
}

func (st *store) broadcastLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

// deleteOutcome is the result of a delete or tombstone.
type deleteOutcome struct {
	position uint64
	wrong    *wrongVersion
	deleted  bool
}

// checkDelete applies exp to stream s for a delete or tombstone. As in
// EventStoreDB, any and no_stream accept a stream that never existed.
func checkDelete(s *stream, exp expectation) *wrongVersion {
	last := s.last()
	ok := true
	switch exp.kind {
	case expectAny:
	case expectNoStream:
		ok = last < 0
	case expectStreamExists:
		ok = last >= 0
	case expectRevision:
		ok = int64(exp.revision) == last
	}
	if ok {
		return nil
	}
	return &wrongVersion{expected: exp, current: last}
}

// softDelete marks stream name deleted by setting $tb to the maximum.
func (st *store) softDelete(name string, exp expectation) deleteOutcome {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.streams[name]
	if s != nil && s.tombstoned {
		return deleteOutcome{deleted: true}
	}
	if s != nil && st.meta[name].tb == deletedTB {
		s = nil // already deleted: like a stream that does not exist
	}
	if w := checkDelete(s, exp); w != nil {
		return deleteOutcome{wrong: w}
	}
	r := st.commitLocked("$$"+name, []proposed{{id: uuid.New(), eventType: "$metadata", contentType: contentJSON,
		data: []byte(`{"$tb":` + strconv.FormatInt(deletedTB, 10) + `}`)}}, 0)
	st.broadcastLocked()
	return deleteOutcome{position: r.pos}
}

// tombstone deletes stream name for good.
func (st *store) tombstone(name string, exp expectation) deleteOutcome {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.streams[name]
	if s != nil && s.tombstoned {
		return deleteOutcome{deleted: true}
	}
	if w := checkDelete(s, exp); w != nil {
		return deleteOutcome{wrong: w}
	}
	r := st.commitLocked(name, []proposed{{id: uuid.New(), eventType: "$streamDeleted", contentType: contentBinary}}, tombstoneRevision)
	st.streams[name].tombstoned = true
	st.broadcastLocked()
	return deleteOutcome{position: r.pos}
}

// streamView is what a stream read may see: the stream's records and the
// revisions that are visible under its metadata.
type streamView struct {
	events     []*record
	lo, hi     int64 // visible revisions lo..hi-1 (before the $maxAge filter)
	minCreated int64 // records created before this are expired; 0: none
	exists     bool
	tombstoned bool
}

// view returns the visible part of stream name under $maxCount, $maxAge and
// $tb; metastreams keep only their latest record.
func (st *store) view(name string) streamView {
	st.mu.RLock()
	defer st.mu.RUnlock()
	s := st.streams[name]
	if s == nil {
		return streamView{}
	}
	if s.tombstoned {
		return streamView{tombstoned: true}
	}
	v := streamView{events: s.events, hi: int64(len(s.events)), exists: len(s.events) > 0}
	m := st.meta[name]
	if strings.HasPrefix(name, "$$") {
		m = streamMeta{maxCount: 1}
	}
	if m.tb == deletedTB {
		return streamView{} // soft-deleted: not found
	}
	if m.tb > 0 {
		v.lo = min(m.tb, v.hi)
	}
	if m.maxCount > 0 && v.hi-m.maxCount > v.lo {
		v.lo = v.hi - m.maxCount
	}
	if m.maxAge > 0 {
		v.minCreated = st.now().Add(-time.Duration(m.maxAge)*time.Second).UnixNano() / 100
	}
	return v
}

// visible reports whether the record at revision i of the view may be read.
func (v streamView) visible(i int64) bool {
	return i >= v.lo && i < v.hi && v.events[i].created >= v.minCreated
}

// snapshot returns the log as it stands and the channel that is closed at
// the next commit.
func (st *store) snapshot() ([]*record, chan struct{}) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.log, st.changed
}

// streamSnapshot returns stream name's records, whether it is tombstoned,
// and the channel closed at the next commit.
func (st *store) streamSnapshot(name string) ([]*record, bool, chan struct{}) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	s := st.streams[name]
	if s == nil {
		return nil, false, st.changed
	}
	return s.events, s.tombstoned, st.changed
}

// indexAtOrAfter returns the index of the first record at or after pos.
func indexAtOrAfter(log []*record, pos uint64) int {
	return sort.Search(len(log), func(i int) bool { return log[i].pos >= pos })
}

// readResp builds the read response of r, with a structured or string id.
func (r *record) readResp(structured bool) *api.ReadResp {
	id := &shared.UUID{}
	if structured {
		id.Value = &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits:  int64(binary.BigEndian.Uint64(r.id[:8])),
			LeastSignificantBits: int64(binary.BigEndian.Uint64(r.id[8:])),
		}}
	} else {
		id.Value = &shared.UUID_String_{String_: r.id.String()}
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               id,
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.revision,
			PreparePosition:  r.pos,
			CommitPosition:   r.pos,
			Metadata: map[string]string{
				"type":         r.eventType,
				"content-type": r.contentType,
				"created":      strconv.FormatInt(r.created, 10),
			},
			CustomMetadata: r.meta,
			Data:           r.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.pos},
	}}}
}

// sessionAppend is one stream's part of a multi-stream append.
type sessionAppend struct {
	name string
	exp  expectation
	evs  []proposed
}

// sessionOutcome is what a multi-stream append did. On success revisions
// holds each stream's last revision and position the session's position;
// otherwise failed is the index of the stream the failure names, and
// deleted or wrong says what failed.
type sessionOutcome struct {
	revisions []int64
	position  uint64
	failed    int
	deleted   bool
	wrong     *wrongVersion
}

// appendSession appends every part or none, as one commit: the parts'
// events follow each other in the log in the parts' order. Each part is
// decided by the rules of a single append; the session succeeds when every
// part is to be written, or when every part is an idempotent retry (then it
// answers the original revisions and the highest original position). A
// session that mixes new parts with retried ones, or has a part that fails,
// stores nothing and reports its first such part, as KurrentDB's writer does.
func (st *store) appendSession(parts []sessionAppend) sessionOutcome {
	st.mu.Lock()
	defer st.mu.Unlock()
	plans := make([]appendOutcome, len(parts))
	writes := make([]bool, len(parts))
	undelete := make([]bool, len(parts))
	nWrite, nIdem := 0, 0
	for i, p := range parts {
		plans[i], writes[i], undelete[i] = st.planLocked(p.name, p.exp, p.evs)
		switch {
		case writes[i]:
			nWrite++
		case plans[i].ok != nil:
			nIdem++
		}
	}
	if nWrite == len(parts) {
		for i, p := range parts {
			if undelete[i] {
				st.undeleteLocked(p.name, st.streams[p.name].last())
			}
		}
		out := sessionOutcome{revisions: make([]int64, len(parts)), failed: -1}
		for i, p := range parts {
			r := st.commitLocked(p.name, p.evs, 0)
			out.revisions[i], out.position = int64(r.revision), r.pos
		}
		st.broadcastLocked()
		return out
	}
	if nIdem == len(parts) {
		out := sessionOutcome{revisions: make([]int64, len(parts)), failed: -1}
		for i, pl := range plans {
			out.revisions[i] = pl.ok.revision
			out.position = max(out.position, pl.ok.position)
		}
		return out
	}
	// The failures in stream order: failed parts and retried parts (a
	// retried part next to a new one is reported as a conflict at its
	// current revision). A deleted stream among them makes the whole
	// session a deleted-stream failure, named after the first failure.
	out := sessionOutcome{failed: -1}
	for i, pl := range plans {
		if writes[i] {
			continue
		}
		if out.failed < 0 {
			out.failed = i
			out.wrong = pl.wrong
			if pl.ok != nil {
				out.wrong = &wrongVersion{expected: parts[i].exp, current: st.streams[parts[i].name].last()}
			}
		}
		if pl.deleted {
			out.deleted = true
		}
	}
	return out
}
