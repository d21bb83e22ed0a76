package esdbtest

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	v2 "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// DefaultVersion is the EventStoreDB version the server reports unless
// Options.Version says otherwise.
const DefaultVersion = "24.10.0"

// DefaultMaxAppendSize is the largest append, in bytes as EventStoreDB
// counts them, accepted unless Options.MaxAppendSize says otherwise.
const DefaultMaxAppendSize = 1 << 20

// Options configures a Server. The zero value is a single insecure node on
// a free loopback port that reports DefaultVersion.
type Options struct {
	// Addr is the address to listen on; default "127.0.0.1:0" (a free port).
	Addr string
	// TLS, when set, serves TLS with its certificate. NewTLS makes a
	// throwaway one.
	TLS *TLS
	// Users maps user names to passwords. When set, every Streams call
	// must carry matching basic-auth credentials: none is refused as
	// access denied, wrong ones as unauthenticated. Users need TLS,
	// because the client sends credentials only over TLS.
	Users map[string]string
	// MaxAppendSize bounds one append: the sum over its events of
	// len(data) + len(custom metadata) + 2*len(type). In ProfileKurrentDB it
	// also bounds an AppendSession's records, counted as MaxRecordSize
	// counts them. Default DefaultMaxAppendSize, or KurrentDBMaxAppendSize
	// in ProfileKurrentDB.
	MaxAppendSize int
	// Version is the server version reported to clients, "major.minor.patch";
	// versions from 23.10 on send caught-up messages on subscriptions.
	// Default DefaultVersion, or KurrentDBVersion in ProfileKurrentDB.
	Version string
	// Empty starts with an empty log. By default the log starts with the
	// system records a fresh EventStoreDB database holds.
	Empty bool
	// Profile selects the server generation to behave as; the zero value is
	// EventStoreDB 23.10/24.10, ProfileKurrentDB adds KurrentDB 25.1's
	// multi-stream AppendSession.
	Profile Profile
	// MaxRecordSize bounds one record of an AppendSession (ProfileKurrentDB):
	// len(data) + the size of its properties as a protobuf Struct + the
	// length of its schema name. Default DefaultMaxRecordSize.
	MaxRecordSize int
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Users) > 0 && o.TLS == nil {
		errs = append(errs, errors.New("esdbtest: Users need TLS: the client sends credentials only over TLS"))
	}
	if o.MaxAppendSize < 0 {
		errs = append(errs, errors.New("esdbtest: MaxAppendSize must not be negative"))
	}
	if o.MaxRecordSize < 0 {
		errs = append(errs, errors.New("esdbtest: MaxRecordSize must not be negative"))
	}
	if o.Profile != ProfileEventStoreDB && o.Profile != ProfileKurrentDB {
		errs = append(errs, fmt.Errorf("esdbtest: unknown Profile %q", o.Profile))
	}
	if o.Version != "" {
		if _, _, err := parseVersion(o.Version); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Addr != "" {
		if _, _, err := net.SplitHostPort(o.Addr); err != nil {
			errs = append(errs, fmt.Errorf("esdbtest: Addr: %w", err))
		}
	}
	return errors.Join(errs...)
}

func parseVersion(v string) (major, minor int, err error) {
	parts := strings.Split(v, ".")
	if len(parts) < 3 {
		return 0, 0, fmt.Errorf("esdbtest: Version %q is not major.minor.patch", v)
	}
	nums := make([]int, 3)
	for i := range 3 {
		if nums[i], err = strconv.Atoi(parts[i]); err != nil {
			return 0, 0, fmt.Errorf("esdbtest: Version %q is not major.minor.patch", v)
		}
	}
	return nums[0], nums[1], nil
}

// Server is an in-memory server that speaks EventStoreDB's gRPC protocol:
// Streams (append, read, subscribe, delete, tombstone, batch append),
// ServerFeatures and single-node Gossip. It is safe for concurrent use.
type Server struct {
	opts     Options
	store    *store
	faults   faults
	caFile   string
	version  string
	caughtUp bool
	started  time.Time
	id       [16]byte
	// recordsSent counts the records sent to readers and subscribers.
	recordsSent atomic.Uint64

	// subscriptions counts the subscriptions being served.
	subscriptions atomic.Int64

	mu   sync.Mutex
	addr string
	grpc *grpc.Server
	lis  *trackingListener
}

// NewServer starts a server with opts (nil for defaults) and returns it once
// it accepts connections. Close it when done.
func NewServer(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Version == "" {
		o.Version = DefaultVersion
		if o.Profile == ProfileKurrentDB {
			o.Version = KurrentDBVersion
		}
	}
	major, minor, _ := parseVersion(o.Version)
	s := &Server{
		opts:     o,
		store:    newStore(time.Now),
		version:  o.Version,
		caughtUp: major > 23 || major == 23 && minor >= 10,
		started:  time.Now(),
		addr:     o.Addr,
	}
	copy(s.id[:], []byte(fmt.Sprintf("%016x", time.Now().UnixNano())))
	if !o.Empty {
		s.store.seedSystemRecords()
	}
	if o.TLS != nil {
		dir, err := os.MkdirTemp("", "esdbtest-ca-")
		if err != nil {
			return nil, err
		}
		s.caFile = filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(s.caFile, o.TLS.CAPEM, 0o600); err != nil {
			return nil, err
		}
	}
	if err := s.Start(); err != nil {
		s.removeCA()
		return nil, err
	}
	return s, nil
}

