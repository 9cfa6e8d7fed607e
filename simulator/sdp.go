package simulator

import (
	"fmt"
	"math/rand/v2"
)

// mediaPort is announced in every SDP answer. Nothing listens there: the simulator carries
// no media, and the control plane only needs a well-formed answer.
const mediaPort = 40000

// sdpAnswer is a PCMU + telephone-event answer on the gateway's address. A call uses one
// answer throughout, so its o= line stays the same from 183 to 200 to any re-INVITE.
func (g *Gateway) sdpAnswer() []byte {
	id := rand.Uint32()
	return fmt.Appendf(nil, "v=0\r\n"+
		"o=simulator %d %d IN IP4 %s\r\n"+
		"s=ccplane simulator\r\n"+
		"c=IN IP4 %s\r\n"+
		"t=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-16\r\n"+
		"a=sendrecv\r\n", id, id, g.host, g.host, mediaPort)
}
