// Package whip is a WHIP (RFC 9725) ingest endpoint that records every
// publisher into a [recorder.Session].
//
// [NewHandler] returns an http.Handler. A publisher POSTs an SDP offer
// (Content-Type application/sdp) to the endpoint and gets 201 Created with
// the SDP answer and the Location of its resource; a DELETE of that
// resource leaves. ICE candidates are gathered completely before the
// answer is sent, so trickle ICE is not needed; PATCH (trickle, ICE
// restart) is answered 405 Method Not Allowed, as RFC 9725 allows. A peer
// connection that fails or closes (a dropped network, a closed browser tab)
// also makes its participant leave.
//
// The participant joins the session when its peer connection connects
// (media can flow from then on) and each incoming track is recorded with
// [pionrec.Record]. Its display name comes from the ?name= query parameter
// or, with [Config.Authenticate], from the host's own mapping of the
// request (typically a bearer token); its ID comes from the same place or
// ?id=, and is otherwise generated per resource. Tokens are never logged.
//
// Errors: 415 for a body that is not application/sdp, 400 for an SDP that
// does not parse or negotiate, 406 for an offer without VP8, VP9, H.264 or
// Opus, 413 for an offer larger than [Config.MaxOfferBytes], 401 when
// Authenticate refuses, 409 when the participant is already present, 404
// for an unknown resource, 405 for other methods, 503 after Close. Every
// response carries CORS headers and OPTIONS answers preflights, so a
// browser page can publish.
//
// [ListenAndServe] serves a handler on 127.0.0.1 unless told otherwise.
package whip
