package snmptrap

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/secrets"
)

// checkingSubmitter validates what the receiver submits as the feeder
// would, without queueing it.
type checkingSubmitter struct{ t *testing.T }

func (c checkingSubmitter) Submit(_ context.Context, raw []byte, ack ingest.Acker) error {
	if !json.Valid(raw) {
		c.t.Fatalf("invalid JSON event: %s", raw)
	}
	if _, err := event.Normalize(raw, event.Stamp{EventID: "e"}, nil); err != nil {
		c.t.Fatalf("event refused by the ingest validation: %v\n%s", err, raw)
	}
	if ack != nil {
		ack.Ack(nil)
	}
	return nil
}

// FuzzHandle feeds arbitrary datagrams through decoding, credential
// checks and rendering: nothing may panic, and every event submitted must
// be valid.
func FuzzHandle(f *testing.F) {
	for i, p := range []*gosnmp.SnmpPacket{
		{Version: gosnmp.Version2c, Community: "fuzz", PDUType: gosnmp.SNMPv2Trap, RequestID: 1, Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(5)},
			{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.6.3.1.1.5.3"},
			{Name: ".1.3.6.1.2.1.2.2.1.1.2", Type: gosnmp.Integer, Value: 2},
			{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: []byte{0xff, 0x00, 'a'}},
			{Name: ".1.3.6.1.6.3.18.1.3.0", Type: gosnmp.IPAddress, Value: "192.0.2.1"},
		}},
		{Version: gosnmp.Version1, Community: "fuzz", PDUType: gosnmp.Trap, SnmpTrap: gosnmp.SnmpTrap{
			Enterprise: ".1.3.6.1.4.1.9", AgentAddress: "10.0.0.1", GenericTrap: 6, SpecificTrap: 3, Timestamp: 9,
			Variables: []gosnmp.SnmpPDU{{Name: ".1.3.6.1.4.1.9.1", Type: gosnmp.Counter64, Value: uint64(1 << 40)}}}},
		{Version: gosnmp.Version2c, Community: "fuzz", PDUType: gosnmp.InformRequest, RequestID: 7, Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.1.0.1"}}},
	} {
		b, err := p.MarshalMsg()
		if err != nil {
			f.Fatalf("seed %d: %v", i, err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	r, err := New(Options{Listen: "127.0.0.1:0", Communities: []secrets.Secret{secrets.New("fuzz")}, Users: testUsers},
		nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	addr := netip.MustParseAddrPort("127.0.0.1:9")
	f.Fuzz(func(t *testing.T, b []byte) {
		r.sub = checkingSubmitter{t}
		r.handle(context.Background(), b, addr, nil)
	})
}
