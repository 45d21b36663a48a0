package acl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/cp7/cp7/router"
	"github.com/cp7/cp7/server"
)

// naive answers like the trie by the definition: the first rule, in file
// order, that selects the client, carries the permission and matches.
func naive(r *Rules, defaultAllow bool, user, client string, p perm, topic string, subscribe bool) bool {
	for _, x := range r.rules {
		if x.perms&p == 0 || !x.selects(user, client, netip.Addr{}) {
			continue
		}
		f := x.filter
		if x.templates {
			if strings.Contains(f, "%u") {
				if user == "" {
					continue
				}
				f = strings.ReplaceAll(f, "%u", user)
			}
			f = strings.ReplaceAll(f, "%c", client)
		}
		var ok bool
		if subscribe {
			ok = router.FilterCovers(f, topic)
		} else {
			ok = router.TopicMatches(f, topic)
		}
		if ok {
			return x.allow
		}
	}
	return defaultAllow
}

var fuzzTopics = []string{"a", "a/b", "a/b/c", "alice/x", "c1/x", "x/alice", "$SYS/a", "b/c1", "a/alice/c1"}
var fuzzFilters = []string{"#", "a/#", "a/+", "+/x", "a/b", "alice/#", "$SYS/#", "+/+/c1", "b/c1"}

// FuzzParse: any input either fails to parse with an error or gives
// rules whose compiled answers equal the naive first-match evaluation.
func FuzzParse(f *testing.F) {
	f.Add([]byte("allow pub a/#\ndeny sub a/b user=alice\nallow both %u/# user=*\nallow sub +/%c anonymous\n"))
	f.Add([]byte("deny both # client=c*\nallow sub $SYS/#\nallow pub a/+/%c addr=10.0.0.0/8\n"))
	f.Add([]byte("topic read a/#\nuser alice\ntopic deny a/b\ntopic a/#\npattern write %u/#\npattern read +/%c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz", data, FormatAuto)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "acl: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		mosq := r.Format() == FormatMosquitto
		for _, id := range []server.ClientIdentity{{ClientID: "c1", Username: "alice"}, {ClientID: "c1"}} {
			v := New(r, false).ForClient(&id)
			if v == nil {
				t.Fatal("nil view under default deny")
			}
			if mosq {
				continue // Mosquitto's section order is checked in TestMosquittoFormat
			}
			for _, tp := range fuzzTopics {
				if got, want := v.CanPublish([]byte(tp)), naive(r, false, id.Username, id.ClientID, permPub, tp, false); got != want {
					t.Fatalf("%+v publish %q: trie %v, naive %v\n%s", id, tp, got, want, data)
				}
				if got, want := v.CanReceive([]byte(tp)), naive(r, false, id.Username, id.ClientID, permRead, tp, false); got != want {
					t.Fatalf("%+v receive %q: trie %v, naive %v\n%s", id, tp, got, want, data)
				}
			}
			for _, fl := range fuzzFilters {
				if got, want := v.CanSubscribe([]byte(fl)), naive(r, false, id.Username, id.ClientID, permSub, fl, true); got != want {
					t.Fatalf("%+v subscribe %q: trie %v, naive %v\n%s", id, fl, got, want, data)
				}
			}
		}
	})
}
