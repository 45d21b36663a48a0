package main

import (
	"errors"
	"fmt"
	"io"
)

// maxPacket bounds what the tool accepts from a broker.
const maxPacket = 256<<20 + 1024

// frameReader cuts MQTT packets out of a connection's byte stream. It holds
// one buffer that starts small (idle clients stay cheap) and grows to the
// largest packet seen. Returned bodies are slices of that buffer, valid until
// the next fill.
type frameReader struct {
	r    io.Reader
	buf  []byte
	head int // first unread byte
	tail int // end of read bytes
}

func newFrameReader(r io.Reader, size int) *frameReader {
	return &frameReader{r: r, buf: make([]byte, size)}
}

// fill reads at least one more byte, making room first.
func (f *frameReader) fill() error {
	if f.head == f.tail {
		f.head, f.tail = 0, 0
	} else if f.tail == len(f.buf) && f.head > 0 {
		f.tail = copy(f.buf, f.buf[f.head:f.tail])
		f.head = 0
	}
	if f.tail == len(f.buf) {
		f.grow(2 * len(f.buf))
	}
	n, err := f.r.Read(f.buf[f.tail:])
	f.tail += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (f *frameReader) grow(size int) {
	if size > maxPacket {
		size = maxPacket
	}
	if size <= len(f.buf) {
		return
	}
	nb := make([]byte, size)
	f.tail = copy(nb, f.buf[f.head:f.tail])
	f.head = 0
	f.buf = nb
}

var errTooBig = errors.New("cp7bench: the broker sent a packet larger than 256 MiB; check the broker and -s")

// next returns the next complete packet in the buffer, or ok=false when more
// bytes are needed.
func (f *frameReader) next() (h header, body []byte, ok bool, err error) {
	b := f.buf[f.head:f.tail]
	if len(b) == 0 {
		return h, nil, false, nil
	}
	h, err = parseHeader(b)
	if errors.Is(err, errIncomplete) {
		return h, nil, false, nil
	}
	if err != nil {
		return h, nil, false, fmt.Errorf("cp7bench: bad packet from broker: %w", err)
	}
	total := h.headerLen + h.remaining
	if total > maxPacket {
		return h, nil, false, errTooBig
	}
	if len(b) < total {
		if total > len(f.buf) {
			f.grow(total)
		}
		return h, nil, false, nil
	}
	f.head += total
	return h, b[h.headerLen:total:total], true, nil
}

// read blocks until one whole packet is available and returns it.
func (f *frameReader) read() (header, []byte, error) {
	for {
		h, body, ok, err := f.next()
		if err != nil || ok {
			return h, body, err
		}
		if err := f.fill(); err != nil {
			return h, nil, err
		}
	}
}
