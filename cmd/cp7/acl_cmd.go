package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/acl"
)

// cp7 acl FILE [flags] [pub|sub|recv TOPIC]...: checks a rule file before
// it is deployed (or SIGHUP'd), and answers what one client may do.
func init() {
	subcommands["acl"] = func(args []string) error { return runACL(args, os.Stdout) }
}

func runACL(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cp7 acl", flag.ContinueOnError)
	fs.SetOutput(out)
	format := fs.String("format", "auto", "`FORMAT` of the file: auto, cp7 or mosquitto")
	deflt := fs.String("default", "deny", "decision when no rule matches: allow or deny (as -acl-default)")
	user := fs.String("user", "", "user name of the client to ask about (empty: anonymous)")
	client := fs.String("client", "client", "client id of the client to ask about")
	addr := fs.String("addr", "127.0.0.1", "IP address of the client to ask about")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cp7 acl FILE [flags] [pub|sub|recv TOPIC]...\n\n"+
			"Checks the topic access control list FILE (docs/ACL.md) and prints its format and rule count;\n"+
			"each pub, sub or recv question is answered for the client the flags describe.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fs.Usage()
		return nil
	}
	file := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	f, err := acl.ParseFormat(*format)
	if err != nil {
		return err
	}
	if *deflt != "allow" && *deflt != "deny" {
		return fmt.Errorf("cp7 acl: -default %q: use allow or deny", *deflt)
	}
	rules, err := acl.Load(file, f)
	if err != nil {
		return err
	}
	for _, w := range rules.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	fmt.Fprintf(out, "%s: %s format, %d rules, default %s\n", file, rules.Format(), rules.Len(), *deflt)
	q := fs.Args()
	if len(q)%2 != 0 {
		return fmt.Errorf("cp7 acl: questions come in pairs: pub|sub|recv TOPIC")
	}
	if len(q) == 0 {
		return nil
	}
	ip := net.ParseIP(*addr)
	if ip == nil {
		return fmt.Errorf("cp7 acl: -addr %q is not an IP address", *addr)
	}
	v := acl.New(rules, *deflt == "allow").ForClient(&server.ClientIdentity{
		ClientID: *client, Username: *user, Remote: &net.TCPAddr{IP: ip}})
	for i := 0; i < len(q); i += 2 {
		topic := []byte(q[i+1])
		var ok bool
		switch q[i] {
		case "pub":
			ok = v == nil || v.CanPublish(topic)
		case "sub":
			ok = v == nil || v.CanSubscribe(topic)
		case "recv":
			ok = v == nil || v.CanReceive(topic)
		default:
			return fmt.Errorf("cp7 acl: %q is not a question: use pub, sub or recv, then a topic", q[i])
		}
		answer := "deny"
		if ok {
			answer = "allow"
		}
		fmt.Fprintf(out, "%s %s %s\n", answer, q[i], q[i+1])
	}
	return nil
}
