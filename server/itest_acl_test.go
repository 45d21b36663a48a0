package server_test

import (
	"context"
	"net"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/acl"
	"github.com/cp7/cp7/server/servertest"
)

// aclStart starts a broker with the rule file text (format told apart
// automatically) and the default decision, returning the ACL so that a
// test can swap its rules.
func aclStart(t *testing.T, rules string, defaultAllow bool, configure func(*server.Config)) (*server.Server, *acl.ACL) {
	t.Helper()
	r, err := acl.Parse("test.acl", []byte(rules), acl.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	a := acl.New(r, defaultAllow)
	srv := servertest.Start(t, func(c *server.Config) {
		c.ACL = a
		if configure != nil {
			configure(c)
		}
	})
	return srv, a
}

// aclPaho connects a paho v3 (3.1.1) client as id with a user name.
func aclPaho(t *testing.T, srv *server.Server, id, user string, in inbox) mqtt.Client {
	t.Helper()
	// In order: untilFence relies on it (pahoOpts turns it off).
	o := pahoOpts(srv.Addr(), id, true).SetUsername(user).SetOrderMatters(true)
	if in != nil {
		o.SetDefaultPublishHandler(in.handler)
	}
	return pahoConnect(t, o)
}

// aclPahoV5 connects a paho.golang (MQTT 5) client as id with a user name.
func aclPahoV5(t *testing.T, srv *server.Server, id, user string) (*paho.Client, <-chan *paho.Publish) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.Addr().String(), wait)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *paho.Publish, 64)
	c := paho.NewClient(paho.ClientConfig{Conn: nc, PacketTimeout: wait,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { msgs <- pr.Packet; return true, nil },
		}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	ack, err := c.Connect(ctx, cp)
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("paho.golang connect %s: %v %v", id, err, ack)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}); _ = nc.Close() })
	return c, msgs
}

// untilFence collects the topics in reaches before the message on fence:
// messages from one publisher reach one subscriber in order, so what was
// published before the fence and not collected was not delivered.
func untilFence(t *testing.T, in inbox, fence string) []string {
	t.Helper()
	var got []string
	for range 100 {
		m := in.next(t)
		if m.Topic() == fence {
			return got
		}
		got = append(got, m.Topic())
	}
	t.Fatal("no fence among 100 messages")
	return nil
}

func sameTopics(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("received %q, want %q", got, want)
		}
	}
}

const aclRules = `
deny  sub  sensors/secret/#
allow sub  sensors/#             user=reader
allow sub  $SYS/#                user=reader
allow pub  sensors/%u/#          user=*
allow both own/%c/#
allow pub  fence
allow sub  fence
allow pub  lan/#                 addr=127.0.0.0/8
allow pub  wan/#                 addr=10.0.0.0/8
allow pub  dev/#                 client=dev-*
deny  both #                     user=banned
`

// TestACLPublishDeniedV3: a 3.1.1 publish the rules refuse is acknowledged
// (PUBACK, PUBREC/PUBCOMP: the client does not resend it) and dropped;
// the reader never sees it. Covers user (%u), CIDR, client id prefix and
// the default deny.
func TestACLPublishDeniedV3(t *testing.T) {
	srv, _ := aclStart(t, aclRules, false, nil)
	in := newInbox()
	reader := aclPaho(t, srv, "r", "reader", nil)
	pahoSubscribe(t, reader, "sensors/#", 1, in)
	pahoSubscribe(t, reader, "fence", 0, in)
	pub := aclPaho(t, srv, "dev-1", "alice", nil)
	pahoPublish(t, pub, "sensors/alice/t", 1, false, "ok") // %u
	pahoPublish(t, pub, "sensors/bob/t", 1, false, "no")   // another user's
	pahoPublish(t, pub, "sensors/bob/t", 2, false, "no")   // QoS 2 flow completes too
	pahoPublish(t, pub, "nowhere", 0, false, "no")         // default deny
	pahoPublish(t, pub, "fence", 0, false, "f")
	sameTopics(t, untilFence(t, in, "fence"), "sensors/alice/t")
	if s := srv.Stats(); s.DeniedPublish != 3 {
		t.Fatalf("DeniedPublish %d, want 3", s.DeniedPublish)
	}
}

