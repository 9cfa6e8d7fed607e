package simulator

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// dialog is an answered call, from our 200 until a BYE either way. Its channels are closed
// once, from whichever goroutine sees the event first.
type dialog struct {
	id     string
	tag    string       // ours
	invite *sip.Request // the INVITE that created it; read-only
	sdp    []byte       // our answer, repeated to a re-INVITE
	log    *slog.Logger

	ackOnce sync.Once
	acked   chan struct{}
	endOnce sync.Once
	ended   chan struct{}
}

func (d *dialog) ack() { d.ackOnce.Do(func() { close(d.acked) }) }

// end marks the dialog over and reports whether this call did it, so that crossing BYEs
// are handled once.
func (d *dialog) end() bool {
	first := false
	d.endOnce.Do(func() { close(d.ended); first = true })
	return first
}

// addDialog registers the call's dialog before the 200 goes out, because the ACK (or a
// BYE) may arrive before Respond returns.
func (g *Gateway) addDialog(c *call) *dialog {
	fromTag, _ := c.req.From().Params.Get("tag")
	d := &dialog{
		id:     sip.DialogIDMake(c.req.CallID().Value(), c.tag, fromTag),
		tag:    c.tag,
		invite: c.req,
		sdp:    c.sdp,
		log:    c.log,
		acked:  make(chan struct{}),
		ended:  make(chan struct{}),
	}
	g.mu.Lock()
	g.dialogs[d.id] = d
	g.mu.Unlock()
	return d
}

func (g *Gateway) dropDialog(d *dialog) {
	g.mu.Lock()
	if g.dialogs[d.id] == d {
		delete(g.dialogs, d.id)
	}
	g.mu.Unlock()
}

func (g *Gateway) findDialog(req *sip.Request) *dialog {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dialogs[id]
}

// onAck confirms a dialog. ACKs for our non-2xx finals match the INVITE transaction and
// are absorbed by sipgo; the rest (unknown dialogs, late retransmissions) need no answer.
func (g *Gateway) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if d := g.findDialog(req); d != nil {
		d.ack()
	}
}

func (g *Gateway) onBye(req *sip.Request, tx sip.ServerTransaction) {
	d := g.findDialog(req)
	if d == nil {
		g.respondPlain(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	g.respondPlain(req, tx, 200, "OK")
	if d.end() {
		d.log.Debug("caller hung up")
	}
	g.dropDialog(d)
}

// onCancel sees only CANCELs that matched no INVITE transaction: sipgo answers the others
// itself. A "000" number stays silent even here.
func (g *Gateway) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	if scriptFor(req.Recipient.User).action == actSilent {
		return
	}
	g.respondPlain(req, tx, 481, "Call/Transaction Does Not Exist")
}

func (g *Gateway) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		g.log.Debug("respond failed", "sip_status", 200, "err", err)
	}
}

func (g *Gateway) respondPlain(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
		g.log.Debug("respond failed", "sip_status", code, "err", err)
	}
}

// hangUp sends our BYE after the given time unless the caller hangs up first or the
// gateway stops.
func (g *Gateway) hangUp(d *dialog, after time.Duration) {
	t := time.NewTimer(after)
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.ended:
		return
	case <-g.life.Done():
		return
	}
	if !d.end() {
		return
	}
	// Kept findable until the BYE completes so that a crossing BYE from the caller gets 200.
	defer g.dropDialog(d)
	ctx, cancel := context.WithTimeout(g.life, 64*sip.T1) // Timer F
	defer cancel()
	res, err := g.bye(ctx, d)
	switch {
	case err != nil && g.life.Err() != nil:
		d.log.Debug("bye abandoned at shutdown", "err", err)
	case err != nil:
		d.log.Warn("bye failed", "err", err)
	case res.StatusCode != 200:
		d.log.Info("bye answered", "sip_status", res.StatusCode)
	default:
		d.log.Debug("gateway hung up")
	}
}

// bye sends an in-dialog BYE (RFC 3261 §15.1.1) and waits for its final response.
func (g *Gateway) bye(ctx context.Context, d *dialog) (*sip.Response, error) {
	inv := d.invite
	req := sip.NewRequest(sip.BYE, *inv.Contact().Address.Clone())
	from := inv.To().AsFrom()
	from.Params.Add("tag", d.tag)
	to := inv.From().AsTo()
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	// We have sent no request in this dialog yet, so our CSeq space starts here.
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	for _, rr := range inv.GetHeaders("Record-Route") {
		// For the UAS the route set is Record-Route in received order (RFC 3261 §12.1.1).
		req.AppendHeader(sip.NewHeader("Route", rr.Value()))
	}
	req.AppendHeader(g.contact(inv.Transport()))
	req.AppendHeader(sip.NewHeader("Reason", reasonValue(16)))
	req.SetTransport(inv.Transport())
	if sip.IsReliable(inv.Transport()) {
		// Reuse the caller's connection, as a provider does, instead of dialling Contact.
		req.SetDestination(inv.Source())
	} else {
		// Send from the listening socket: the caller expects us at the address it called,
		// not at a fresh ephemeral port (sipgo-notes P11).
		req.Laddr = sip.Addr{IP: net.ParseIP(g.host), Port: g.port, Hostname: g.host}
	}
	tx, err := g.cli.TransactionRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// contact is our Contact for responses and requests on the given transport: the listener of
// that transport, since the caller sends its ACK and BYE there.
func (g *Gateway) contact(transport string) *sip.ContactHeader {
	port := g.port
	if strings.EqualFold(transport, "tls") && g.tls != nil {
		port = g.tls.Addr().(*net.TCPAddr).Port
	}
	u := sip.Uri{Scheme: "sip", User: "gateway", Host: g.host, Port: port}
	if !strings.EqualFold(transport, "udp") {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", strings.ToLower(transport))
	}
	return &sip.ContactHeader{Address: u}
}