// Start serves again after Stop, on the same address and with the same
// data. It is a no-op while the server runs.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grpc != nil {
		return nil
	}
	l, err := listen(s.addr)
	if err != nil {
		return fmt.Errorf("esdbtest: listen on %s: %w", s.addr, err)
	}
	s.addr = l.Addr().String() // fixes the port chosen for ":0"
	lis := &trackingListener{Listener: l, conns: map[net.Conn]struct{}{}}
	s.lis = lis
	opts := []grpc.ServerOption{
		// The client pings every 10 s even without calls in flight.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(64 << 20),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	}
	if s.opts.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{s.opts.TLS.Certificate}, MinVersion: tls.VersionTLS12})))
	}
	g := grpc.NewServer(opts...)
	api.RegisterStreamsServer(g, &streamsService{srv: s})
	serverfeatures.RegisterServerFeaturesServer(g, &featuresService{srv: s})
	gossip.RegisterGossipServer(g, &gossipService{srv: s})
	if s.opts.Profile == ProfileKurrentDB {
		v2.RegisterStreamsServiceServer(g, &v2StreamsService{srv: s})
	}
	s.grpc = g
	// lis, not s.lis: this goroutine may run after a Stop and the next
	// Start, and must not serve (or close) the next Start's listener.
	go func() { _ = g.Serve(lis) }()
	return nil
}

// listen listens on addr. On a restart the address is now and then still
// taken right after Stop, for a few milliseconds on a busy machine, so that
// is retried for up to a second.
func listen(addr string) (net.Listener, error) {
	deadline := time.Now().Add(time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop stops serving and drops every connection, keeping the data, so that
// Start can bring the same server back: a restart as clients see it.
func (s *Server) Stop() {
	s.mu.Lock()
	g, lis := s.grpc, s.lis
	s.grpc = nil
	s.mu.Unlock()
	if g != nil {
		g.Stop()
		// gRPC closes only the listeners Serve has taken: one whose
		// goroutine has not run yet would keep the address busy.
		_ = lis.Close()
	}
}

// Restart stops the server and starts it again on the same address with the
// same data.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// Close stops the server for good and releases its resources.
func (s *Server) Close() error {
	s.Stop()
	s.removeCA()
	return nil
}

func (s *Server) removeCA() {
	if s.caFile != "" {
		_ = os.RemoveAll(filepath.Dir(s.caFile))
	}
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ConnectionString returns an esdb:// connection string for a single node
// that the official client accepts: with tls=false, or with TLS verified
// against the server's CA. It carries no credentials; see
// ConnectionStringAs.
func (s *Server) ConnectionString() string {
	return s.connectionString("esdb", "")
}

// ConnectionStringAs returns ConnectionString with user's credentials.
func (s *Server) ConnectionStringAs(user, password string) string {
	return s.connectionString("esdb", user+":"+password+"@")
}

// DiscoverConnectionString returns an esdb+discover:// connection string:
// the client reads the server's gossip before connecting.
func (s *Server) DiscoverConnectionString() string {
	return s.connectionString("esdb+discover", "")
}

func (s *Server) connectionString(scheme, userinfo string) string {
	q := "?tls=false"
	if s.opts.TLS != nil {
		q = "?tls=true&tlsCAFile=" + s.caFile
	}
	return scheme + "://" + userinfo + s.Addr() + q
}

func (s *Server) maxAppendSize() int {
	switch {
	case s.opts.MaxAppendSize > 0:
		return s.opts.MaxAppendSize
	case s.opts.Profile == ProfileKurrentDB:
		return KurrentDBMaxAppendSize
	}
	return DefaultMaxAppendSize
}

func (s *Server) maxRecordSize() int {
	if s.opts.MaxRecordSize > 0 {
		return s.opts.MaxRecordSize
	}
	return DefaultMaxRecordSize
}

func (s *Server) sendsCaughtUp() bool { return s.caughtUp }

// checkAuth enforces basic authentication on Streams calls (v1 and v2) when
// users are configured; gossip and server features stay anonymous, as in
// EventStoreDB.
func (s *Server) checkAuth(ctxMD func() []string, method string) error {
	if len(s.opts.Users) == 0 || !strings.HasPrefix(method, "/event_store.client.streams.") && !strings.HasPrefix(method, "/kurrentdb.protocol.v2.streams.") {
		return nil
	}
	values := ctxMD()
	if len(values) == 0 {
		return errAccessDenied
	}
	raw, ok := strings.CutPrefix(values[0], "Basic ")
	if !ok {
		return errUnauthenticated
	}
	dec, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return errUnauthenticated
	}
	user, pass, _ := strings.Cut(string(dec), ":")
	want, known := s.opts.Users[user]
	if !known || subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
		return errUnauthenticated
	}
	return nil
}

// trackingListener remembers open connections so that faults can drop them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *trackingListener) dropAll() {
	l.mu.Lock()
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// RecordsSent returns how many records the server has sent to readers and
// subscribers since it was created (restarts included): every event of a
// stream or $all read and every event a subscription delivered, but not
// confirmations, checkpoints or caught-up messages. Tests compare it before
// and after a call to see how much of the log the call read, which is what
// a client pays for in time and network.
func (s *Server) RecordsSent() uint64 { return s.recordsSent.Load() }
