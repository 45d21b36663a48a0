// Command floor is a measuring instrument, not a broker: the least work any
// MQTT broker must do to carry compare.sh's fan-in, fan-out and
// point-to-point scenarios, so that CP7's and Mosquitto's CPU per delivered
// message can be read against what the kernel alone charges for the same
// traffic.
//
// It is one OS thread on one level-triggered epoll set, with raw syscalls and
// no Go netpoller. It answers CONNECT with CONNACK, SUBSCRIBE with SUBACK,
// PINGREQ with PINGRESP, and relays each PUBLISH byte for byte to the
// connections whose filter matches its topic (a map for exact filters, a
// plain scan for the few with + or #), answering a QoS 1 PUBLISH with PUBACK.
// Nothing else: no sessions, no retained messages, no QoS downgrade, no
// packet-id rewriting, no flow control, no validation beyond framing. Like
// CP7 it gathers each connection's output for one epoll turn and writes it
// with one send(2).
//
// Reads and writes are recv(2) and send(2) with MSG_DONTWAIT as raw system
// calls, the cheapest way Linux offers to move bytes through a socket one
// call at a time (CP7 sends the same way).
//
// Usage: floor -listen 127.0.0.1:PORT
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/cp7/cp7/router"
	"golang.org/x/sys/unix"
)

// conn is one client connection.
type conn struct {
	fd    int
	in    []byte // bytes read and not yet framed
	out   []byte // bytes to write at the end of the turn, or left by EAGAIN
	dirty bool   // on the turn's dirty list
	armed bool   // EPOLLOUT is registered (out did not fit the socket)
	subs  []string
}

type wildSub struct {
	filter string
	c      *conn
}

type relay struct {
	addr   netip.AddrPort
	ep     int
	lfd    int
	conns  map[int]*conn
	topics map[string][]*conn // exact filters
	wild   []wildSub          // filters with + or #
	dirty  []*conn
	buf    []byte
}

func main() {
	listen := flag.String("listen", "127.0.0.1:1883", "TCP address to listen on (`host:port`, IPv4)")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(listen string) error {
	runtime.LockOSThread()
	r, err := newRelay(listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "floor: listening on %s\n", r.addr)
	return r.loop()
}

// newRelay listens on listen (IPv4 host:port; port 0 picks one).
func newRelay(listen string) (*relay, error) {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("-listen %q: want an IPv4 host:port such as 127.0.0.1:1883", listen)
	}
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	fail := func(err error) (*relay, error) {
		unix.Close(lfd)
		return nil, err
	}
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fail(fmt.Errorf("bind %s: %w", listen, err))
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		return fail(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		return fail(err)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fail(err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		unix.Close(ep)
		return fail(err)
	}
	addr := netip.AddrPortFrom(ap.Addr(), uint16(sa.(*unix.SockaddrInet4).Port))
	return &relay{addr: addr, ep: ep, lfd: lfd, conns: map[int]*conn{}, topics: map[string][]*conn{}, buf: make([]byte, 64<<10)}, nil
}

func (r *relay) loop() error {
	events := make([]unix.EpollEvent, 1024)
	for {
		n, err := unix.EpollWait(r.ep, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == r.lfd {
				r.accept()
				continue
			}
			c := r.conns[fd]
			if c == nil {
				continue
			}
			if events[i].Events&unix.EPOLLOUT != 0 {
				r.markDirty(c)
			}
			if events[i].Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				r.read(c)
			}
		}
		for _, c := range r.dirty {
			c.dirty = false
			if r.conns[c.fd] == c {
				r.flush(c)
			}
		}
		r.dirty = r.dirty[:0]
	}
}

func (r *relay) accept() {
	for {
		fd, _, err := unix.Accept4(r.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or a connection that went away before accept
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if unix.EpollCtl(r.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}) != nil {
			unix.Close(fd)
			continue
		}
		r.conns[fd] = &conn{fd: fd}
	}
}

func (r *relay) read(c *conn) {
	n, err := rawIO(unix.SYS_RECVFROM, c.fd, r.buf)
	if n <= 0 {
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		r.close(c)
		return
	}
	data := r.buf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	used, ok := r.frames(c, data)
	if !ok {
		r.close(c)
		return
	}
	rest := data[used:]
	if len(rest) == 0 {
		c.in = c.in[:0]
	} else {
		c.in = append(c.in[:0], rest...)
	}
}

