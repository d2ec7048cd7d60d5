//go:build race

package whip_test

import "time"

// raceSlack widens the presence tolerance under the race detector, which
// slows pion's DTLS and SRTP set-up on the recording side several times:
// the publisher, whose handshake completes first, starts sending while the
// recorder cannot decrypt yet, and those first packets (~100 ms under
// -race, a few ms without) are lost, so a file starts that much after its
// participant joined.
const raceSlack = 150 * time.Millisecond
