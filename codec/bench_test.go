package codec_test

import (
	"testing"

	. "github.com/cp7/cp7/codec"
)

var (
	benchPayload  = make([]byte, 64)
	benchTopic    = []byte("sensors/building-1/floor-2/temperature")
	benchPub      = Publish{Topic: benchTopic, Payload: benchPayload}
	benchPub311   = AppendPublish(nil, &benchPub, Version311)
	benchPub5     = AppendPublish(nil, &benchPub, Version5)
	benchConnect5 = AppendConnect(nil, &Connect{ProtocolVersion: Version5, CleanStart: true, KeepAlive: 60,
		ClientID: []byte("cp7bench-000001"), UsernameFlag: true, Username: []byte("user"),
		PasswordFlag: true, Password: []byte("secret")})
)

func benchDecodePublish(b *testing.B, raw []byte, version byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var p Publish
	for i := 0; i < b.N; i++ {
		h, err := ParseFixedHeader(raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Decode(h.Flags, raw[h.HeaderLen:], version); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePublishQoS0(b *testing.B)      { benchDecodePublish(b, benchPub311, Version311) }
func BenchmarkDecodePublishV5NoProps(b *testing.B) { benchDecodePublish(b, benchPub5, Version5) }

func benchEncodePublish(b *testing.B, version byte) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(PublishLen(&benchPub, version)))
	for i := 0; i < b.N; i++ {
		buf = AppendPublish(buf[:0], &benchPub, version)
	}
}

func BenchmarkEncodePublishQoS0(b *testing.B)      { benchEncodePublish(b, Version311) }
func BenchmarkEncodePublishV5NoProps(b *testing.B) { benchEncodePublish(b, Version5) }

// BenchmarkEncodePublishQoS0Parallel encodes from several goroutines, as the
// broker's event loops do, each into its own buffer.
func BenchmarkEncodePublishQoS0Parallel(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(PublishLen(&benchPub, Version311)))
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 256)
		for pb.Next() {
			buf = AppendPublish(buf[:0], &benchPub, Version311)
		}
	})
}

func BenchmarkParseFixedHeader(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(2)
	for i := 0; i < b.N; i++ {
		if _, err := ParseFixedHeader(benchPub311); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeConnect(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchConnect5)))
	var p Connect
	for i := 0; i < b.N; i++ {
		h, err := ParseFixedHeader(benchConnect5)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Decode(benchConnect5[h.HeaderLen:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePublishV5Props(b *testing.B) {
	p := benchPub
	p.QoS, p.PacketID = 1, 7
	p.Props.Set(PropMessageExpiry)
	p.Props.MessageExpiry = 60
	p.Props.Set(PropContentType)
	p.Props.ContentType = []byte("application/json")
	p.Props.User = []UserProperty{{Key: []byte("trace"), Value: []byte("abc123")}}
	p.Props.SubscriptionIDs = []uint32{42}
	benchDecodePublish(b, AppendPublish(nil, &p, Version5), Version5)
}

func BenchmarkAckRoundTripV5(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 16)
	a := Ack{Type: PUBACK, PacketID: 9}
	b.SetBytes(4)
	for i := 0; i < b.N; i++ {
		buf = AppendAck(buf[:0], &a, Version5)
		if err := a.Decode(PUBACK, buf[2:], Version5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidUTF8ASCII(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchTopic)))
	for i := 0; i < b.N; i++ {
		if !ValidUTF8(benchTopic) {
			b.Fatal("invalid")
		}
	}
}
