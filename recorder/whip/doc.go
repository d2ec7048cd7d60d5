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
// [pionrec.Record].
//
// # Screen shares
//
// A publisher announces a screen share by marking its m-section with
// "a=content:slides" (RFC 4796, presentation content) in the offer; that
// track is recorded with source [recorder.ScreenShare] (audio in such a
// section as [recorder.ScreenShareAudio]), the others as camera and
// microphone. Browsers do not add the attribute themselves: a WHIP client
// adds the line after the "m=video" line of the screen track's section
// before POSTing the offer (one publication may carry a camera and a
// screen, or the screen may be a publication of its own). compose shows
// the share as a participant of its own ("<id>#screen") in the main area.
//
// # Speaker hints
//
// The answer accepts the RFC 6464 audio-level header extension
// (urn:ietf:params:rtp-hdrext:ssrc-audio-level) for audio when the offer
// carries it, as browsers' and pion's offers can. The levels of a
// publisher's microphone packets are then recorded in the session's hints
// file ([recorder.Session.Hints], one value per 20 ms, see
// manifest.HintsWriter), and compose's speaker layouts take them instead
// of decoding that participant's audio. A publisher that does not send
// the extension is detected from its decoded audio, as before.
//
// # Authentication and identity
//
// Publishers authenticate as RFC 9725 section 4.5 says, with
// "Authorization: Bearer <token>" on the POST (and on the DELETE):
//   - a per-participant token from [Handler.IssueToken] binds the
//     participant ID and display name; a ?id= or ?name= that differs is
//     refused 400. The participant may leave and come back with it.
//   - the shared [Config.Token] admits anyone holding it under a generated
//     ID (?id= is refused 400) with ?name= as display name.
//   - [Config.Authenticate] replaces both with the host's own mapping.
//   - with none of them (nor [Config.RequireToken]), anyone who reaches
//     the endpoint publishes under ?id= and ?name=; [Serve] allows that on
//     loopback addresses only.
//
// Tokens are kept as SHA-256 digests, compared in constant time, and never
// logged. A participant has at most one live resource: a second POST for
// it gets 409 up front. Only the publisher that created a resource may
// PATCH or DELETE it: the same Authorization header is required (401
// without, 403 with another); a resource created without one is reached by
// its URL alone, which holds 128 random bits.
//
// # Browsers and DNS rebinding
//
// No origin may publish from a web page unless listed in
// [Config.AllowOrigins] (a request with another Origin gets 403; there is
// no "*"). The Host header must be the address the connection arrived on
// ("localhost" or any loopback address on loopback) or a name in
// [Config.AllowHosts], else 421: a page whose DNS name was rebound to the
// recorder's address cannot reach it.
//
// # Limits
//
// [Limits] bound live resources overall and per client (remote IP), the
// participants a session records, tracks per publication, m-sections per
// offer, ID and name length, and the POST rate per client and overall;
// [Serve] adds a connection limit and server timeouts. The zero value
// gives the Default limits. Every check runs before a peer connection
// exists.
//
// Errors: 415 for a body that is not application/sdp, 400 for an SDP that
// does not parse or negotiate, an offer, ID or name beyond its limit, or a
// query that contradicts the token, 406 for an offer without VP8, VP9,
// H.264 or Opus, 413 for an offer larger than [Config.MaxOfferBytes], 401
// for a missing or unknown token, 403 for another origin or publisher, 421
// for a foreign Host, 409 when the participant is already present or
// publishing, 429 (with Retry-After) beyond a rate or count, 404 for an
// unknown resource, 405 for other methods, 503 after Close.
//
// [ListenAndServe] serves a handler on 127.0.0.1 unless told otherwise.
package whip
