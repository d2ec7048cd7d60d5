//go:build !race

package whip_test

// raceSlack is 0 without the race detector (see race_test.go).
const raceSlack = 0
