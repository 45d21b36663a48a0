// Command floor is a measuring instrument, not a broker: the least work any
// MQTT broker must do to carry compare.sh's fan-in, fan-out and
// point-to-point scenarios, so that CP7's and Mosquitto's CPU per delivered
// message can be read against what the kernel alone charges for the same
// traffic.
//
// It answers CONNECT with CONNACK, SUBSCRIBE with SUBACK, PINGREQ with
// PINGRESP, and relays each PUBLISH byte for byte to the connections whose
// filter matches its topic (a map for exact filters, a plain scan for the
// few with + or #), answering a QoS 1 PUBLISH with PUBACK. Nothing else: no
// sessions, no retained messages, no QoS downgrade, no packet-id rewriting,
// no flow control, no validation beyond framing (relay.go).
//
// Two engines carry that protocol:
//
//   - epoll (the default, the floor): one OS thread on one level-triggered
//     epoll set with raw recv(2)/send(2) (MSG_DONTWAIT), no Go netpoller;
//     like CP7 it gathers each connection's output for one epoll turn and
//     sends it with one call.
//   - gnet: the same relay on gnet, one event loop per CPU (or -loops), a
//     delivery to another loop's connection through gnet's AsyncWrite. It
//     measures what gnet and the Go runtime cost before any broker logic.
//
// Usage: floor -listen 127.0.0.1:PORT [-engine epoll|gnet] [-loops N]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:1883", "TCP address to listen on (`host:port`, IPv4)")
	engine := flag.String("engine", "epoll", "`epoll` (one thread, raw system calls) or gnet")
	loops := flag.Int("loops", 0, "gnet event loops (`N`); 0 = one per CPU")
	flag.Parse()
	var err error
	switch *engine {
	case "epoll":
		err = runEpoll(*listen)
	case "gnet":
		err = runGnet(*listen, *loops)
	default:
		err = fmt.Errorf("-engine %q: use epoll or gnet", *engine)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func runEpoll(listen string) error {
	runtime.LockOSThread()
	r, err := newRelay(listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "floor: epoll engine listening on %s\n", r.addr)
	return r.loop()
}
