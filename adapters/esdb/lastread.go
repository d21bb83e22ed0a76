package esdb

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// The newest notification of an application is the newest record of $all
// that the notification filter lets through. EventStoreDB can find it with
// one filtered read of $all, backwards from the end, count 1: the server
// skips other applications' records itself and sends one record, however
// many of them follow. The official client cannot filter a read of $all, so
// a recorder that knows its configuration (NewFromConfig) makes that read
// over a gRPC connection of its own, with the client module's generated
// Streams service; a recorder over a client passed to New falls back to
// reading $all backwards in pages (Options.ScanPage) and filtering here.

// lastReader makes filtered backwards reads of $all over its own gRPC
// connection, opened from a configuration on first use the way the official
// client opens its own: to the configured address, or, in cluster mode
// (esdb+discover:// or several hosts), to the member that gossip picks by
// the node preference.
type lastReader struct {
	conf *esdb.Configuration
	// window is the server's search window: how many records it examines
	// per internal page of a filtered read.
	window uint32

	mu     sync.Mutex
	conn   *grpc.ClientConn
	closed bool
}

func newLastReader(conf *esdb.Configuration, window uint64) *lastReader {
	return &lastReader{conf: conf, window: uint32(min(window, 1<<20))}
}

// close closes the connection, if open; later reads fail. A nil reader
// has nothing to close.
func (l *lastReader) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}

// connection returns the open connection, opening it if needed.
func (l *lastReader) connection(ctx context.Context) (*grpc.ClientConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errClosed
	}
	if l.conn != nil {
		return l.conn, nil
	}
	conn, err := l.discover(ctx)
	if err != nil {
		return nil, err
	}
	l.conn = conn
	return conn, nil
}

// forget closes conn after a transient failure, so that the next read
// looks for a node again (in a cluster, another may lead by now).
func (l *lastReader) forget(conn *grpc.ClientConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == conn {
		_ = conn.Close()
		l.conn = nil
	}
}

// dial returns a connection to address with the configuration's transport
// security and keepalive. grpc.NewClient does no I/O.
func (l *lastReader) dial(address string) (*grpc.ClientConn, error) {
	c := l.conf
	transport := insecure.NewCredentials()
	if !c.DisableTLS {
		cfg := &tls.Config{InsecureSkipVerify: c.SkipCertificateVerification, RootCAs: c.RootCAs} //nolint:gosec // the configuration's choice
		if c.UserCertFile != "" && c.UserKeyFile != "" {
			cert, err := tls.LoadX509KeyPair(c.UserCertFile, c.UserKeyFile)
			if err != nil {
				return nil, fmt.Errorf("eventstoredb: user certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		transport = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if c.KeepAliveInterval >= 0 {
		interval, timeout := c.KeepAliveInterval, c.KeepAliveTimeout
		if interval == 0 {
			interval = 10 * time.Second
		}
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: interval, Timeout: timeout, PermitWithoutStream: true}))
	}
	return grpc.NewClient(address, opts...)
}

// discover opens the connection: to the configured address, or in cluster
// mode to the member the first answering gossip seed picks.
func (l *lastReader) discover(ctx context.Context) (*grpc.ClientConn, error) {
	c := l.conf
	var seeds []string
	switch {
	case c.DnsDiscover:
		seeds = []string{c.Address}
	case len(c.GossipSeeds) > 0:
		for _, s := range c.GossipSeeds {
			seeds = append(seeds, s.String())
		}
	default:
		return l.dial(c.Address)
	}
	rand.Shuffle(len(seeds), func(i, j int) { seeds[i], seeds[j] = seeds[j], seeds[i] })
	var errs []error
	for _, seed := range seeds {
		address, err := l.gossip(ctx, seed)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", seed, err))
			continue
		}
		return l.dial(address)
	}
	return nil, fmt.Errorf("eventstoredb: no gossip seed named a node: %w", errors.Join(errs...))
}

