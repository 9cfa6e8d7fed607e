package sipengine

import (
	"context"
	"fmt"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/ccplane/telephony"
)

// Ping sends one OPTIONS outside any dialog to gw over its transport and returns the status
// of the final response, whatever it is. ctx bounds the whole exchange; when it ends first,
// Ping returns its error. A transport error is returned as such. In both cases the status is
// the zero Status. Ping returns ErrClosed when the engine does not serve, and an error
// wrapping ErrInvalid for a gateway that does not validate.
func (e *Engine) Ping(ctx context.Context, gw Gateway) (telephony.Status, error) {
	select {
	case <-e.ready:
	default:
		return telephony.Status{}, ErrClosed
	}
	select {
	case <-e.stopping:
		return telephony.Status{}, ErrClosed
	default:
	}
	if err := gw.Validate(); err != nil {
		return telephony.Status{}, fmt.Errorf("%w: gateway: %v", ErrInvalid, err)
	}
	req := e.outOfDialog(sip.OPTIONS, gw, "", "", uuid.NewString(), sip.GenerateTagN(16))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	tx, err := e.client(gw.Transport).TransactionRequest(ctx, req)
	if err != nil {
		return telephony.Status{}, err
	}
	// Ending the transaction on every path stops the retransmissions of a probe nobody
	// answers (else Timer F keeps it 32 s) and frees an answered one at once rather than after
	// Timer K: at one probe a second per gateway, dozens would pile up. A late response then
	// matches nothing and strayResponse drops it, as it is no INVITE 2xx.
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return status(res), nil
		case <-tx.Done():
			return telephony.Status{}, tx.Err()
		case <-ctx.Done():
			return telephony.Status{}, ctx.Err()
		}
	}
}
