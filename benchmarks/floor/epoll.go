package main

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// conn is one client connection of the epoll engine.
type conn struct {
	fd    int
	in    []byte // bytes read and not yet framed
	out   []byte // bytes to write at the end of the turn, or left by EAGAIN
	dirty bool   // on the turn's dirty list
	armed bool   // EPOLLOUT is registered (out did not fit the socket)
}

// relay is the epoll engine: one thread, one epoll set.
type relay struct {
	addr  netip.AddrPort
	ep    int
	lfd   int
	conns map[int]*conn
	hub   *hub[*conn]
	dirty []*conn
	buf   []byte
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
	return &relay{addr: addr, ep: ep, lfd: lfd, conns: map[int]*conn{}, hub: newHub[*conn](), buf: make([]byte, 64<<10)}, nil
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
// false means the connection must end.
func (r *relay) frames(c *conn, data []byte) (int, bool) {
	return frames(data, func(first byte, body, frame []byte) bool {
		return packet(r.hub, c, first, body, frame,
			func(b ...byte) { r.send(c, b...) },
			func(to *conn, frame []byte) { r.send(to, frame...) })
	})
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
	r.hub.drop(c)
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
