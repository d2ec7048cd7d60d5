package recorder

import (
	"path/filepath"

	"github.com/roomtape/roomtape/timeline/manifest"
)

// Hints returns the session's transport-hints writer: the hints file
// (manifest.HintsName in the session directory), created on the first
// call and named in session.json ("hints") from then on. Transport
// adapters record in it what their transport says about who speaks (RTP
// audio levels in recorder/whip, active speakers in recorder/livekit), so
// that a composer need not decode the audio for it. [Session.Close]
// closes it before the final session.json; what it is given after that is
// ignored. It returns nil, which a [manifest.HintsWriter]'s methods accept
// and ignore, with files disabled, when the file cannot be created
// (logged: a composer then decodes the audio), and when first asked for
// after Close started. It is safe for concurrent use.
func (s *Session) Hints() *manifest.HintsWriter {
	if !s.files {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hints != nil || s.closed || s.hintsFailed {
		return s.hints
	}
	w, err := manifest.CreateHints(filepath.Join(s.dir, manifest.HintsName))
	if err != nil {
		s.hintsFailed = true
		s.log.Warn("cannot create the hints file; a composer will decode the audio to find the speakers", "err", err)
		return nil
	}
	s.hints = w
	return w
}

// closeHints closes the hints writer, if any; its error is logged, not
// returned: the hints are an optimisation, the media are what counts.
func (s *Session) closeHints() {
	s.mu.Lock()
	w := s.hints
	s.mu.Unlock()
	if err := w.Close(); err != nil {
		s.log.Warn("hints file incomplete; a composer will decode the audio to find the speakers", "err", err)
	}
}
