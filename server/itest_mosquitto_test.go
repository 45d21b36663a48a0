package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cp7/cp7/server/servertest"
)

// mosquittoClients returns the paths of mosquitto_sub and mosquitto_pub, or
// skips the test when they are missing (fails it under CI=true, where a
// missing dependency must not pass silently).
func mosquittoClients(t *testing.T) (sub, pub string) {
	t.Helper()
	sub, errSub := exec.LookPath("mosquitto_sub")
	pub, errPub := exec.LookPath("mosquitto_pub")
	if errSub != nil || errPub != nil {
		const msg = "mosquitto-clients not installed: run scripts/install-deps.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return sub, pub
}

// mosquittoRun is one mosquitto_sub or mosquitto_pub process.
type mosquittoRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

// startMosquitto starts a mosquitto client against the broker at addr with
// the given arguments, killed when the test ends or after a deadline.
func startMosquitto(t *testing.T, bin string, addr net.Addr, args ...string) *mosquittoRun {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr.String())
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	t.Cleanup(cancel)
	r := &mosquittoRun{done: make(chan error, 1)}
	r.cmd = exec.CommandContext(ctx, bin, append([]string{"-h", host, "-p", port}, args...)...)
	// No stray ~/.config/mosquitto_sub options file may change the run.
	r.cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	return r
}

// wait waits for the process to exit and fails the test unless it exits 0.
func (r *mosquittoRun) wait(t *testing.T) string {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("%s: %v; stderr: %s", r.cmd.Args, err, r.stderr.String())
		}
	case <-time.After(3 * wait):
		t.Fatalf("%s still running after %v", r.cmd.Args, 3*wait)
	}
	return r.stdout.String()
}

// exited reports whether the process has ended, without waiting.
func (r *mosquittoRun) exited() bool {
	select {
	case err := <-r.done:
		r.done <- err
		return true
	default:
		return false
	}
}

// TestMosquittoClientsRoundTrip runs Mosquitto's own command-line clients
// against the broker: a subscription and a publish at each QoS, for 3.1.1
// and 3.1, and a retained message. The received QoS and retain flag are
// checked through mosquitto_sub's output format.
func TestMosquittoClientsRoundTrip(t *testing.T) {
	t.Parallel()
	subBin, pubBin := mosquittoClients(t)
	srv := servertest.Start(t, nil)

	for _, version := range []string{"mqttv311", "mqttv31"} {
		for qos := 0; qos <= 2; qos++ {
			t.Run(fmt.Sprintf("%s qos %d", version, qos), func(t *testing.T) {
				topic := fmt.Sprintf("mosq/%s/%d", version, qos)
				payload := fmt.Sprintf("hello from mosquitto_pub at qos %d", qos)
				before := srv.Stats().Subscriptions
				sub := startMosquitto(t, subBin, srv.Addr(), "-V", version, "-i", fmt.Sprintf("msub-%s-%d", version, qos),
					"-q", fmt.Sprint(qos), "-t", topic, "-C", "1", "-F", "%r %q %t %p")
				// Publish only once the subscription is in place.
				servertest.Eventually(t, wait, func() bool {
					return srv.Stats().Subscriptions == before+1 || sub.exited()
				}, "mosquitto_sub to subscribe")
				if sub.exited() {
					t.Fatalf("mosquitto_sub ended before subscribing: %s", sub.stderr.String())
				}
				pub := startMosquitto(t, pubBin, srv.Addr(), "-V", version, "-i", fmt.Sprintf("mpub-%s-%d", version, qos),
					"-q", fmt.Sprint(qos), "-t", topic, "-m", payload)
				pub.wait(t)
				got := strings.TrimSpace(sub.wait(t))
				if want := fmt.Sprintf("0 %d %s %s", qos, topic, payload); got != want {
					t.Fatalf("mosquitto_sub printed %q, want %q (retain qos topic payload)", got, want)
				}
				// mosquitto_sub disconnected: its clean session is gone.
				servertest.Eventually(t, wait, func() bool { return srv.Stats().Subscriptions == before }, "the subscription to end with mosquitto_sub")
			})
		}
	}

	t.Run("retained", func(t *testing.T) {
		pub := startMosquitto(t, pubBin, srv.Addr(), "-V", "mqttv311", "-q", "1", "-r", "-t", "mosq/retained", "-m", "kept")
		pub.wait(t)
		servertest.Eventually(t, wait, func() bool { return srv.Stats().Retained == 1 }, "the retained message to be stored")
		sub := startMosquitto(t, subBin, srv.Addr(), "-V", "mqttv311", "-q", "2", "-t", "mosq/#", "-C", "1", "-F", "%r %q %t %p")
		if got, want := strings.TrimSpace(sub.wait(t)), "1 1 mosq/retained kept"; got != want {
			t.Fatalf("mosquitto_sub printed %q, want %q (retain qos topic payload)", got, want)
		}
		// An empty retained message deletes it.
		startMosquitto(t, pubBin, srv.Addr(), "-V", "mqttv31", "-q", "1", "-r", "-t", "mosq/retained", "-n").wait(t)
		servertest.Eventually(t, wait, func() bool { return srv.Stats().Retained == 0 }, "the retained message to be deleted")
	})
}
