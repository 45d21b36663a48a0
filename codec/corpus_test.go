package codec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	. "github.com/cp7/cp7/codec"
	"github.com/cp7/cp7/codec/codectest"
)

// TestWriteSeedCorpus regenerates the checked-in fuzz seed corpus under
// testdata/fuzz from the vector tables. It runs only when asked:
//
//	CODEC_WRITE_CORPUS=1 go test -run TestWriteSeedCorpus ./codec/
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("CODEC_WRITE_CORPUS") == "" {
		t.Skip("set CODEC_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	write := func(target, name string, args ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		s := "go test fuzz v1\n"
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				s += fmt.Sprintf("[]byte(%q)\n", v)
			case uint16:
				s += fmt.Sprintf("uint16(%d)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stream311, stream5 []byte
	for _, c := range codectest.All() {
		if c.Incomplete {
			continue
		}
		write("FuzzDecode", c.Name, c.Raw, uint16(len(c.Raw)/2))
		if !c.Fail {
			if c.Version == Version5 {
				stream5 = append(stream5, c.Raw...)
			} else {
				stream311 = append(stream311, c.Raw...)
			}
		}
	}
	write("FuzzDecode", "StreamMqtt311", stream311, uint16(len(stream311)/3))
	write("FuzzDecode", "StreamMqtt5", stream5, uint16(len(stream5)/3))
	for _, c := range codectest.Connect {
		if h, err := ParseFixedHeader(c.Raw); err == nil && h.Len() == len(c.Raw) {
			write("FuzzConnect", c.Name, c.Raw[h.HeaderLen:])
		}
	}
}
