package esdbtest

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	v2 "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v2/streams/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	errAccessDenied    = status.Error(codes.PermissionDenied, "Access Denied")
	errUnauthenticated = status.Error(codes.Unauthenticated, "Unauthenticated")
)

func authorization(ctx context.Context) func() []string {
	return func() []string {
		md, _ := metadata.FromIncomingContext(ctx)
		return md.Get("authorization")
	}
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.checkAuth(authorization(ctx), info.FullMethod); err != nil {
		if status.Code(err) == codes.PermissionDenied {
			_ = grpc.SetTrailer(ctx, metadata.Pairs("exception", "access-denied"))
		}
		return nil, err
	}
	if err := s.faults.wait(ctx); err != nil {
		return nil, err
	}
	if err := s.faults.hold(ctx); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	err := s.checkAuth(authorization(ss.Context()), info.FullMethod)
	if errors.Is(err, errAccessDenied) && (info.FullMethod == api.Streams_BatchAppend_FullMethodName ||
		info.FullMethod == v2.StreamsService_AppendSession_FullMethodName) {
		// The server authorises each batch (each AppendSession request) of
		// the call, and answers a denied one in its response (ends the
		// call with KurrentDB's access-denied details).
		ss = deniedStream{ss, context.WithValue(ss.Context(), deniedKey{}, true)}
		err = nil
	}
	if err != nil {
		if status.Code(err) == codes.PermissionDenied {
			ss.SetTrailer(metadata.Pairs("exception", "access-denied"))
		}
		if info.FullMethod == api.Streams_Append_FullMethodName {
			// As in Append: answering before the client has sent its
			// events turns its next Send into io.EOF, and the status is lost.
			for ss.RecvMsg(new(api.AppendReq)) == nil {
			}
		}
		return err
	}
	if err := s.faults.wait(ss.Context()); err != nil {
		return err
	}
	if err := s.faults.hold(ss.Context()); err != nil {
		return err
	}
	return handler(srv, stallingStream{ss, &s.faults})
}

type deniedKey struct{}

// deniedStream carries, in its context, that the caller may not write.
type deniedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (d deniedStream) Context() context.Context { return d.ctx }

// accessDenied reports whether the call of ctx was let through only to have
// each of its requests denied.
func accessDenied(ctx context.Context) bool {
	denied, _ := ctx.Value(deniedKey{}).(bool)
	return denied
}

// featuresService answers the client's discovery call with the version.
type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
	srv *Server
}

func (f *featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	m := func(service, method string) *serverfeatures.SupportedMethod {
		return &serverfeatures.SupportedMethod{ServiceName: service, MethodName: method}
	}
	const streams = "event_store.client.streams.streams"
	methods := []*serverfeatures.SupportedMethod{
		m(streams, "read"), m(streams, "append"), m(streams, "delete"), m(streams, "tombstone"), m(streams, "batchappend"),
		m("event_store.client.gossip.gossip", "read"),
		m("event_store.client.server_features.serverfeatures", "getsupportedmethods"),
	}
	if f.srv.opts.Profile == ProfileKurrentDB {
		methods = append(methods, m(v2StreamsServiceName, "appendsession"))
	}
	return &serverfeatures.SupportedMethods{EventStoreServerVersion: f.srv.version, Methods: methods}, nil
}

// gossipService describes a cluster of one: this server, the leader.
type gossipService struct {
	gossip.UnimplementedGossipServer
	srv *Server
}

// unixEpochTicks is the Unix epoch in .NET ticks (100 ns since 0001-01-01).
const unixEpochTicks = 621355968000000000

func (g *gossipService) Read(context.Context, *shared.Empty) (*gossip.ClusterInfo, error) {
	host, port, err := net.SplitHostPort(g.srv.Addr())
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	p, _ := strconv.ParseUint(port, 10, 32)
	id := g.srv.id
	return &gossip.ClusterInfo{Members: []*gossip.MemberInfo{{
		InstanceId: &shared.UUID{Value: &shared.UUID_String_{String_: formatUUID(id)}},
		TimeStamp:  unixEpochTicks + time.Now().UnixNano()/100,
		State:      gossip.MemberInfo_Leader,
		IsAlive:    true,
		HttpEndPoint: &gossip.EndPoint{
			Address: host,
			Port:    uint32(p),
		},
	}}}, nil
}

func formatUUID(b [16]byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}
