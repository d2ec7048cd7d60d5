package bot

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Reasons a .env line is refused; the line's content is never quoted,
// since a malformed line may hold a secret.
var (
	errEnvName     = errors.New("a variable name holds a character other than letters, digits, '_' and '.'")
	errEnvNoEquals = errors.New("no '=' after the variable name")
	errEnvQuote    = errors.New("a quoted value is not closed")
)

// checkDotEnv finds the first malformed line of a .env file, in
// godotenv's syntax: blank lines and # comments, optional "export ",
// NAME=value or NAME: value, values optionally in single or double quotes
// (double quotes may span lines and escape with a backslash). The error
// names the line and the reason, never the content.
func checkDotEnv(data string) error {
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		sep := strings.IndexAny(line, "=:")
		if sep < 0 {
			return fmt.Errorf("line %d: %w", i+1, errEnvNoEquals)
		}
		name := strings.TrimSpace(line[:sep])
		if name == "" || strings.IndexFunc(name, func(r rune) bool {
			return r != '_' && r != '.' && !unicode.IsLetter(r) && !unicode.IsNumber(r)
		}) >= 0 {
			return fmt.Errorf("line %d: %w", i+1, errEnvName)
		}
		value := strings.TrimSpace(line[sep+1:])
		if value == "" || (value[0] != '"' && value[0] != '\'') {
			continue
		}
		start := i
		q, rest := value[0], value[1:]
		for !closesQuote(rest, q) {
			if i++; i >= len(lines) {
				return fmt.Errorf("line %d: %w", start+1, errEnvQuote)
			}
			rest = lines[i]
		}
	}
	return nil
}

// closesQuote reports whether s holds the quote q that closes a value
// (not escaped by a backslash inside double quotes).
func closesQuote(s string, q byte) bool {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q == '"':
			i++
		case s[i] == q:
			return true
		}
	}
	return false
}
