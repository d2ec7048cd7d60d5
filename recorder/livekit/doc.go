// Package livekit records a LiveKit room into a [recorder.Session].
//
// [Record] joins the room as a hidden recorder participant with the LiveKit
// Go SDK (github.com/livekit/server-sdk-go/v2), subscribes to every audio
// and video track, publishes nothing, and maps what happens in the room onto
// the session:
//
//   - a participant connecting or disconnecting joins or leaves the session
//     under its LiveKit identity (ID) and name; a participant who comes back
//     with the same identity starts a new presence interval;
//   - each subscribed track is recorded through recorder/pionrec, from the
//     first frame to its unsubscription (unpublished, participant left);
//     muting a track pauses its media, which is recorded as a gap
//     (livekit-server marks a muted or ending video track with a few tiny
//     black "blank" frames, which end up in the file as a last picture);
//   - a participant that never publishes video has no video track, which a
//     composer shows as a placeholder tile;
//   - a screen share (video, and its audio if any) is recorded as a
//     participant of its own, ID "<identity>#screen" and name
//     "<name> (screen)", present while the share is published, whose
//     video and audio are recorded as that entry's camera and microphone so
//     that a composer shows it as an extra tile;
//   - LiveKit's active-speaker updates (the SDK's OnActiveSpeakersChanged)
//     are recorded in the session's hints file
//     ([recorder.Session.Hints]) as speaker lists on the session clock,
//     each time the set of speakers changes; compose's speaker layouts
//     take them instead of decoding the audio;
//   - for simulcast video the bot asks the server for the layer that fits
//     the tile the track gets in the output layout ([Config.Output]),
//     and asks again whenever the number of tiles changes.
//
// A participant's join is recorded when the server announces it to the
// bot, which livekit-server does once the participant's connection is up;
// a subscriber-only participant may be announced up to a second late (the
// server batches their updates).
//
// Record ends, leaving every participant it joined, when the room is closed
// or deleted, when the bot is removed from the room, when the access token
// given in [Config.Token] expires, or when ctx is cancelled; these are clean
// ends and Record returns nil. The caller then closes the session. While
// the SDK reconnects after a network interruption, tracks stop and media is
// missing (recorded as a gap); participants that left meanwhile leave the
// session when the bot is back.
package livekit