// TestACLConditions checks address (CIDR) and client id prefix rules
// through the broker: the test connects from 127.0.0.1.
func TestACLConditions(t *testing.T) {
	srv, _ := aclStart(t, aclRules+"allow sub # user=all\n", false, nil)
	in := newInbox()
	sub := aclPaho(t, srv, "s", "all", nil)
	pahoSubscribe(t, sub, "#", 0, in)
	a := aclPaho(t, srv, "dev-9", "", nil)
	b := aclPaho(t, srv, "other", "", nil)
	pahoPublish(t, b, "dev/y", 1, false, "") // not dev-*
	pahoPublish(t, a, "lan/x", 1, false, "") // 127.0.0.0/8
	pahoPublish(t, a, "wan/x", 1, false, "") // not 10/8
	pahoPublish(t, a, "dev/x", 1, false, "") // client=dev-*
	pahoPublish(t, a, "fence", 0, false, "")
	sameTopics(t, untilFence(t, in, "fence"), "lan/x", "dev/x")
	if s := srv.Stats(); s.DeniedPublish != 2 {
		t.Fatalf("DeniedPublish %d, want 2 (dev/y, wan/x)", s.DeniedPublish)
	}
}

// TestACLSubscribeDenied: a refused filter gets 0x80 in a 3.1.1 SUBACK
// and 0x87 Not authorized in a v5 one [MQTT-3.9.3], the other filters of
// the same SUBSCRIBE are granted.
func TestACLSubscribeDenied(t *testing.T) {
	srv, _ := aclStart(t, aclRules, false, nil)
	c3 := aclPaho(t, srv, "r3", "reader", nil)
	tok := c3.SubscribeMultiple(map[string]byte{"sensors/+/t": 1, "sensors/secret/x": 1, "other/#": 0}, nil)
	waitToken(t, tok, "subscribe")
	res := tok.(*mqtt.SubscribeToken).Result()
	if res["sensors/+/t"] != 1 || res["sensors/secret/x"] != 0x80 || res["other/#"] != 0x80 {
		t.Fatalf("3.1.1 SUBACK codes %v, want sensors/+/t 1, the others 0x80", res)
	}
	c5, _ := aclPahoV5(t, srv, "r5", "reader")
	sa, err := c5.Subscribe(v5Ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "sensors/#", QoS: 1}, {Topic: "sensors/secret/#", QoS: 1}, {Topic: "$share/g/sensors/x", QoS: 0}, {Topic: "other", QoS: 0}}})
	if err != nil && sa == nil {
		t.Fatal(err)
	}
	want := []byte{1, byte(codec.NotAuthorized), 0, byte(codec.NotAuthorized)}
	if string(sa.Reasons) != string(want) {
		t.Fatalf("v5 SUBACK reasons %x, want %x", sa.Reasons, want)
	}
	if s := srv.Stats(); s.DeniedSubscribe != 4 {
		t.Fatalf("DeniedSubscribe %d, want 4", s.DeniedSubscribe)
	}
}

// TestACLPublishDeniedV5: a v5 publish the rules refuse is answered with
// Not authorized (0x87) in its PUBACK or PUBREC (MQTT 5.0 §3.4.2.1).
func TestACLPublishDeniedV5(t *testing.T) {
	srv, _ := aclStart(t, aclRules, false, nil)
	c, _ := aclPahoV5(t, srv, "p5", "alice")
	for _, qos := range []byte{1, 2} {
		r, err := c.Publish(v5Ctx(t), &paho.Publish{Topic: "sensors/bob/x", QoS: qos, Payload: []byte("x")})
		if r == nil || r.ReasonCode != byte(codec.NotAuthorized) {
			t.Fatalf("QoS %d: response %+v (err %v), want reason 0x87", qos, r, err)
		}
		r, err = c.Publish(v5Ctx(t), &paho.Publish{Topic: "sensors/alice/x", QoS: qos, Payload: []byte("x")})
		if err != nil || r.ReasonCode >= 0x80 {
			t.Fatalf("QoS %d allowed publish: response %+v, err %v", qos, r, err)
		}
	}
}