// frames handles every complete packet in data and returns the bytes used;
// false means the stream is not MQTT framing and the connection must end.
func (r *relay) frames(c *conn, data []byte) (int, bool) {
	used := 0
	for {
		b := data[used:]
		if len(b) < 2 {
			return used, true
		}
		rl, hl := 0, 1
		for shift := 0; ; shift += 7 {
			if hl >= len(b) {
				return used, true // length not complete yet
			}
			if hl > 4 {
				return used, false
			}
			rl |= int(b[hl]&0x7f) << shift
			hl++
			if b[hl-1]&0x80 == 0 {
				break
			}
		}
		if len(b) < hl+rl {
			return used, true
		}
		if !r.packet(c, b[0], b[hl:hl+rl], b[:hl+rl]) {
			return used, false
		}
		used += hl + rl
	}
}

// packet handles one packet: first byte, body, and the whole frame.
func (r *relay) packet(c *conn, first byte, body, frame []byte) bool {
	switch first >> 4 {
	case 1: // CONNECT
		r.send(c, 0x20, 0x02, 0x00, 0x00)
	case 3: // PUBLISH
		if len(body) < 2 {
			return false
		}
		tl := int(binary.BigEndian.Uint16(body))
		if len(body) < 2+tl {
			return false
		}
		topic := body[2 : 2+tl]
		for _, s := range r.topics[string(topic)] {
			r.send(s, frame...)
		}
		for _, w := range r.wild {
			if router.TopicMatches(w.filter, string(topic)) {
				r.send(w.c, frame...)
			}
		}
		if qos := (first >> 1) & 3; qos == 1 {
			if len(body) < 4+tl {
				return false
			}
			r.send(c, 0x40, 0x02, body[2+tl], body[3+tl])
		}
	case 8: // SUBSCRIBE: packet id, then (filter, options) pairs
		if len(body) < 2 {
			return false
		}
		ack := []byte{0x90, 0, body[0], body[1]}
		for p := body[2:]; len(p) >= 3; {
			fl := int(binary.BigEndian.Uint16(p))
			if len(p) < 3+fl {
				return false
			}
			filter := string(p[2 : 2+fl])
			if strings.ContainsAny(filter, "+#") {
				r.wild = append(r.wild, wildSub{filter, c})
			} else {
				r.topics[filter] = append(r.topics[filter], c)
				c.subs = append(c.subs, filter)
			}
			ack = append(ack, p[2+fl]&3)
			p = p[3+fl:]
		}
		ack[1] = byte(len(ack) - 2)
		r.send(c, ack...)
	case 12: // PINGREQ
		r.send(c, 0xd0, 0x00)
	case 14: // DISCONNECT
		return false
	}
	return true // PUBACK from subscribers and anything else: ignored
}

func (r *relay) send(c *conn, b ...byte) {
	c.out = append(c.out, b...)
	r.markDirty(c)
}

func (r *relay) markDirty(c *conn) {
	if !c.dirty {
		c.dirty = true
		r.dirty = append(r.dirty, c)
	}
}

// flush writes what c has gathered with one write(2), and leaves the rest
// for EPOLLOUT when the socket is full.
func (r *relay) flush(c *conn) {
	if len(c.out) > 0 {
		n, err := rawIO(unix.SYS_SENDTO, c.fd, c.out)
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			r.close(c)
			return
		}
		if n > 0 {
			c.out = c.out[:copy(c.out, c.out[n:])]
		}
	}
	want := len(c.out) > 0
	if want != c.armed {
		ev := uint32(unix.EPOLLIN)
		if want {
			ev |= unix.EPOLLOUT
		}
		_ = unix.EpollCtl(r.ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: ev, Fd: int32(c.fd)})
		c.armed = want
	}
}

func (r *relay) close(c *conn) {
	delete(r.conns, c.fd)
	wild := r.wild[:0]
	for _, w := range r.wild {
		if w.c != c {
			wild = append(wild, w)
		}
	}
	clear(r.wild[len(wild):])
	r.wild = wild
	for _, t := range c.subs {
		list := r.topics[t]
		for i, s := range list {
			if s == c {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(r.topics, t)
		} else {
			r.topics[t] = list
		}
	}
	_ = unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
}

// rawIO is recv(2) (trap SYS_RECVFROM) or send(2) (SYS_SENDTO) on fd with
// MSG_DONTWAIT: it cannot block, so it needs no entersyscall/exitsyscall.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
