package esdb

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
)

func TestPickMemberHonoursNodePreference(t *testing.T) {
	member := func(port int32, state gossip.MemberInfo_VNodeState, alive bool) *gossip.MemberInfo {
		return &gossip.MemberInfo{State: state, IsAlive: alive, HttpEndPoint: &gossip.EndPoint{Address: "node", Port: uint32(port)}}
	}
	members := func() []*gossip.MemberInfo {
		return []*gossip.MemberInfo{
			member(1, gossip.MemberInfo_Follower, true),
			member(2, gossip.MemberInfo_Leader, true),
			member(3, gossip.MemberInfo_ReadOnlyReplica, true),
			member(4, gossip.MemberInfo_Leader, false),
			member(5, gossip.MemberInfo_Manager, true),
		}
	}
	for _, c := range []struct {
		pref esdb.NodePreference
		want uint32
	}{
		{esdb.NodePreferenceLeader, 2},
		{esdb.NodePreferenceFollower, 1},
		{esdb.NodePreferenceReadOnlyReplica, 3},
	} {
		for range 20 { // members are shuffled: the preference must win every time
			if got := pickMember(members(), c.pref).GetHttpEndPoint().GetPort(); got != c.want {
				t.Fatalf("preference %v picked port %d, want %d", c.pref, got, c.want)
			}
		}
	}
	for range 20 {
		switch got := pickMember(members(), esdb.NodePreferenceRandom).GetHttpEndPoint().GetPort(); got {
		case 1, 2, 3:
		default:
			t.Fatalf("random preference picked port %d, which is dead or serves no reads", got)
		}
	}
	if m := pickMember([]*gossip.MemberInfo{member(4, gossip.MemberInfo_Leader, false), member(5, gossip.MemberInfo_Manager, true)}, esdb.NodePreferenceLeader); m != nil {
		t.Fatalf("picked %v among members that are dead or serve no reads", m)
	}
}