// gossip asks seed for the cluster's members and returns the address of the
// one to read from.
func (l *lastReader) gossip(ctx context.Context, seed string) (string, error) {
	conn, err := l.dial(seed)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	timeout := 5 * time.Second
	if l.conf.GossipTimeout > 0 {
		timeout = time.Duration(l.conf.GossipTimeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := gossip.NewGossipClient(conn).Read(ctx, &shared.Empty{}, l.callOptions()...)
	if err != nil {
		return "", err
	}
	m := pickMember(info.GetMembers(), l.conf.NodePreference)
	if m == nil {
		return "", errors.New("no member is alive and serving reads")
	}
	ep := m.GetHttpEndPoint()
	return net.JoinHostPort(ep.GetAddress(), strconv.FormatUint(uint64(ep.GetPort()), 10)), nil
}

// pickMember chooses among the live members that serve reads the way the
// official client does: those of the preferred state first, at random
// among equals.
func pickMember(members []*gossip.MemberInfo, pref esdb.NodePreference) *gossip.MemberInfo {
	var ok []*gossip.MemberInfo
	for _, m := range members {
		switch m.GetState() {
		case gossip.MemberInfo_Follower, gossip.MemberInfo_Leader, gossip.MemberInfo_ReadOnlyLeaderless,
			gossip.MemberInfo_PreReadOnlyReplica, gossip.MemberInfo_ReadOnlyReplica:
			if m.GetIsAlive() {
				ok = append(ok, m)
			}
		}
	}
	if len(ok) == 0 {
		return nil
	}
	rand.Shuffle(len(ok), func(i, j int) { ok[i], ok[j] = ok[j], ok[i] })
	rank := func(s gossip.MemberInfo_VNodeState) int {
		switch pref {
		case esdb.NodePreferenceLeader:
			if s == gossip.MemberInfo_Leader {
				return 0
			}
		case esdb.NodePreferenceFollower:
			if s == gossip.MemberInfo_Follower {
				return 0
			}
		case esdb.NodePreferenceReadOnlyReplica:
			switch s {
			case gossip.MemberInfo_ReadOnlyLeaderless:
				return 0
			case gossip.MemberInfo_PreReadOnlyReplica:
				return 1
			case gossip.MemberInfo_ReadOnlyReplica:
				return 2
			}
		default: // random
			return 0
		}
		return 3
	}
	best := ok[0]
	for _, m := range ok[1:] {
		if rank(m.GetState()) < rank(best.GetState()) {
			best = m
		}
	}
	return best
}

// callOptions carries the configuration's credentials, which, like the
// official client, it sends only over TLS.
func (l *lastReader) callOptions() []grpc.CallOption {
	c := l.conf
	if c.DisableTLS || c.Username == "" {
		return nil
	}
	return []grpc.CallOption{grpc.PerRPCCredentials(basicAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password))))}
}

// basicAuth is an authorization header for every call, over TLS only.
type basicAuth string

func (b basicAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(b)}, nil
}

func (basicAuth) RequireTransportSecurity() bool { return true }

// lastRecord is the newest record of $all before a position that a filter
// lets through.
type lastRecord struct {
	position  uint64 // commit position
	prepare   uint64
	eventType string
}

// last reads $all backwards from before (nil: the end) through the
// server-side filter f and returns the first record the server finds, or
// false when there is none.
func (l *lastReader) last(ctx context.Context, f serverFilter, before *lastRecord) (lastRecord, bool, error) {
	conn, err := l.connection(ctx)
	if err != nil {
		return lastRecord{}, false, err
	}
	expr := &api.ReadReq_Options_FilterOptions_Expression{Regex: f.regex}
	fo := &api.ReadReq_Options_FilterOptions{
		Window:                       &api.ReadReq_Options_FilterOptions_Max{Max: l.window},
		CheckpointIntervalMultiplier: 1,
	}
	if f.onType {
		fo.Filter = &api.ReadReq_Options_FilterOptions_EventType{EventType: expr}
	} else {
		fo.Filter = &api.ReadReq_Options_FilterOptions_StreamIdentifier{StreamIdentifier: expr}
	}
	all := &api.ReadReq_Options_AllOptions{AllOption: &api.ReadReq_Options_AllOptions_End{End: &shared.Empty{}}}
	if before != nil {
		all.AllOption = &api.ReadReq_Options_AllOptions_Position{Position: &api.ReadReq_Options_Position{
			CommitPosition: before.position, PreparePosition: before.prepare}}
	}
	req := &api.ReadReq{Options: &api.ReadReq_Options{
		StreamOption:  &api.ReadReq_Options_All{All: all},
		ReadDirection: api.ReadReq_Options_Backwards,
		CountOption:   &api.ReadReq_Options_Count{Count: 1},
		FilterOption:  &api.ReadReq_Options_Filter{Filter: fo},
		UuidOption:    &api.ReadReq_Options_UUIDOption{Content: &api.ReadReq_Options_UUIDOption_Structured{Structured: &shared.Empty{}}},
	}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the call, whatever the server still sends
	rs, err := api.NewStreamsClient(conn).Read(ctx, req, l.callOptions()...)
	if err != nil {
		return lastRecord{}, false, l.failed(conn, err)
	}
	for {
		resp, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return lastRecord{}, false, nil
		}
		if err != nil {
			return lastRecord{}, false, l.failed(conn, err)
		}
		if e := resp.GetEvent().GetEvent(); e != nil {
			return lastRecord{position: e.GetCommitPosition(), prepare: e.GetPreparePosition(), eventType: e.GetMetadata()["type"]}, true, nil
		}
		// Anything else (a checkpoint, say) tells nothing about records.
	}
}

// failed returns err, first forgetting the connection when err is
// transient, so that a retry looks for a node again.
func (l *lastReader) failed(conn *grpc.ClientConn, err error) error {
	if retryable(err) {
		l.forget(conn)
	}
	return err
}

// maxByFilter returns the application's newest notification id with
// filtered reads: one, or one more per tombstone of a deleted aggregate
// (its stream matches the filter, but it is no notification).
func (r *Recorder) maxByFilter(ctx context.Context) (uint64, error) {
	f := r.filterRegex(nil)
	var before *lastRecord
	for {
		// Bounded like the official client's calls (Options.CallTimeout),
		// so that a server that stops answering fails the attempt rather
		// than hold the caller.
		call, cancel := context.WithTimeout(ctx, r.opts.callTimeout())
		rec, ok, err := r.last.last(call, f, before)
		cancel()
		if err != nil || !ok {
			return 0, err
		}
		if rec.eventType != "$streamDeleted" {
			return rec.position, nil
		}
		before = &rec
	}
}
