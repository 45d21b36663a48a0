package server_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/acl"
	"github.com/cp7/cp7/server/servertest"
)

// diffACL is a Mosquitto acl_file exercising sections, deny-first,
// patterns with %c and %u, and a user without a section.
const diffACL = `# anonymous clients
topic read public/#
topic write anonw/#
user roger
topic foo/bar
topic read in/#
topic write out/#
topic deny in/secret
user alice
topic readwrite alice/#
topic deny alice/private
user observer
topic read #
user writer
topic write #
pattern write clients/%c/status
pattern readwrite users/%u/#
pattern deny users/blocked/#
pattern read fence/#
pattern write fence/#
`

// startMosquittoBroker runs the mosquitto broker on a free loopback port
// with acl_file, or skips (fails under CI=true) when it is not installed.
func startMosquittoBroker(t *testing.T, aclFile string) net.Addr {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/mosquitto"); e != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("mosquitto not installed: run scripts/install-deps.sh")
			}
			t.Skip("mosquitto not installed: run scripts/install-deps.sh")
		}
		bin = "/usr/sbin/mosquitto"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	_ = ln.Close()
	conf := filepath.Join(filepath.Dir(aclFile), "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nacl_file %s\npersistence false\n", addr.Port, aclFile)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !servertest.Poll(wait, func() bool {
		c, err := net.Dial("tcp", addr.String())
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("mosquitto did not listen on %s; its output: %s", addr, out.String())
	}
	return addr
}

// aclObserve connects the identities to the broker at addr and records,
// for each, which topics it could publish (seen by "observer") and which
// it could receive (published by "writer"), as sorted "user/client: topic"
// lines.
func aclObserve(t *testing.T, addr net.Addr, tag string) (wrote, read []string) {
	t.Helper()
	ids := []struct{ user, client string }{{"", "anon1"}, {"roger", "r1"}, {"alice", "a1"}, {"blocked", "b1"}, {"bob", "bob1"}}
	topicsFor := func(user, client string) []string {
		return []string{"public/a", "anonw/a", "foo/bar", "in/x", "in/secret", "out/x", "alice/x", "alice/private",
			"clients/" + client + "/status", "clients/other/status", "users/" + user + "/x", "users/blocked/x", "other"}
	}
	conn := func(id, user string, in inbox) mqtt.Client {
		o := mqtt.NewClientOptions().AddBroker("tcp://" + addr.String()).SetClientID(id).SetUsername(user).
			SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(wait).SetOrderMatters(true)
		if in != nil {
			o.SetDefaultPublishHandler(in.handler)
		}
		return pahoConnect(t, o)
	}
	obsIn, wIn := newInbox(), newInbox()
	obs := conn(tag+"-observer", "observer", obsIn)
	pahoSubscribe(t, obs, "#", 1, obsIn)
	w := conn(tag+"-writer", "writer", wIn)
	for _, id := range ids {
		in := newInbox()
		x := conn(id.client, id.user, in)
		pahoSubscribe(t, x, "#", 1, in) // granted by both: read is checked per message
		topics := topicsFor(id.user, id.client)
		for _, tp := range topics {
			pahoPublish(t, x, tp, 1, false, "x")
		}
		pahoPublish(t, x, "fence/x", 1, false, "x")
		for _, tp := range collect(t, obsIn, "fence/x", "x") {
			wrote = append(wrote, id.user+"/"+id.client+": "+tp)
		}
		for _, tp := range topics {
			pahoPublish(t, w, tp, 1, false, "w")
		}
		pahoPublish(t, w, "fence/w", 1, false, "w")
		for _, tp := range collect(t, in, "fence/w", "w") {
			read = append(read, id.user+"/"+id.client+": "+tp)
		}
		x.Disconnect(0)
	}
	sort.Strings(wrote)
	sort.Strings(read)
	return wrote, read
}

// collect returns the topics of the messages with payload from in, until
// the fence topic with that payload.
func collect(t *testing.T, in inbox, fence, from string) []string {
	t.Helper()
	var got []string
	for range 200 {
		m := in.next(t)
		if string(m.Payload()) != from {
			continue
		}
		if m.Topic() == fence {
			return got
		}
		got = append(got, m.Topic())
	}
	t.Fatal("no fence among 200 messages")
	return nil
}

// TestACLMosquittoDifferential runs one acl_file on Mosquitto and on CP7
// and requires the same publish and receive decisions for every client and
// topic: CP7 reads Mosquitto's format with Mosquitto's meaning.
func TestACLMosquittoDifferential(t *testing.T) {
	// mosquitto started as root reads its files as user mosquitto: a
	// directory of our own that it can enter.
	dir, err := os.MkdirTemp("", "cp7-acl-diff-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	file := filepath.Join(dir, "acl")
	if err := os.WriteFile(file, []byte(diffACL), 0o644); err != nil {
		t.Fatal(err)
	}
	mAddr := startMosquittoBroker(t, file)
	r, err := acl.Load(file, acl.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, func(c *server.Config) { c.ACL = acl.New(r, false) })

	mWrote, mRead := aclObserve(t, mAddr, "m")
	cWrote, cRead := aclObserve(t, srv.Addr(), "c")
	if strings.Join(mWrote, "\n") != strings.Join(cWrote, "\n") {
		t.Errorf("publish decisions differ.\nmosquitto:\n%s\ncp7:\n%s", strings.Join(mWrote, "\n"), strings.Join(cWrote, "\n"))
	}
	if strings.Join(mRead, "\n") != strings.Join(cRead, "\n") {
		t.Errorf("receive decisions differ.\nmosquitto:\n%s\ncp7:\n%s", strings.Join(mRead, "\n"), strings.Join(cRead, "\n"))
	}
	if len(mWrote) < 10 || len(mRead) < 6 {
		t.Fatalf("too few allowed decisions to compare: wrote %q read %q", mWrote, mRead)
	}
	t.Logf("%d publish and %d receive decisions agree", len(mWrote), len(mRead))
}