// TestACLReadFilter: a subscription to a wildcard receives only the topics
// the subscriber may read, live and retained; '#' does not reach $SYS.
func TestACLReadFilter(t *testing.T) {
	rules := "allow sub # user=wide\nallow pub #\ndeny sub secret/# user=narrow\nallow sub # user=narrow\n"
	srv, _ := aclStart(t, rules, false, nil)
	pub := aclPaho(t, srv, "pub", "", nil)
	pahoPublish(t, pub, "secret/r", 1, true, "r")
	pahoPublish(t, pub, "open/r", 1, true, "r")
	in := newInbox()
	narrow := aclPaho(t, srv, "narrow", "narrow", nil)
	pahoSubscribe(t, narrow, "#", 1, in) // granted: the deny covers only a part
	pahoPublish(t, pub, "secret/live", 1, false, "l")
	pahoPublish(t, pub, "open/live", 1, false, "l")
	pahoPublish(t, pub, "fence", 0, false, "f")
	sameTopics(t, untilFence(t, in, "fence"), "open/r", "open/live")
	if s := srv.Stats(); s.DeniedReceive != 2 {
		t.Fatalf("DeniedReceive %d, want 2 (one retained, one live)", s.DeniedReceive)
	}
	// v5 too, retained and live.
	c5, msgs := aclPahoV5(t, srv, "narrow5", "narrow")
	if _, err := c5.Subscribe(v5Ctx(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pahoPublish(t, pub, "secret/live", 1, false, "l")
	pahoPublish(t, pub, "fence", 0, false, "f")
	var got []string
	for len(got) == 0 || got[len(got)-1] != "fence" {
		got = append(got, v5PahoNext(t, msgs).Topic)
		if len(got) > 10 {
			break
		}
	}
	sameTopics(t, got, "open/r", "fence")
}

// TestACLSys: $SYS is readable only where a rule names it.
func TestACLSys(t *testing.T) {
	srv, _ := aclStart(t, "allow sub # user=u\nallow sub $SYS/# user=ops\nallow pub #\nallow pub $SYS/#\n", false, nil)
	pub := aclPaho(t, srv, "pub", "", nil)
	pahoPublish(t, pub, "$SYS/broker/x", 1, true, "s")
	in := newInbox()
	u := aclPaho(t, srv, "u", "u", nil)
	tok := u.Subscribe("$SYS/#", 1, in.handler)
	waitToken(t, tok, "subscribe")
	if c := tok.(*mqtt.SubscribeToken).Result()["$SYS/#"]; c != 0x80 {
		t.Fatalf("user u subscribing to $SYS/#: code %#x, want 0x80", c)
	}
	in2 := newInbox()
	ops := aclPaho(t, srv, "ops", "ops", nil)
	pahoSubscribe(t, ops, "$SYS/#", 1, in2)
	in2.expect(t, "$SYS/broker/x", "s", 1)
}

// TestACLMosquittoFile: a Mosquitto acl_file keeps Mosquitto's meaning:
// SUBSCRIBE is granted, read is checked on what is delivered, write on
// what is published; patterns substitute %c and %u.
func TestACLMosquittoFile(t *testing.T) {
	rules := `# Mosquitto
topic read public/#
user alice
topic readwrite alice/#
topic deny alice/private
pattern write clients/%c/status
pattern read fence
pattern write fence
`
	srv, _ := aclStart(t, rules, false, nil)
	in := newInbox()
	anon := aclPaho(t, srv, "anon", "", nil)
	pahoSubscribe(t, anon, "#", 1, in) // granted, as Mosquitto does
	pahoSubscribe(t, anon, "fence", 0, in)
	alice := aclPaho(t, srv, "a1", "alice", nil)
	pahoPublish(t, alice, "alice/x", 1, false, "")           // anon may not read it
	pahoPublish(t, alice, "public/x", 1, false, "")          // alice may not write it
	pahoPublish(t, alice, "clients/a1/status", 1, false, "") // pattern: allowed, but not readable by anon
	in2 := newInbox()
	alice2 := aclPaho(t, srv, "a2", "alice", nil)
	pahoSubscribe(t, alice2, "alice/#", 1, in2)
	pahoSubscribe(t, alice2, "fence", 0, in2)
	pahoPublish(t, alice, "alice/private", 1, false, "") // deny before grants
	pahoPublish(t, alice, "alice/y", 1, false, "")
	pahoPublish(t, alice, "fence", 0, false, "")
	sameTopics(t, untilFence(t, in2, "fence"), "alice/y")
	sameTopics(t, untilFence(t, in, "fence"))
	if s := srv.Stats(); s.DeniedPublish != 2 {
		t.Fatalf("DeniedPublish %d, want 2 (public/x, alice/private)", s.DeniedPublish)
	}
}

// rulesAuth attaches ClientRules to every client, as the JWT method does.
type rulesAuth struct{ rules *server.ClientRules }

func (a rulesAuth) Authenticate(i *server.ConnInfo) codec.ReasonCode {
	if string(i.Username) == "jwt" {
		i.Rules = a.rules
	}
	return codec.Success
}

// TestACLClientRules: rules an authenticator attaches confine the client,
// alone (no ACL file) and together with a file (both must allow).
func TestACLClientRules(t *testing.T) {
	auth := rulesAuth{&server.ClientRules{Publish: []string{"up/%c/#", "fence"}, Subscribe: []string{"down/%u/#", "fence"}}}
	for _, withFile := range []bool{false, true} {
		var srv *server.Server
		if withFile {
			srv, _ = aclStart(t, "deny pub up/+/blocked\nallow both #\n", false, func(c *server.Config) { c.Auth = auth })
		} else {
			srv = servertest.Start(t, func(c *server.Config) { c.Auth = auth })
		}
		in := newInbox()
		c := aclPaho(t, srv, "dev1", "jwt", nil)
		tok := c.SubscribeMultiple(map[string]byte{"down/jwt/#": 1, "down/+/x": 1, "fence": 0}, in.handler)
		waitToken(t, tok, "subscribe")
		if r := tok.(*mqtt.SubscribeToken).Result(); r["down/jwt/#"] != 1 || r["down/+/x"] != 0x80 {
			t.Fatalf("file %v: SUBACK %v", withFile, r)
		}
		free := aclPaho(t, srv, "free", "", nil) // no rules attached
		pahoPublish(t, free, "down/jwt/a", 1, false, "")
		pahoPublish(t, c, "up/dev1/a", 1, false, "")
		pahoPublish(t, c, "up/dev2/a", 1, false, "") // not its client id: dropped
		if withFile {
			pahoPublish(t, c, "up/dev1/blocked", 1, false, "") // the file refuses
		}
		pahoPublish(t, free, "fence", 0, false, "")
		sameTopics(t, untilFence(t, in, "fence"), "down/jwt/a")
		want := uint64(1)
		if withFile {
			want = 2
		}
		if s := srv.Stats(); s.DeniedPublish != want {
			t.Fatalf("file %v: DeniedPublish %d, want %d", withFile, s.DeniedPublish, want)
		}
	}
}

// TestACLReload: swapping the rules applies them to connected clients at
// their next check, without dropping the connection.
func TestACLReload(t *testing.T) {
	srv, a := aclStart(t, "allow sub #\ndeny pub b/#\nallow pub #\n", false, nil)
	in := newInbox()
	c := aclPaho(t, srv, "c", "", nil)
	pahoSubscribe(t, c, "#", 1, in) // stays in place across the reload
	pahoPublish(t, c, "a/1", 1, false, "")
	pahoPublish(t, c, "b/1", 1, false, "")
	pahoPublish(t, c, "fence", 0, false, "")
	sameTopics(t, untilFence(t, in, "fence"), "a/1")
	// Now b may be published but a may not be read.
	r, err := acl.Parse("v2.acl", []byte("deny sub a/#\nallow sub #\nallow pub #\n"), acl.FormatCP7)
	if err != nil {
		t.Fatal(err)
	}
	a.Swap(r, false)
	pahoPublish(t, c, "a/2", 1, false, "")
	pahoPublish(t, c, "b/2", 1, false, "")
	pahoPublish(t, c, "fence", 0, false, "")
	sameTopics(t, untilFence(t, in, "fence"), "b/2")
	if !c.IsConnectionOpen() {
		t.Fatal("the reload dropped the connection")
	}
}

// TestACLWillDenied: a will on a topic the client may not publish to is
// not sent.
func TestACLWillDenied(t *testing.T) {
	srv, _ := aclStart(t, "allow sub # user=r\nallow pub ok/#\nallow pub fence\n", false, nil)
	in := newInbox()
	r := aclPaho(t, srv, "r", "r", nil)
	pahoSubscribe(t, r, "#", 0, in)
	bad := servertest.Dial(t, srv.Addr())
	bad.MustConnect(servertest.WithWill(servertest.NewConnect("w-bad", true, 60), "bad/will", "gone", 0, false), false)
	if s := srv.Stats(); s.DeniedPublish != 1 { // checked before the CONNACK
		t.Fatalf("DeniedPublish %d after a CONNECT with a forbidden will, want 1", s.DeniedPublish)
	}
	bad.Close() // no DISCONNECT: a will would be due
	servertest.Eventually(t, wait, func() bool { return srv.Stats().Connections == 1 }, "the broker did not see the close")
	ok := servertest.Dial(t, srv.Addr())
	ok.MustConnect(servertest.WithWill(servertest.NewConnect("w-ok", true, 60), "ok/will", "gone", 0, false), false)
	ok.Close()
	in.expect(t, "ok/will", "gone", 0)
	if s := srv.Stats(); s.WillsSent != 1 {
		t.Fatalf("WillsSent %d, want 1", s.WillsSent)
	}
}

// TestACLChain: AllOf joins the rule file and a per-question check (the
// shape of an HTTP hook's cached decisions): both must allow.
func TestACLChain(t *testing.T) {
	r, err := acl.Parse("c.acl", []byte("allow both #\n"), acl.FormatCP7)
	if err != nil {
		t.Fatal(err)
	}
	hook := server.FuncAuthorizer(func(id *server.ClientIdentity, action string, topic []byte) bool {
		return !(action == server.ActionPublish && string(topic) == "hook/no") &&
			!(action == server.ActionReceive && string(topic) == "hook/unread" && id.ClientID == "sub")
	})
	srv := servertest.Start(t, func(c *server.Config) { c.ACL = server.AllOf(acl.New(r, false), hook) })
	in := newInbox()
	sub := aclPaho(t, srv, "sub", "", nil)
	pahoSubscribe(t, sub, "hook/#", 1, in)
	pub := aclPaho(t, srv, "pub", "", nil)
	pahoPublish(t, pub, "hook/no", 1, false, "")
	pahoPublish(t, pub, "hook/unread", 1, false, "")
	pahoPublish(t, pub, "hook/yes", 1, false, "")
	pahoPublish(t, pub, "hook/fence", 0, false, "")
	sameTopics(t, untilFence(t, in, "hook/fence"), "hook/yes")
}
