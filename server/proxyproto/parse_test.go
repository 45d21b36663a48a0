package proxyproto

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// mqttConnect is the start of the stream behind the header in these tests.
var mqttConnect = []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3c}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "not *net.TCPAddr: " + a.String()
	}
	return ta.String()
}

func checkHeader(t *testing.T, v vector, h Header, n int, err error, wantN int) {
	t.Helper()
	if err != nil {
		t.Fatalf("Parse: unexpected error %v", err)
	}
	if n != wantN {
		t.Fatalf("Parse consumed %d bytes, want %d", n, wantN)
	}
	if h.Version != v.version || h.Command != v.command {
		t.Fatalf("version/command = %d/%d, want %d/%d", h.Version, h.Command, v.version, v.command)
	}
	if got := addrString(h.Source); got != v.src {
		t.Fatalf("Source = %q, want %q", got, v.src)
	}
	if got := addrString(h.Dest); got != v.dst {
		t.Fatalf("Dest = %q, want %q", got, v.dst)
	}
	// A nil address must be an untyped nil, or callers' nil checks break.
	if v.src == "" && h.Source != nil {
		t.Fatalf("Source is a non-nil interface %#v", h.Source)
	}
}

func TestParseValid(t *testing.T) {
	for _, v := range validVectors {
		t.Run(v.name, func(t *testing.T) {
			h, n, err := Parse(v.in)
			checkHeader(t, v, h, n, err, len(v.in))

			// The stream after the header is left alone.
			in := append(append([]byte{}, v.in...), mqttConnect...)
			h, n, err = Parse(in)
			checkHeader(t, v, h, n, err, len(v.in))
			if !bytes.Equal(in[n:], mqttConnect) {
				t.Fatalf("bytes after header = %x, want %x", in[n:], mqttConnect)
			}
		})
	}
}

// TestParseEverySplit feeds every strict prefix of each valid header, as an
// event loop sees bytes arrive: each must ask for more bytes.
func TestParseEverySplit(t *testing.T) {
	for _, v := range validVectors {
		t.Run(v.name, func(t *testing.T) {
			for i := 0; i < len(v.in); i++ {
				h, n, err := Parse(v.in[:i])
				if !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix of %d/%d bytes %q: err = %v, want ErrIncomplete", i, len(v.in), v.in[:i], err)
				}
				if n != 0 || h != (Header{}) {
					t.Fatalf("prefix of %d bytes: got header %+v n=%d with ErrIncomplete", i, h, n)
				}
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, v := range badVectors {
		t.Run(v.name, func(t *testing.T) {
			h, n, err := Parse(v.in)
			if !errors.Is(err, v.err) {
				t.Fatalf("Parse(%q) err = %v, want %v", v.in, err, v.err)
			}
			if n != 0 || h != (Header{}) {
				t.Fatalf("got header %+v n=%d with an error", h, n)
			}
			if v.err != ErrNotProxy && !bytes.HasPrefix([]byte(err.Error()), []byte("proxyproto: ")) {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	if _, _, err := Parse(nil); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Parse(nil) err = %v, want ErrIncomplete", err)
	}
}

// TestParseDoesNotModifyInput guards the event-loop use: the input is the
// loop's shared read buffer and must be left as it was.
func TestParseDoesNotModifyInput(t *testing.T) {
	inputs := map[string][]byte{}
	for _, v := range validVectors {
		inputs[v.name] = v.in
	}
	for _, v := range badVectors {
		inputs[v.name] = v.in
	}
	for name, orig := range inputs {
		in := append([]byte{}, orig...)
		Parse(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("%s: Parse modified its input", name)
		}
	}
}

func TestParseIPv6Table(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" when invalid
	}{
		{"::", "::"},
		{"::1", "::1"},
		{"1::", "1::"},
		{"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
		{"1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8"},
		{"1::8", "1::8"},
		{"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
		{"::1.2.3.4", "::102:304"},
		{"", ""},
		{":", ""},
		{":::", ""},
		{"1:", ""},
		{":1", ""},
		{"1:2:3:4:5:6:7:8:", ""},
		{"1:2:3:4:5:6:7:8::", ""},
		{"::1:2:3:4:5:6:7:8", ""},
		{"g::1", ""},
		{"1:2:3:4:5:6:7:1.2.3.4", ""},
		{"::1.2.3", ""},
		{"::01.2.3.4", ""},
	}
	for _, c := range cases {
		var ip [16]byte
		ok := parseIPv6([]byte(c.in), &ip)
		if ok != (c.want != "") {
			t.Errorf("parseIPv6(%q) ok = %v, want %v", c.in, ok, c.want != "")
			continue
		}
		if ok && net.IP(ip[:]).String() != c.want {
			t.Errorf("parseIPv6(%q) = %s, want %s", c.in, net.IP(ip[:]), c.want)
		}
	}
}

func BenchmarkParseV1TCP4(b *testing.B)     { benchParse(b, vec("V1TCP4")) }
func BenchmarkParseV1TCP6(b *testing.B)     { benchParse(b, vec("V1TCP6")) }
func BenchmarkParseV2TCP4(b *testing.B)     { benchParse(b, vec("V2ProxyTCP4")) }
func BenchmarkParseV2TCP6TLVs(b *testing.B) { benchParse(b, vec("V2ProxyTCP6TLVs")) }
func BenchmarkParseNotProxy(b *testing.B)   { benchParse(b, mqttConnect) }

func vec(name string) []byte {
	for _, v := range validVectors {
		if v.name == name {
			return v.in
		}
	}
	panic("no vector " + name)
}

func benchParse(b *testing.B, in []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, err := Parse(in); err != nil && err != ErrNotProxy {
			b.Fatal(err)
		}
	}
}
