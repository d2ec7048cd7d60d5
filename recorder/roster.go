package recorder

import (
	"log/slog"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// RoomParticipant gives the session participant ID and display name of a
// room participant's camera and microphone (id and name as they are), or
// of its screen share (screen true: manifest.ScreenSuffix and
// manifest.ScreenNameSuffix added), the mapping every room adapter
// (recorder/livekit, recorder/browser) uses so that compose finds screen
// shares the same way for all of them.
func RoomParticipant(id, name string, screen bool) (pid, pname string) {
	if screen {
		return id + manifest.ScreenSuffix, name + manifest.ScreenNameSuffix
	}
	return id, name
}

// JoinLogged joins participant id, shown as name, for a room adapter and
// logs the outcome on log: a refusal (no participant: a closed session,
// an invalid ID, an ID present already) is an error and gives nil; a join
// whose session.json could not be written is a warning and still gives
// the participant (the session records on; see [Session.Join]).
func JoinLogged(s *Session, log *slog.Logger, id, name string) *Participant {
	p, err := s.Join(id, name)
	if p == nil {
		log.Error("join session", "participant", id, "err", err)
		return nil
	}
	if err != nil {
		log.Warn("join session", "participant", id, "err", err)
	}
	log.Info("participant joined", "participant", id, "name", name)
	return p
}
